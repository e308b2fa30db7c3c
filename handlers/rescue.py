"""Rescue: when an execution ends without cleaning up, restore the invariant it was responsible for.

Step Functions runs no ``Catch`` on StopExecution or on an execution timeout, and a rollback can fail for
good; EventBridge reports each of those ends ("Step Functions Execution Status Change": ABORTED,
TIMED_OUT, FAILED). If the execution still holds its function's lock, this puts alias, function-name tag
and ``$LATEST`` back on the stable version recorded with the lock, records the outcome and releases the
lock. Delivery is best effort; the reconciler repeats the same repair on a schedule.
"""

from __future__ import annotations

import json

from handlers import deployments
from handlers.errors import InvalidDeploymentRequest, RollbackIncomplete
from handlers.model import ROLLBACK, Deployment, parse_function
from handlers.restore import Restored, restore
from handlers.task import count, event_handler, logger
from handlers.timing import seconds_since

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


def rescue(lock: deployments.Lock, status: str) -> Restored:
    """Back to the stable version the lock's deployment recorded, then record and release.

    An execution that SUCCEEDED but could not write its record finished its work: the record is closed
    and the lock released, nothing is restored."""
    deployment = Deployment.from_json(lock.deployment)
    if status == "SUCCEEDED":
        deployments.record(lock.function, lock.execution, lock.started_at, finishedAt=deployments.now(),
                           outcome="rolledBack" if deployment.kind == ROLLBACK else "deployed")
        deployments.release(lock.function, lock.execution)
        return Restored()
    restored = restore(deployment)
    if restored.left:
        raise RollbackIncomplete(f"{lock.function} after {status}: could not restore {'; '.join(restored.left)}")
    outcome = {"ABORTED": "aborted", "TIMED_OUT": "timedOut"}.get(status, "failed")
    deployments.record(lock.function, lock.execution, lock.started_at, outcome=outcome,
                       cause=f"execution ended {status}; restored by the deployer: {restored.summary}",
                       finishedAt=deployments.now(), durationSeconds=seconds_since(lock.started_at))
    deployments.release(lock.function, lock.execution)
    count("DeploymentRescued")
    logger.info("rescued", function=lock.function, execution=lock.execution, status=status,
                restored=restored.done)
    return restored


def _function_of(raw_input: str | None) -> str | None:
    try:
        request = json.loads(raw_input or "{}")
        return parse_function(request.get("function")).name if isinstance(request, dict) else None
    except (ValueError, InvalidDeploymentRequest):
        return None
