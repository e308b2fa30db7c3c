"""Where moto (5.2.x) differs from AWS in ways the deployer depends on, the emulator behaves like AWS.

Each patch names the AWS behaviour it restores; tests/deployer/local/test_fidelity.py checks each one
against the fact it claims. Patches are installed for the life of an emulator and removed after.
"""

from __future__ import annotations

import contextvars
import copy
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from unittest import mock
from urllib.parse import unquote

import boto3
import botocore.session
from moto.awslambda import exceptions as lambda_errors
from moto.awslambda.models import LambdaAlias, LambdaFunction, LambdaStorage
from moto.awslambda.responses import LambdaResponse
from moto.core.exceptions import ServiceException
from moto.ecr import exceptions as ecr_errors
from moto.ecr.models import ECRBackend, ecr_backends
from moto.events.models import Rule, events_backends
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
    StateTaskService,
)
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.responses import StepFunctionResponse

from handlers.domain import events
from handlers.domain.images import parse_image_uri

log = logging.getLogger(__name__)


class ImageTagAlreadyExistsException(ServiceException):
    code = "ImageTagAlreadyExistsException"


class ResourceConflictException(lambda_errors.LambdaClientError):
    def __init__(self, message: str):
        super().__init__("ResourceConflictException", message)


def _check_latest(response: LambdaResponse) -> tuple[LambdaFunction, dict]:
    """What PublishVersion and UpdateFunctionCode refuse: a running update (409), a stale RevisionId (412)."""
    latest = response.backend.get_function(unquote(response.path.split("/")[-2]))
    body = json.loads(response.body or "{}")
    if _updating(latest):
        raise ResourceConflictException(
            f"The operation cannot be performed at this time. An update is in progress for resource: "
            f"{latest.function_arn}"
        )
    if body.get("RevisionId") and body["RevisionId"] != _revision(latest):
        raise lambda_errors.PreconditionFailedException(
            "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API "
            "to retrieve the latest Revision Id"
        )
    return latest, body


_starting = threading.Lock()  # StartExecution's check of the name and its start, as one step
_revisions = threading.Lock()  # executions run in threads: two first reads must not mint two revisions


def _revision(fn: LambdaFunction | LambdaAlias) -> str:
    with _revisions:
        if not getattr(fn, "_emulator_revision", None):
            fn._emulator_revision = str(uuid.uuid4())
        return fn._emulator_revision


def _bump(fn: LambdaFunction | LambdaAlias) -> None:
    with _revisions:
        fn._emulator_revision = str(uuid.uuid4())


def _updating(fn: LambdaFunction) -> bool:
    return time.monotonic() < getattr(fn, "_emulator_busy_until", 0.0)


@contextmanager
def installed(*, code_update_seconds: float = 0.0) -> Iterator[None]:
    """Patch moto for the duration of the block.

    ``code_update_seconds``: how long ``UpdateFunctionCode`` keeps ``LastUpdateStatus=InProgress`` (AWS
    takes seconds to minutes; during it ``PublishVersion`` and another update are refused with 409).
    """
    with ExitStack() as stack:
        for target, name, replacement in _patches(code_update_seconds):
            stack.enter_context(mock.patch.object(target, name, replacement))
        yield


