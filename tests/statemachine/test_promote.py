"""Promote early on the emulator (issue 11.2): ``promote`` leaves the current bake for the next step at the next
check, ``promote --full`` goes straight to promotion; both are recorded with who asked, and --full lists the
steps it skipped. ``rollback`` stays the abort (tests/deployer/commands/test_rollback_command.py)."""

from __future__ import annotations

from support import wait_for

from deployer.cli import EXIT_FAILED, EXIT_OK
from deployer.local.faults import TaskScope, task_scope
from deployer.local.iam import APPROVER_ROLE
from handlers.aws import deployments

# Long bakes: without a promote request this canary would take 10 minutes a step (30 s each at 1/20).
THREE_STEPS = {"steps": [{"weight": 10, "bakeSeconds": 600}, {"weight": 30, "bakeSeconds": 600},
                         {"weight": 60, "bakeSeconds": 600}]}


def as_approver(cli, *args: str):
    with task_scope(TaskScope("cli", APPROVER_ROLE)):
        return cli(*args)


def record(world) -> dict:
    (found,) = deployments.history(world.fn.name, 1, ddb=world.emulator.client("dynamodb"),
                                   table=world.emulator.table_name)
    return found


def test_promote_full_mid_canary_succeeds_with_the_skipped_steps_recorded(fast_world, cli, monkeypatch):
    monkeypatch.setenv("USER", "carol")
    arn = fast_world.emulator.start_execution(fast_world.request(
        fast_world.v2, strategy=THREE_STEPS, checkIntervalSeconds=1, alarms=[fast_world.fn.alarm], analysis=False))
    wait_for(lambda: fast_world.weights() == {"2": 0.1}, timeout=20, what="the first step")

    asked = as_approver(cli, "promote", fast_world.fn.name, "--full")
    execution = fast_world.emulator.wait(arn, timeout=20)  # far less than the 90 s the bakes would take

    assert asked.code == EXIT_OK, asked.err
    assert execution.status == "SUCCEEDED"
    assert fast_world.settled_on() == "2"
    assert execution.output["skippedSteps"] == [1, 2, 3]  # the first step's bake cut short, the others never served
    assert "carol" in execution.output["promotedBy"] and "full" in execution.output["promotedBy"]
    found = record(fast_world)
    assert found["outcome"] == "deployed" and found["skippedSteps"] == "[1, 2, 3]" and "carol" in found["promotedBy"]
    shifts = [call for call in fast_world.emulator.api.calls_of(arn, mutating=True)
              if call.task == "ShiftTraffic" and call.operation == "UpdateAlias"]
    assert len(shifts) == 1  # the 30% and 60% steps never took traffic
    assert fast_world.emulator.iam.denials() == []


def test_promote_moves_to_the_next_step_at_the_next_check(fast_world, cli):
    arn = fast_world.emulator.start_execution(fast_world.request(
        fast_world.v2, strategy=THREE_STEPS, checkIntervalSeconds=1, analysis=False))
    wait_for(lambda: fast_world.weights() == {"2": 0.1}, timeout=20, what="the first step")

    assert as_approver(cli, "promote", fast_world.fn.name).code == EXIT_OK
    wait_for(lambda: fast_world.weights() == {"2": 0.3}, timeout=10, what="the second step, long before its time")
    assert fast_world.emulator.describe(arn).status == "RUNNING"  # the second step bakes as planned

    assert as_approver(cli, "promote", fast_world.fn.name, "--full").code == EXIT_OK
    execution = fast_world.emulator.wait(arn, timeout=20)
    assert execution.status == "SUCCEEDED" and execution.output["skippedSteps"] == [2, 3]
    assert fast_world.settled_on() == "2"


def test_a_promote_request_never_overrides_an_alarm(fast_world, cli):
    arn = fast_world.emulator.start_execution(fast_world.request(
        fast_world.v2, strategy=THREE_STEPS, checkIntervalSeconds=1, alarms=[fast_world.fn.alarm], analysis=False))
    wait_for(lambda: fast_world.weights() == {"2": 0.1}, timeout=20, what="the first step")
    fast_world.set_alarm("ALARM")
    assert as_approver(cli, "promote", fast_world.fn.name, "--full").code in (EXIT_OK, EXIT_FAILED)
    execution = fast_world.emulator.wait(arn, timeout=20)

    assert execution.status in ("FAILED", "ABORTED")  # rolled back by its check, or by the alarm's own event
    wait_for(lambda: not fast_world.weights() and fast_world.alias()["FunctionVersion"] == "1", timeout=20,
             what="traffic back on version 1")


def test_promote_with_nothing_running_is_refused(fast_world, cli):
    refused = as_approver(cli, "promote", fast_world.fn.name)
    assert refused.code == EXIT_FAILED and "no deployment" in refused.err
