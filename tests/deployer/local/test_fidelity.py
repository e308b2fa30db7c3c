"""The emulator behaves like AWS where moto alone does not (deployer/local/fidelity.py)."""

from __future__ import annotations

import copy
import json
import threading
import time
from types import SimpleNamespace
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.awslambda.utils import get_backend as lambda_backend
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.backend.execution import Execution as SfnExecution
from support import wait_for

from deployer.local.emulator import Emulator
from deployer.local.iam import ACCOUNT
from deployer.local.sample import manifest, push_image


def error_of(call, *args, **kwargs) -> str:
    with pytest.raises(ClientError) as raised:
        call(*args, **kwargs)
    return raised.value.response["Error"]["Code"]


def test_a_published_version_keeps_its_code_when_latest_changes(world):
    lam = world.emulator.client("lambda")
    lam.update_function_code(FunctionName="orders-api", ImageUri=world.fn.image(world.v2))
    assert world.version_digest("1") == world.v1
    assert world.latest_digest() == world.v2


def test_lambda_resolves_images_against_ecr(world):
    lam = world.emulator.client("lambda")
    config = lam.get_function_configuration(FunctionName="orders-api")
    assert config["CodeSha256"] == world.v1.removeprefix("sha256:")
    code = lam.get_function(FunctionName="orders-api")["Code"]
    assert code["ResolvedImageUri"] == world.fn.image(world.v1)  # IaC named the tag; Lambda pins the digest
    missing = world.fn.image("sha256:" + "0" * 64)
    assert error_of(lam.update_function_code, FunctionName="orders-api", ImageUri=missing) == \
        "InvalidParameterValueException"


def test_alias_revision_changes_with_every_update_and_a_stale_one_is_refused(world):
    lam = world.emulator.client("lambda")
    before = world.alias()["RevisionId"]
    lam.update_function_code(FunctionName="orders-api", ImageUri=world.fn.image(world.v2))
    lam.publish_version(FunctionName="orders-api")
    after = lam.update_alias(FunctionName="orders-api", Name="live", FunctionVersion="2",
                             RevisionId=before)["RevisionId"]
    assert after != before and world.alias()["RevisionId"] == after
    assert error_of(lam.update_alias, FunctionName="orders-api", Name="live", FunctionVersion="1",
                    RevisionId=before) == "PreconditionFailedException"


def test_the_alias_revision_is_the_one_moto_keeps_moved_on_by_every_update(world):
    """moto mints ``LambdaAlias.revision_id`` at creation and never changes it; the emulator changes that one
    (and keeps no shadow of its own), so an upgrade that fixes moto's cannot leave two disagreeing."""
    lam = world.emulator.client("lambda")
    created = lam.create_alias(FunctionName="orders-api", Name="beta", FunctionVersion="1")["RevisionId"]
    kept = lambda_backend(ACCOUNT, world.emulator.region).get_alias("beta", "orders-api")
    assert created == kept.revision_id
    updated = lam.update_alias(FunctionName="orders-api", Name="beta", Description="moved")["RevisionId"]
    assert updated != created
    assert updated == kept.revision_id == lam.get_alias(FunctionName="orders-api", Name="beta")["RevisionId"]
    assert not hasattr(kept, "_emulator_revision")


def test_publish_version_checks_code_sha_and_revision(world):
    lam = world.emulator.client("lambda")
    updated = lam.update_function_code(FunctionName="orders-api", ImageUri=world.fn.image(world.v2))
    assert error_of(lam.publish_version, FunctionName="orders-api", CodeSha256="f" * 64) == \
        "InvalidParameterValueException"
    assert error_of(lam.publish_version, FunctionName="orders-api", RevisionId="stale") == \
        "PreconditionFailedException"
    published = lam.publish_version(FunctionName="orders-api", CodeSha256=updated["CodeSha256"],
                                    RevisionId=updated["RevisionId"])
    assert published["Version"] == "2"


