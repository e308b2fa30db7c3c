"""An error in any mutating step ends with traffic back on the stable version."""

from __future__ import annotations

import dataclasses
import threading

import pytest
from support import make_world, wait_for

from deployer.local.emulator import Emulator
from deployer.local.faults import PRECONDITION_FAILED, THROTTLE, Crash, Fault, Hang
from handlers.aws import deployments
from handlers.domain import progress

TWO_SHIFTS = {"steps": [{"weight": 10, "bakeSeconds": 1}, {"weight": 50, "bakeSeconds": 1}]}
ACCESS_DENIED = (403, "AccessDeniedException")

MUTATING_STEPS = {
    "retag": Fault(ACCESS_DENIED, task="RetagImage", operation="PutImage", times=None),
    "update": Fault(ACCESS_DENIED, task="UpdateCode", operation="UpdateFunctionCode", times=None),
    "publish": Fault(ACCESS_DENIED, task="PublishVersion", operation="PublishVersion", times=None),
    "first shift": Fault(ACCESS_DENIED, task="ShiftTraffic", operation="UpdateAlias", times=None),
    "second shift": Fault(ACCESS_DENIED, task="ShiftTraffic", operation="UpdateAlias", skip=1, times=None),
    "promote": Fault(ACCESS_DENIED, task="Promote", operation="UpdateAlias", times=None),
}


@pytest.mark.parametrize("step", MUTATING_STEPS)
def test_an_error_in_each_mutating_step_rolls_back_to_the_stable_version(fast_world, step):
    world = fast_world
    fault = MUTATING_STEPS[step]
    world.emulator.api.inject(fault)

    execution = world.emulator.run(world.request(world.v2, strategy=TWO_SHIFTS, checkIntervalSeconds=1, analysis=False,
                                                 alarms=[world.fn.alarm]))

    assert fault.fired >= 1, "the fault never hit: the step did not run"
    assert (execution.status, execution.error) == ("FAILED", "DeploymentRolledBack")
    assert "AccessDeniedException" in execution.cause
    assert world.settled_on() == "1"
    assert world.tag_digest() == world.latest_digest() == world.v1


def test_a_throttled_step_is_retried_and_the_deployment_still_succeeds(fast_world):
    world = fast_world
    world.emulator.api.inject(Fault(THROTTLE, task="ShiftTraffic",
                                    operation="UpdateAlias", times=2))
    execution = world.emulator.run(world.request(world.v2, strategy=TWO_SHIFTS, checkIntervalSeconds=1, analysis=False))

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.states_entered().count("ShiftTraffic") == 2  # retries are not new visits
    assert world.settled_on() == "2"


def test_a_precondition_glitch_at_publish_is_retried_and_the_deployment_succeeds(fast_world):
    """PublishVersion answers 412 although $LATEST is still as uploaded: the task looks (GetFunctionConfiguration,
    which its role must allow; IAM is enforced) and retries instead of rolling back."""
    world = fast_world
    glitch = Fault(PRECONDITION_FAILED, task="PublishVersion", operation="PublishVersion")
    world.emulator.api.inject(glitch)

    execution = world.emulator.run(world.request(world.v2, strategy=TWO_SHIFTS, checkIntervalSeconds=1, analysis=False))

    assert glitch.fired == 1
    assert execution.status == "SUCCEEDED", execution.cause
    assert world.emulator.iam.denials(execution.arn) == []
    assert world.versions() == ["1", "2"] and world.settled_on() == "2"


def test_a_change_made_just_before_publish_is_reported_and_not_published(fast_world):
    """Another tool (an IaC run) changes the function's configuration as PublishVersion is called: Lambda answers
    412 for the stale RevisionId; the deployment stops with ConcurrentModification and publishes nothing."""
    world = fast_world
    lam = world.emulator.client("lambda")

    def someone_else():
        lam.update_function_configuration(FunctionName=world.fn.name, Description="changed by an IaC run")

    world.emulator.api.guards.append(just_before("PublishVersion", "PublishVersion", someone_else))

    execution = world.emulator.run(world.request(world.v2, strategy=TWO_SHIFTS, checkIntervalSeconds=1, analysis=False))

    assert (execution.status, execution.error) == ("FAILED", "ConcurrentModification"), execution.cause
    assert "nothing was published" in execution.cause
    assert world.versions() == ["1"] and world.alias()["FunctionVersion"] == "1" and not world.weights()
    assert lam.get_function_configuration(FunctionName=world.fn.name)["Description"] == "changed by an IaC run"


def just_before(task: str, operation: str, change) -> object:
    """An ``ApiLayer`` guard that lets ``change`` happen (once, as another client) just before ``task`` calls
    ``operation``; it refuses nothing."""
    done = threading.Event()

    def guard(scope, call, context):
        if scope.task == task and call.operation == operation and not done.is_set():
            done.set()
            other = threading.Thread(target=change)  # a thread of its own: outside the task's scope
            other.start()
            other.join()
        return None

    return guard


def test_rollback_is_idempotent_when_its_own_answer_is_lost(fast_world):
    """The Rollback task crashes after restoring everything; its retry finds nothing left to do."""
    world = fast_world
    world.emulator.api.inject(Fault(ACCESS_DENIED, task="Promote", operation="UpdateAlias", times=None),
                              Crash("Rollback", after=True))
    execution = world.emulator.run(world.request(world.v2, strategy=TWO_SHIFTS, checkIntervalSeconds=1, analysis=False))

    assert execution.error == "DeploymentRolledBack"
    assert world.writes(execution, task="Rollback") == ["UpdateAlias", "PutImage", "UpdateFunctionCode"]  # once
    assert world.settled_on() == "1"


