"""Invoking a function, a version or an alias in the emulator runs code, as Lambda does.

moto's docker-less backend answers every invocation with its own payload and ignores an alias' routing. Here:

- **Routing.** An alias with ``RoutingConfig.AdditionalVersionWeights`` ``{v: w}`` runs version v with
  probability w and its primary version otherwise, drawn per invocation ("Lambda uses a simple probabilistic
  model to distribute the traffic between the two function versions", Lambda traffic shifting with aliases).
  The draw comes from one seedable ``random.Random``, so a seeded emulator routes the same way every run.
- **Code.** A Python zip function runs its real handler from the package stored for the version that runs
  (extracted once per code SHA-256, imported under a package name of its own, so two versions with the same
  module names never share modules). Container images cannot run here: an image runs the ``Behaviour``
  registered for its digest (``behaviours.register(digest, Behaviour(...))``), or answers ``null`` in 1 ms.
  Other zip runtimes run a behaviour registered for their code SHA-256 (hex), or the same default.
- **Answers as the Invoke API gives them.** 200 for ``RequestResponse`` with the payload, ``ExecutedVersion``
  (``X-Amz-Executed-Version``: the version that ran, ``$LATEST`` when unqualified) and, for an uncaught error,
  ``FunctionError: Unhandled`` with the runtime's ``{errorMessage, errorType, requestId, stackTrace}``; 202
  and no body for ``Event`` (run later, on the emulator's async worker); 204 and no run for ``DryRun``.
- **Metrics.** Every run records Lambda's CloudWatch metrics (``deployer.local.metrics``).

Not modelled: async retries of a failed ``Event`` invocation (AWS tries twice more), destinations and DLQs,
timeouts of real handlers (a simulated behaviour does time out), concurrency and throttling.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import importlib
import io
import json
import logging
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import traceback
import types
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from moto.awslambda.exceptions import LambdaClientError
from moto.core.utils import utcnow
from moto.utilities.aws_headers import amz_crc32

from deployer.local.metrics import LambdaMetrics

log = logging.getLogger(__name__)

CODE_DIR = Path(tempfile.gettempdir()) / "lambda-deployer-emulator-code"
RESPONSE_LIMIT = 6_291_556  # bytes a synchronous invocation may answer ("Lambda quotas": 6 MB)
STATUS = {"RequestResponse": 200, "Event": 202, "DryRun": 204}


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


@dataclass(frozen=True)
class Behaviour:
    """What an image's code does when invoked, since the emulator cannot run the image.

    ``error_rate``: the share of invocations that fail with an unhandled ``error_type``/``error_message``;
    ``duration_ms`` (+ a uniform ``0..jitter_ms``): the Duration each invocation reports — never waited for,
    and beyond the function's timeout the invocation times out as Lambda's would; ``result``: what a
    successful invocation returns (a JSON value, or a callable given the event).
    """

    error_rate: float = 0.0
    duration_ms: float = 1.0
    jitter_ms: float = 0.0
    result: Any = None
    error_type: str = "RuntimeError"
    error_message: str = "failed as its behaviour says (error_rate)"

    def __post_init__(self) -> None:
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError(f"error_rate must be between 0 and 1, not {self.error_rate}")
        if self.duration_ms < 0 or self.jitter_ms < 0:
            raise ValueError("duration_ms and jitter_ms cannot be negative")


DEFAULT_BEHAVIOUR = Behaviour()


class Behaviours:
    """Behaviours by image digest (``sha256:…`` or bare hex) or zip CodeSha256 hex digest."""

    def __init__(self) -> None:
        self._by_digest: dict[str, Behaviour] = {}

    def register(self, digest: str, behaviour: Behaviour) -> None:
        self._by_digest[_bare(digest)] = behaviour

    def get(self, digest: str | None) -> Behaviour | None:
        return self._by_digest.get(_bare(digest or ""))

    def clear(self) -> None:
        self._by_digest.clear()


def _bare(digest: str) -> str:
    return digest.removeprefix("sha256:")


@dataclass(frozen=True)
class Outcome:
    """What one run of a function produced: its result, or the runtime's error document (``error``)."""

    result: Any = None
    error: dict | None = None
    duration_ms: float = 0.0


Runner = Callable[[Any, Any, LambdaContext], Outcome]


def error_document(error_type: str, message: str, request_id: str, exc: BaseException | None = None) -> dict:
    """The runtime's answer for an unhandled error (Python: "Lambda function errors in Python"); the stack trace
    starts at the handler's frame, as the runtime's does."""
    trace = exc.__traceback__ if exc else None
    if trace is not None and trace.tb_next is not None:
        trace = trace.tb_next  # the emulator's own frame that called the handler
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id,
            "stackTrace": traceback.format_tb(trace) if trace else []}


