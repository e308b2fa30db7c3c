"""Readable lines, the failing state and the live status, from execution histories (no AWS)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from deployer import timeline

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def history(*states: tuple) -> list[dict]:
    """Events for ``(name, input, output[, errors])`` visits, one second apart; output None: still in it."""
    events = [{"id": 1, "type": "ExecutionStarted", "timestamp": T0}]
    for second, (name, given, output, *errors) in enumerate(states, start=1):
        at = T0 + timedelta(seconds=second)
        events.append({"type": "TaskStateEntered", "timestamp": at,
                       "stateEnteredEventDetails": {"name": name, "input": json.dumps(given)}})
        events += [{"type": "TaskFailed", "timestamp": at, "taskFailedEventDetails": {"error": error}}
                   for error in (errors[0] if errors else [])]
        if output is not None:
            events.append({"type": "TaskStateExited", "timestamp": at,
                           "stateExitedEventDetails": {"name": name, "output": json.dumps(output)}})
    for number, event in enumerate(events, start=1):
        event["id"] = number
    return events


REQUEST = {"function": "orders-api"}
DEPLOYMENT = {"functionName": "orders-api", "alias": "live", "kind": "deploy",
              "plan": {"name": "Canary10Percent5Minutes", "steps": [{"weight": 10, "bakeSeconds": 300}]},
              "stable": {"version": "1", "image": "x", "digest": "sha256:" + "1" * 64}}
CAUSE = json.dumps({"errorMessage": "unknown alarm(s): nope", "errorType": "InvalidDeploymentRequest"})


def test_a_refused_request_reads_as_one_failed_line_naming_resolve():
    events = history(("Route", REQUEST, REQUEST),
                     ("Resolve", REQUEST, {"Error": "InvalidDeploymentRequest", "Cause": CAUSE},
                      ["InvalidDeploymentRequest"]),
                     ("ExplainRefusal", {}, {"error": "InvalidDeploymentRequest"}))

    assert [line.render() for line in timeline.lines(events)] == [
        "  +   2.0s  Resolve            failed: InvalidDeploymentRequest: unknown alarm(s): nope"]
    assert timeline.failed_state(timeline.visits(events)) == "Resolve"


def test_the_failing_state_is_where_the_failure_was_caught_not_the_rollback_it_led_to():
    document = {"deployment": DEPLOYMENT, "traffic": {"weight": 10, "step": 0}, "release": {"version": "2"}}
    failure = {"Error": "DeploymentUnhealthy", "Cause": "alarm orders-api-errors in ALARM"}
    events = history(("CheckHealth", document, {**document, "failure": failure}),
                     ("Rollback", {**document, "failure": failure}, {**document, "failure": failure,
                                                                     "outcome": {"cause": "x. Rolled back: all"}}))

    assert timeline.failed_state(timeline.visits(events)) == "CheckHealth"
    assert [line.text for line in timeline.lines(events)] == [
        "failed: DeploymentUnhealthy: alarm orders-api-errors in ALARM", "all"]


def test_retries_that_succeeded_are_counted_on_the_line():
    output = {"deployment": DEPLOYMENT, "release": {"version": "2"}}
    events = history(("WaitForCodeUpdate", output, output, ["CodeUpdateInProgress", "CodeUpdateInProgress"]))
    assert timeline.lines(events)[0].text == "LastUpdateStatus Successful (after 2 retries: CodeUpdateInProgress)"


def test_the_snapshot_tells_the_step_the_weight_and_the_alarms():
    baking = {"deployment": DEPLOYMENT, "traffic": {"weight": 10, "step": 0}, "release": {"version": "2"}}
    events = history(("ShiftTraffic", baking, baking),
                     ("CheckHealth", baking, {**baking, "alarms": {"orders-api-errors": "OK"}}),
                     ("Bake", baking, None))

    now = timeline.snapshot(timeline.visits(events))

    assert (now.state, now.weight, now.version, now.step, now.steps) == ("Bake", 10, "2", 1, 1)
    assert now.describe() == "Bake · 10% on version 2 (step 1 of 1) · orders-api-errors OK"
    assert timeline.snapshot([]).describe() == "starting"


def test_routing_states_print_nothing():
    events = history(*[(name, REQUEST, REQUEST) for name in timeline.QUIET_STATES])
    assert timeline.lines(events) == []


def test_a_deployment_whose_record_could_not_be_written_says_so():
    document = {"deployment": DEPLOYMENT, "release": {"version": "2"}}
    failure = {"Error": "TransientAwsError", "Cause": "UpdateItem failed with ThrottlingException"}
    note = "the deployment's record and lock are settled by the reconciler"
    events = history(("Finalize", document, {**document, "failure": failure}),
                     ("FinishedWithoutRecord", {**document, "failure": failure},
                      {"outcome": "finished", "note": note, "failure": failure}))
    assert [line.text for line in timeline.lines(events)] == [
        "failed: TransientAwsError: UpdateItem failed with ThrottlingException", note]


# --- each check's numbers --------------------------------------------------------------------------------

BAKING = {"deployment": DEPLOYMENT, "traffic": {"weight": 10, "step": 0}, "release": {"version": "2"}}
ALARMS = {"orders-api-errors": "OK"}


def verdict(new: tuple, stable: tuple) -> dict:
    """A verdict as CheckHealth's output carries it: the domain's own JSON, not a hand-written copy."""
    from handlers.domain.analysis import AnalysisSettings, VersionStats, analyse

    return analyse(AnalysisSettings(), VersionStats("2", *new), VersionStats("1", *stable)).to_json()


def checked(*outputs: dict) -> list[dict]:
    """A shift, then one CheckHealth visit per output."""
    return history(("ShiftTraffic", BAKING, BAKING), *[("CheckHealth", BAKING, {**BAKING, **o}) for o in outputs])


def test_a_check_line_shows_both_versions_numbers_the_verdict_its_rule_and_the_alarms():
    events = checked({"alarms": ALARMS, "analysis": verdict((12, 0, 0, None), (480, 1, 0, 70.0))},
                     {"alarms": ALARMS, "analysis": verdict((220, 40, 0, 812.0), (1980, 10, 0, 240.0))})

    assert [line.text for line in timeline.lines(events)[1:]] == [
        "v2 0% errors (0 of 12) · v1 0.2% errors (1 of 480), p99 70 ms · Inconclusive (tooFewInvocations) · "
        "orders-api-errors OK",
        "v2 18.2% errors (40 of 220), p99 812 ms · v1 0.5% errors (10 of 1,980), p99 240 ms · "
        "Fail (errorRateCeiling) · orders-api-errors OK"]


def test_a_check_without_analysis_shows_the_alarms_and_asks_for_numbers_once_per_check():
    asked = []

    def numbers(context: timeline.CheckContext) -> dict:
        asked.append(context)
        return {"new": {"version": context.new, "invocations": 30, "errors": 9, "throttles": 2, "latencyMs": 68.4},
                "stable": {"version": context.stable, "invocations": 0, "errors": 0}, "latencyPercentile": "p95"}

    events = checked({"alarms": ALARMS}, {"alarms": ALARMS, "analysis": None})

    assert [line.text for line in timeline.lines(events)[1:]] == ["orders-api-errors OK"] * 2
    assert [line.text for line in timeline.lines(events, numbers)[1:]] == [
        "v2 30% errors (9 of 30), 2 throttled, p95 68 ms · v1 no invocations · orders-api-errors OK"] * 2
    shifted, first, second = (T0 + timedelta(seconds=s) for s in (1, 2, 3))
    assert asked == [timeline.CheckContext("orders-api", "live", "2", "1", shifted, first),
                     timeline.CheckContext("orders-api", "live", "2", "1", shifted, second)]


def test_the_checks_own_numbers_win_over_numbers_read_elsewhere():
    events = checked({"alarms": {}, "analysis": verdict((200, 0, 0, None), (1800, 0, 0, None))})

    line = timeline.lines(events, lambda context: pytest.fail("asked for numbers the check has"))[1]

    assert line.text == "v2 0% errors (0 of 200) · v1 0% errors (0 of 1,800) · Pass (withinTolerances) · " \
                        "no alarms watched"


def test_a_failed_check_carries_the_numbers_read_for_it_and_is_the_last_check():
    message = "alarm orders-api-errors in ALARM"
    failure = {"Error": "DeploymentUnhealthy", "Cause": json.dumps({"errorMessage": message})}
    events = history(("ShiftTraffic", BAKING, BAKING),
                     ("CheckHealth", BAKING, {**BAKING, "alarms": ALARMS}),
                     ("CheckHealth", {**BAKING, "alarms": ALARMS}, {**BAKING, "alarms": ALARMS, "failure": failure}))

    line = timeline.lines(events, lambda c: {"new": {"version": c.new, "invocations": 4, "errors": 1}})[-1]
    last = timeline.last_check(timeline.visits(events))

    assert line.text == "failed: DeploymentUnhealthy: alarm orders-api-errors in ALARM · v2 25% errors (1 of 4)"
    assert last["passed"] is False and last["reason"] == "DeploymentUnhealthy: alarm orders-api-errors in ALARM"
    assert last["at"] == (T0 + timedelta(seconds=3)).isoformat()


def test_the_last_check_and_the_snapshot_carry_the_verdict():
    events = checked({"alarms": ALARMS, "analysis": verdict((12, 0, 0, None), (480, 0, 0, None))},
                     {"alarms": ALARMS, "analysis": verdict((200, 0, 0, None), (1800, 0, 0, None))})
    found = timeline.visits(events)

    last = timeline.last_check(found)

    assert (last["passed"], last["verdict"], last["rule"]) == (True, "Pass", "withinTolerances")
    assert last["new"]["invocations"] == 200 and last["stable"]["invocations"] == 1800
    assert timeline.snapshot(found).describe() == "CheckHealth · 10% on version 2 (step 1 of 1) · Pass · " \
                                                  "orders-api-errors OK"
    assert timeline.last_check(timeline.visits(history(("ShiftTraffic", BAKING, BAKING)))) is None


def test_each_checkpoint_says_what_it_ran_and_a_promotion_before_a_hook_reads_as_one():
    functions = "arn:aws:lambda:us-east-1:123456789012:function"
    ran = [{"phase": "beforeTraffic", "step": 0, "invocations": 3, "hook": f"{functions}:orders-smoke"}]
    after = {"phase": "afterPromote", "step": 1, "hook": f"{functions}:notify:live"}
    events = history(("RunChecks", {}, {"checks": ran}),
                     ("PromoteThenCheck", {}, {"release": {"version": "2"}}),
                     ("RunChecks", {}, {"checks": [*ran, after]}))
    assert [line.text for line in timeline.lines(events)] == [
        "beforeTraffic: 3 synthetic invocation(s) and hook orders-smoke passed",
        "100% → version 2",
        "afterPromote: hook notify:live passed",
    ]


def _asl_states(states: dict) -> dict[str, str]:
    """Every state of the definition, nested ones (Map, Parallel) included: name → Type."""
    found = {}
    for name, state in states.items():
        found[name] = state["Type"]
        for nested in [*state.get("Branches", []), *(state[k] for k in ("Iterator", "ItemProcessor") if k in state)]:
            found |= _asl_states(nested["States"])
    return found


def test_the_timeline_names_only_states_the_definition_has_and_describes_or_quiets_every_task():
    """A state renamed in the ASL must not silently drop out of the timeline; a new task must say what it did."""
    with open("statemachine/deploy.asl.json") as asl:
        states = _asl_states(json.load(asl)["States"])
    described = set(timeline._TEXT) | {"CheckHealth"}  # CheckHealth's line is its verdict (check_text)
    assert (described | timeline.QUIET_STATES) - set(states) == set()
    child_deployment = {"StartDeployment"}  # a push's child execution: its own timeline tells it
    tasks = {name for name, kind in states.items() if kind == "Task"}
    assert tasks - described - timeline.QUIET_STATES - child_deployment == set()
