"""The bake cursor: shift, wait and check, step after step, then promote."""

import pytest

from handlers.domain import progress
from handlers.domain.analysis import DISABLED, AnalysisSettings
from handlers.domain.checks import AFTER_PROMOTE, AFTER_SHIFT, BEFORE_TRAFFIC, Checks, parse_pre_traffic
from handlers.domain.errors import DeploymentInconclusive
from handlers.domain.progress import Traffic
from handlers.domain.strategy import Plan, Step, health_checks, parse_strategy


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
    assert progress.Traffic.from_json(cursor.to_json()) == cursor


# --- an inconclusive check at the end of a step -----------------------------------------------------------

EXTEND_TWICE = AnalysisSettings(max_extensions=2)


def test_an_inconclusive_check_mid_bake_changes_nothing():
    plan = parse_strategy("Canary10Percent3Seconds")
    cursor = progress.shifted(plan, progress.start(plan, None), 1, "rev-1")
    after = progress.checked(plan, cursor, 1, inconclusive="too few calls", analysis=EXTEND_TWICE)
    assert after == Traffic(next=progress.BAKE, step=0, weight=10.0, checks_left=2, wait_seconds=1,
                             alias_revision_id="rev-1", extensions=0)  # one of the three 1 s checks done, as ever


def test_an_inconclusive_end_of_step_extends_the_bake_one_interval_at_a_time_then_rolls_back():
    plan = parse_strategy("Canary10Percent5Seconds")
    cursor = progress.shifted(plan, progress.start(plan, None), 2, "rev-1")
    waits = []
    with pytest.raises(DeploymentInconclusive) as refused:
        for _ in range(10):
            cursor = progress.checked(plan, cursor, 2, inconclusive="new version 2: 3 invocations",
                                      analysis=EXTEND_TWICE)
            waits.append((cursor.wait_seconds, cursor.extensions))
    assert waits == [(2, 0), (1, 0), (2, 1), (2, 2)]  # the schedule (2, 2, 1), then two extensions of 2 s
    message = str(refused.value)
    assert "end of step 1 of 1" in message and "2 extension(s) of 2 s" in message
    assert "new version 2: 3 invocations" in message


def test_an_inconclusive_step_may_be_configured_to_move_on():
    plan = parse_strategy("Linear25PercentEvery1Second")
    moving_on = AnalysisSettings(max_extensions=1, inconclusive="promote")
    cursor = progress.shifted(plan, progress.start(plan, None), 1, "rev-1")
    cursor = progress.checked(plan, cursor, 1, inconclusive="few calls", analysis=moving_on)
    assert (cursor.next, cursor.extensions) == (progress.BAKE, 1)
    cursor = progress.checked(plan, cursor, 1, inconclusive="few calls", analysis=moving_on)
    assert (cursor.next, cursor.step, cursor.extensions) == (progress.SHIFT, 1, 0)


def test_a_conclusive_check_during_an_extension_ends_the_step():
    plan = parse_strategy("Linear25PercentEvery1Second")
    cursor = progress.shifted(plan, progress.start(plan, None), 1, "rev-1")
    cursor = progress.checked(plan, cursor, 1, inconclusive="few calls", analysis=EXTEND_TWICE)
    cursor = progress.checked(plan, cursor, 1, analysis=EXTEND_TWICE)
    assert (cursor.next, cursor.step, cursor.extensions) == (progress.SHIFT, 1, 0)


def test_without_analysis_an_inconclusive_step_is_not_extended():
    plan = parse_strategy("Canary10Percent1Second")
    cursor = progress.shifted(plan, progress.start(plan, None), 1, "rev-1")
    with pytest.raises(DeploymentInconclusive):
        progress.checked(plan, cursor, 1, inconclusive="alarm a has insufficient data", analysis=DISABLED)


@pytest.mark.parametrize(("strategy", "extensions", "expected"), [
    # one bake of 5 s checked every 2 s (2, 2, 1), plus one check per extension
    ("Canary10Percent5Seconds", 0, 3), ("Canary10Percent5Seconds", 1, 4), ("Canary10Percent5Seconds", 3, 6),
    # three steps (25, 50, 75 %) of (2, 1), each extended
    ("Linear25PercentEvery3Seconds", 0, 6), ("Linear25PercentEvery3Seconds", 1, 9),
    ("Linear25PercentEvery3Seconds", 3, 15),
    # a step without bake is never checked, so never extended; then (2, 2)
    *[({"steps": [{"weight": 5, "bakeSeconds": 0}, {"weight": 50, "bakeSeconds": 4}]}, e, 2 + e) for e in (0, 1, 3)],
])
def test_the_history_budget_counts_every_check_an_always_inconclusive_canary_gets(strategy, extensions, expected):
    """The budget's worst case is what the cursor really does when no check ever concludes (counted by hand)."""
    plan, interval = parse_strategy(strategy), 2
    analysis = AnalysisSettings(max_extensions=extensions, inconclusive="promote")
    cursor, checks = progress.start(plan, None), 0
    while cursor.next != progress.PROMOTE:
        if cursor.next == progress.SHIFT:
            cursor = progress.shifted(plan, cursor, interval, None)
        else:
            checks += 1
            cursor = progress.checked(plan, cursor, interval, inconclusive="no calls", analysis=analysis)
    assert checks == health_checks(plan, interval, extensions) == expected


