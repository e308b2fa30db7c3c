"""Rescue: when an execution ends without cleaning up, restore the invariant it was responsible for.

Step Functions runs no ``Catch`` on StopExecution or on an execution timeout, and a rollback can fail for
good; EventBridge reports each of those ends ("Step Functions Execution Status Change": ABORTED,
TIMED_OUT, FAILED, with the execution's ``error``). If the execution still holds its function's lock, this
puts alias, function-name tag and ``$LATEST`` back on the stable version recorded with the lock, records the
outcome and releases the lock. Delivery is best effort; the reconciler repeats the same repair on a schedule.

An execution that ended ``RollbackFailed`` is counted (``RollbackFailed``, the metric the stack alarms on).
A rescue that cannot restore sends "Deployment Failed" (a person has to look) and fails, so Lambda
retries it and then hands the event to the on-failure destination.
"""

from __future__ import annotations

import json

from handlers.aws import deployments, notify
from handlers.aws.restore import rescue
from handlers.aws.task import count, event_handler
from handlers.domain import notifications
from handlers.domain.errors import InvalidDeploymentRequest, RollbackIncomplete
from handlers.domain.model import Deployment, parse_function

ENDED_BADLY = {"ABORTED", "TIMED_OUT", "FAILED"}
ROLLBACK_FAILED = "RollbackFailed"  # the error of the definition's Fail state of that name


@event_handler
def handler(event: dict) -> dict:
    detail = event.get("detail", {})
    status, execution, error = detail.get("status"), detail.get("executionArn"), detail.get("error")
    if status == "FAILED" and error == ROLLBACK_FAILED:
        count(ROLLBACK_FAILED)
    function = _function_of(detail.get("input"))
    if status not in ENDED_BADLY or not function:
        return {"rescued": False, "reason": f"nothing to rescue for a {status} execution"}
    lock = deployments.holder(function)
    if not lock or lock.execution != execution:
        return {"rescued": False, "reason": f"{execution} holds no lock of {function}: it cleaned up itself"}
    try:
        restored = rescue(lock, status, error)
    except RollbackIncomplete as exc:
        notify.publish(notifications.failed(Deployment.from_json(lock.deployment), execution, reason=str(exc),
                                            error=error or status))
        raise
    return {"rescued": True, "function": function, "restored": restored.done}


def _function_of(raw_input: str | None) -> str | None:
    try:
        request = json.loads(raw_input or "{}")
        return parse_function(request.get("function")).name if isinstance(request, dict) else None
    except (ValueError, InvalidDeploymentRequest):
        return None