@pytest.mark.slow
def test_a_code_update_stays_in_progress_and_blocks_publishing_meanwhile():
    with Emulator(code_update_seconds=30) as emulator:
        from support import make_world

        world = make_world(emulator)
        lam = emulator.client("lambda")
        lam.update_function_code(FunctionName="orders-api", ImageUri=world.fn.image(world.v2))
        assert lam.get_function_configuration(FunctionName="orders-api")["LastUpdateStatus"] == "InProgress"
        assert error_of(lam.publish_version, FunctionName="orders-api") == "ResourceConflictException"
        assert error_of(lam.update_function_code, FunctionName="orders-api",
                        ImageUri=world.fn.image(world.v3)) == "ResourceConflictException"


def test_an_immutable_tag_cannot_move_but_putting_it_again_is_already_there(emulator):
    ecr = emulator.client("ecr")
    ecr.create_repository(repositoryName="frozen", imageTagMutability="IMMUTABLE")
    push_image(ecr, "frozen", "a", tag="release")
    assert error_of(ecr.put_image, repositoryName="frozen", imageManifest=manifest("b"),
                    imageTag="release") == "ImageTagAlreadyExistsException"
    assert error_of(ecr.put_image, repositoryName="frozen", imageManifest=manifest("a"),
                    imageTag="release") == "ImageAlreadyExistsException"


def test_executions_started_without_a_name_get_distinct_names(emulator):
    sfn = emulator.client("stepfunctions")
    first = sfn.start_execution(stateMachineArn=emulator.state_machine_arn, input="{}")["executionArn"]
    second = sfn.start_execution(stateMachineArn=emulator.state_machine_arn, input='{"x": 1}')["executionArn"]
    assert first != second


WAITS_A_MINUTE = json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 60, "End": True}}})


@pytest.fixture
def waiting(emulator):
    """A Standard state machine whose executions stay RUNNING for a minute; yields (client, its ARN)."""
    sfn = emulator.client("stepfunctions")
    machine = sfn.create_state_machine(name="waits", definition=WAITS_A_MINUTE, roleArn=ROLE,
                                       type="STANDARD")["stateMachineArn"]
    yield sfn, machine
    for execution in sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING")["executions"]:
        sfn.stop_execution(executionArn=execution["executionArn"])


ROLE = "arn:aws:iam::123456789012:role/waits"


def test_start_execution_with_the_name_and_input_of_a_running_execution_returns_it(waiting):
    """StartExecution is idempotent for Standard workflows; a different input, or the name of a closed
    execution, is ExecutionAlreadyExists (StartExecution API reference)."""
    sfn, machine = waiting
    first = sfn.start_execution(stateMachineArn=machine, name="once", input='{"n": 1}')
    again = sfn.start_execution(stateMachineArn=machine, name="once", input='{"n": 1}')
    assert (again["executionArn"], again["startDate"]) == (first["executionArn"], first["startDate"])
    assert error_of(sfn.start_execution, stateMachineArn=machine, name="once", input='{"n": 2}') == \
        "ExecutionAlreadyExists"
    sfn.stop_execution(executionArn=first["executionArn"])
    wait_for(lambda: sfn.describe_execution(executionArn=first["executionArn"])["status"] == "ABORTED",
             what="the stop")  # moto ends it a moment after StopExecution answers (MOTO_GAPS.md)
    assert error_of(sfn.start_execution, stateMachineArn=machine, name="once", input='{"n": 1}') == \
        "ExecutionAlreadyExists"
    assert len(sfn.list_executions(stateMachineArn=machine)["executions"]) == 1


def test_a_stopped_executions_history_ends_with_the_error_and_cause_it_was_stopped_with(waiting):
    """StopExecution's error and cause are the execution's ExecutionAborted event's (ExecutionAbortedEventDetails,
    Step Functions API reference); one stopped without them has none."""
    sfn, machine = waiting

    def last_event(arn: str, kind: str) -> dict | None:
        event = sfn.get_execution_history(executionArn=arn)["events"][-1]
        return event if event["type"] == kind else None

    told, untold = (sfn.start_execution(stateMachineArn=machine, name=name, input="{}")["executionArn"]
                    for name in ("told", "untold"))
    for arn in (told, untold):
        wait_for(lambda arn=arn: last_event(arn, "WaitStateEntered"), what=f"{arn} waiting")

    sfn.stop_execution(executionArn=told, error="RollbackRequested", cause="stopped by rollback request r-1")
    sfn.stop_execution(executionArn=untold)

    def aborted(arn: str) -> dict:
        event = wait_for(lambda: last_event(arn, "ExecutionAborted"), what=f"{arn} aborted")
        return event["executionAbortedEventDetails"]

    assert aborted(told) == {"error": "RollbackRequested", "cause": "stopped by rollback request r-1"}
    assert not any(aborted(untold).values())


