"""A rollback request runs through the state machine: audited, and back on the previous version in seconds."""

from __future__ import annotations

from support import wait_for

from handlers.aws import deployments


def rollback(world, **extra):
    return world.emulator.run({"action": "rollback", "function": world.fn.name, **extra})


def test_rollback_returns_to_the_previous_stable_version(world):
    assert world.emulator.run(world.request(world.v2)).status == "SUCCEEDED"

    execution = rollback(world, requestedBy="on-call")

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output | {"durationSeconds": None} == {
        "outcome": "rolledBack", "function": "orders-api", "alias": "live", "version": "1", "previousVersion": "2",
        "image": world.fn.image(world.v1), "digest": world.v1, "strategy": "Rollback", "durationSeconds": None,
        "lastCheck": None}
    assert world.settled_on() == "1" and world.tag_digest() == world.v1
    assert deployments.history("orders-api")[0]["outcome"] == "rolledBack"


def test_rolling_back_twice_changes_nothing_the_second_time(world):
    world.emulator.run(world.request(world.v2))
    rollback(world)
    again = rollback(world, toVersion="1")
    assert again.output["outcome"] == "unchanged" and world.writes(again) == []


def test_rollback_to_a_given_version(world):
    world.emulator.run(world.request(world.v2))
    world.emulator.run(world.request(world.v3))

    execution = rollback(world, toVersion=1)

    assert execution.output["version"] == "1" and execution.output["previousVersion"] == "3"
    assert world.settled_on() == "1"


def test_rollback_mid_canary_stops_the_deployment_and_restores_the_stable_version(world):
    running = world.emulator.start_execution(world.request(world.v2, strategy="Canary10Percent30Seconds",
                                                           checkIntervalSeconds=1, analysis=False))
    wait_for(world.weights, what="the canary")

    execution = rollback(world)

    assert execution.status == "SUCCEEDED", execution.cause
    assert world.emulator.wait(running).status == "ABORTED"
    stops = [c.params for c in world.emulator.api.calls_of(execution.arn) if c.operation == "StopExecution"]
    assert [s["executionArn"] for s in stops] == [running] and stops[0]["error"] == "RollbackRequested"
    assert world.settled_on() == "1"
    assert deployments.holder("orders-api") is None


def test_rollback_needs_something_to_return_to(world):
    execution = rollback(world)
    assert execution.error == "InvalidDeploymentRequest" and "say which with toVersion" in execution.cause
    assert rollback(world, toVersion="7").error == "InvalidDeploymentRequest"
    assert world.writes(execution) == []