def test_a_slow_code_update_is_waited_for_by_the_state_machine():
    """Lambda keeps LastUpdateStatus=InProgress for a while; PublishVersion waits for Successful."""
    with Emulator(time_scale=0.05, code_update_seconds=1.0) as emulator:
        world = make_world(emulator)
        execution = world.emulator.run(world.request(world.v2))

    assert execution.status == "SUCCEEDED", execution.cause
    polls = [c for c in world.emulator.api.calls_of(execution.arn) if c.task == "WaitForCodeUpdate"]
    assert len(polls) > 1  # it was InProgress at least once and retried, never sleeping in a task
    assert execution.states_entered().count("WaitForCodeUpdate") == 1


def test_a_throttling_storm_on_the_lambda_control_plane_is_ridden_out(fast_world):
    """Lambda's control plane answers 429 to the next nine calls (about two minutes of backoff in real
    time, on top of the clients' own retries): the state machine outlasts it and the deployment succeeds."""
    world = fast_world
    storm = Fault(THROTTLE, service="lambda", times=9)
    world.emulator.api.inject(storm)

    execution = world.emulator.run(world.request(world.v2, strategy=TWO_SHIFTS, checkIntervalSeconds=1, analysis=False),
                                   timeout=120)

    assert storm.fired == 9
    assert execution.status == "SUCCEEDED", execution.cause
    assert world.settled_on() == "2"


def test_handler_clients_back_off_adaptively(emulator):
    from handlers.aws.clients import client

    retries = client("lambda").meta.config.retries
    assert retries["mode"] == "adaptive" and retries.get("total_max_attempts", retries.get("max_attempts")) > 3


@pytest.mark.parametrize("task", ["Lock", "RetagImage", "UpdateCode", "PublishVersion", "ShiftTraffic", "Promote"])
def test_a_task_rerun_after_its_answer_was_lost_does_not_repeat_its_work(fast_world, task):
    """The task's Lambda dies right after doing its work; the state machine runs it again."""
    world = fast_world
    lost = Crash(task, after=True)
    world.emulator.api.inject(lost)

    execution = world.emulator.run(world.request(world.v2, strategy=TWO_SHIFTS, checkIntervalSeconds=1, analysis=False))

    assert lost.fired == 1 and execution.status == "SUCCEEDED", execution.cause
    assert world.versions() == ["1", "2"]  # published once
    assert world.settled_on() == "2" and world.tag_digest() == world.v2
    assert alias_splits(world, execution) == [{"2": 0.1}, {"2": 0.5}, {}]  # each step once, in order


def alias_splits(world, execution) -> list[dict]:
    """The weights the deployment asked the alias for, in order, a repeated request counted once."""
    splits = []
    for call in world.emulator.api.calls_of(execution.arn):
        weights = call.params.get("RoutingConfig", {}).get("AdditionalVersionWeights")
        if call.operation == "UpdateAlias" and (not splits or weights != splits[-1]):
            splits.append(weights)
    return splits


def test_a_step_the_definition_does_not_know_is_rolled_back_with_a_reason_and_the_lock_released(
        fast_world, monkeypatch):
    """A handler newer than the deployed definition names a next step NextStep has no branch for: its
    default branch rolls back like any failure (recorded, lock released), not with an uncaught States.Runtime."""
    world = fast_world
    shifted = progress.shifted
    monkeypatch.setattr(progress, "shifted",
                        lambda *args, **kwargs: dataclasses.replace(shifted(*args, **kwargs), next="verify"))

    execution = world.emulator.run(world.request(world.v2, strategy=TWO_SHIFTS, checkIntervalSeconds=1, analysis=False))

    assert (execution.status, execution.error) == ("FAILED", "DeploymentRolledBack"), execution.cause
    assert execution.states_entered()[-3:] == ["UnknownNextStep", "Rollback", "RolledBack"]
    assert "UnknownNextStep" in execution.cause and "alias live → version 1" in execution.cause
    assert deployments.holder(world.fn.name) is None  # released by the execution itself, no rescue needed
    record = deployments.history(world.fn.name)[0]
    assert record["outcome"] == "DeploymentRolledBack" and "UnknownNextStep" in record["cause"]
    assert world.settled_on() == "1"


def test_a_task_that_never_answers_times_out_and_the_deployment_is_rolled_back():
    """CheckHealth's invocation hangs while the canary takes traffic: TimeoutSeconds ends the wait, the timeout
    is retried once, then caught like any failure, and Rollback puts traffic back on the stable version."""
    with Emulator(time_scale=0.05, timeout_scale=0.05) as emulator:  # TimeoutSeconds 60 -> 3 s
        world = make_world(emulator)
        hang = Hang("CheckHealth", seconds=8, times=None)  # 5 s beyond the timeout: a busy timer still fires first
        emulator.api.inject(hang)

        execution = emulator.run(world.request(world.v2, strategy=TWO_SHIFTS, checkIntervalSeconds=1, analysis=False))

        assert hang.fired == 2  # the first attempt and its one retry
        assert (execution.status, execution.error) == ("FAILED", "DeploymentRolledBack"), execution.cause
        assert "States.Timeout" in execution.cause and "alias live → version 1" in execution.cause
        assert world.settled_on() == "1"
        wait_for(lambda: hang.answered == hang.fired, timeout=30, what="the hung invocations to return")
