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

from deployer.local import sample
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


STOPS_ITSELF = '''
import boto3

def handler(event, context):
    boto3.client("stepfunctions").stop_execution(executionArn=event["execution"], error="Stopped", cause="by itself")
    raise RuntimeError("failed as the stop landed")
'''


def test_a_task_that_fails_as_its_execution_is_stopped_leaves_it_aborted(emulator):
    """A stopped execution is ABORTED whatever its running task does next. moto recorded the task's failure,
    arriving after the stop, over it: the execution ended FAILED with the task's error."""
    arn = sample.create_python_function(emulator, "stops-itself", STOPS_ITSELF, hook=False)
    definition = {"StartAt": "Stop", "States": {
        "Stop": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
                 "Parameters": {"FunctionName": arn, "Payload": {"execution.$": "$$.Execution.Id"}},
                 "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]},
        "Caught": {"Type": "Pass", "End": True}}}
    sfn = emulator.client("stepfunctions")
    machine = sfn.create_state_machine(name="stops-itself", definition=json.dumps(definition), roleArn=ROLE,
                                       type="STANDARD")["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]

    described = wait_for(lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d,
                         what="the execution to end")
    last = sfn.get_execution_history(executionArn=execution)["events"][-1]
    assert described["status"] == "ABORTED"
    assert (last["type"], last["executionAbortedEventDetails"]) == \
        ("ExecutionAborted", {"error": "Stopped", "cause": "by itself"})


def test_removing_a_tag_keeps_the_image_unless_it_was_the_last_one(emulator):
    """ECR BatchDeleteImage: "You can remove a tag from an image by specifying the image's tag in your request.
    When you remove the last tag from an image, the image is deleted from your repository." The prune removes a
    deleted version's tag only while the image has another (handlers.prune), so both halves matter."""
    ecr = emulator.client("ecr")
    ecr.create_repository(repositoryName="tagged")
    digest = push_image(ecr, "tagged", "a", tag="one")
    push_image(ecr, "tagged", "a", tag="two")

    def tags_of() -> list[str]:
        details = ecr.describe_images(repositoryName="tagged", imageIds=[{"imageDigest": digest}])["imageDetails"]
        return sorted(details[0]["imageTags"])

    assert tags_of() == ["one", "two"]
    removed = ecr.batch_delete_image(repositoryName="tagged", imageIds=[{"imageTag": "one"}])
    assert removed["imageIds"] == [{"imageDigest": digest, "imageTag": "one"}] and tags_of() == ["two"]
    ecr.batch_delete_image(repositoryName="tagged", imageIds=[{"imageTag": "two"}])
    assert error_of(ecr.describe_images, repositoryName="tagged",
                    imageIds=[{"imageDigest": digest}]) == "ImageNotFoundException"
    missing = ecr.batch_get_image(repositoryName="tagged", imageIds=[{"imageTag": "two"}])  # reported, not raised
    assert missing["images"] == [] and missing["failures"][0]["failureCode"] == "ImageNotFound"


def test_an_image_asked_for_by_tag_is_answered_with_that_tag(emulator):
    """aws-cli's batch-get-image example 2 ("imageTag=prod imageTag=team1", one digest): each answer's imageId
    carries the tag asked for, so a caller can tell which of the tags exist."""
    ecr = emulator.client("ecr")
    ecr.create_repository(repositoryName="tagged")
    digest = push_image(ecr, "tagged", "a", tag="prod")
    push_image(ecr, "tagged", "a", tag="team1")
    answer = ecr.batch_get_image(repositoryName="tagged", imageIds=[{"imageTag": "prod"}, {"imageTag": "team1"},
                                                                   {"imageTag": "gone"}])
    assert [image["imageId"] for image in answer["images"]] == [{"imageDigest": digest, "imageTag": "prod"},
                                                                {"imageDigest": digest, "imageTag": "team1"}]
    assert [f["imageId"] for f in answer["failures"]] == [{"imageTag": "gone"}]


FORWARDS = '''
import json
import boto3

def handler(event, context):
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName="heard-by-lambda")["QueueUrl"], MessageBody=json.dumps(event))
'''


def test_a_rule_delivers_to_each_of_its_targets_lambda_and_sqs_alike(emulator):
    """A rule's every target gets the event: the emulator's Lambda delivery (moto has none) beside moto's SQS one."""
    sqs, bridge = emulator.client("sqs"), emulator.client("events")
    queues = {name: sqs.create_queue(QueueName=name)["QueueUrl"] for name in ("heard-by-sqs", "heard-by-lambda")}
    queue_arn = sqs.get_queue_attributes(QueueUrl=queues["heard-by-sqs"], AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    function = sample.create_python_function(emulator, "forwards", FORWARDS, hook=False)
    bridge.put_rule(Name="both", EventPattern=json.dumps({"source": ["tests"]}))
    bridge.put_targets(Rule="both", Targets=[{"Id": "queue", "Arn": queue_arn}, {"Id": "function", "Arn": function}])

    bridge.put_events(Entries=[{"Source": "tests", "DetailType": "Ping", "Detail": "{}"}])

    for url in queues.values():
        (message,) = wait_for(lambda url=url: sqs.receive_message(QueueUrl=url).get("Messages"), what=url)
        assert json.loads(message["Body"])["detail-type"] == "Ping"