def _patches(code_update_seconds: float):
    original = {
        "get_configuration": LambdaFunction.get_configuration,
        "get_code": LambdaFunction.get_code,
        "set_code": LambdaFunction._set_function_code,
        "update_code": LambdaFunction.update_function_code,
        "update_config": LambdaFunction.update_configuration,
        "publish": LambdaStorage.publish_version,
        "alias_update": LambdaAlias.update,
        "alias_json": LambdaAlias.to_json,
        "r_update_alias": LambdaResponse.update_alias,
        "r_publish": LambdaResponse.publish_version,
        "r_update_code": LambdaResponse.update_function_code,
        "put_image": ECRBackend.put_image,
        "start_execution": StepFunctionsParserBackend.start_execution,
        "terminated": BaseExecutionWorkerCommunication.terminated,
        "normalise": StateTaskService._normalise_parameters,
        "normalise_response": StateTaskService._normalise_response,
        "send_to_targets": Rule.send_to_targets,
        "r_stop_execution": StepFunctionResponse.stop_execution,
        "stop": Execution.stop,
    }

    # AWS: a function has a RevisionId that changes with every code or configuration update, and
    # LastUpdateStatus is InProgress until an update has been applied.
    def get_configuration(self, on_create=False):
        config = original["get_configuration"](self, on_create)
        config["RevisionId"] = _revision(self)
        if _updating(self):
            config["LastUpdateStatus"] = "InProgress"
            config["LastUpdateStatusReason"] = "The function is being updated."
        return config

    def update_code(self, spec):
        original["update_code"](self, spec)
        _bump(self)
        self._emulator_busy_until = time.monotonic() + code_update_seconds
        return get_configuration(self)

    def update_config(self, updates):
        original["update_config"](self, updates)
        _bump(self)
        return get_configuration(self)

    # AWS: Lambda resolves an image URI against ECR: the image must exist (InvalidParameterValueException
    # otherwise), CodeSha256 is the image digest, and ResolvedImageUri pins it. moto stubs all three.
    def set_code(self, spec):
        if "ImageUri" not in spec or spec.get("DryRun"):
            return original["set_code"](self, spec)
        image = parse_image_uri(spec["ImageUri"])
        ecr = ecr_backends[image.account][image.region]
        image_id = {"imageDigest": image.digest} if image.digest else {"imageTag": image.tag}
        try:
            found = ecr.batch_get_image(repository_name=image.repository, image_ids=[image_id])["images"]
        except Exception:
            found = []
        if not found:
            raise lambda_errors.InvalidParameterValueException(
                f"Source image {spec['ImageUri']} does not exist. Provide a valid source image."
            )
        self.code_sha_256 = found[0].image_id["imageDigest"].removeprefix("sha256:")
        self.code_size = json.loads(found[0].image_manifest).get("config", {}).get("size", 0)
        if spec is not self.code:
            self.code["ImageUri"] = spec["ImageUri"]
        return None

    def get_code(self):
        code = original["get_code"](self)
        if "ImageUri" in self.code:
            image = parse_image_uri(self.code["ImageUri"])
            code["Code"]["ResolvedImageUri"] = f"{image.repository_uri}@sha256:{self.code_sha_256}"
        return code

    # AWS: a published version keeps the code it was published with (moto's shallow copy shares the
    # code dict with $LATEST, so a later update rewrote every version's ImageUri).
    def publish(self, name_or_arn, description=""):
        version = original["publish"](self, name_or_arn, description)
        if version is not None:
            version.code = copy.deepcopy(version.code)
        return version

    # AWS: every alias update issues a new RevisionId; UpdateAlias, PublishVersion and UpdateFunctionCode
    # refuse a stale RevisionId with 412 PreconditionFailedException; PublishVersion refuses a CodeSha256
    # that is not $LATEST's; both refuse while an update is in progress (409).
    def alias_update(self, description, function_version, routing_config):
        original["alias_update"](self, description, function_version, routing_config)
        _bump(self)

    def alias_json(self):
        return {**original["alias_json"](self), "RevisionId": _revision(self)}

    def r_update_alias(self):
        function_name = unquote(self.path.rsplit("/")[-3])
        alias_name = unquote(self.path.rsplit("/", 2)[-1])
        expected = json.loads(self.body or "{}").get("RevisionId")
        current = self.backend.get_alias(name=alias_name, function_name=function_name)
        if expected and expected != _revision(current):
            raise lambda_errors.PreconditionFailedException(
                "The Revision Id provided does not match the latest Revision Id. Call the GetAlias API to "
                "retrieve the latest Revision Id"
            )
        return original["r_update_alias"](self)

    def r_publish(self):
        latest, body = _check_latest(self)
        if body.get("CodeSha256") and body["CodeSha256"] != latest.code_sha_256:
            raise lambda_errors.InvalidParameterValueException(
                f"CodeSHA256 ({body['CodeSha256']}) is different from current CodeSHA256 in $LATEST "
                f"({latest.code_sha_256}). Please try again with the CodeSHA256 in $LATEST."
            )
        return original["r_publish"](self)

    def r_update_code(self):
        _check_latest(self)
        return original["r_update_code"](self)

    # AWS: pushing an existing tag of an immutable repository onto another image is
    # ImageTagAlreadyExistsException; moto reports ImageAlreadyExistsException, which means "already there".
    def put_image(self, repository_name, image_manifest, image_tag, image_manifest_mediatype=None,
                  digest=None):
        try:
            image = original["put_image"](self, repository_name, image_manifest, image_tag,
                                          image_manifest_mediatype, digest)
        except ecr_errors.ImageAlreadyExistsException:
            tagged = [i for i in self.repositories[repository_name].images if image_tag in i.image_tags]
            if tagged and tagged[0].image_manifest != image_manifest:
                raise ImageTagAlreadyExistsException(
                    f"The image tag '{image_tag}' already exists in the '{repository_name}' repository and "
                    "cannot be overwritten because the repository is immutable."
                ) from None
            raise
        # AWS: every successful push (the deployer's own retags included) is an "ECR Image Action" event.
        _emit(self.account_id, self.region_name, events.ECR_SOURCE, events.ECR_DETAIL_TYPE, {
            "result": "SUCCESS", "repository-name": repository_name, "image-digest": image.get_image_digest(),
            "action-type": "PUSH", "image-tag": image_tag,
        })
        return image

    # AWS: StartExecution without a name gets a unique one (moto names it None, so a second run collides).
    # "StartExecution is idempotent for STANDARD workflows": the name and input of a running execution
    # return that execution; a different input, or a closed execution of that name, is ExecutionAlreadyExists
    # (StartExecution API reference). moto checks the name, deep-copies the state machine, then adds the
    # execution: two concurrent calls both pass the check and start the same name twice; one at a time.
    def start_execution(self, state_machine_arn, name=None, execution_input=None, trace_header=None):
        with _starting:
            return original["start_execution"](self, state_machine_arn, name or str(uuid.uuid4()),
                                               execution_input, trace_header)

    # AWS: Step Functions reports every execution's end to EventBridge (best effort).
    def terminated(self):
        original["terminated"](self)
        execution = self.execution
        _emit(execution.account_id, execution.region_name, events.SFN_SOURCE, events.SFN_DETAIL_TYPE, {
            "executionArn": execution.exec_arn, "stateMachineArn": execution.state_machine_arn,
            "name": execution.name, "status": execution.exec_status.value,
            "startDate": _millis(execution.start_date), "stopDate": _millis(execution.stop_date),
            "input": execution.execution_input,
            "output": json.dumps(execution.output) if execution.output is not None else None,
            "error": execution.error, "cause": execution.cause,
        }, resources=[execution.exec_arn])

    # AWS: service integrations take the API's parameters in PascalCase ("StateMachineArn") and map them
    # onto the API's own member names ("stateMachineArn"), and answer in PascalCase ("ExecutionArn");
    # moto passes both through unchanged.
    def normalise(self, parameters, boto_service_name=None, service_action_name=None):
        original["normalise"](self, parameters, boto_service_name, service_action_name)
        shape = _operation(self, boto_service_name, service_action_name).input_shape
        if shape is not None:
            self._to_boto_request(parameters, shape)

    def normalise_response(self, response, boto_service_name=None, service_action_name=None):
        original["normalise_response"](self, response, boto_service_name, service_action_name)
        shape = _operation(self, boto_service_name, service_action_name).output_shape
        if shape is not None:
            self._from_boto_response(response, shape)
        _timestamps_to_millis(response)

    # AWS: EventBridge delivers to Step Functions (StartExecution) and Lambda (asynchronous Invoke)
    # targets; moto supports neither. Delivery is asynchronous, as in AWS.
    def send_to_targets(self, event, transform_input=True):
        if self.scheduled_expression:  # a scheduled rule runs on its schedule, never on an event
            return None
        ours = [t for t in self.targets if t["Arn"].split(":")[2] in ("states", "lambda")]
        if not ours:
            return original["send_to_targets"](self, event, transform_input)
        if self.event_pattern.matches_event(event):
            for target in ours:
                threading.Thread(target=deliver, args=(self.region_name, target, event), daemon=True).start()
        return None

    # AWS: StopExecution's ``error`` and ``cause`` are the aborted execution's: its ExecutionAborted history
    # event carries them (ExecutionAbortedEventDetails). moto stops every execution with empty ones.
    def r_stop_execution(self):
        token = _stop_reason.set((self._get_param("error"), self._get_param("cause")))
        try:
            return original["r_stop_execution"](self)
        finally:
            _stop_reason.reset(token)

    def stop(self, stop_date, error, cause):
        given_error, given_cause = _stop_reason.get()
        return original["stop"](self, stop_date, given_error or error, given_cause or cause)

    return [
        (LambdaFunction, "get_configuration", get_configuration),
        (LambdaFunction, "get_code", get_code),
        (LambdaFunction, "_set_function_code", set_code),
        (LambdaFunction, "update_function_code", update_code),
        (LambdaFunction, "update_configuration", update_config),
        (LambdaStorage, "publish_version", publish),
        (LambdaAlias, "update", alias_update),
        (LambdaAlias, "to_json", alias_json),
        (LambdaResponse, "update_alias", r_update_alias),
        (LambdaResponse, "publish_version", r_publish),
        (LambdaResponse, "update_function_code", r_update_code),
        (ECRBackend, "put_image", put_image),
        (StepFunctionsParserBackend, "start_execution", start_execution),
        (BaseExecutionWorkerCommunication, "terminated", terminated),
        (StateTaskService, "_normalise_parameters", normalise),
        (StateTaskService, "_normalise_response", normalise_response),
        (Rule, "send_to_targets", send_to_targets),
        (StepFunctionResponse, "stop_execution", r_stop_execution),
        (Execution, "stop", stop),
    ]


