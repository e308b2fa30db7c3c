"""The bake cursor: shift, wait and check, step after step, then promote."""

from handlers.domain import progress
from handlers.domain.strategy import Plan, Step, parse_strategy


def walk(plan: Plan, interval: int) -> list[tuple]:
    """Drive the cursor as the state machine would, recording (action, weight, wait)."""
    trail, cursor = [], progress.start(plan, "rev-0")
    while cursor.next != progress.PROMOTE:
        if cursor.next == progress.SHIFT:
            cursor = progress.shifted(plan, cursor, interval, f"rev-{cursor.step + 1}")
            trail.append(("shift", cursor.weight))
        else:
            trail.append(("wait", cursor.wait_seconds))
            cursor = progress.checked(plan, cursor, interval)
    return trail


def test_all_at_once_promotes_straight_away():
    assert progress.start(Plan("AllAtOnce", ()), None).next == progress.PROMOTE


def test_canary_shifts_once_checks_every_interval_then_promotes():
    assert walk(parse_strategy("Canary10Percent5Seconds"), 2) == [
        ("shift", 10.0), ("wait", 2), ("wait", 2), ("wait", 1)]


def test_linear_walks_every_step():
    trail = walk(parse_strategy("Linear30PercentEvery2Seconds"), 1)
    assert trail == [("shift", 30.0), ("wait", 1), ("wait", 1), ("shift", 60.0), ("wait", 1), ("wait", 1),
                     ("shift", 90.0), ("wait", 1), ("wait", 1)]


def test_a_step_without_bake_moves_on_without_waiting():
    plan = Plan("Steps", (Step(5, 0), Step(50, 1)))
    assert walk(plan, 60) == [("shift", 5), ("shift", 50), ("wait", 1)]


def test_the_alias_revision_follows_every_shift():
    plan = parse_strategy("Canary10Percent1Second")
    cursor = progress.shifted(plan, progress.start(plan, "rev-0"), 1, "rev-1")
    assert cursor.alias_revision_id == "rev-1"
    assert progress.Progress.from_json(cursor.to_json()) == cursor
