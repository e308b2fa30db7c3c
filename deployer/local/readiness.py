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

This is the model only, one per emulator. moto answers from it, so it is the same in process and through
``local serve``, and IAM, faults and quotas meet these calls as any other: ``fidelity/lambda_.py`` (a version's
``State``, publishing, an alias' routing change) and ``fidelity/lambda_versions.py`` (the four provisioned
concurrency operations, their validation and errors).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass


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

    def described(self, now: float) -> dict:
        """The configuration as GetProvisionedConcurrencyConfig answers it."""
        status, allocated = self.status(now)
        described = {"RequestedProvisionedConcurrentExecutions": self.requested,
                     "AvailableProvisionedConcurrentExecutions": allocated,
                     "AllocatedProvisionedConcurrentExecutions": allocated, "Status": status,
                     "LastModified": self.modified}
        if self.failed:
            described["StatusReason"] = self.failed
        return described


class Readiness:
    """Provisioned concurrency is kept per function (its unqualified ARN: one per account and Region) and
    qualifier (a version or an alias)."""

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

    def configure(self, function_arn: str, qualifier: str, requested: int) -> dict:
        """PutProvisionedConcurrencyConfig (validated by the caller): a new allocation, IN_PROGRESS for a while."""
        now = time.monotonic()
        allocation = Allocation(requested, now + self.provisioned_seconds,
                                modified=time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime()))
        with self._lock:
            self._allocations[(function_arn, qualifier)] = allocation
            return allocation.described(now)

    def described(self, function_arn: str, qualifier: str) -> dict | None:
        """GetProvisionedConcurrencyConfig (None: no configuration)."""
        with self._lock:
            allocation = self._allocations.get((function_arn, qualifier))
            return allocation.described(time.monotonic()) if allocation else None

    def listed(self, function_arn: str) -> list[dict]:
        """ListProvisionedConcurrencyConfigs: ``FunctionArn`` is the ARN of the version or alias, as Lambda's."""
        now = time.monotonic()
        with self._lock:
            return [{"FunctionArn": f"{arn}:{qualifier}", **allocation.described(now)}
                    for (arn, qualifier), allocation in self._allocations.items() if arn == function_arn]

    def remove(self, function_arn: str, qualifier: str | None = None) -> bool:
        """DeleteProvisionedConcurrencyConfig, or every configuration of a deleted function (``qualifier``
        None); False when there was none."""
        with self._lock:
            gone = [key for key in self._allocations if key[0] == function_arn and qualifier in (None, key[1])]
            for key in gone:
                del self._allocations[key]
            return bool(gone)

    def fail(self, function: str, qualifier: str, reason: str = "Insufficient capacity") -> None:
        """Make an allocation FAILED (a test's control); ``function``: its name or unqualified ARN."""
        with self._lock:
            found = [allocation for (arn, q), allocation in self._allocations.items()
                     if q == qualifier and (arn == function or arn.endswith(f":function:{function}"))]
            if not found:
                raise KeyError(f"no provisioned concurrency configured on {function}:{qualifier}")
            for allocation in found:
                allocation.failed = reason

    def routing_changed(self, function_arn: str, alias: str, weights: dict[str, float]) -> None:
        """A weighted alias' allocation follows its routing: re-allocated, not ready for a while."""
        with self._lock:
            if allocation := self._allocations.get((function_arn, alias)):
                allocation.weight = sum(weights.values())
                allocation.ready_at = time.monotonic() + self.provisioned_seconds
