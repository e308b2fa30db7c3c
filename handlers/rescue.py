"""Rescue: when an execution ends without cleaning up, restore the invariant it was responsible for.

Step Functions runs no ``Catch`` on StopExecution or on an execution timeout, and a rollback can fail for
good; EventBridge reports each of those ends ("Step Functions Execution Status Change": ABORTED,
TIMED_OUT, FAILED). If the execution still holds its function's lock, this puts alias, function-name tag
and ``$LATEST`` back on the stable version recorded with the lock, records the outcome and releases the
lock. Delivery is best effort; the reconciler repeats the same repair on a schedule.
"""

from __future__ import annotations

import json

from handlers.aws import deployments
from handlers.aws.restore import rescue
from handlers.aws.task import event_handler
from handlers.domain.errors import InvalidDeploymentRequest
from handlers.domain.model import parse_function

ENDED_BADLY = {"ABORTED", "TIMED_OUT", "FAILED"}


@event_handler
def handler(event: dict) -> dict:
    detail = event.get("detail", {})
    status, execution = detail.get("status"), detail.get("executionArn")
    function = _function_of(detail.get("input"))
    if status not in ENDED_BADLY or not function:
        return {"rescued": False, "reason": f"nothing to rescue for a {status} execution"}
    lock = deployments.holder(function)
    if not lock or lock.execution != execution:
        return {"rescued": False, "reason": f"{execution} holds no lock of {function}: it cleaned up itself"}
    restored = rescue(lock, status)
    return {"rescued": True, "function": function, "restored": restored.done}


def _function_of(raw_input: str | None) -> str | None:
    try:
        request = json.loads(raw_input or "{}")
        return parse_function(request.get("function")).name if isinstance(request, dict) else None
    except (ValueError, InvalidDeploymentRequest):
        return None
