"""Rollback on the alarm's own event: traffic is back on the stable version seconds after the alarm fires,
whatever ``checkIntervalSeconds`` says, and only for the deployments that judge that alarm.

Waits and alarm evaluation run at 1/20 (a 60 s alarm period is 3 s; a 1500 s check interval is 75 s). Each
test sees every answer of the AlarmFired function (``answers``): the event as delivered, and what it did.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import pytest
from support import make_world, wait_for

from deployer.local import sample
from deployer.local.emulator import Emulator
from deployer.local.faults import Crash
from deployer.runs import aborted_with
from handlers.aws import deployments
from handlers.domain import alarm_events
from handlers.domain.images import parse_image_uri
from handlers.domain.model import ROLLBACK_REQUESTED, Deployment, Stable, stopped_by
from handlers.domain.strategy import Plan

TIME_SCALE = 0.05
CHECK_EVERY = 1500  # seconds: 75 s here; every rollback below happens long before the first check
HALF_FOR_LONG = {"steps": [{"weight": 50, "bakeSeconds": 3000}]}


@pytest.fixture
def emu():
    with Emulator(time_scale=TIME_SCALE, seed=11) as emulator:
        yield emulator


@pytest.fixture
def world(emu):
    return make_world(emu)


@pytest.fixture
def answers(emu) -> list[tuple[dict, dict]]:
    """(event, answer) of every AlarmFired invocation, as they end."""
    found: list[tuple[dict, dict]] = []
    name = f"{emu.state_machine_name}-AlarmFired"
    runner = emu.invocations.runners[name]

    def spy(fn, event, context):
        outcome = runner(fn, event, context)
        found.append((event, outcome.result if outcome.error is None else {"error": outcome.error}))
        return outcome

    emu.invocations.runners[name] = spy
    return found


class Traffic:
    """Clients calling the alias as fast as they can, until stopped."""

    def __init__(self, emu: Emulator, world) -> None:
        self._stop, self.calls = threading.Event(), 0
        lam = emu.client("lambda")

        def call() -> None:
            while not self._stop.is_set():
                lam.invoke(FunctionName=world.fn.name, Qualifier=world.fn.alias, Payload=b"{}")
                self.calls += 1

        self._thread = threading.Thread(target=call, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def executions(emu: Emulator) -> dict[str, str]:
    listed = emu.client("stepfunctions").list_executions(stateMachineArn=emu.state_machine_arn)["executions"]
    return {e["name"]: e["status"] for e in listed}


def rollback_of(emu: Emulator, world, deployment_arn: str):
    """The rollback the alarm's event started for that deployment, once it has ended."""
    name = alarm_events.rollback_name(world.fn.name, deployment_arn)
    wait_for(lambda: name in executions(emu), what=f"rollback {name}")
    return emu.wait(f"{emu.state_machine_arn.replace(':stateMachine:', ':execution:')}:{name}", timeout=30)


def deploy(emu: Emulator, world, **extra) -> str:
    request = world.request(world.v2, strategy=HALF_FOR_LONG, checkIntervalSeconds=CHECK_EVERY,
                            alarms=[world.fn.alarm]) | extra
    arn = emu.start_execution(request)
    wait_for(world.weights, what="the canary")
    return arn


