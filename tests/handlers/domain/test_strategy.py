"""Strategy parsing and the bake schedule: pure, no AWS."""

import pytest

from handlers.domain.errors import InvalidDeploymentRequest
from handlers.domain.strategy import (
    EVENTS_PER_CHECK,
    MAX_HISTORY_EVENTS,
    Plan,
    Step,
    check_history_budget,
    check_schedule,
    history_events,
    parse_strategy,
)

CODEDEPLOY_CANARIES = {
    "Canary10Percent5Minutes": 300,
    "Canary10Percent10Minutes": 600,
    "Canary10Percent15Minutes": 900,
    "Canary10Percent30Minutes": 1800,
}
CODEDEPLOY_LINEARS = {
    "Linear10PercentEvery1Minute": 60,
    "Linear10PercentEvery2Minutes": 120,
    "Linear10PercentEvery3Minutes": 180,
    "Linear10PercentEvery10Minutes": 600,
}


@pytest.mark.parametrize("name", [None, "AllAtOnce", "CodeDeployDefault.LambdaAllAtOnce"])
def test_all_at_once_is_the_empty_plan(name):
    assert parse_strategy(name) == Plan("AllAtOnce", ())


@pytest.mark.parametrize(("name", "bake"), CODEDEPLOY_CANARIES.items())
def test_every_codedeploy_canary_is_one_ten_percent_step(name, bake):
    assert parse_strategy(name).steps == (Step(10.0, bake),)
    assert parse_strategy(f"CodeDeployDefault.Lambda{name}").steps == (Step(10.0, bake),)


@pytest.mark.parametrize(("name", "bake"), CODEDEPLOY_LINEARS.items())
def test_every_codedeploy_linear_climbs_to_ninety_then_promotes(name, bake):
    plan = parse_strategy(name)
    assert [s.weight for s in plan.steps] == [10, 20, 30, 40, 50, 60, 70, 80, 90]
    assert {s.bake_seconds for s in plan.steps} == {bake}


@pytest.mark.parametrize(("name", "steps"), [
    ("Canary25Percent45Seconds", (Step(25, 45),)),
    ("Canary1Percent2Hours", (Step(1, 7200),)),
    ("Canary50Percent1Second", (Step(50, 1),)),
    ("Linear30PercentEvery1Second", (Step(30, 1), Step(60, 1), Step(90, 1))),
    ("Linear50PercentEvery2Hours", (Step(50, 7200),)),
    ("Linear100PercentEvery1Minute", ()),
])
def test_general_forms(name, steps):
    assert parse_strategy(name).steps == steps


def test_explicit_steps_keep_their_order_and_bakes():
    plan = parse_strategy({"steps": [{"weight": 5, "bakeSeconds": 60}, {"weight": 50.5, "bakeSeconds": 0}]})
    assert plan.steps == (Step(5.0, 60), Step(50.5, 0))


UNKNOWN = "unknown strategy '{}'; use AllAtOnce, Canary{{P}}Percent{{N}}"
EXPLICIT = 'an explicit strategy is {"steps": [{"weight": 5, "bakeSeconds": 60}, …]} with at least one step'


