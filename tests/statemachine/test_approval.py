"""Approval gates on the emulator (issue 11.1): a deployment waiting for a person holds its weight and keeps
checking; approve continues it; reject, a timeout and an alarm roll it back.

The CLI answers as a person holding the approver policy (``APPROVER_ROLE``): the emulator enforces that policy as
IAM would, and refuses the same answer from CI's.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from support import wait_for

from deployer.cli import EXIT_FAILED, EXIT_OK
from deployer.local.faults import Crash, TaskScope, task_scope
from deployer.local.iam import APPROVER_ROLE, CI_ROLE
from handlers.aws import deployments
from infra import permissions
from infra.permissions import Allow

GATED = {"steps": [{"weight": 10, "bakeSeconds": 1}, {"approval": True}, {"weight": 50, "bakeSeconds": 1}]}


def lock(world) -> deployments.Lock | None:
    emulator = world.emulator
    return deployments.holder(world.fn.name, ddb=emulator.client("dynamodb"), table=emulator.table_name)


def waiting_at_gate(world, arn: str, **request) -> deployments.Lock:
    """Start a gated deployment and wait until its gate's token is on the lock."""
    return wait_for(lambda: (found := lock(world)) and (found.approval or {}).get("taskToken") and found,
                    timeout=20, what="the approval gate's task token on the lock")


def watch_checks(world, arn: str) -> int:
    return sum(1 for v in world.emulator.describe(arn).visits() if v.name == "WatchApproval")


def as_approver(cli, *args: str):
    with task_scope(TaskScope("cli", APPROVER_ROLE)):
        return cli(*args)


@pytest.fixture
def gated(fast_world):
    """A deployment of v2 waiting at the gate between its 10% and 50% steps (checks every second, scaled)."""
    arn = fast_world.emulator.start_execution(fast_world.request(
        fast_world.v2, strategy=GATED, checkIntervalSeconds=1, alarms=[fast_world.fn.alarm], analysis=False,
        approvalTimeoutSeconds=600))
    waiting_at_gate(fast_world, arn)
    yield arn
    finish(fast_world, arn)


def finish(world, arn: str) -> None:
    """A deployment left waiting ends with its test (stopped, then rescued), not in the next test's emulator."""
    if world.emulator.describe(arn).status == "RUNNING":
        world.emulator.client("stepfunctions").stop_execution(executionArn=arn)
    world.emulator.wait(arn, timeout=30)
    wait_for(lambda: lock(world) is None, timeout=30, what="the lock released")


def test_a_deployment_waiting_for_approval_holds_its_weight_and_keeps_checking(fast_world, gated):
    checks = wait_for(lambda: (n := watch_checks(fast_world, gated)) >= 3 and n, what="three checks while waiting")

    assert fast_world.weights() == {"2": 0.1}  # the first step's weight, held
    assert fast_world.emulator.describe(gated).status == "RUNNING"
    held = lock(fast_world).approval
    assert (held["gate"], held["weight"], held["onTimeout"]) == (1, 10.0, "rollback")
    wait_for(lambda: watch_checks(fast_world, gated) > checks, what="more checks")
    assert fast_world.weights() == {"2": 0.1}


def test_approve_continues_the_deployment_and_records_who(fast_world, gated, cli, monkeypatch):
    monkeypatch.setenv("USER", "alice")
    answered = as_approver(cli, "approve", fast_world.fn.name)
    execution = fast_world.emulator.wait(gated, timeout=30)

    assert answered.code == EXIT_OK, answered.err
    assert execution.status == "SUCCEEDED"
    assert fast_world.settled_on() == "2"
    assert "alice" in execution.output["approvedBy"]
    (record,) = deployments.history(fast_world.fn.name, 1, ddb=fast_world.emulator.client("dynamodb"),
                                    table=fast_world.emulator.table_name)
    assert "alice" in record["approvedBy"] and record["outcome"] == "deployed"
    # the watch ended with the wait (its heartbeat answered TaskTimedOut), and the 50% step came after the gate
    entered = execution.states_entered()
    last_shift = len(entered) - 1 - entered[::-1].index("ShiftTraffic")
    assert entered.index("AwaitApproval") < entered.index("Approved") < last_shift
    assert fast_world.emulator.iam.denials() == []


def test_reject_rolls_back_with_the_reason(fast_world, gated, cli):
    answered = as_approver(cli, "reject", fast_world.fn.name, "--reason", "error budget spent")
    execution = fast_world.emulator.wait(gated, timeout=30)

    assert answered.code == EXIT_OK, answered.err
    assert (execution.status, execution.error) == ("FAILED", "DeploymentRolledBack")
    assert "ApprovalRejected" in execution.cause and "error budget spent" in execution.cause
    assert fast_world.settled_on() == "1"


def test_ci_may_deploy_but_not_approve(fast_world, gated, cli):
    with task_scope(TaskScope("cli", CI_ROLE)):
        refused = cli("approve", fast_world.fn.name)

    assert refused.code != EXIT_OK
    assert {d.need.action for d in fast_world.emulator.iam.denials()} & {"dynamodb:UpdateItem", "dynamodb:GetItem"}
    assert fast_world.emulator.describe(gated).status == "RUNNING"  # still waiting
    assert as_approver(cli, "approve", fast_world.fn.name).code == EXIT_OK
    assert fast_world.emulator.wait(gated, timeout=30).status == "SUCCEEDED"


def test_approving_twice_or_with_nothing_waiting_is_refused(fast_world, gated, cli):
    assert as_approver(cli, "approve", fast_world.fn.name).code == EXIT_OK
    again = as_approver(cli, "approve", fast_world.fn.name)
    assert again.code == EXIT_FAILED and ("already answered" in again.err or "not waiting" in again.err
                                          or "no deployment" in again.err)
    fast_world.emulator.wait(gated, timeout=30)
    assert as_approver(cli, "approve", fast_world.fn.name).code == EXIT_FAILED