def test_a_cursor_written_before_extensions_existed_reads_as_none_used():
    data = Traffic(next=progress.BAKE, step=1, weight=20.0, checks_left=2, wait_seconds=5).to_json()
    del data["extensions"]
    assert progress.Traffic.from_json(data).extensions == 0


# --- checkpoints: pre- and post-traffic checks on the cursor ---------------------------------------------

def walk_with_checks(plan: Plan, interval: int, configured: Checks) -> list[tuple]:
    """As ``walk``, through promotion, recording each checkpoint the cursor asks for (and clearing it, as
    RunChecks does)."""
    trail, cursor = [], progress.start(plan, "rev-0", configured)
    while cursor.next != progress.DONE or cursor.check:
        if cursor.check:
            trail.append(("check", cursor.check.phase, cursor.check.step, cursor.weight))
            cursor = progress.checks_passed(cursor)
        elif cursor.next == progress.SHIFT:
            cursor = progress.shifted(plan, cursor, interval, "rev", configured)
            trail.append(("shift", cursor.weight))
        elif cursor.next == progress.BAKE:
            trail.append(("wait", cursor.wait_seconds))
            cursor = progress.checked(plan, cursor, interval)
        else:
            cursor = progress.promoted(plan, cursor, "rev-p", configured)
            trail.append(("promote", cursor.weight))
    return trail


EVERY_CHECKPOINT = Checks(parse_pre_traffic({"afterEachShift": True})).with_hooks({AFTER_PROMOTE: "notify"})


def test_without_checks_the_cursor_never_stops_to_check():
    plan = Plan("Steps", (Step(10, 2), Step(50, 0)))
    assert [entry[0] for entry in walk_with_checks(plan, 1, Checks())] == [
        "shift", "wait", "wait", "shift", "promote"]
    assert "check" not in progress.start(plan, None).to_json()


def test_checks_come_before_traffic_after_every_shift_before_its_bake_and_after_promotion():
    plan = Plan("Steps", (Step(10, 2), Step(50, 0)))
    assert walk_with_checks(plan, 1, EVERY_CHECKPOINT) == [
        ("check", BEFORE_TRAFFIC, 0, 0.0),
        ("shift", 10), ("check", AFTER_SHIFT, 1, 10), ("wait", 1), ("wait", 1),
        ("shift", 50), ("check", AFTER_SHIFT, 2, 50),  # numbered by the step served, though the cursor moved on
        ("promote", 100.0), ("check", AFTER_PROMOTE, 2, 100.0),
    ]


def test_an_all_at_once_deployment_checks_before_promotion_and_after_it():
    assert walk_with_checks(Plan("AllAtOnce", ()), 60, EVERY_CHECKPOINT) == [
        ("check", BEFORE_TRAFFIC, 0, 0.0), ("promote", 100.0), ("check", AFTER_PROMOTE, 0, 100.0)]


def test_a_checkpoint_survives_json_and_clearing_it_keeps_the_rest_of_the_cursor():
    plan = Plan("Steps", (Step(10, 0), Step(20, 5)))
    cursor = progress.shifted(plan, progress.start(plan, "rev-0"), 5, "rev-1", EVERY_CHECKPOINT)
    assert Traffic.from_json(cursor.to_json()) == cursor
    passed = progress.checks_passed(cursor)
    assert passed.check is None and (passed.next, passed.step, passed.weight) == (cursor.next, cursor.step, 10)


def test_the_first_shift_sets_when_traffic_moved_and_later_shifts_keep_it():
    plan = parse_strategy("Linear50PercentEvery1Second")
    first = progress.shifted(plan, progress.start(plan, None), 1, "rev-1", at="2026-01-01T00:00:00.000Z")
    moved_on = progress.checked(plan, first, 1)
    second = progress.shifted(plan, moved_on, 1, "rev-2", at="2026-01-01T00:00:05.000Z")
    assert first.traffic_since == second.traffic_since == "2026-01-01T00:00:00.000Z"
    assert Traffic.from_json(second.to_json()) == second
