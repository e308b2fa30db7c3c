"""Versions that are not ready yet, and provisioned concurrency, as Lambda documents them (moto has neither).

Version states (Lambda guide, "Lambda function states"): "Lambda does not invoke a function during pending
state"; with SnapStart a published version stays ``Pending`` while Lambda takes the snapshot ("Lambda
SnapStart and function states"); an unused version can become ``Inactive``: "When you try to invoke a
function that is inactive, the invocation fails and Lambda sets the function to pending state until the
function resources are recreated". moto reports every version ``Active`` at once. Here a published version
is ``Pending`` for ``version_pending_seconds`` (scaled like the emulator's waits), a test can put a version
in any state (``set_state``), and invoking a version that is not Active fails (``not_invocable``, which the
emulator's invoker asks).

Provisioned concurrency (moto 5.2.5 has no route for ``/provisioned-concurrency`` at all: every call is a 404
"Not yet implemented"): ``PutProvisionedConcurrencyConfig`` answers ``IN_PROGRESS`` and the allocation is
``READY`` after ``provisioned_seconds`` (allocation "takes minutes" on AWS); ``fail`` makes one ``FAILED``.
On a weighted alias, AWS says the allocated amount "fluctuates depending on the amount of concurrency that is
provisioned for the function versions" during linear and canary deployments (ProvisionedConcurrencyConfigListItem,
AllocatedProvisionedConcurrentExecutions): here a routing change of an alias with a configuration
re-allocates it (``IN_PROGRESS``, allocated below requested) for ``provisioned_seconds`` again.

The four provisioned concurrency operations are answered in the client (a botocore ``before-call`` hook
after the emulator's IAM and faults), so they exist for an in-process emulator only, not for ``local serve``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from botocore.awsrequest import AWSResponse
from botocore.handlers import BUILTIN_HANDLERS

from deployer.local import faults  # noqa: F401 (its before-call hook, IAM and faults, is registered first)
from deployer.local.iam import ACCOUNT

OPERATIONS = {"PutProvisionedConcurrencyConfig", "GetProvisionedConcurrencyConfig",
              "DeleteProvisionedConcurrencyConfig", "ListProvisionedConcurrencyConfigs"}


@dataclass
class Allocation:
    requested: int
    ready_at: float
    failed: str | None = None
    weight: float = 0.0  # the share a weighted alias routes to its other version while re-allocating
    modified: str = ""

    def status(self, now: float) -> tuple[str, int]:
        if self.failed:
            return "FAILED", 0
        if now >= self.ready_at:
            return "READY", self.requested
        return "IN_PROGRESS", math.floor(self.requested * (1 - self.weight)) if self.weight else 0


class Readiness:
    def __init__(self, *, version_pending_seconds: float = 0.0, provisioned_seconds: float = 0.0,
                 time_scale: float = 1.0) -> None:
        self.version_pending_seconds = version_pending_seconds * time_scale
        self.provisioned_seconds = provisioned_seconds * time_scale
        self._lock = threading.Lock()
        self._pending_until: dict[tuple[str, str], float] = {}
        self._states: dict[tuple[str, str], tuple[str, str | None]] = {}
        self._allocations: dict[tuple[str, str], Allocation] = {}

    # versions -----------------------------------------------------------------------------------------

    def published(self, function: str, version: str) -> None:
        if self.version_pending_seconds:
            with self._lock:
                self._pending_until[(function, version)] = time.monotonic() + self.version_pending_seconds

    def set_state(self, function: str, version: str, state: str | None, reason: str | None = None) -> None:
        """Put a version in ``state`` (``Inactive``, ``Failed``, ``Pending``) until set back (None)."""
        with self._lock:
            if state is None:
                self._states.pop((function, version), None)
            else:
                self._states[(function, version)] = (state, reason)

    def not_invocable(self, function: str, version: str) -> str | None:
        """The State that keeps Lambda from invoking this version now (None: Active)."""
        held = self.state(function, version) if version != "$LATEST" else None
        return held[0] if held else None

    def state(self, function: str, version: str) -> tuple[str, str | None] | None:
        """The state the emulator holds for a version (None: moto's ``Active``)."""
        with self._lock:
            if (function, version) in self._states:
                return self._states[(function, version)]
            if time.monotonic() < self._pending_until.get((function, version), 0.0):
                return "Pending", "Lambda is preparing the version (SnapStart snapshot)"
        return None

    # provisioned concurrency --------------------------------------------------------------------------

    def fail(self, function: str, qualifier: str, reason: str = "Insufficient capacity") -> None:
        with self._lock:
            self._allocations[(function, qualifier)].failed = reason

    def routing_changed(self, function: str, alias: str, weights: dict[str, float]) -> None:
        """A weighted alias' allocation follows its routing: re-allocated, not ready for a while."""
        with self._lock:
            if allocation := self._allocations.get((function, alias)):
                allocation.weight = sum(weights.values())
                allocation.ready_at = time.monotonic() + self.provisioned_seconds

    def answer(self, operation: str, params: dict) -> dict:
        function = params["FunctionName"].rsplit(":function:", 1)[-1].split(":", 1)[0]
        qualifier = params.get("Qualifier")
        key = (function, qualifier)
        now = time.monotonic()
        with self._lock:
            if operation == "PutProvisionedConcurrencyConfig":
                if qualifier in (None, "$LATEST"):  # Lambda: a version or an alias, never $LATEST
                    raise _Invalid("Provisioned Concurrency Configs cannot be applied to unpublished function "
                                   "versions.")
                self._allocations[key] = Allocation(params["ProvisionedConcurrentExecutions"],
                                                    now + self.provisioned_seconds,
                                                    modified=time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime()))
                return self._describe(self._allocations[key], now)
            if operation == "ListProvisionedConcurrencyConfigs":  # FunctionArn: the qualified ARN, as Lambda's
                unqualified = params["FunctionName"] if params["FunctionName"].startswith("arn:") else \
                    f"arn:aws:lambda:{params.get('region', 'us-east-1')}:{ACCOUNT}:function:{function}"
                return {"ProvisionedConcurrencyConfigs": [
                    {"FunctionArn": f"{unqualified}:{q}", **self._describe(a, now)}
                    for (f, q), a in self._allocations.items() if f == function]}
            if key not in self._allocations:
                raise _NotFound(f"No Provisioned Concurrency Config found for this function: {function}:{qualifier}")
            if operation == "DeleteProvisionedConcurrencyConfig":
                del self._allocations[key]
                return {}
            return self._describe(self._allocations[key], now)

    @staticmethod
    def _describe(allocation: Allocation, now: float) -> dict:
        status, allocated = allocation.status(now)
        described = {"RequestedProvisionedConcurrentExecutions": allocation.requested,
                     "AvailableProvisionedConcurrentExecutions": allocated,
                     "AllocatedProvisionedConcurrentExecutions": allocated, "Status": status,
                     "LastModified": allocation.modified}
        if allocation.failed:
            described["StatusReason"] = allocation.failed
        return described


