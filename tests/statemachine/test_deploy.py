"""Whole deployments on the emulator: the real ASL, the real handlers, moto underneath."""

from __future__ import annotations

import pytest
from support import wait_for

from deployer.local.faults import Crash


def alias_writes(world, execution) -> list[tuple[str, dict]]:
    """What the alias was set to, in order, by this execution: (primary version, extra weights)."""
    return [
        (call.params["FunctionVersion"], call.params["RoutingConfig"]["AdditionalVersionWeights"])
        for call in world.emulator.api.calls_of(execution.arn)
        if call.operation == "UpdateAlias" and call.fault is None
    ]


@pytest.mark.parametrize(("strategy", "name", "writes"), [
    ("AllAtOnce", "AllAtOnce", [("2", {})]),
    ("Canary50Percent2Seconds", "Canary50Percent2Seconds", [("1", {"2": 0.5}), ("2", {})]),
    ("Linear50PercentEvery1Second", "Linear50PercentEvery1Second", [("1", {"2": 0.5}), ("2", {})]),  # 50 %, then all
    ({"steps": [{"weight": 5, "bakeSeconds": 1}, {"weight": 25, "bakeSeconds": 0}, {"weight": 75, "bakeSeconds": 1}]},
     "Steps", [("1", {"2": 0.05}), ("1", {"2": 0.25}), ("1", {"2": 0.75}), ("2", {})]),
])
def test_each_strategy_ends_on_the_new_version_after_the_planned_weights(world, strategy, name, writes):
    execution = world.emulator.run(world.request(world.v2, strategy=strategy, checkIntervalSeconds=1,
                                                 alarms=[world.fn.alarm], analysis=False))

    assert execution.status == "SUCCEEDED", execution.cause
    assert world.settled_on() == "2"
    assert world.tag_digest() == world.latest_digest() == world.v2
    assert alias_writes(world, execution) == writes
    duration = execution.output["durationSeconds"]
    assert isinstance(duration, int | float) and duration >= 0
    assert execution.output == {
        "outcome": "deployed", "function": "orders-api", "alias": "live", "version": "2", "previousVersion": "1",
        "image": world.fn.image(world.v2), "digest": world.v2, "strategy": name, "durationSeconds": duration,
        "lastCheck": execution.output["lastCheck"],  # checked below
        "analysis": None,  # "analysis": false
    }
    if execution.state_outputs("CheckHealth"):  # the output says why it promoted: the last check
        assert execution.output["lastCheck"]["passed"] and execution.output["lastCheck"]["alarms"] == {
            world.fn.alarm: "OK"}
    else:
        assert execution.output["lastCheck"] is None


def test_a_bake_checks_health_every_interval(world):
    execution = world.emulator.run(world.request(world.v2, strategy="Canary10Percent3Seconds",
                                                 checkIntervalSeconds=1, alarms=[world.fn.alarm], analysis=False))
    assert execution.status == "SUCCEEDED"
    assert [o["alarms"] for o in execution.state_outputs("CheckHealth")] == [{world.fn.alarm: "OK"}] * 3
    assert [o["traffic"]["waitSeconds"] for o in execution.state_outputs("ShiftTraffic")] == [1]


def test_an_alarm_during_the_bake_rolls_back_at_the_next_check(world):
    """The backstop: the alarm's own event would roll back at once (test_alarm_rollback.py); with its function
    failing, the next check does."""
    world.emulator.api.inject(Crash("AlarmFired", times=None))
    arn = world.emulator.start_execution(world.request(world.v2, strategy="Canary10Percent30Seconds",
                                                       checkIntervalSeconds=1, alarms=[world.fn.alarm], analysis=False))
    wait_for(world.weights, what="the canary")
    world.set_alarm("ALARM")
    execution = world.emulator.wait(arn, timeout=20)

    assert (execution.status, execution.error) == ("FAILED", "DeploymentRolledBack")
    assert "orders-api-errors in ALARM with 10% of traffic" in execution.cause
    assert world.settled_on() == "1"
    assert world.tag_digest() == world.v1
    # a check runs every interval, and the first one after the alarm went off is the one that rolled back: every
    # check before it passed, and at most one entered after the alarm's change (one already running may see it)
    alarmed = world.emulator.client("cloudwatch").describe_alarms(
        AlarmNames=[world.fn.alarm])["MetricAlarms"][0]["StateUpdatedTimestamp"]
    checks = [v for v in execution.visits() if v.name == "CheckHealth"]
    assert [v.failure is None for v in checks] == [True] * (len(checks) - 1) + [False]
    assert len([v for v in checks if v.entered >= alarmed]) <= 1
    assert execution.states_entered()[-3:] == ["CheckHealth", "Rollback", "RolledBack"]


def test_redeploying_the_live_digest_changes_nothing(world):
    execution = world.emulator.run(world.request(world.v1, strategy="Canary10Percent5Minutes"))

    assert execution.status == "SUCCEEDED"
    assert execution.output["outcome"] == "unchanged" and execution.output["version"] == "1"
    assert world.writes(execution) == []
    assert world.versions() == ["1"]


def test_first_deployment_creates_the_alias_on_the_new_version(world):
    lam = world.emulator.client("lambda")
    lam.delete_alias(FunctionName=world.fn.name, Name="live")

    execution = world.emulator.run(world.request(world.v2, strategy="Canary10Percent5Minutes"))

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["strategy"].startswith("AllAtOnce (first deployment")
    assert world.settled_on() == "2"


def test_a_tag_form_image_is_resolved_and_deployed_by_digest(world):
    execution = world.emulator.run(world.request(world.v2) | {"image": f"{world.fn.repository_uri}:v2"})

    assert execution.status == "SUCCEEDED"
    assert execution.output["image"] == world.fn.image(world.v2)
    updates = [c for c in world.emulator.api.calls_of(execution.arn) if c.operation == "UpdateFunctionCode"]
    assert updates[0].params["ImageUri"] == world.fn.image(world.v2)


def test_the_stable_image_keeps_a_tag_so_untagged_expiry_spares_it(world):
    world.emulator.run(world.request(world.v2))
    assert world.tag_digest(f"{world.fn.name}.previous") == world.v1


def test_two_deployments_in_a_row(world):
    assert world.emulator.run(world.request(world.v2, strategy="Linear50PercentEvery1Second",
                                            checkIntervalSeconds=1, analysis=False)).status == "SUCCEEDED"
    execution = world.emulator.run(world.request(world.v3, strategy="Canary50Percent1Second",
                                                 checkIntervalSeconds=1, analysis=False))
    assert execution.status == "SUCCEEDED"
    assert execution.output["previousVersion"] == "2" and world.settled_on() == "3"
    assert world.tag_digest(f"{world.fn.name}.previous") == world.v2