def failed(exc: BaseException, context: LambdaContext, duration_ms: float = 0.0) -> Outcome:
    return Outcome(error=error_document(type(exc).__name__, str(exc), context.aws_request_id, exc),
                   duration_ms=duration_ms)


@dataclass(frozen=True)
class _Target:
    """Which function object runs, and how the invocation is named in answers and metrics."""

    fn: Any
    name: str
    executed_version: str
    resource: str | None  # "fn:alias" or "fn:version"; None when unqualified
    alias: bool
    invoked_arn: str


class Invoker:
    """Routes and runs invocations for the emulator's ``LambdaSimpleBackend.invoke`` seam.

    ``runners`` maps a function name to a ``Runner`` that replaces the code (the deployer's own tasks); such a
    runner runs inline even for ``Event`` (its callers, like EventBridge delivery, already run in a thread).
    """

    def __init__(self, *, metrics: LambdaMetrics, seed: int | None = None, code_dir: Path = CODE_DIR) -> None:
        self.behaviours = Behaviours()
        self.metrics = metrics
        self.runners: dict[str, Runner] = {}
        # (function, version) -> the State that keeps Lambda from invoking it, if any (deployer.local.readiness)
        self.not_invocable: Callable[[str, str], str | None] = lambda function, version: None
        self.code_dir = code_dir
        self._random = random.Random(seed)
        self._random_lock = threading.Lock()
        self._handlers: dict[tuple[str, str], Callable] = {}
        self._import_lock = threading.Lock()
        self._events = _EventQueue()

    def seed(self, seed: int | None) -> None:
        """Start the routing and behaviour draws again from ``seed``."""
        with self._random_lock:
            self._random.seed(seed)

    def settle(self, timeout: float = 10.0) -> bool:
        """Wait (bounded) until every queued ``Event`` invocation has run; False if some still have not."""
        return self._events.settle(timeout)

    def close(self) -> None:
        """Drop queued ``Event`` invocations (the emulator is stopping; AWS would be gone too)."""
        self._events.close()
        self._events = _EventQueue()

    # the seam ------------------------------------------------------------------------------------------
    def invoke(self, backend, function_name: str, qualifier: str | None, body, headers,
               response_headers: dict) -> bytes:
        headers = headers or {}  # moto passes the request's headers, which match names case-insensitively
        invocation_type = headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        event = _event(body)
        target = self._target(backend, function_name, qualifier)
        if state := self.not_invocable(target.name, str(target.executed_version)):
            # AWS: "Lambda does not invoke a function during pending state", nor an Inactive one until it is
            # Active again (Lambda guide, "Lambda function states"); the invocation fails with 409.
            raise _NotInvocable(state)
        if invocation_type == "DryRun":  # AWS: validate the request and permissions, run nothing
            return b""
        runner = self.runners.get(target.name)
        if invocation_type == "Event":
            if runner is None:
                self._events.put(lambda: self._execute(backend, target, event, None))
            else:
                self._execute(backend, target, event, runner)
            return b""
        outcome, context, payload = self._execute(backend, target, event, runner)
        response_headers["x-amz-executed-version"] = target.executed_version
        if headers.get("X-Amz-Log-Type") == "Tail":
            response_headers["x-amz-log-result"] = _log_tail(context, target, outcome)
        if outcome.error is not None:
            response_headers["x-amz-function-error"] = "Unhandled"
        return payload

    # internals -----------------------------------------------------------------------------------------
    def _execute(self, backend, target: _Target, event, runner: Runner | None) -> tuple[Outcome, LambdaContext, bytes]:
        """Run the target once and record its metrics; the outcome, its context and the answer's payload."""
        context = LambdaContext(target.name, target.invoked_arn, memory_limit_in_mb=target.fn.memory_size,
                                function_version=target.executed_version)
        started = utcnow()
        outcome = (runner or self._run)(target.fn, event, context)
        try:
            payload = json.dumps(outcome.result if outcome.error is None else outcome.error).encode()
        except (TypeError, ValueError) as exc:  # the runtime cannot send the answer back
            outcome = Outcome(error=error_document("Runtime.MarshalError", f"Unable to marshal response: {exc}",
                                                   context.aws_request_id), duration_ms=outcome.duration_ms)
            payload = json.dumps(outcome.error).encode()
        if len(payload) > RESPONSE_LIMIT:
            outcome = Outcome(error={"errorMessage": "Response payload size exceeded maximum allowed payload size "
                                                     f"({RESPONSE_LIMIT} bytes).",
                                     "errorType": "Function.ResponseSizeTooLarge"}, duration_ms=outcome.duration_ms)
            payload = json.dumps(outcome.error).encode()
        self.metrics.record(backend.account_id, backend.region_name, target.name, resource=target.resource,
                            executed_version=target.executed_version if target.alias else None,
                            error=outcome.error is not None, duration_ms=outcome.duration_ms, at=started)
        return outcome, context, payload

    def _target(self, backend, function_name: str, qualifier: str | None) -> _Target:
        if function_name.startswith("arn:"):
            _, name, in_name = backend._lambdas.split_function_arn(function_name)
        else:
            name, _, in_name = function_name.partition(":")
        qualifier = in_name or qualifier
        latest = backend.get_function(name)
        name = latest.function_name
        base_arn = backend._lambdas.split_function_arn(latest.function_arn)[0]
        invoked_arn = f"{base_arn}:{qualifier}" if qualifier else base_arn
        if qualifier is None:
            return _Target(latest, name, "$LATEST", None, False, invoked_arn)
        if qualifier == "$LATEST" or qualifier.isdigit():
            fn = latest if qualifier == "$LATEST" else backend.get_function(name, qualifier)
            return _Target(fn, name, qualifier, f"{name}:{qualifier}", False, invoked_arn)
        alias = backend.get_alias(qualifier, name)
        version = self._route(alias.function_version, (alias.routing_config or {}).get("AdditionalVersionWeights"))
        fn = latest if version == "$LATEST" else backend.get_function(name, version)
        return _Target(fn, name, version, f"{name}:{qualifier}", True, invoked_arn)

    def _route(self, primary: str, weights: dict | None) -> str:
        if not weights:
            return primary
        with self._random_lock:
            draw = self._random.random()
        for version, weight in weights.items():
            if draw < float(weight):
                return str(version)
            draw -= float(weight)
        return primary

    def _run(self, fn, event, context: LambdaContext) -> Outcome:
        if fn.package_type != "Image" and (fn.run_time or "").startswith("python") and fn.code_bytes:
            return self._run_python(fn, event, context)
        digest = fn.code_sha_256 if fn.package_type == "Image" else fn.code_digest
        return self._behave(self.behaviours.get(digest) or DEFAULT_BEHAVIOUR, event, context, fn.timeout)

    def _behave(self, behaviour: Behaviour, event, context: LambdaContext, timeout_seconds: float) -> Outcome:
        with self._random_lock:
            fails, jitter = self._random.random(), self._random.random()
        duration = behaviour.duration_ms + behaviour.jitter_ms * jitter
        if duration > timeout_seconds * 1000:  # the runtime's answer for a timeout
            return Outcome(error={
                "errorType": "Sandbox.Timedout",
                "errorMessage": f"RequestId: {context.aws_request_id} Error: Task timed out after "
                                f"{timeout_seconds:.2f} seconds"}, duration_ms=timeout_seconds * 1000)
        if fails < behaviour.error_rate:
            return Outcome(error=error_document(behaviour.error_type, behaviour.error_message,
                                                context.aws_request_id), duration_ms=duration)
        result = behaviour.result(event) if callable(behaviour.result) else behaviour.result
        return Outcome(result, duration_ms=duration)

    def _run_python(self, fn, event, context: LambdaContext) -> Outcome:
        try:
            handler = self._handler(fn)
        except _InitError as init:
            return Outcome(error=error_document(init.error_type, init.message, context.aws_request_id))
        started = time.perf_counter()
        try:
            result = handler(event, context)
        except Exception as exc:  # the runtime reports any uncaught exception this way
            return failed(exc, context, (time.perf_counter() - started) * 1000)
        return Outcome(result, duration_ms=(time.perf_counter() - started) * 1000)

    def _handler(self, fn) -> Callable:
        key = (fn.code_digest, fn.handler or "")
        if key not in self._handlers:
            with self._import_lock:
                if key not in self._handlers:
                    self._handlers[key] = self._load(fn)
        return self._handlers[key]

    def _load(self, fn) -> Callable:
        """Import the handler from the package's own files, under a package name of its own (Lambda's
        handler setting: ``module.function``, the module a path in the package)."""
        module_path, _, attribute = (fn.handler or "").rpartition(".")
        module_path = module_path.replace("/", ".")
        if not module_path or not attribute:
            raise _InitError("Runtime.MalformedHandlerName", f"Bad handler '{fn.handler}': not enough values")
        root = _extracted(fn.code_bytes, fn.code_digest, self.code_dir)
        package = f"_lambda_code_{fn.code_digest[:24]}"
        if package not in sys.modules:
            stub = types.ModuleType(package)
            stub.__path__ = [str(root)]
            sys.modules[package] = stub
        before = set(sys.modules)
        sys.path.insert(0, str(root))  # the package's own top-level imports (Lambda puts /var/task on sys.path)
        try:
            module = importlib.import_module(f"{package}.{module_path}")
        except ImportError as exc:
            raise _InitError("Runtime.ImportModuleError", f"Unable to import module '{module_path}': {exc}") from exc
        except SyntaxError as exc:
            raise _InitError("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_path}': {exc}") from exc
        except Exception as exc:  # an error while the module initialises
            raise _InitError(type(exc).__name__, str(exc)) from exc
        finally:
            sys.path.remove(str(root))
            for name in set(sys.modules) - before:  # the package's top-level modules: keep them its own
                if not name.startswith(package) and str(getattr(sys.modules[name], "__file__", "") or "").startswith(
                        str(root)):
                    del sys.modules[name]
        handler = getattr(module, attribute, None)
        if not callable(handler):
            raise _InitError("Runtime.HandlerNotFound", f"Handler '{attribute}' missing on module '{module_path}'")
        return handler