def test_nobody_answering_in_time_rolls_back(fast_world):
    execution = fast_world.emulator.run(fast_world.request(
        fast_world.v2, strategy=GATED, checkIntervalSeconds=1, analysis=False, approvalTimeoutSeconds=2), timeout=40)

    assert (execution.status, execution.error) == ("FAILED", "DeploymentRolledBack")
    assert "ApprovalTimedOut" in execution.cause
    assert fast_world.settled_on() == "1"


def test_a_timeout_promotes_only_when_the_request_says_so(fast_world):
    execution = fast_world.emulator.run(fast_world.request(
        fast_world.v2, strategy=GATED, checkIntervalSeconds=1, analysis=False, approvalTimeoutSeconds=2,
        onApprovalTimeout="promote"), timeout=40)

    assert execution.status == "SUCCEEDED"
    assert execution.output["approvedBy"].startswith("timeout")
    assert fast_world.settled_on() == "2"


def test_an_alarm_while_waiting_rolls_back_at_once(fast_world):
    """The alarm's own event stops the wait and rolls back (handlers/alarm_fired.py), long before the next check:
    the checks are a minute apart (3 s at this scale), and the rollback comes in well under one."""
    arn = fast_world.emulator.start_execution(fast_world.request(
        fast_world.v2, strategy=GATED, checkIntervalSeconds=60, alarms=[fast_world.fn.alarm], analysis=False))
    waiting_at_gate(fast_world, arn)
    fired = time.monotonic()
    fired_at = datetime.now(UTC)
    fast_world.set_alarm("ALARM")
    wait_for(lambda: not fast_world.weights(), timeout=10, what="traffic back on version 1")
    took = time.monotonic() - fired

    execution = fast_world.emulator.wait(arn, timeout=20)
    assert execution.status == "ABORTED"
    assert took < 60 * fast_world.emulator.time_scale
    assert [v for v in execution.visits() if v.name == "WatchApproval" and v.entered >= fired_at] == []
    wait_for(lambda: lock(fast_world) is None, what="the lock released by the rollback")
    assert fast_world.settled_on() == "1"


def test_without_the_alarms_event_the_watch_rolls_back_at_its_next_check(fast_world):
    fast_world.emulator.api.inject(Crash("AlarmFired", times=None))
    arn = fast_world.emulator.start_execution(fast_world.request(
        fast_world.v2, strategy=GATED, checkIntervalSeconds=1, alarms=[fast_world.fn.alarm], analysis=False,
        approvalTimeoutSeconds=600))
    waiting_at_gate(fast_world, arn)
    fast_world.set_alarm("ALARM")
    execution = fast_world.emulator.wait(arn, timeout=30)

    assert (execution.status, execution.error) == ("FAILED", "DeploymentRolledBack")
    assert "while waiting for approval" in execution.cause and fast_world.fn.alarm in execution.cause
    assert fast_world.settled_on() == "1"


def test_approval_before_promote_waits_after_the_last_step(fast_world, cli):
    arn = fast_world.emulator.start_execution(fast_world.request(
        fast_world.v2, strategy="Canary10Percent1Second", checkIntervalSeconds=1, analysis=False,
        approval="beforePromote", approvalTimeoutSeconds=600))
    held = waiting_at_gate(fast_world, arn).approval

    assert (held["gate"], held["weight"]) == (1, 10.0)  # after the only step, before promotion
    assert fast_world.weights() == {"2": 0.1}
    assert as_approver(cli, "approve", fast_world.fn.name).code == EXIT_OK
    assert fast_world.emulator.wait(arn, timeout=30).status == "SUCCEEDED"
    assert fast_world.settled_on() == "2"


APPROVER_ACTIONS = sorted({action for allow in permissions.APPROVER_PERMISSIONS for action in allow.actions})


@pytest.mark.parametrize("action", APPROVER_ACTIONS)
def test_each_action_of_the_approver_policy_is_needed(fast_world, cli, monkeypatch, action):
    """With the action taken from the policy, the command that needs it is refused and the deployment goes on as
    if nobody had asked: the gate keeps waiting, or the bake keeps its step."""
    monkeypatch.setattr(permissions, "APPROVER_PERMISSIONS", tuple(
        Allow(allow.scope, *[a for a in allow.actions if a != action]) for allow in permissions.APPROVER_PERMISSIONS))
    fn = fast_world.fn.name
    if action == "dynamodb:UpdateItem":  # what promote writes
        arn = fast_world.emulator.start_execution(fast_world.request(
            fast_world.v2, strategy={"steps": [{"weight": 10, "bakeSeconds": 600}, {"weight": 50, "bakeSeconds": 1}]},
            checkIntervalSeconds=1, analysis=False))
        wait_for(lambda: fast_world.weights() == {"2": 0.1}, timeout=20, what="the first step")
        command = ("promote", fn, "--full")
    else:
        arn = fast_world.emulator.start_execution(fast_world.request(
            fast_world.v2, strategy=GATED, checkIntervalSeconds=1, analysis=False, approvalTimeoutSeconds=600))
        waiting_at_gate(fast_world, arn)
        command = ("reject", fn, "--reason", "no") if action == "states:SendTaskFailure" else ("approve", fn)

    assert as_approver(cli, *command).code != EXIT_OK
    assert action in {d.need.action for d in fast_world.emulator.iam.denials()}
    assert fast_world.emulator.describe(arn).status == "RUNNING" and fast_world.weights() == {"2": 0.1}
    finish(fast_world, arn)