def test_an_alarm_evaluated_from_failing_calls_restores_traffic_before_the_next_check(emu, world):
    emu.behaviours.register(world.v2, sample.FAILING)
    arn = deploy(emu, world)
    shifted = datetime.now(UTC)
    traffic = Traffic(emu, world)
    try:
        wait_for(lambda: not world.weights(), timeout=60, what="traffic restored")  # before the first check
        restored = datetime.now(UTC)
    finally:
        traffic.stop()

    alarm = emu.client("cloudwatch").describe_alarms(AlarmNames=[world.fn.alarm])["MetricAlarms"][0]
    assert alarm["StateValue"] == "ALARM" and alarm["StateReason"].startswith("Threshold Crossed")  # evaluated
    assert shifted < alarm["StateUpdatedTimestamp"] < restored
    stopped = emu.wait(arn)
    assert stopped.status == "ABORTED" and "CheckHealth" not in stopped.states_entered()  # no check ran: the event
    error, cause = aborted_with(stopped.history)
    assert error == ROLLBACK_REQUESTED and cause.endswith(f"requested by alarm {world.fn.alarm}")
    rollback = rollback_of(emu, world, arn)
    assert stopped_by(error, cause) == rollback.name
    assert rollback.status == "SUCCEEDED" and rollback.input["requestedBy"] == f"alarm {world.fn.alarm}"
    assert rollback.output["version"] == "1" and rollback.output["previousVersion"] == "2"
    wait_for(lambda: deployments.holder(world.fn.name) is None, what="the lock's release")
    assert world.settled_on() == "1"
    records = {r["kind"]: r for r in deployments.history(world.fn.name)}
    assert records["deploy"]["outcome"] == "aborted" and f"alarm {world.fn.alarm}" in records["deploy"]["cause"]
    assert records["rollback"]["outcome"] == "rolledBack"
    assert records["rollback"]["requestedBy"] == f"alarm {world.fn.alarm}"


def test_a_composite_alarm_the_deployment_watches_rolls_it_back_through_its_own_event(emu, world, answers):
    cloudwatch = emu.client("cloudwatch")
    cloudwatch.put_composite_alarm(AlarmName="orders-api-health", AlarmRule=f'ALARM("{world.fn.alarm}")')
    arn = deploy(emu, world, alarms=["orders-api-health"])

    world.set_alarm("ALARM")  # the metric alarm, which the deployment does not watch itself

    rollback = rollback_of(emu, world, arn)
    assert rollback.status == "SUCCEEDED" and rollback.input["requestedBy"] == "alarm orders-api-health"
    assert emu.wait(arn).status == "ABORTED"
    assert world.settled_on() == "1"
    by_alarm = {event["detail"]["alarmName"]: answer for event, answer in answers}
    assert by_alarm[world.fn.alarm]["rollbacks"] == []  # its own event: watched by nobody
    assert [r["rollback"] for r in by_alarm["orders-api-health"]["rollbacks"]] == [rollback.name]


def test_an_alarm_of_a_function_with_no_running_deployment_does_nothing(emu, world, answers):
    assert emu.run(world.request(world.v2, alarms=[world.fn.alarm])).status == "SUCCEEDED"

    world.set_alarm("ALARM")

    (event, answer), = wait_for(lambda: answers, what="the alarm's event handled")
    assert event["detail"]["alarmName"] == world.fn.alarm
    assert answer == {"alarm": world.fn.alarm, "rollbacks": [], "skipped": []}
    assert len(executions(emu)) == 1
    assert world.settled_on() == "2"


def test_a_lock_left_by_an_execution_that_no_longer_runs_is_left_to_the_rescue(emu, world, answers):
    gone = f"{emu.state_machine_arn.replace(':stateMachine:', ':execution:')}:long-gone"
    watching = Deployment(
        function_name=world.fn.name, function_arn="arn:aws:lambda:us-east-1:123456789012:function:orders-api",
        alias="live", alias_exists=True, target=parse_image_uri(world.fn.image(world.v2)),
        stable=Stable("1", world.fn.image(world.v1), world.v1), latest_image=None, plan=Plan("Steps", ()),
        check_interval_seconds=CHECK_EVERY, alarms=(world.fn.alarm,))
    deployments.acquire(world.fn.name, gone, deployments.now(), watching.to_json())

    world.set_alarm("ALARM")

    (_, answer), = wait_for(lambda: answers, what="the alarm's event handled")
    assert answer["rollbacks"] == []
    assert answer["skipped"] == ["orders-api: its execution is gone (the rescue restores it)"]
    assert executions(emu) == {}


def test_an_alarm_already_firing_when_a_hotfix_started_does_not_roll_it_back(emu, world, answers):
    world.set_alarm("ALARM")
    arn = emu.start_execution(world.request(world.v2, alarms=[world.fn.alarm], allowFiringAlarms=True, analysis=False,
                                            strategy={"steps": [{"weight": 10, "bakeSeconds": 60}]},
                                            checkIntervalSeconds=10))
    wait_for(world.weights, what="the canary")

    world.set_alarm("OK")
    world.set_alarm("ALARM")  # firing again mid-canary: still the hotfix's ignored alarm

    execution = emu.wait(arn, timeout=30)
    assert execution.status == "SUCCEEDED", execution.cause
    assert set(executions(emu).values()) == {"SUCCEEDED"} and len(executions(emu)) == 1
    during = wait_for(lambda: [a for _, a in answers if a.get("skipped")], what="the second ALARM handled")
    assert during[0]["rollbacks"] == []
    assert during[0]["skipped"][0].startswith(f"orders-api: {world.fn.alarm} was already firing when it started")


