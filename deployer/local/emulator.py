"""The local emulator: AWS on moto, running the project's own state machine and handlers in process.

Step Functions executes the real ASL (moto's interpreter); each task's Lambda function is created with its
real handler path, and moto's docker-less Lambda backend is the seam where an invocation is routed
(``deployer.local.invocations``, patched in by ``deployer.local.fidelity.lambda_``): to that handler, in
process, for the deployer's own functions, and as Lambda would (alias weights, the version's own code,
Lambda's metrics) for any other function. The handlers' AWS calls go to the same moto backends. Every moto
patch is declared (``Emulator.patches``, ``deployer.local.patching``) and checked against moto at start.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import io
import json
import logging
import os
import threading
import time
import uuid
import weakref
import zipfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from unittest import mock

import boto3
import botocore.session
from botocore.config import Config
from botocore.loaders import create_loader
from moto import mock_aws
from moto.stepfunctions.responses import get_backend as sfn_backend

import statemachine
from deployer import executions
from deployer.executions import TERMINAL
from deployer.local import alarms, fidelity, metrics, patching, quotas, speed, time_scale
from deployer.local.faults import ApiLayer, TaskScope, activated, current_scope, task_scope
from deployer.local.fidelity import cloudwatch, ecr, lambda_, lambda_versions, stepfunctions
from deployer.local.fidelity import events as eventbridge
from deployer.local.iam import ACCOUNT, CI_ROLE, Enforcer
from deployer.local.invocations import Invoker, LambdaContext, Outcome, error_document, failed
from deployer.local.patching import Patch
from deployer.local.quotas import Quotas
from deployer.local.readiness import Readiness
from deployer.local.schedules import Schedules
from deployer.timeline import Visit, visits
from handlers.aws import clients as aws
from handlers.aws import deployments
from handlers.domain import canary_metrics, events
from handlers.domain.catalog import (
    EVENT_HANDLERS,
    FUNCTION_NAME_PREFIX,
    METRICS_LAG_SECONDS,
    STATE_MACHINE_ARN,
    TASKS,
    placeholder,
)
from infra.permissions import Resources

DEFAULT_REGION = "us-east-1"
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}

_SERVICE_MODELS = create_loader()  # botocore's JSON service models, parsed once for every emulator


@dataclass(eq=False)
class Execution:
    """A finished (or still running) execution as Step Functions describes it, with its history (read when first
    asked for: most runs never look at it, and reading thousands of events costs more than the run did)."""

    arn: str
    status: str
    input: dict
    output: dict | None
    error: str | None
    cause: str | None
    read_history: Callable[[], list[dict]] = field(repr=False)
    _history: list[dict] | None = field(default=None, repr=False)

    @property
    def history(self) -> list[dict]:
        if self._history is None:
            self._history = self.read_history()
        return self._history

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
    executions ending badly, the reconciler on its schedule (``emu.reconcile()`` runs it once; the schedule
    runs only with ``schedules=True``), the AlarmFired function on every alarm going to ALARM (it rolls back
    the running deployments that watch it), and, for ``auto_deploy`` = ``{repository: [tags]}``, a rule that
    starts an execution on an ECR push.

    ``time_scale`` shortens every Wait state, Retry interval and schedule (0.05: twenty times faster); the
    default 1.0 waits for real, as AWS does. ``timeout_scale`` shortens the Tasks' ``TimeoutSeconds`` the same
    way, for a test that makes a task hang (the handlers still run at full speed, so only then).
    ``code_update_seconds`` is how long a code update stays InProgress. ``quotas=True`` throttles every
    caller beyond AWS's request quotas (``emu.quotas`` records the requests; deployer/local/quotas.py has the
    numbers; ``Quotas(enforce=False)`` only records); the emulator's clients then retry adaptively, as the
    deployer's do.
    ``function_name_prefix`` and ``history_retention_days`` are the stack's settings of the same names.

    CloudWatch alarms evaluate themselves from their metrics' datapoints, on CloudWatch's schedule scaled
    by ``time_scale``, and send their state changes to EventBridge (``deployer.local.alarms``; ``emu.alarms``
    is the evaluator). ``evaluate_alarms=False`` leaves alarm states to ``SetAlarmState``.

    Invoking any other function runs it (``emu.invocations``, see ``deployer.local.invocations``): ``seed``
    makes its alias routing and behaviours repeatable; ``emu.behaviours.register(digest, Behaviour(...))``
    says what an image does. ``metric_delay_seconds`` is how late Lambda's metrics arrive in CloudWatch
    (about 60 in AWS; 0 by default here), scaled by ``time_scale`` like the waits. CheckHealth's canary analysis
    counts only metrics older than 120 s x ``time_scale`` (``METRICS_LAG_SECONDS``, docs/canary-analysis.md).

    Each function has its own role, and IAM is enforced as on AWS (``deployer.local.iam``; ``emu.iam``
    holds its decisions): a call its role does not allow in ``infra.permissions`` is refused with
    AccessDenied. ``function_name_prefix``, ``repositories`` and ``artifact_buckets`` narrow the roles as the CDK
    construct's settings of the same names do (defaults: every function, repository and bucket).
    ``enforce_iam=False`` turns it off, for the test that shows the switch matters and nothing else.

    ``version_pending_seconds``: a published version stays ``State=Pending`` that long (as SnapStart versions
    do); ``provisioned_concurrency_seconds``: how long an allocation of provisioned concurrency takes (at
    ``PutProvisionedConcurrencyConfig`` and after each routing change of its alias); both scaled by
    ``time_scale``. ``emu.readiness`` sets a version's state or fails an allocation (``deployer.local.readiness``).
    """

    def __init__(self, *, region: str = DEFAULT_REGION, state_machine_name: str = "lambda-deployer",
                 time_scale: float = 1.0, timeout_scale: float = 1.0, code_update_seconds: float = 0.0,
                 quiet: bool = True, auto_deploy: dict[str, list[str]] | None = None, function_name_prefix: str = "",
                 history_retention_days: int = 365, evaluate_alarms: bool = True, seed: int | None = None,
                 metric_delay_seconds: float = 0.0, quotas: bool | Quotas = False, schedules: bool = False,
                 repositories: tuple[str, ...] | list[str] = ("*",), enforce_iam: bool = True,
                 artifact_buckets: tuple[str, ...] | list[str] = ("*",), version_pending_seconds: float = 0.0,
                 provisioned_concurrency_seconds: float = 0.0) -> None:
        self.region = region
        self.state_machine_name = state_machine_name
        self.function_name_prefix = function_name_prefix
        self.history_retention_days = history_retention_days
        self.table_name = deployments.table_name_for(state_machine_name)
        self.auto_deploy = events.check_triggers(auto_deploy or {})
        self.time_scale = time_scale
        self.timeout_scale = timeout_scale
        self.code_update_seconds = code_update_seconds
        self.readiness = Readiness(version_pending_seconds=version_pending_seconds,
                                   provisioned_seconds=provisioned_concurrency_seconds, time_scale=time_scale)
        self.quiet = quiet
        self.evaluate_alarms = evaluate_alarms
        self.alarms: alarms.AlarmEvaluator | None = None
        self.api = ApiLayer()
        self.metrics = metrics.LambdaMetrics(delay_seconds=metric_delay_seconds * time_scale)
        self.invocations = Invoker(metrics=self.metrics, seed=seed)
        self.behaviours = self.invocations.behaviours
        self.invocations.not_invocable = self.readiness.not_invocable
        self.quotas: Quotas | None = quotas if isinstance(quotas, Quotas) else Quotas() if quotas else None
        self.schedules = schedules
        self.iam = Enforcer(Resources(
            partition="aws", region=region, account=ACCOUNT, state_machine_name=state_machine_name,
            function_name_prefix=function_name_prefix, repositories=tuple(repositories),
            table_arn=f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{self.table_name}",
            artifact_buckets=tuple(artifact_buckets),
        ), self._principal)
        if enforce_iam:
            self.api.guards.append(self.iam.guard)
        self.state_machine_arn = ""
        self.function_arns: dict[str, str] = {}
        self._clients: dict[str, object] = {}
        self._stack: ExitStack | None = None
        self._stopping = threading.Event()  # ends the waits of hung invocations
        self._described: weakref.WeakSet[Execution] = weakref.WeakSet()  # described, history maybe not read yet

    # lifecycle -------------------------------------------------------------------------------------
    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> Emulator:
        stack = ExitStack()
        try:
            self._start(stack)
        except BaseException:  # e.g. PatchTargetChanged: leave moto and the environment as they were
            stack.close()
            self._stack, self.alarms = None, None
            raise
        return self

    def _start(self, stack: ExitStack) -> None:
        stack.enter_context(mock.patch.dict(os.environ, {
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "POWERTOOLS_METRICS_DISABLED": "true",  # EMF lines would only clutter the emulator's output
            "POWERTOOLS_TRACE_DISABLED": "true",
            "DEPLOYMENTS_TABLE": self.table_name,  # the environment infra.deployer gives every task function
            deployments.RETENTION_ENV: str(self.history_retention_days),
            FUNCTION_NAME_PREFIX: self.function_name_prefix,
            STATE_MACHINE_ARN: self.iam.resources.state_machine_arn,
            # Emulated invocations take no time, so their metrics are late only by the emission delay the
            # deployer allows for, scaled like every duration (canary_metrics.lag_seconds without the timeout).
            METRICS_LAG_SECONDS: str(canary_metrics.DEFAULT_DELAY_SECONDS * self.time_scale),
        }))
        stack.enter_context(mock_aws(config=MOTO_CONFIG))
        fidelity.begin_session()
        self.alarms = alarms.AlarmEvaluator(self.time_scale, deliver=self.metrics.flush)
        stack.enter_context(patching.installed(self._patches(self.alarms)))
        stack.callback(self.invocations.close)
        if self.evaluate_alarms:  # stopped first: an alarm's event runs the deployer's function in its thread
            self.alarms.start()
            stack.callback(self.alarms.stop)
        stack.enter_context(activated(self.api))
        stack.callback(aws.client.cache_clear)
        for handler in [*TASKS.values(), *EVENT_HANDLERS.values()]:  # import now: fail early, keep logs quiet
            importlib.import_module(handler.rsplit(".", 1)[0])
        if self.quiet:
            stack.enter_context(_quiet_logs())
        self._stack = stack
        # Clients made before now miss the emulator's hooks (botocore copies handlers at creation): a new
        # session, reading the service models through the process's one loader (it caches what it read).
        session = botocore.session.get_session()
        session.register_component("data_loader", _SERVICE_MODELS)
        boto3.DEFAULT_SESSION = boto3.Session(botocore_session=session)
        aws.client.cache_clear()
        self._provision()
        if self.quotas:  # from here on: the stack was deployed before anyone called the account's APIs
            stack.enter_context(patching.installed(self._quota_patches()))
        if self.schedules:
            account = self.state_machine_arn.split(":")[4]
            stack.enter_context(Schedules(account, self.region, time_scale=self.time_scale))
        stack.callback(fidelity.end_session)  # first thing at stop: what this emulator leaves running goes quiet

    def patches(self) -> list[Patch]:
        """Every moto patch this emulator installs, in the order it installs them (deployer/local/patching.py;
        tests/deployer/local/test_patching.py checks them against the installed moto)."""
        return [*self._patches(self.alarms or alarms.AlarmEvaluator(self.time_scale)), *self._quota_patches()]

    def _patches(self, evaluator: alarms.AlarmEvaluator) -> list[Patch]:
        """Fidelity by service, then the speed-ups (one of them replaces a fidelity patch of the same attribute
        and keeps what it does), then the time scaling asked for."""
        return [
            *lambda_.patches(code_update_seconds=self.code_update_seconds, invoker=self.invocations,
                             readiness=self.readiness),
            *lambda_versions.patches(readiness=self.readiness),
            *ecr.patches(),
            *stepfunctions.patches(),
            *eventbridge.patches(),
            *cloudwatch.patches(recorder=self.metrics, evaluator=evaluator),
            *speed.patches(),
            *time_scale.patches(time_scale=self.time_scale, timeout_scale=self.timeout_scale),
        ]

    def _quota_patches(self) -> list[Patch]:
        return quotas.patches(self.quotas, caller=_task_of_this_thread) if self.quotas else []

    def stop(self) -> None:
        for execution in list(self._described):  # the histories still wanted, while the emulator can answer
            with contextlib.suppress(Exception):
                _ = execution.history
        self._stopping.set()
        if self._stack:
            self._stack.close()
            self._stack = None
            self.alarms = None
            self._clients.clear()

    # clients for tests and tools -------------------------------------------------------------------
    def client(self, service: str):
        """One client per service for this emulator (creating a boto3 client costs milliseconds)."""
        if service not in self._clients:
            self._clients[service] = boto3.client(service, region_name=self.region, config=self._client_config)
        return self._clients[service]

    @property
    def _client_config(self) -> Config | None:
        return Config(retries={"mode": "adaptive", "max_attempts": 10}) if self.quotas and self.quotas.enforce else None

    # executions ------------------------------------------------------------------------------------
    def start_execution(self, request: dict, name: str | None = None) -> str:
        return self.client("stepfunctions").start_execution(
            stateMachineArn=self.state_machine_arn, name=name or f"run-{uuid.uuid4().hex[:12]}",
            input=json.dumps(request),
        )["executionArn"]

    def wait(self, execution_arn: str, timeout: float = 60.0) -> Execution:
        """Watch until the execution ends, then describe it; TimeoutError after ``timeout`` seconds.

        The watching reads the emulator's own Step Functions backend, not the API: polling DescribeExecution
        every 20 ms cost a twentieth of the suite's CPU (and, with quotas, the account's tokens)."""
        described = self.client("stepfunctions").describe_execution(executionArn=execution_arn)  # a bad ARN fails
        account, region = (execution_arn.split(":")[i] for i in (4, 3))
        execution = sfn_backend(account, region).describe_execution(execution_arn)
        deadline = time.monotonic() + timeout
        pause = threading.Event()
        while described["status"] not in TERMINAL:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} still RUNNING after {timeout} s")
            pause.wait(0.02)
            if getattr(execution.exec_status, "value", execution.exec_status) in TERMINAL:
                described = self.client("stepfunctions").describe_execution(executionArn=execution_arn)
        return self.describe(execution_arn, described)

    def describe(self, execution_arn: str, described: dict | None = None) -> Execution:
        sfn = self.client("stepfunctions")
        described = described or sfn.describe_execution(executionArn=execution_arn)
        output = described.get("output")
        execution = Execution(
            arn=execution_arn,
            status=described["status"],
            input=json.loads(described.get("input") or "{}"),
            output=json.loads(output) if output else None,
            error=described.get("error"),
            cause=described.get("cause"),
            read_history=functools.partial(executions.history, sfn, execution_arn),
        )
        self._described.add(execution)
        return execution

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
        state_machine_role = self._role(f"{self.state_machine_name}-state-machine", "states.amazonaws.com")
        self._create_table()
        lam = self.client("lambda")
        for key, handler in {**TASKS, **EVENT_HANDLERS}.items():
            name = f"{self.state_machine_name}-{key}"
            created = lam.create_function(
                FunctionName=name, Runtime="python3.13", Role=self._role(name, "lambda.amazonaws.com"),
                Handler=handler,
                Code={"ZipFile": _placeholder_zip()}, Timeout=60, MemorySize=256, Architectures=["arm64"],
            )
            self.function_arns[key] = created["FunctionArn"]
            self.invocations.runners[name] = self._task_runner(key, handler)
        definition = statemachine.render({placeholder(task): self.function_arns[task] for task in TASKS})
        self.state_machine_arn = self.client("stepfunctions").create_state_machine(
            name=self.state_machine_name, definition=definition, roleArn=state_machine_role, type="STANDARD",
        )["stateMachineArn"]
        self._rule("execution-ended", self.function_arns["Rescue"],
                   pattern=events.execution_ended_pattern(self.state_machine_arn))
        self._rule("reconcile", self.function_arns["Reconcile"], schedule=events.reconcile_schedule())
        self._rule("alarm-fired", self.function_arns["AlarmFired"], pattern=events.alarm_fired_pattern(
            self.state_machine_arn.split(":")[4], self.region))
        if self.auto_deploy:  # the same two chained rules as the CDK stack (handlers.events says why two)
            bus = self.client("events").create_event_bus(Name=f"{self.state_machine_name}-pushes")["EventBusArn"]
            self._rule("forward-pushes", bus, pattern=events.forward_pattern(self.auto_deploy))
            self._rule("start-deployments", self.state_machine_arn, pattern=events.trigger_pattern(self.auto_deploy),
                       bus=bus)

    def _create_table(self) -> None:
        """The deployments table as infra.deployer declares it: pk/sk, the sparse index of locks, TTL."""
        ddb = self.client("dynamodb")
        ddb.create_table(
            TableName=self.table_name, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"}
                                  for name in ("pk", "sk", deployments.HELD)],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[{
                "IndexName": deployments.LOCKS_INDEX,
                "KeySchema": [{"AttributeName": deployments.HELD, "KeyType": "HASH"},
                              {"AttributeName": "pk", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            }],
        )
        ddb.update_time_to_live(TableName=self.table_name, TimeToLiveSpecification={
            "Enabled": True, "AttributeName": deployments.EXPIRES_AT})

    def _role(self, name: str, service: str) -> str:
        return self.client("iam").create_role(RoleName=name[:64], AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": service},
                                                     "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]

    def _principal(self, task: str) -> tuple[str, str]:
        """The role and session a task's calls are made as: a function's role, its session the function."""
        if task == CI_ROLE:
            return f"{self.state_machine_name}-ci"[:64], "ci"
        name = f"{self.state_machine_name}-{task}"
        return name[:64], name

    def _rule(self, name: str, target: str, *, pattern: dict | None = None, schedule: str | None = None,
              bus: str = "default") -> None:
        bridge, rule = self.client("events"), f"{self.state_machine_name}-{name}"
        bridge.put_rule(Name=rule, EventBusName=bus,
                        **({"EventPattern": json.dumps(pattern)} if pattern else {"ScheduleExpression": schedule}))
        bridge.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "deployer", "Arn": target}])

    def _task_runner(self, task: str, handler_path: str):
        """Runs a task function's handler from this checkout, in its task scope, with the crashes injected."""
        api = self.api
        module_name, attribute = handler_path.rsplit(".", 1)

        def run(fn, event, context) -> Outcome:
            scope = TaskScope(_execution_of(event), task)
            if api.crash(scope, after=False):
                return _crashed(context, "the function crashed before it ran")
            if hang := api.hang(scope):
                self._stopping.wait(hang.seconds)
                api.answered(hang)
                return Outcome(error=error_document("Sandbox.Timedout", "the function hung and never ran",
                                                    context.aws_request_id))
            handler = getattr(importlib.import_module(module_name), attribute)
            started = time.perf_counter()
            with task_scope(scope):
                try:
                    result = handler(event, context)
                except Exception as exc:  # the Lambda runtime reports any uncaught exception this way
                    return failed(exc, context, (time.perf_counter() - started) * 1000)
            duration_ms = (time.perf_counter() - started) * 1000
            if api.crash(scope, after=True):
                return _crashed(context, "the function crashed after it ran", duration_ms)
            return Outcome(result, duration_ms=duration_ms)

        return run


def _task_of_this_thread() -> str | None:
    scope = current_scope()
    return scope.task if scope else None


def _execution_of(event: dict) -> str | None:
    if not isinstance(event, dict):
        return None
    return event.get("executionId") or (event.get("detail") or {}).get("executionArn")


def _crashed(context: LambdaContext, message: str, duration_ms: float = 0.0) -> Outcome:
    """A task dying (``Crash``): Step Functions sees ``Lambda.Unknown``."""
    return Outcome(error=error_document("Lambda.Unknown", message, context.aws_request_id), duration_ms=duration_ms)


def _placeholder_zip() -> bytes:
    """A task function's code package; the emulator runs the handler from this checkout instead."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README", "lambda-deployer emulator: handlers run in process")
    return buffer.getvalue()


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
