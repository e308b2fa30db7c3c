"""The local emulator: AWS on moto, running the project's own state machine and handlers in process.

Step Functions executes the real ASL (moto's interpreter); each task's Lambda function is created
with its real handler path, and moto's docker-less Lambda backend is the seam where an invocation is
routed to that handler, in process. The handlers' AWS calls go to the same moto backends.
"""

from __future__ import annotations

import copy
import importlib
import io
import json
import logging
import os
import threading
import time
import traceback
import uuid
import zipfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from types import SimpleNamespace
from unittest import mock

import boto3
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend

import statemachine
from deployer import executions
from deployer.executions import TERMINAL
from deployer.local import fidelity
from deployer.local.faults import ApiLayer, TaskScope, activated, task_scope
from deployer.timeline import Visit, visits
from handlers.aws import clients as aws
from handlers.aws import deployments
from handlers.domain import events
from handlers.domain.catalog import EVENT_HANDLERS, TASKS, placeholder

DEFAULT_REGION = "us-east-1"
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


@dataclass
class LambdaContext:
    """The parts of the Lambda context object the handlers (and Powertools) read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = ""

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


@dataclass
class Execution:
    """A finished (or still running) execution as Step Functions describes it, with its history."""

    arn: str
    status: str
    input: dict
    output: dict | None
    error: str | None
    cause: str | None
    history: list[dict]

    @property
    def name(self) -> str:
        return self.arn.rsplit(":", 1)[-1]

    def visits(self) -> list[Visit]:
        """Every state the execution went through, in order."""
        return visits(self.history)

    def states_entered(self) -> list[str]:
        return [visit.name for visit in self.visits()]

    def state_outputs(self, state: str) -> list[dict]:
        """The output of each time ``state`` was left, in order."""
        return [visit.output for visit in self.visits() if visit.name == state]


class Emulator:
    """Start with ``with Emulator() as emu:``; ``emu.api`` records the handlers' AWS calls and injects faults.

    Wired as the CDK stack wires AWS: the deployments table, the rescue function on this state machine's
    executions ending badly, the reconciler (``emu.reconcile()`` runs it; AWS runs it on a schedule), and,
    for ``auto_deploy`` = ``{repository: [tags]}``, a rule that starts an execution on an ECR push.

    ``time_scale`` shortens every Wait state and Retry interval (0.05: twenty times faster); the default
    1.0 waits for real, as AWS does. ``timeout_scale`` shortens the Tasks' ``TimeoutSeconds`` the same way,
    for a test that makes a task hang (the handlers themselves still run at full speed, so only then).
    ``code_update_seconds`` is how long a code update stays InProgress.
    """

    def __init__(self, *, region: str = DEFAULT_REGION, state_machine_name: str = "lambda-deployer",
                 time_scale: float = 1.0, timeout_scale: float = 1.0, code_update_seconds: float = 0.0,
                 quiet: bool = True, auto_deploy: dict[str, list[str]] | None = None) -> None:
        self.region = region
        self.state_machine_name = state_machine_name
        self.table_name = deployments.table_name_for(state_machine_name)
        self.auto_deploy = events.check_triggers(auto_deploy or {})
        self.time_scale = time_scale
        self.timeout_scale = timeout_scale
        self.code_update_seconds = code_update_seconds
        self.quiet = quiet
        self.api = ApiLayer()
        self.state_machine_arn = ""
        self.function_arns: dict[str, str] = {}
        self._tasks_by_function: dict[str, str] = {}
        self._clients: dict[str, object] = {}
        self._stack: ExitStack | None = None
        self._stopping = threading.Event()  # ends the waits of hung invocations

    # lifecycle -------------------------------------------------------------------------------------
    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> Emulator:
        stack = ExitStack()
        stack.enter_context(mock.patch.dict(os.environ, {
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "POWERTOOLS_METRICS_DISABLED": "true",  # EMF lines would only clutter the emulator's output
            "POWERTOOLS_TRACE_DISABLED": "true",
            "DEPLOYMENTS_TABLE": self.table_name,
        }))
        stack.enter_context(mock_aws(config=MOTO_CONFIG))
        stack.enter_context(fidelity.installed(code_update_seconds=self.code_update_seconds))
        stack.enter_context(mock.patch.object(LambdaSimpleBackend, "invoke", self._seam()))
        stack.enter_context(_parse_each_definition_once())
        for patch in _one_client_per_service():
            stack.enter_context(patch)
        if self.time_scale != 1.0:
            for patch in _time_scale_patches(self.time_scale):
                stack.enter_context(patch)
        if self.timeout_scale != 1.0:
            stack.enter_context(_timeout_scale_patch(self.timeout_scale))
        stack.enter_context(activated(self.api))
        stack.callback(aws.client.cache_clear)
        for handler in [*TASKS.values(), *EVENT_HANDLERS.values()]:  # import now: fail early, keep logs quiet
            importlib.import_module(handler.rsplit(".", 1)[0])
        if self.quiet:
            stack.enter_context(_quiet_logs())
        self._stack = stack
        # Clients made before now miss the emulator's hooks (botocore copies handlers at creation).
        boto3.DEFAULT_SESSION = None
        aws.client.cache_clear()
        self._provision()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._stack:
            self._stack.close()
            self._stack = None
            self._clients.clear()

    # clients for tests and tools -------------------------------------------------------------------
    def client(self, service: str):
        """One client per service for this emulator (creating a boto3 client costs milliseconds)."""
        if service not in self._clients:
            self._clients[service] = boto3.client(service, region_name=self.region)
        return self._clients[service]

    # executions ------------------------------------------------------------------------------------
    def start_execution(self, request: dict, name: str | None = None) -> str:
        return self.client("stepfunctions").start_execution(
            stateMachineArn=self.state_machine_arn, name=name or f"run-{uuid.uuid4().hex[:12]}",
            input=json.dumps(request),
        )["executionArn"]

    def wait(self, execution_arn: str, timeout: float = 60.0) -> Execution:
        """Poll until the execution ends; TimeoutError after ``timeout`` seconds."""
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        pause = threading.Event()
        while (described := sfn.describe_execution(executionArn=execution_arn))["status"] not in TERMINAL:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} still RUNNING after {timeout} s")
            pause.wait(0.02)
        return self.describe(execution_arn, described)

    def describe(self, execution_arn: str, described: dict | None = None) -> Execution:
        sfn = self.client("stepfunctions")
        described = described or sfn.describe_execution(executionArn=execution_arn)
        history = executions.history(sfn, execution_arn)
        output = described.get("output")
        return Execution(
            arn=execution_arn,
            status=described["status"],
            input=json.loads(described.get("input") or "{}"),
            output=json.loads(output) if output else None,
            error=described.get("error"),
            cause=described.get("cause"),
            history=history,
        )

    def run(self, request: dict, timeout: float = 60.0, name: str | None = None) -> Execution:
        return self.wait(self.start_execution(request, name), timeout)

    def reconcile(self) -> dict:
        """Run the reconciler once, as its schedule would."""
        answer = self.client("lambda").invoke(FunctionName=self.function_arns["Reconcile"], Payload=b"{}")
        result = json.loads(answer["Payload"].read())
        if answer.get("FunctionError"):
            raise RuntimeError(f"the reconciler failed: {result.get('errorType')}: {result.get('errorMessage')}")
        return result

    # internals -------------------------------------------------------------------------------------
    def _provision(self) -> None:
        iam = self.client("iam")
        role = iam.create_role(
            RoleName=f"{self.state_machine_name}-tasks",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
                "Action": "sts:AssumeRole"}]}),
        )["Role"]["Arn"]
        self.client("dynamodb").create_table(
            TableName=self.table_name, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        )
        lam = self.client("lambda")
        for key, handler in {**TASKS, **EVENT_HANDLERS}.items():
            name = f"{self.state_machine_name}-{key}"
            created = lam.create_function(
                FunctionName=name, Runtime="python3.13", Role=role, Handler=handler,
                Code={"ZipFile": _placeholder_zip()}, Timeout=60, MemorySize=256, Architectures=["arm64"],
            )
            self.function_arns[key] = created["FunctionArn"]
            self._tasks_by_function[name] = key
        definition = statemachine.render({placeholder(task): self.function_arns[task] for task in TASKS})
        self.state_machine_arn = self.client("stepfunctions").create_state_machine(
            name=self.state_machine_name, definition=definition, roleArn=role, type="STANDARD",
        )["stateMachineArn"]
        self._rule("execution-ended", events.execution_ended_pattern(self.state_machine_arn),
                   self.function_arns["Rescue"])
        if self.auto_deploy:  # the same two chained rules as the CDK stack (handlers.events says why two)
            bus = self.client("events").create_event_bus(Name=f"{self.state_machine_name}-pushes")["EventBusArn"]
            self._rule("forward-pushes", events.forward_pattern(self.auto_deploy), bus)
            self._rule("start-deployments", events.trigger_pattern(self.auto_deploy), self.state_machine_arn,
                       bus=bus)

    def _rule(self, name: str, pattern: dict, target: str, bus: str = "default") -> None:
        bridge, rule = self.client("events"), f"{self.state_machine_name}-{name}"
        bridge.put_rule(Name=rule, EventPattern=json.dumps(pattern), EventBusName=bus)
        bridge.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "deployer", "Arn": target}])

    def _seam(self):
        """moto's docker-less ``invoke``, routing the deployer's task functions to their handlers."""
        emulator, original = self, LambdaSimpleBackend.invoke

        def invoke(backend, function_name, qualifier, body, headers, response_headers):
            fn = backend.get_function(function_name, qualifier)
            task = emulator._tasks_by_function.get(fn.function_name)
            if task is None:
                return original(backend, function_name, qualifier, body, headers, response_headers)
            event = json.loads(body) if body else {}
            scope = TaskScope(_execution_of(event), task)
            context = LambdaContext(fn.function_name, fn.function_arn)
            if emulator.api.crash(scope, after=False):
                return _error(response_headers, "Lambda.Unknown", "the function crashed before it ran", context)
            if hang := emulator.api.hang(scope):
                emulator._stopping.wait(hang.seconds)
                emulator.api.answered(hang)
                return _error(response_headers, "Sandbox.Timedout", "the function hung and never ran", context)
            module_name, attribute = fn.handler.rsplit(".", 1)
            handler = getattr(importlib.import_module(module_name), attribute)
            with task_scope(scope):
                try:
                    result = handler(event, context)
                except Exception as exc:  # the Lambda runtime reports any uncaught exception this way
                    return _error(response_headers, type(exc).__name__, str(exc), context, exc)
            if emulator.api.crash(scope, after=True):
                return _error(response_headers, "Lambda.Unknown", "the function crashed after it ran", context)
            return json.dumps(result).encode()

        return invoke


def _execution_of(event: dict) -> str | None:
    if not isinstance(event, dict):
        return None
    return event.get("executionId") or (event.get("detail") or {}).get("executionArn")


def _error(response_headers: dict, error_type: str, message: str, context: LambdaContext,
           exc: BaseException | None = None) -> bytes:
    """The payload and header the Lambda runtime returns for an unhandled error."""
    response_headers["x-amz-function-error"] = "Unhandled"
    return json.dumps({
        "errorMessage": message,
        "errorType": error_type,
        "requestId": context.aws_request_id,
        "stackTrace": traceback.format_tb(exc.__traceback__) if exc else [],
    }).encode()


def _placeholder_zip() -> bytes:
    """A task function's code package; the emulator runs the handler from this checkout instead."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README", "lambda-deployer emulator: handlers run in process")
    return buffer.getvalue()


