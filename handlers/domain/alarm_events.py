"""An alarm's own state-change event → the rollback requests it calls for. Pure: no AWS calls.

CloudWatch sends "CloudWatch Alarm State Change" to EventBridge on every transition, with durable
delivery (CloudWatch User Guide, "Alarm events and EventBridge"): ``detail.alarmName``, ``detail.state``
(``value``, ``timestamp``) and the alarm's ARN as the event's only resource, for metric and composite alarms
alike. A deployment watches alarms by name (its request's ``alarms``), recorded with its lock; the event
names the alarm both ways, so either form matches.

A deployment is rolled back by the rollback request a person would send (``{"action": "rollback", …}``):
it stops the deployment and takes its lock over. Its execution name is derived from the deployment's
execution alone, so a redelivered event, or a second watched alarm firing, finds that name taken
(StartExecution: "Executions with the same name and input are considered idempotent"; a different input or
a closed execution is ExecutionAlreadyExists) and nothing starts twice.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from handlers.domain.model import DEPLOY, Deployment

ALARM = "ALARM"
MAX_NAME = 80  # Step Functions' limit on execution names
MAX_REQUESTED_BY = 256  # the request's limit (handlers.domain.model)
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class AlarmFired:
    """The transition an event reports: the alarm (name, ARN), its new state and when it changed."""

    name: str
    arn: str | None
    state: str
    at: datetime | None

    @property
    def identities(self) -> frozenset[str]:
        """What a deployment may call this alarm: its name or its ARN."""
        return frozenset(i for i in (self.name, self.arn) if i)


def parse_event(event: dict) -> AlarmFired | None:
    """The alarm transition of an EventBridge event; None when the event is not one."""
    detail = event.get("detail") if isinstance(event, dict) else None
    if not isinstance(detail, dict) or not isinstance(detail.get("alarmName"), str):
        return None
    state = detail.get("state") if isinstance(detail.get("state"), dict) else {}
    resources = [r for r in event.get("resources") or [] if isinstance(r, str) and ":alarm:" in r]
    return AlarmFired(detail["alarmName"], resources[0] if resources else None, str(state.get("value", "")),
                      _moment(state.get("timestamp")) or _moment(event.get("time")))


def _moment(text: object) -> datetime | None:
    """CloudWatch's ``2019-10-02T17:04:40.985+0000``, EventBridge's ``2019-10-02T17:04:40Z``, or ISO 8601."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


WATCHED, IGNORED = "watched", "ignored"


def watching(deployment: Deployment, alarm: AlarmFired) -> str | None:
    """``WATCHED`` when the deployment judges this alarm, ``IGNORED`` when it watches it but does not judge it
    (a hotfix started while it was already firing: ``allowFiringAlarms``), else None."""
    if deployment.kind != DEPLOY:
        return None
    if alarm.identities & set(deployment.ignored_alarms):
        return IGNORED
    return WATCHED if alarm.identities & set(deployment.alarms) else None


def before_start(alarm: AlarmFired, started_at: str) -> bool:
    """The transition happened before the deployment started: an event delivered late (EventBridge and
    Lambda retry for up to their event age) about a deployment that has ended since, not about this one."""
    started = _moment(started_at)
    return bool(alarm.at and started and alarm.at < started)


def rollback_name(function: str, deployment_execution: str) -> str:
    """``{function}-rollback-on-alarm-{12 hex of the deployment's execution ARN}``, at most 80 characters,
    ``[A-Za-z0-9_-]`` only: the same for every event about that deployment."""
    key = hashlib.sha256(deployment_execution.encode()).hexdigest()[:12]
    tail = f"-rollback-on-alarm-{key}"
    return _UNSAFE.sub("-", function)[:MAX_NAME - len(tail)].rstrip("-") + tail


def rollback_request(deployment: Deployment, alarm: AlarmFired) -> dict | None:
    """The rollback request that returns the deployment's alias to the version it started from; None for a
    first deployment (no version to return to: its own next check rolls it back)."""
    if deployment.stable is None:
        return None
    return {"action": "rollback", "function": deployment.function_name, "alias": deployment.alias,
            "toVersion": deployment.stable.version, "requestedBy": f"alarm {alarm.name}"[:MAX_REQUESTED_BY]}