@amz_crc32
def respond(response) -> tuple[int, dict, bytes]:
    """``LambdaResponse.invoke``: moto reads the ``Qualifier`` query parameter as ``qualifier`` and so invokes
    ``$LATEST`` for every ``Invoke(Qualifier=…)``; this reads it as the API sends it."""
    function_name = unquote(response.path.rsplit("/", 2)[-2])
    qualifier = response.querystring.get("Qualifier", [None])[0]
    response_headers: dict = {}
    payload = response.backend.invoke(function_name, qualifier, response.body, response.headers, response_headers)
    invocation_type = response.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
    status = STATUS.get(invocation_type, 200)
    response_headers.update({"content-type": "application/json", "status": str(status)})
    return status, response_headers, payload


class _NotInvocable(LambdaClientError):
    code = 409

    def __init__(self, state: str) -> None:
        super().__init__("ResourceConflictException", "The operation cannot be performed at this time. The "
                         f"function is currently in the following state: {state}")


class _InitError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type, self.message = error_type, message


def _extracted(code: bytes, digest: str, code_dir: Path) -> Path:
    """The package's files, extracted once per code SHA-256 (atomically: parallel emulators share the cache)."""
    root = code_dir / digest
    if root.is_dir():
        return root
    code_dir.mkdir(parents=True, exist_ok=True)
    if hashlib.sha256(code).hexdigest() != digest:
        raise _InitError("Runtime.InvalidCode", "the code package does not match its CodeSha256")
    staging = Path(tempfile.mkdtemp(dir=code_dir, prefix=f".{digest[:12]}-"))
    with zipfile.ZipFile(io.BytesIO(code)) as archive:
        archive.extractall(staging)
    try:
        os.rename(staging, root)
    except OSError:  # another process extracted it first
        shutil.rmtree(staging, ignore_errors=True)
        if not root.is_dir():
            raise
    return root