def _parse_each_definition_once():
    """moto parses the ASL (ANTLR, ~0.1 s) at every execution start; a deep copy of one parse is ~50x cheaper
    and just as fresh, so executions cost what their states cost."""
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    original, parsed = ExecutionWorker._get_evaluation_entrypoint, {}

    def entrypoint(self):
        definition = self._evaluation_details.state_machine_details.definition
        if definition not in parsed:
            parsed[definition] = original(self)
        return copy.deepcopy(parsed[definition])

    return mock.patch.object(ExecutionWorker, "_get_evaluation_entrypoint", entrypoint)


def _one_client_per_service():
    """moto's interpreter builds a new boto3 client for every task it runs (a quarter of an execution's CPU);
    the emulator keeps one per region and service, as a real Step Functions keeps its connections."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk,
        state_task_service_sfn,
    )
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

    made: dict[tuple[str, str], object] = {}
    lock = threading.Lock()

    def cached(region: str, service: str, state_credentials=None):
        with lock:
            if (region, service) not in made:
                made[region, service] = boto_client_for(region=region, service=service,
                                                        state_credentials=state_credentials)
            return made[region, service]

    return [mock.patch.object(module, "boto_client_for", cached)
            for module in (lambda_eval_utils, state_task_service_sfn, state_task_service_aws_sdk)]


def _time_scale_patches(scale: float):
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    def wait_interval(self, env, wait_seconds):
        if wait_seconds > 0:
            env.program_state_event.wait(wait_seconds * scale)

    scaled_time = SimpleNamespace(sleep=lambda seconds: time.sleep(seconds * scale))
    return [mock.patch.object(WaitFunction, "_wait_interval", wait_interval),
            mock.patch.object(retrier_decl, "time", scaled_time)]


def _timeout_scale_patch(scale: float):
    """A Task's ``TimeoutSeconds``, shortened (moto waits that long for the task's answer, then fails it with
    States.Timeout as AWS does)."""
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds

    original = TimeoutSeconds._eval_seconds

    def scaled(self, env):
        seconds = original(self, env)
        return seconds if self.is_default_value() else max(1, round(seconds * scale))

    return mock.patch.object(TimeoutSeconds, "_eval_seconds", scaled)


class _quiet_logs:
    """moto's interpreter logs every caught error as a warning; the handlers log each step."""

    _names = ("moto", "lambda-deployer")

    def __enter__(self):
        self._levels = {name: logging.getLogger(name).level for name in self._names}
        for name in self._names:
            logging.getLogger(name).setLevel(logging.CRITICAL)
        return self

    def __exit__(self, *exc_info):
        for name, level in self._levels.items():
            logging.getLogger(name).setLevel(level)
