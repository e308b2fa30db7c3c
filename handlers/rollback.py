"""Rollback: traffic, function-name tag and ``$LATEST`` back on the stable version (after a failed preview, its
alias back where the preview found it).

After a failure (``$.failure`` set by a Catch) it records the outcome, releases the lock and names the
error the execution ends with. For a rollback request (RestoreVersion) it only restores; Finalize ends it. A
preview enters it as ReleaseLatest before its alias moves: ``$LATEST`` back on production's release, nothing
announced (nothing was rolled back).
Retried hard by the state machine; what cannot be restored fails the task with the list of what is left.
"""

from __future__ import annotations

import json

from handlers.aws import deployments, notify
from handlers.aws.restore import restore
from handlers.aws.task import count, logger, task
from handlers.domain import check_report, notifications
from handlers.domain.errors import RollbackIncomplete
from handlers.domain.model import ROLLBACK, Deployment, Release
from handlers.domain.timing import seconds_since


@task
def handler(event: dict) -> dict:
    deployment = Deployment.from_json(event["deployment"])
    failure = event.get("failure")
    concurrent = bool(failure) and failure.get("Error") == "ConcurrentModification"
    # Without a failure a preview enters this as ReleaseLatest, before its alias moves: only $LATEST goes back.
    restored = restore(deployment, keep_alias=concurrent, preview_alias=bool(failure))
    reason = failure_reason(failure) if failure else "rollback requested"
    if restored.left:
        raise RollbackIncomplete(
            f"after {reason}: could not restore {'; '.join(restored.left)}"
            + (f" (restored: {', '.join(restored.done)})" if restored.done else "")
        )
    logger.info("restored", restored=restored.done, execution_seconds=seconds_since(event.get("startedAt")))
    execution = event["executionId"]
    if not failure:
        if deployment.kind == ROLLBACK:  # a preview's ReleaseLatest rolls nothing back: nothing to announce
            _notify(deployment, event, reason=reason, error=None, restored=restored.done)
        return {"restored": restored.done}
    count("DeploymentRolledBack")
    error = "ConcurrentModification" if concurrent else "DeploymentRolledBack"
    cause = f"{reason}. Rolled back: {restored.summary}."
    # A check that failed is the last check; otherwise the last one that passed is (the cause says the rest).
    stopped_by_check = failure.get("Error") in check_report.CHECK_FAILURES
    check = check_report.failed(reason) if stopped_by_check else check_report.summary(event)
    deployments.record(deployment.function_name, execution, event["startedAt"], outcome=error, cause=cause,
                       finishedAt=deployments.now(), durationSeconds=seconds_since(event.get("startedAt")),
                       lastCheck=check_report.encode(check))
    deployments.release(deployment.function_name, execution)
    # The cause of each rollback, for the dashboard's table (a Logs Insights query on these lines).
    logger.info("rolled back", error=failure.get("Error"), reason=reason)
    _notify(deployment, event, reason=reason, error=failure.get("Error"), restored=restored.done, kept_alias=concurrent)
    return {"outcome": {"error": error, "cause": cause}}


def _notify(deployment: Deployment, event: dict, *, reason: str, error: str | None, restored: list[str],
            kept_alias: bool = False) -> None:
    """Sent once the rollback is complete (restored, recorded, released), so a retried Rollback that failed
    before the end does not send it twice."""
    if deployment.kind == ROLLBACK:
        left = deployment.current_version
    else:
        left = Release.from_json(event["release"]).version if event.get("release") else None
    notify.publish(notifications.rolled_back(deployment, event["executionId"], reason=reason, error=error,
                                             restored=restored, left_version=left, kept_alias=kept_alias))


def failure_reason(failure: dict) -> str:
    """``Error: message`` from a Catch's output, unwrapping the Lambda error JSON in ``Cause``."""
    error, cause = failure.get("Error", "Error"), failure.get("Cause", "")
    try:
        message = json.loads(cause).get("errorMessage", cause)
    except (ValueError, AttributeError):
        message = cause
    return f"{error}: {message}" if message else error