def _event(body) -> Any:
    if not body:
        return {}
    try:
        return json.loads(body)
    except ValueError as exc:
        raise LambdaClientError("InvalidRequestContentException",
                                f"Could not parse request body into json: {exc}") from None


def _log_tail(context: LambdaContext, target: _Target, outcome: Outcome) -> str:
    """The last 4 KB of the invocation's log, base64 (``LogType=Tail``): the runtime's START/END/REPORT lines."""
    request = context.aws_request_id
    lines = [f"START RequestId: {request} Version: {target.executed_version}"]
    if outcome.error is not None:
        lines.append(json.dumps(outcome.error))
    lines += [f"END RequestId: {request}",
              f"REPORT RequestId: {request}\tDuration: {outcome.duration_ms:.2f} ms\t"
              f"Billed Duration: {max(1, round(outcome.duration_ms + 0.5))} ms\t"
              f"Memory Size: {context.memory_limit_in_mb} MB\t"]
    return base64.b64encode(("\n".join(lines) + "\n").encode()[-4096:]).decode()


class _EventQueue:
    """Asynchronous invocations, run in order by one worker thread."""

    def __init__(self) -> None:
        self._jobs: collections.deque[Callable[[], object]] = collections.deque()
        self._condition = threading.Condition()
        self._unfinished = 0
        self._closed = False
        self._worker: threading.Thread | None = None

    def put(self, job: Callable[[], object]) -> None:
        with self._condition:
            if self._closed:
                return
            self._jobs.append(job)
            self._unfinished += 1
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="lambda-async-invocations", daemon=True)
                self._worker.start()
            self._condition.notify_all()

    def settle(self, timeout: float) -> bool:
        with self._condition:
            return self._condition.wait_for(lambda: self._unfinished == 0, timeout)

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._unfinished -= len(self._jobs)
            self._jobs.clear()
            self._condition.notify_all()

    def _work(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._jobs or self._closed)
                if not self._jobs:
                    return
                job = self._jobs.popleft()
            try:
                job()
            except Exception:  # AWS would retry, then drop the event; the emulator logs it
                log.exception("an asynchronous invocation failed")
            finally:
                with self._condition:
                    self._unfinished -= 1
                    self._condition.notify_all()
