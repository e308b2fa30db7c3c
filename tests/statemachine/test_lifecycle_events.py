"""Lifecycle notifications on the emulator: a subscriber (an EventBridge rule on source lambda-deployer, into an
SQS queue) hears every change of a success, a rollback and a rescue, in order, with the documented schema."""

from __future__ import annotations

import pytest
from support import fire_alarm_once_weighted, notifications_inbox, notified, wait_for

from deployer.local.faults import SERVER_ERROR, Crash, Fault
from handlers.aws import deployments
from handlers.domain import notifications as n

TWO_STEPS = {"steps": [{"weight": 10, "bakeSeconds": 1}, {"weight": 50, "bakeSeconds": 1}]}
LONG_CANARY = {"steps": [{"weight": 10, "bakeSeconds": 600}]}


@pytest.fixture
def inbox(fast_world):
    return notifications_inbox(fast_world.emulator)


def types(sequence) -> list[str]:
    return [detail_type for detail_type, _ in sequence]


def test_a_success_is_started_each_shift_then_promoted(fast_world, inbox):
    world = fast_world
    execution = world.emulator.run(world.request(world.v2, strategy=TWO_STEPS, checkIntervalSeconds=1, analysis=False,
                                                 requestedBy="alice"))
    assert execution.status == "SUCCEEDED"

    heard = notified(inbox, world.fn.name)
    assert types(heard) == [n.STARTED, n.TRAFFIC_SHIFTED, n.TRAFFIC_SHIFTED, n.PROMOTED]
    started, first, second, promoted = (detail for _, detail in heard)
    for detail in (started, first, second, promoted):
        assert list(detail) == list(n.DETAIL_KEYS)
        assert (detail["schemaVersion"], detail["execution"], detail["requestedBy"]) == ("1", execution.arn, "alice")
        assert (detail["alias"], detail["kind"], detail["strategy"], detail["steps"]) == ("live", "deploy", "Steps", 2)
        assert detail["toImage"] == world.fn.image(world.v2) and detail["fromImage"] == world.fn.image(world.v1)
        assert '"' not in detail["summary"] and detail["time"]
    assert (started["fromVersion"], started["toVersion"], started["weight"]) == ("1", None, None)
    assert [(d["fromVersion"], d["toVersion"], d["weight"], d["step"]) for d in (first, second, promoted)] == [
        ("1", "2", 10.0, 1), ("1", "2", 50.0, 2), ("1", "2", 100.0, None)]
    assert promoted["summary"] == "orders-api:live: version 2 serves all traffic (was version 1)"
    resources = {tuple(e["resources"]) for e in inbox.events}
    assert resources == {(f"arn:aws:lambda:us-east-1:123456789012:function:{world.fn.name}", execution.arn)}


def test_redeploying_what_is_live_changes_nothing_and_says_nothing(fast_world, inbox):
    execution = fast_world.emulator.run(fast_world.request(fast_world.v1))

    assert execution.output["outcome"] == "unchanged"
    assert notified(inbox, fast_world.fn.name) == []


def test_a_rollback_says_why(fast_world, inbox):
    """CheckHealth's rollback (the alarm's own event is the other way: test_alarm_rollback.py)."""
    world = fast_world
    world.emulator.api.inject(Crash("AlarmFired", times=None))
    fire_alarm_once_weighted(world)
    execution = world.emulator.run(world.request(world.v2, strategy=LONG_CANARY, checkIntervalSeconds=1, analysis=False,
                                                 alarms=[world.fn.alarm]))
    assert execution.error == "DeploymentRolledBack"

    heard = notified(inbox, world.fn.name)
    assert types(heard) == [n.STARTED, n.TRAFFIC_SHIFTED, n.ROLLED_BACK]
    rolled_back = heard[-1][1]
    assert (rolled_back["fromVersion"], rolled_back["toVersion"], rolled_back["weight"]) == ("2", "1", 100.0)
    assert rolled_back["error"] == "DeploymentUnhealthy" and world.fn.alarm in rolled_back["reason"]
    assert "alias live → version 1 (all traffic)" in rolled_back["restored"]
    assert rolled_back["summary"].startswith("orders-api:live: rolled back to version 1: DeploymentUnhealthy: ")