@pytest.mark.parametrize(("strategy", "problem"), [
    ("Canary0Percent5Minutes", "strategy 'Canary0Percent5Minutes': the percentage must be in (0, 100]"),
    ("Canary101Percent5Minutes", "strategy 'Canary101Percent5Minutes': the percentage must be in (0, 100]"),
    ("Canary10Percent0Minutes", "strategy 'Canary10Percent0Minutes': the interval must be at least 1"),
    ("Linear0PercentEvery1Minute", "strategy 'Linear0PercentEvery1Minute': the percentage must be in (0, 100]"),
    ("Blue/Green", UNKNOWN.format("Blue/Green")),
    ("canary10percent5minutes", UNKNOWN.format("canary10percent5minutes")),  # names are case-sensitive
    ("Canary10Percent5Days", UNKNOWN.format("Canary10Percent5Days")),
    (42, "'strategy' must be a strategy name or an object with 'steps'"),
    ({"steps": []}, EXPLICIT),
    ({"steps": [{"weight": 0, "bakeSeconds": 5}]}, "strategy step 1: weight 0 is outside (0, 100]"),
    ({"steps": [{"weight": 100.5}]}, "strategy step 1: weight 100.5 is outside (0, 100]"),
    ({"steps": [{"weight": -1}]}, "strategy step 1: weight -1 is outside (0, 100]"),
    ({"steps": [{"weight": True}]}, "strategy step 1: weight True is outside (0, 100]"),
    ({"steps": [{"weight": 5}, {"weight": 5, "bakeSeconds": -1}]},
     "strategy step 2: bakeSeconds -1 must be an integer in [0, 604800]"),
    ({"steps": [{"weight": 5, "bakeSeconds": 1.5}]},
     "strategy step 1: bakeSeconds 1.5 must be an integer in [0, 604800]"),
    ({"steps": [{"weight": 5, "bake": 60}]}, 'strategy step 1: expected {"weight": <percent>, "bakeSeconds": <int>}'),
    ({"steps": [{"weight": 5}], "extra": 1}, EXPLICIT),
    ({"steps": "10,20"}, EXPLICIT),
])
def test_invalid_strategies_are_refused_naming_the_problem(strategy, problem):
    with pytest.raises(InvalidDeploymentRequest) as refused:
        parse_strategy(strategy)
    assert str(refused.value).startswith(problem)


def test_unknown_strategy_message_shows_the_accepted_forms():
    with pytest.raises(InvalidDeploymentRequest, match=r"Canary10Percent5Minutes.*Linear10PercentEvery1"):
        parse_strategy("Fast")


@pytest.mark.parametrize(("bake", "interval", "waits"), [
    (300, 60, [60] * 5), (5, 2, [2, 2, 1]), (1, 60, [1]), (0, 60, []), (10, 1, [1] * 10),
])
def test_bake_is_checked_every_interval_and_at_its_end(bake, interval, waits):
    assert check_schedule(Step(10, bake), interval) == waits


def test_history_estimate_grows_with_checks_and_refuses_what_step_functions_cannot_record():
    plan = parse_strategy("Linear10PercentEvery10Minutes")
    assert history_events(plan, 1) - history_events(plan, 2) == EVENTS_PER_CHECK * 9 * 300
    check_history_budget(plan, 60)  # 90 checks: fine
    with pytest.raises(InvalidDeploymentRequest, match=r"checkIntervalSeconds >= (\d+)") as refused:
        check_history_budget(plan, 1)  # 5,400 checks: ~49,000 events
    suggested = int(refused.value.args[0].rsplit(">= ", 1)[1].split()[0])
    # 9 bakes of 600 s: every 2 s is 2,700 checks (24,300 events and ~1,100 for the rest of the run), every 3 s 1,800
    assert suggested == 3 and "would check health 5400 times at checkIntervalSeconds=1" in str(refused.value)
    assert history_events(plan, suggested) <= MAX_HISTORY_EVENTS < history_events(plan, suggested - 1)


def test_extensions_cost_one_check_per_step_with_a_bake_each():
    plan = Plan("Steps", (Step(5, 0), Step(20, 120), Step(50, 120)))
    assert history_events(plan, 60, max_extensions=3) - history_events(plan, 60) == EVENTS_PER_CHECK * 2 * 3


@pytest.mark.parametrize("extensions", [1, 5, 20])
def test_the_budget_counts_extensions_and_its_suggestion_fits_them(extensions):
    plan = parse_strategy("Linear1PercentEvery10Minutes")  # 99 steps
    with pytest.raises(InvalidDeploymentRequest, match=r"checkIntervalSeconds >= (\d+)") as refused:
        check_history_budget(plan, 20, max_extensions=extensions)
    assert f"up to {extensions} extension(s) per step" in str(refused.value)
    suggested = int(refused.value.args[0].rsplit(">= ", 1)[1].split()[0])
    assert history_events(plan, suggested, extensions) <= MAX_HISTORY_EVENTS


def test_a_plan_that_fits_without_extensions_may_not_fit_with_them():
    plan = parse_strategy("Linear1PercentEvery10Minutes")  # 990 checks at the default interval
    check_history_budget(plan, 60)
    with pytest.raises(InvalidDeploymentRequest, match="with up to 20 extension"):
        check_history_budget(plan, 60, max_extensions=20)  # and up to 1,980 more