class _NotFound(Exception):
    code, status = "ProvisionedConcurrencyConfigNotFoundException", 404


class _Invalid(_NotFound):
    code, status = "InvalidParameterValueException", 400


_active: list[Readiness] = []


@contextmanager
def activated(readiness: Readiness) -> Iterator[Readiness]:
    _active.append(readiness)
    try:
        yield readiness
    finally:
        _active.remove(readiness)


_PARAMS = "lambda_deployer_readiness_params"


def _keep_params(params, model=None, context=None, **_):
    if _active and model is not None and model.name in OPERATIONS and context is not None:
        context[_PARAMS] = dict(params)


def _before_call(model, context=None, **_):
    if not _active or model.service_model.service_name != "lambda" or model.name not in OPERATIONS:
        return None
    try:
        params = {**(context or {}).get(_PARAMS, {}), "region": (context or {}).get("client_region")}
        parsed, status = _active[-1].answer(model.name, params), 200
    except _NotFound as exc:
        parsed, status = {"Error": {"Code": exc.code, "Message": str(exc)}}, exc.status
    parsed["ResponseMetadata"] = {"HTTPStatusCode": status, "RequestId": "emulator-readiness"}
    headers = {"x-amzn-errortype": parsed["Error"]["Code"]} if status != 200 else {}
    return AWSResponse("https://emulator.invalid", status, headers, None), parsed


BUILTIN_HANDLERS.append(("before-parameter-build", _keep_params))
BUILTIN_HANDLERS.append(("before-call", _before_call))