def test_concurrent_starts_with_one_name_and_input_start_one_execution(waiting):
    """moto checks the name, deep-copies the state machine, then adds the execution; a slower copy makes
    the race between two callers certain."""
    from moto.stepfunctions.parser import models

    _, machine = waiting
    clients = [boto3.client("stepfunctions", region_name="us-east-1") for _ in range(4)]
    barrier, started = threading.Barrier(len(clients)), []

    def start(sfn) -> None:
        barrier.wait()
        started.append(sfn.start_execution(stateMachineArn=machine, name="race", input="{}")["startDate"])

    def slow_deepcopy(*args, **kwargs):
        time.sleep(0.05)
        return copy.deepcopy(*args, **kwargs)

    with mock.patch.object(models, "copy", SimpleNamespace(deepcopy=slow_deepcopy)):
        threads = [threading.Thread(target=start, args=(sfn,)) for sfn in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(started) == len(clients) and len(set(started)) == 1
    assert len(clients[0].list_executions(stateMachineArn=machine)["executions"]) == 1


def test_a_stop_that_lands_before_a_wait_begins_still_ends_it(emulator):
    """moto's Wait blocks on an event that StopExecution sets and clears at once, so a stop just before the
    Wait begins was lost and the execution stayed RUNNING for the whole Wait. The emulator's Wait looks at the
    execution first: here it is already stopped when the Wait begins, as in that race."""
    stopped = SimpleNamespace(is_running=lambda: False, program_state_event=threading.Event())
    wait = threading.Thread(target=WaitFunction._wait_interval, args=(None, stopped, 3600), daemon=True)
    wait.start()
    wait.join(timeout=10)
    assert not wait.is_alive(), "a Wait of a stopped execution went on waiting"


def test_an_execution_is_running_as_soon_as_it_is_listed(waiting):
    """moto lists a new execution before it has a status (its worker sets RUNNING a moment later), and a
    ListExecutions in between failed with AttributeError; in AWS an accepted execution is RUNNING. Here its
    start is held at exactly that moment."""
    sfn, machine = waiting
    listed, held = threading.Event(), threading.Event()

    def start_later(self):
        held.set()
        listed.wait(timeout=10)

    with mock.patch.object(SfnExecution, "start", start_later):
        starting = threading.Thread(target=sfn.start_execution, kwargs={"stateMachineArn": machine, "name": "new"})
        starting.start()
        assert held.wait(timeout=10)
        try:
            statuses = [e["status"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]]
        finally:
            listed.set()
            starting.join(timeout=10)
    assert statuses == ["RUNNING"]


def test_a_task_that_fails_after_its_execution_was_stopped_leaves_it_aborted(world):
    """A stop lands while UpdateCode runs, whose call then fails: in AWS the execution has ended ABORTED when
    StopExecution answers, and its task's late failure is nobody's; moto let that failure end it FAILED."""
    from deployer.local.faults import Refusal

    sfn, stopped = world.emulator.client("stepfunctions"), []

    def stop_then_fail(scope, call, context):
        if scope.task != "UpdateCode" or stopped:
            return None
        stopped.append(scope.execution)
        other = threading.Thread(target=lambda: sfn.stop_execution(executionArn=scope.execution))
        other.start()
        other.join()
        return Refusal(403, "AccessDeniedException", "refused after the stop")

    world.emulator.api.guards.append(stop_then_fail)
    execution = world.emulator.run(world.request(world.v2, analysis=False))

    assert stopped and execution.status == "ABORTED"
    assert execution.history[-1]["type"] == "ExecutionAborted"
    assert "Rollback" not in execution.states_entered()  # no Catch runs for a stopped execution
