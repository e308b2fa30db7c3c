"""Seeing and breaking the AWS calls the task handlers make, in the emulator.

One botocore ``before-call`` hook sees every call a task handler makes (calls from tests or from moto
itself are not in a task and pass untouched). It records them per execution and task, lets each guard
refuse it as AWS would (``ApiLayer.guards``: IAM, ``deployer.local.iam``), and answers with a real AWS
error where a fault rule says so, exactly as botocore would raise it. An ``after-call`` hook adds the
answer to the record (what a call read, e.g. the items of a DynamoDB Query).
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from botocore.awsrequest import AWSResponse
from botocore.handlers import BUILTIN_HANDLERS

READ_PREFIXES = ("Get", "Describe", "List", "BatchGet", "Query", "Scan", "Head")  # S3 HeadObject reads


def is_mutating(operation: str) -> bool:
    return not operation.startswith(READ_PREFIXES)


@dataclass(frozen=True)
class TaskScope:
    execution: str | None
    task: str  # the deployer function running (handlers.catalog key), e.g. ShiftTraffic


def _same_execution(name: str | None, execution_arn: str | None) -> bool:
    return name is None or (execution_arn or "").rsplit(":", 1)[-1] == name


@dataclass(frozen=True)
class ApiCall:
    execution: str | None
    task: str
    service: str
    operation: str
    params: dict
    fault: str | None = None  # the error code answered instead of calling AWS (injected, or a guard's refusal)
    region: str | None = None  # the client's region
    response: dict | None = None  # the parsed answer (an error's too), once it has arrived

    @property
    def mutating(self) -> bool:
        return is_mutating(self.operation)


@dataclass(frozen=True)
class Refusal:
    """An AWS error answered instead of calling AWS."""

    status: int
    code: str
    message: str


Guard = Callable[[TaskScope, ApiCall, dict], Refusal | None]
"""Looks at a call before AWS does (with botocore's request context) and may refuse it."""


# Ready-made AWS errors for the usual fault kinds: (HTTP status, service error code).
THROTTLE = (429, "TooManyRequestsException")
SERVER_ERROR = (500, "ServiceException")
PRECONDITION_FAILED = (412, "PreconditionFailedException")
CONFLICT = (409, "ResourceConflictException")


@dataclass
class Fault:
    """Answer matching calls with an AWS error instead of calling AWS.

    ``task``/``service``/``operation``/``execution`` (a name) narrow the match (None matches any); ``skip``
    lets that many matching calls through first; ``times`` is how often it fires (None: every time).
    """

    error: tuple[int, str] = SERVER_ERROR
    operation: str | None = None
    service: str | None = None
    task: str | None = None
    execution: str | None = None
    skip: int = 0
    times: int | None = 1
    fired: int = field(default=0, init=False)
    _seen: int = field(default=0, init=False)

    def matches(self, scope: TaskScope, service: str, operation: str) -> bool:
        return (
            (self.task is None or self.task == scope.task)
            and _same_execution(self.execution, scope.execution)
            and (self.service is None or self.service == service)
            and (self.operation is None or self.operation == operation)
        )

    def fire(self) -> bool:
        self._seen += 1
        if self._seen <= self.skip or (self.times is not None and self.fired >= self.times):
            return False
        self.fired += 1
        return True


@dataclass
class Crash:
    """The task's Lambda dies (``Lambda.Unknown``) before or after its handler ran (``after``: its work is
    done but the state machine never hears of it, the case idempotent handlers exist for)."""

    task: str
    after: bool = False
    times: int | None = 1
    execution: str | None = None
    fired: int = field(default=0, init=False)

    def fire(self, scope: TaskScope, after: bool) -> bool:
        if scope.task != self.task or after != self.after or not _same_execution(self.execution, scope.execution):
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        self.fired += 1
        return True


@dataclass
class Hang:
    """The task's Lambda invocation gives no answer for ``seconds`` (a stuck runtime, a lost connection), then
    fails without having run the handler: longer than the Task's ``TimeoutSeconds``, Step Functions gives up
    first (``States.Timeout``). ``answered`` counts the hung invocations that have returned since."""

    task: str
    seconds: float
    times: int | None = 1
    execution: str | None = None
    fired: int = field(default=0, init=False)
    answered: int = field(default=0, init=False)

    def fire(self, scope: TaskScope) -> bool:
        if scope.task != self.task or not _same_execution(self.execution, scope.execution):
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        self.fired += 1
        return True


class ApiLayer:
    """Records the handlers' AWS calls and injects faults; one per emulator."""

    def __init__(self) -> None:
        self.calls: list[ApiCall] = []
        self.faults: list[Fault] = []
        self.crashes: list[Crash] = []
        self.guards: list[Guard] = []  # asked in order, before any fault: a refused call never reaches AWS
        self.hangs: list[Hang] = []
        self._lock = threading.Lock()

    def inject(self, *faults: Fault | Crash | Hang) -> None:
        with self._lock:
            for fault in faults:
                kind = {Crash: self.crashes, Hang: self.hangs}.get(type(fault), self.faults)
                kind.append(fault)

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()
            self.crashes.clear()
            self.hangs.clear()

    def crash(self, scope: TaskScope, *, after: bool) -> bool:
        with self._lock:
            return any(crash.fire(scope, after) for crash in self.crashes)

    def hang(self, scope: TaskScope) -> Hang | None:
        with self._lock:
            return next((hang for hang in self.hangs if hang.fire(scope)), None)

    def answered(self, hang: Hang) -> None:
        with self._lock:
            hang.answered += 1

    def calls_of(self, execution: str | None = None, *, mutating: bool | None = None) -> list[ApiCall]:
        with self._lock:
            return [
                call for call in self.calls
                if (execution is None or call.execution == execution)
                and (mutating is None or call.mutating == mutating)
            ]

    def before_call(self, model, context=None, **_):
        scope = _scope.get()
        if scope is None:
            return None
        context = context if context is not None else {}
        call = ApiCall(scope.execution, scope.task, model.service_model.service_name, model.name,
                       context.get(_PARAMS, {}), region=context.get("client_region"))
        refusal = next((refused for guard in self.guards if (refused := guard(scope, call, context))), None)
        with self._lock:
            if refusal is None:
                fault = next((f for f in self.faults if f.matches(scope, call.service, call.operation) and f.fire()),
                             None)
                if fault:
                    refusal = Refusal(*fault.error, f"injected by the emulator ({call.operation} in {scope.task})")
            context[_CALL] = (self, len(self.calls))
            self.calls.append(replace(call, fault=refusal.code if refusal else None))
        if refusal is None:
            return None
        response = AWSResponse("https://emulator.invalid", refusal.status, {"x-amzn-errortype": refusal.code}, None)
        return response, {
            "Error": {"Code": refusal.code, "Message": refusal.message},
            "ResponseMetadata": {"HTTPStatusCode": refusal.status, "RequestId": "emulator-refusal"},
        }


    def after_call(self, index: int, parsed: dict) -> None:
        with self._lock:
            self.calls[index] = replace(self.calls[index], response=parsed)


_scope: contextvars.ContextVar[TaskScope | None] = contextvars.ContextVar("task_scope", default=None)
_active: list[ApiLayer] = []  # the running emulator's layer (moto's backends are process-wide: one at a time)


@contextmanager
def task_scope(scope: TaskScope | None) -> Iterator[None]:
    token = _scope.set(scope)
    try:
        yield
    finally:
        _scope.reset(token)


def current_scope() -> TaskScope | None:
    """The task handler this thread runs for, if any."""
    return _scope.get()


_PARAMS = "lambda_deployer_emulator_params"
_CALL = "lambda_deployer_emulator_call"


def _keep_params(params, context, **_):
    """``before-call`` sees the serialized request; keep the API parameters for the record."""
    if _active and _scope.get() is not None:
        context[_PARAMS] = dict(params)


def _dispatch(**kwargs):
    """The one hook botocore knows about; it forwards to the running emulator's layer."""
    return _active[-1].before_call(**kwargs) if _active else None


def _answered(parsed=None, context=None, **_):
    """``after-call``: the answer of a recorded call joins its record (in the layer that recorded it)."""
    if context and _CALL in context:
        layer, index = context.pop(_CALL)
        layer.after_call(index, parsed)


# Registered once for every botocore session created from now on (moto registers its stubber the same
# way); clients created before an emulator starts are dropped by the emulator.
BUILTIN_HANDLERS.append(("before-parameter-build", _keep_params))
BUILTIN_HANDLERS.append(("before-call", _dispatch))
BUILTIN_HANDLERS.append(("after-call", _answered))


@contextmanager
def activated(layer: ApiLayer) -> Iterator[ApiLayer]:
    _active.append(layer)
    try:
        yield layer
    finally:
        _active.remove(layer)
