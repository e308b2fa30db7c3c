"""Sending lifecycle notifications: one ``events:PutEvents`` per change, to the default bus.

Nobody waits for a notification, so sending one must never fail or roll back a deployment: an AWS error
(after botocore's retries) and an entry EventBridge refused are logged and counted as ``NotificationFailed``,
never raised. PutEvents answers 200 even when it refuses an entry: the refusal is the entry's ``ErrorCode``
and the answer's ``FailedEntryCount`` ("Handling failures with PutEvents", EventBridge user guide).
Delivery is at least once: a task the state machine retries after it sent one may send it again.
"""

from __future__ import annotations

import json
from dataclasses import replace

from handlers.aws.clients import client
from handlers.aws.deployments import now
from handlers.aws.task import count, logger
from handlers.domain.notifications import SOURCE, Notification

SENT, FAILED = "NotificationSent", "NotificationFailed"


def publish(notification: Notification) -> bool:
    """Send ``notification``, stamped with the time now; False (logged, counted) when it could not be sent."""
    notification = replace(notification, time=now())
    entry = {"Source": SOURCE, "DetailType": notification.detail_type, "Resources": notification.resources,
             "Detail": json.dumps(notification.detail())}
    try:
        answer = client("events").put_events(Entries=[entry])
    except Exception as exc:  # whatever it is, the deployment goes on
        return _failed(notification, f"{type(exc).__name__}: {exc}")
    if answer.get("FailedEntryCount"):
        refused = (answer.get("Entries") or [{}])[0]
        return _failed(notification, f"{refused.get('ErrorCode')}: {refused.get('ErrorMessage')}")
    count(SENT)
    return True


def _failed(notification: Notification, why: str) -> bool:
    count(FAILED)
    logger.warning("notification not sent", detail_type=notification.detail_type, error=why)
    return False