_stop_reason: contextvars.ContextVar[tuple[str | None, str | None]] = contextvars.ContextVar(
    "stop_reason", default=(None, None))
"""The error and cause of the StopExecution request being answered (moto's backend is not told them)."""


_service_models: dict[str, object] = {}


def _operation(task: StateTaskService, service: str | None, action: str | None):
    service = task._get_boto_service_name(service)
    action = task._get_boto_service_action(action)
    if service not in _service_models:
        _service_models[service] = botocore.session.get_session().get_service_model(service)
    return _service_models[service].operation_model("".join(part.capitalize() for part in action.split("_")))


def _emit(account: str, region: str, source: str, detail_type: str, detail: dict,
          resources: list[str] = ()) -> None:
    backend = events_backends[account][region]
    if any(rule for bus in backend.event_buses.values() for rule in bus.rules.values()):
        backend.put_events([{"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail),
                             "Resources": list(resources)}])


def _millis(moment) -> int | None:
    return int(moment.timestamp() * 1000) if moment else None


def _timestamps_to_millis(value) -> None:
    """Integration results carry timestamps as epoch milliseconds (JSON has no datetime)."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in list(items):
        if isinstance(item, datetime):
            value[key] = _millis(item)
        else:
            _timestamps_to_millis(item)


def deliver(region: str, target: dict, event: dict) -> None:
    """One target's copy of the event, as EventBridge would send it (``Input`` overrides the event)."""
    envelope = {key: value for key, value in event.items() if key != "ingestion-time"}
    if isinstance(envelope.get("time"), int | float):
        envelope["time"] = datetime.fromtimestamp(envelope["time"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    payload = target.get("Input") or json.dumps(envelope)
    try:
        if target["Arn"].split(":")[2] == "states":
            boto3.client("stepfunctions", region_name=region).start_execution(stateMachineArn=target["Arn"],
                                                                              input=payload)
        else:
            boto3.client("lambda", region_name=region).invoke(FunctionName=target["Arn"], InvocationType="Event",
                                                              Payload=payload)
    except Exception:  # EventBridge would retry and then drop; the emulator logs it
        log.exception("event delivery to %s failed", target["Arn"])
