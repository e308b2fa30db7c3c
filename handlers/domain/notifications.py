"""Lifecycle notifications: what the deployer tells EventBridge when a deployment changes (docs/events.md).

One event per change, from source ``lambda-deployer`` on the account's default bus, with a detail-type
naming the change and the same detail keys for every type (a key that does not apply is null), versioned by
``schemaVersion``: a consumer written for version 1 keeps working when keys are added; a key is never
renamed or given another meaning without a new version. Pure: the AWS edge (handlers.aws.notify) sends them.

``weight`` is the share (percent) of the alias' traffic that ``toVersion`` serves after the change; ``step``
counts from 1. ``summary`` is one line for people (the stack's topic sends it as the message); it never
holds a double quote or a control character, so it drops into an EventBridge input template as it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from handlers.domain.model import ROLLBACK, Deployment
from handlers.domain.text import printable

SOURCE = "lambda-deployer"
SCHEMA_VERSION = "1"

STARTED = "Deployment Started"
TRAFFIC_SHIFTED = "Traffic Shifted"
PROMOTED = "Deployment Promoted"
ROLLED_BACK = "Deployment Rolled Back"
FAILED = "Deployment Failed"
RESCUED = "Deployment Rescued"
APPROVAL_NEEDED = "Approval Needed"
DETAIL_TYPES = (STARTED, TRAFFIC_SHIFTED, APPROVAL_NEEDED, PROMOTED, ROLLED_BACK, FAILED, RESCUED)

REPAIR = "repair"
"""``kind`` of a change no deployment made: the reconciler put back an alias it found weighted."""

MAX_REASON = 1000  # characters: a cause can carry a long AWS message; the event stays far below 256 KB
DETAIL_KEYS = ("schemaVersion", "function", "alias", "execution", "kind", "fromVersion", "toVersion", "fromImage",
               "toImage", "weight", "step", "steps", "strategy", "reason", "error", "restored", "requestedBy",
               "time", "summary")


@dataclass(frozen=True)
class Notification:
    detail_type: str
    function: str
    function_arn: str
    alias: str
    execution: str | None
    kind: str
    summary: str
    time: str = ""  # ISO 8601, UTC: set when it is sent
    from_version: str | None = None
    to_version: str | None = None
    from_image: str | None = None
    to_image: str | None = None
    weight: float | None = None
    step: int | None = None
    steps: int | None = None
    strategy: str | None = None
    reason: str | None = None
    error: str | None = None
    restored: tuple[str, ...] = field(default=())
    requested_by: str | None = None

    @property
    def resources(self) -> list[str]:
        """The ARNs the event is about (EventBridge's ``resources``): the function, and the execution."""
        return [self.function_arn, *([self.execution] if self.execution else [])]

    def detail(self) -> dict:
        return {
            "schemaVersion": SCHEMA_VERSION,
            "function": self.function,
            "alias": self.alias,
            "execution": self.execution,
            "kind": self.kind,
            "fromVersion": self.from_version,
            "toVersion": self.to_version,
            "fromImage": self.from_image,
            "toImage": self.to_image,
            "weight": self.weight,
            "step": self.step,
            "steps": self.steps,
            "strategy": self.strategy,
            "reason": _clip(self.reason),
            "error": self.error,
            "restored": list(self.restored),
            "requestedBy": self.requested_by,
            "time": self.time,
            "summary": _line(self.summary),
        }


def _clip(text: str | None) -> str | None:
    return text if text is None or len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


def _line(text: str) -> str:
    return _clip(printable(text).replace('"', "'"))


def _common(detail_type: str, deployment: Deployment, execution: str | None, summary: str, **fields) -> Notification:
    return Notification(detail_type, deployment.function_name, deployment.function_arn, deployment.alias, execution,
                        fields.pop("kind", deployment.kind), summary, strategy=deployment.plan.name,
                        steps=len(deployment.plan.steps), requested_by=deployment.requested_by, **fields)


def _name(deployment: Deployment) -> str:
    return f"{deployment.function_name}:{deployment.alias}"


def _version(version: str | None) -> str:
    return f"version {version}" if version else "the state before the deployment"


def _by(deployment: Deployment) -> str:
    return f", requested by {deployment.requested_by}" if deployment.requested_by else ""


def started(deployment: Deployment, execution: str) -> Notification:
    """The lock is taken: from here on the deployment changes things (a deploy, or a rollback request)."""
    if deployment.kind == ROLLBACK:
        stable = deployment.stable
        return _common(STARTED, deployment, execution,
                       f"{_name(deployment)}: rolling back from {_version(deployment.current_version)} to "
                       f"{_version(stable.version)}{_by(deployment)}",
                       from_version=deployment.current_version, to_version=stable.version,
                       from_image=deployment.target.uri, to_image=stable.image)
    stable = deployment.stable
    over = f" over {_version(stable.version)}" if stable else " (first deployment)"
    return _common(STARTED, deployment, execution,
                   f"{_name(deployment)}: deploying {_artifact(deployment)} "
                   f"({deployment.plan.name}){over}{_by(deployment)}",
                   from_version=stable.version if stable else None, from_image=stable.image if stable else None,
                   to_image=deployment.target.uri)


def _artifact(deployment: Deployment) -> str:
    """What moves in, short: ``repository@sha256:…`` for an image, the package's ``s3://`` URI for a zip."""
    if deployment.zip:
        return deployment.target.uri
    return f"{deployment.target.repository}@{deployment.target.short_digest}"


def traffic_shifted(deployment: Deployment, version: str, weight: float, step: int, execution: str) -> Notification:
    """``step`` is the index into the plan (0 for the first); the event counts from 1."""
    stable = deployment.stable
    return _common(TRAFFIC_SHIFTED, deployment, execution,
                   f"{_name(deployment)}: {weight:g}% of traffic on version {version} (step {step + 1} of "
                   f"{len(deployment.plan.steps)}); {_version(stable.version)} serves the rest",
                   from_version=stable.version, to_version=version, from_image=stable.image,
                   to_image=deployment.target.uri, weight=weight, step=step + 1)


def promoted(deployment: Deployment, version: str, execution: str) -> Notification:
    stable = deployment.stable
    was = f" (was {_version(stable.version)})" if stable and stable.version != version else ""
    return _common(PROMOTED, deployment, execution,
                   f"{_name(deployment)}: version {version} serves all traffic{was}",
                   from_version=stable.version if stable else None, to_version=version,
                   from_image=stable.image if stable else None, to_image=deployment.target.uri, weight=100.0)


def rolled_back(deployment: Deployment, execution: str, *, reason: str, error: str | None,
                restored: Iterable[str], left_version: str | None, kept_alias: bool = False) -> Notification:
    """Traffic is back on the stable version (``kept_alias``: someone else's alias change was left in place).

    ``left_version`` is the version traffic moved away from (None when none was published yet)."""
    stable = deployment.stable
    to_version = None if kept_alias or not stable else stable.version
    where = ("the alias as someone else changed it" if kept_alias else
             _version(to_version) if to_version else "how it was before (first deployment)")
    by = _by(deployment) if deployment.kind == ROLLBACK else ""
    return _common(ROLLED_BACK, deployment, execution, f"{_name(deployment)}: rolled back to {where}: {reason}{by}",
                   from_version=left_version, to_version=to_version, from_image=deployment.target.uri,
                   to_image=None if kept_alias else (stable.image if stable else deployment.latest_image),
                   weight=100.0 if to_version else None, reason=reason, error=error, restored=tuple(restored))


def failed(deployment: Deployment, execution: str, *, reason: str, error: str) -> Notification:
    """The deployer could not put the function back: a person has to look (``reason`` says what is left)."""
    stable = deployment.stable
    return _common(FAILED, deployment, execution,
                   f"{_name(deployment)}: could not be restored to {_version(stable.version if stable else None)} "
                   f"after {error}: {reason}",
                   to_version=stable.version if stable else None, from_image=deployment.target.uri,
                   to_image=stable.image if stable else deployment.latest_image, reason=reason, error=error)


def rescued(deployment: Deployment, execution: str | None, *, reason: str, error: str | None,
            restored: Iterable[str], kind: str | None = None) -> Notification:
    """What an execution left behind (or an alias no deployment was responsible for) is put back."""
    stable = deployment.stable
    return _common(RESCUED, deployment, execution,
                   f"{_name(deployment)}: back on {_version(stable.version if stable else None)}: {reason}",
                   kind=kind or deployment.kind, to_version=stable.version if stable else None,
                   from_image=deployment.target.uri, to_image=stable.image if stable else deployment.latest_image,
                   weight=100.0 if stable else None, reason=reason, error=error, restored=tuple(restored))


def approval_needed(deployment: Deployment, version: str, execution: str, *, weight: float, gate: int,
                    timeout_at: str, on_timeout: str) -> Notification:
    """The deployment waits at an approval gate (``gate`` as in Plan.approvals), traffic held at ``weight``."""
    steps = len(deployment.plan.steps)
    before = "promotion" if gate >= steps else f"step {gate + 1} of {steps}"
    stable = deployment.stable
    return _common(APPROVAL_NEEDED, deployment, execution,
                   f"{_name(deployment)}: waiting for approval before {before} ({weight:g}% of traffic on the new "
                   f"version); lambda-deployer approve {deployment.function_name} or reject it; until {timeout_at}, "
                   f"then {on_timeout}",
                   from_version=stable.version if stable else None, to_version=version,
                   from_image=stable.image if stable else None, to_image=deployment.target.uri, weight=weight,
                   step=gate + 1 if gate < steps else None, reason=f"approval needed before {before}")
