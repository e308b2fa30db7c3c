"""People in the loop: approval gates and promote requests, as pure rules (no AWS calls).

A gate is a position in the plan: ``n`` means "before step n+1 takes traffic" (0: before any customer traffic),
``len(steps)`` means "before promotion". An explicit strategy marks one with a ``{"approval": true}`` item
among its steps; ``"approval": "beforePromote"`` in a request adds the last one to any strategy.

At a gate the state machine waits for a task token (``AwaitApproval`` in statemachine/deploy.asl.json) while a
second branch keeps checking health and heartbeats the token. The wait ends by ``approve`` (SendTaskSuccess),
``reject`` (SendTaskFailure: roll back), an alarm (roll back), the heartbeat stopping (roll back), or the
timeout: roll back, unless the request says ``"onApprovalTimeout": "promote"`` (then it goes on as approved).

A promote request (``lambda-deployer promote FN [--full]``) is written on the function's lock; CheckHealth reads
it at its next check, which still has to pass (a person never overrides an alarm), and then moves to the next
step at once (``next``) or straight to promotion, skipping every remaining step, check and gate (``full``).
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers.domain.errors import InvalidDeploymentRequest

BEFORE_PROMOTE = "beforePromote"
ROLLBACK, PROMOTE = "rollback", "promote"
NEXT, FULL = "next", "full"
DEFAULT_TIMEOUT_SECONDS = 24 * 3600
MAX_TIMEOUT_SECONDS = 7 * 24 * 3600  # a bake's longest, too (strategy.MAX_BAKE_SECONDS)
HEARTBEAT_MARGIN_SECONDS = 300
"""How long the health watch may take beyond its check interval before its heartbeat is missed: a check and
its retries (the watch Task's Retry on throttling backs off up to 20 s a try, ten tries)."""
APPROVAL_REJECTED = "ApprovalRejected"
"""The error ``reject`` sends with SendTaskFailure: the execution rolls back with it."""


@dataclass(frozen=True)
class ApprovalSettings:
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
    on_timeout: str = ROLLBACK

    def heartbeat_seconds(self, interval: int) -> int:
        """The watch heartbeats the token at every check, ``interval`` apart. The States Language requires
        HeartbeatSeconds smaller than TimeoutSeconds."""
        return max(1, min(interval + HEARTBEAT_MARGIN_SECONDS, self.timeout_seconds - 1))

    def to_json(self, interval: int) -> dict:
        return {"timeoutSeconds": self.timeout_seconds, "heartbeatSeconds": self.heartbeat_seconds(interval),
                "onTimeout": self.on_timeout}

    @classmethod
    def from_json(cls, data: dict | None) -> ApprovalSettings:
        if not data:
            return cls()
        return cls(data["timeoutSeconds"], data["onTimeout"])


DEFAULTS = ApprovalSettings()


def parse_gate(value: object) -> bool:
    """The request's ``approval``: only ``"beforePromote"`` (gates before a step are steps of the strategy)."""
    if value is None:
        return False
    if value != BEFORE_PROMOTE:
        raise InvalidDeploymentRequest(f"'approval' must be {BEFORE_PROMOTE!r} (a gate before a step is an "
                                       "{\"approval\": true} item in an explicit strategy's steps)")
    return True


def parse_settings(timeout: object, on_timeout: object, interval: int | None) -> ApprovalSettings:
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not 2 <= timeout <= MAX_TIMEOUT_SECONDS:
        raise InvalidDeploymentRequest(f"'approvalTimeoutSeconds' {timeout!r} must be an integer in "
                                       f"[2, {MAX_TIMEOUT_SECONDS}]")
    if on_timeout not in (ROLLBACK, PROMOTE):
        raise InvalidDeploymentRequest(f"'onApprovalTimeout' must be {ROLLBACK!r} or {PROMOTE!r}")
    if interval is not None and timeout < 2 * interval:
        raise InvalidDeploymentRequest(
            f"'approvalTimeoutSeconds' {timeout} must be at least twice checkIntervalSeconds ({interval}): the "
            "wait is checked and heartbeated every interval, and the heartbeat must arrive before the timeout")
    return ApprovalSettings(timeout, on_timeout)


def watch_checks(gates: int, settings: ApprovalSettings, interval: int) -> int:
    """Health checks the approval waits may take at most (each gate waits at most its timeout)."""
    return gates * -(-settings.timeout_seconds // interval)


@dataclass(frozen=True)
class PromoteRequest:
    """What ``lambda-deployer promote`` wrote on the lock: ``mode`` ``next`` or ``full``, who, when (its id)."""

    mode: str
    by: str
    at: str

    def to_json(self) -> dict:
        return {"mode": self.mode, "by": self.by, "at": self.at}

    @classmethod
    def from_json(cls, data: dict | None) -> PromoteRequest | None:
        return cls(data["mode"], data.get("by", "unknown"), data["at"]) if data else None