def test_a_redelivered_event_starts_one_rollback(emu, world, answers):
    """EventBridge delivers at least once: here a second target on the same rule is the duplicate, and the
    rollback waits in ResolveRollback until both copies were answered, so both find the deployment running."""
    bridge = emu.client("events")
    rule = f"{emu.state_machine_name}-alarm-fired"
    bridge.put_targets(Rule=rule, Targets=[{"Id": "redelivery", "Arn": emu.function_arns["AlarmFired"]}])
    both_answered = threading.Event()

    def hold_the_rollback(scope, call, context):
        if scope.task == "ResolveRollback":
            both_answered.wait(timeout=10)

    emu.api.guards.append(hold_the_rollback)
    arn = deploy(emu, world)

    world.set_alarm("ALARM")
    wait_for(lambda: len(answers) == 2, what="both copies handled")
    both_answered.set()

    rollback = rollback_of(emu, world, arn)
    assert [[r["rollback"] for r in a["rollbacks"]] for _, a in answers] == [[rollback.name], [rollback.name]]
    assert answers[0][0]["id"] == answers[1][0]["id"]  # the same event, twice
    starts = [c for c in emu.api.calls_of() if c.task == "AlarmFired" and c.operation == "StartExecution"]
    assert len(starts) == 2 and all(c.fault is None for c in starts)  # the second start returned the first
    assert sorted(executions(emu).values()) == ["ABORTED", "SUCCEEDED"]  # the deployment, one rollback
    assert world.settled_on() == "1"


def test_when_the_alarms_event_cannot_roll_back_the_next_check_does(emu, world):
    emu.api.inject(Crash("AlarmFired", times=None))
    arn = deploy(emu, world, checkIntervalSeconds=20)  # 1 s here

    world.set_alarm("ALARM")

    execution = emu.wait(arn, timeout=30)
    assert (execution.status, execution.error) == ("FAILED", "DeploymentRolledBack")
    alarmed = emu.client("cloudwatch").describe_alarms(AlarmNames=[world.fn.alarm])["MetricAlarms"][0]
    checks = [visit for visit in execution.visits() if visit.name == "CheckHealth"]
    assert all(check.failure is None for check in checks[:-1])  # every check before the alarm passed …
    assert checks[-1].failure["Error"] == "DeploymentUnhealthy" and world.fn.alarm in checks[-1].failure["Cause"]
    # … and the one that failed was the first to start after the alarm went off (or the one already running)
    assert len([check for check in checks if check.entered >= alarmed["StateUpdatedTimestamp"]]) <= 1
    assert checks[-1].output["traffic"]["checksLeft"] > 1  # mid-bake: not the bake's last check
    assert list(executions(emu)) == [execution.name]
    assert world.settled_on() == "1"


def test_a_second_watched_alarm_of_the_same_deployment_starts_nothing_more(emu, world, answers):
    cloudwatch = emu.client("cloudwatch")
    cloudwatch.put_composite_alarm(AlarmName="orders-api-health", AlarmRule=f'ALARM("{world.fn.alarm}")')
    arn = deploy(emu, world, alarms=[world.fn.alarm, "orders-api-health"])

    world.set_alarm("ALARM")  # the metric alarm and, through it, the composite: two events

    rollback = rollback_of(emu, world, arn)
    wait_for(lambda: len(answers) == 2, what="both events handled")
    assert sorted(executions(emu).values()) == ["ABORTED", "SUCCEEDED"]
    assert rollback.input["requestedBy"] in (f"alarm {world.fn.alarm}", "alarm orders-api-health")
    assert world.settled_on() == "1"
    assert json.dumps(deployments.history(world.fn.name)).count('"kind": "rollback"') == 1