def test_a_stopped_deployment_is_rescued_and_says_so(fast_world, inbox):
    world = fast_world
    arn = world.emulator.start_execution(world.request(world.v2, strategy=LONG_CANARY, checkIntervalSeconds=60,
                                                       analysis=False))
    wait_for(world.weights, what="the canary")
    world.emulator.client("stepfunctions").stop_execution(executionArn=arn)

    heard = wait_for(lambda: (found := notified(inbox, world.fn.name)) and found[-1][0] == n.RESCUED and found,
                     what="the rescue's notification")
    assert types(heard) == [n.STARTED, n.TRAFFIC_SHIFTED, n.RESCUED]
    rescued = heard[-1][1]
    assert (rescued["execution"], rescued["error"], rescued["toVersion"], rescued["weight"]) == (arn, "ABORTED", "1",
                                                                                                 100.0)
    assert rescued["reason"] == "the execution ended ABORTED"
    assert world.settled_on() == "1"


def test_a_rollback_nobody_could_finish_fails_loudly_until_the_reconciler_rescues_it(fast_world, inbox):
    """The Rollback task and the rescue both meet a broken UpdateAlias: "Deployment Failed" (a person has to look);
    once it works again, the reconciler's repair is announced too."""
    world = fast_world
    world.emulator.api.inject(*[Fault(SERVER_ERROR, task=task, operation="UpdateAlias", times=None)
                                for task in ("Rollback", "Rescue")], Crash("AlarmFired", times=None))
    fire_alarm_once_weighted(world)
    execution = world.emulator.run(world.request(world.v2, strategy=LONG_CANARY, checkIntervalSeconds=1, analysis=False,
                                                 alarms=[world.fn.alarm]))
    assert execution.error == "RollbackFailed"

    heard = wait_for(lambda: (found := notified(inbox, world.fn.name)) and found[-1][0] == n.FAILED and found,
                     what="the failed rescue's notification")
    assert types(heard) == [n.STARTED, n.TRAFFIC_SHIFTED, n.FAILED]
    failed = heard[-1][1]
    assert (failed["execution"], failed["error"], failed["toVersion"]) == (execution.arn, "RollbackFailed", "1")
    assert "could not restore alias" in failed["reason"]

    world.emulator.api.clear()
    report = world.emulator.reconcile()

    assert report["freedLocks"] == [world.fn.name]
    assert types(notified(inbox, world.fn.name)) == [n.STARTED, n.TRAFFIC_SHIFTED, n.FAILED, n.RESCUED]
    assert world.settled_on() == "1"


def test_notifications_that_cannot_be_sent_change_nothing_about_the_deployment(fast_world, inbox):
    world = fast_world
    world.emulator.api.inject(Fault(SERVER_ERROR, service="events", operation="PutEvents", times=None))
    execution = world.emulator.run(world.request(world.v2, strategy=TWO_STEPS, checkIntervalSeconds=1, analysis=False))

    assert execution.status == "SUCCEEDED" and world.settled_on() == "2"
    assert deployments.history(world.fn.name, limit=1)[0]["outcome"] == "deployed"
    tried = [c.task for c in world.emulator.api.calls_of(execution.arn) if c.operation == "PutEvents"]
    assert tried.count("Lock") >= 1 and tried.count("ShiftTraffic") >= 2 and tried.count("Promote") >= 1
    assert notified(inbox, world.fn.name) == []


def test_a_gate_says_approval_needed_with_the_weight_it_holds(fast_world, inbox):
    world = fast_world
    arn = world.emulator.start_execution(world.request(
        world.v2, strategy={"steps": [{"weight": 10, "bakeSeconds": 1}, {"approval": True}]},
        checkIntervalSeconds=1, analysis=False, approvalTimeoutSeconds=600))
    needed = wait_for(lambda: (found := notified(inbox, world.fn.name)) and found[-1][0] == n.APPROVAL_NEEDED
                      and found[-1][1], timeout=20, what="Approval Needed")
    assert (needed["weight"], needed["toVersion"], needed["step"]) == (10.0, "2", None)  # before promotion
    assert f"lambda-deployer approve {world.fn.name}" in needed["summary"]

    lock = deployments.holder(world.fn.name, ddb=world.emulator.client("dynamodb"), table=world.emulator.table_name)
    world.emulator.client("stepfunctions").send_task_success(taskToken=lock.approval["taskToken"], output="{}")
    assert world.emulator.wait(arn, timeout=30).status == "SUCCEEDED"
    assert types(notified(inbox, world.fn.name)) == [n.STARTED, n.TRAFFIC_SHIFTED, n.APPROVAL_NEEDED, n.PROMOTED]
