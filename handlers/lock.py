"""Lock: take the function's deployment lock (the first mutation) and open the deployment's record.

One deployment per function at a time; a second one fails fast with DeploymentInProgress naming the
running execution. A rollback request interrupts a running deployment: it stops that execution (no Catch
runs on a stop, so nothing of it fights the rollback) and takes its lock over.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from handlers.aws import deployments, notify
from handlers.aws.clients import client, error_code
from handlers.aws.task import logger, task
from handlers.domain import notifications
from handlers.domain.errors import DeploymentInProgress
from handlers.domain.model import ROLLBACK, ROLLBACK_REQUESTED, Deployment, stop_cause
from handlers.domain.timing import seconds_since


@task
def handler(event: dict) -> dict:
    deployment = Deployment.from_json(event["deployment"])
    execution, started = event["executionId"], event["startedAt"]
    function = deployment.function_name
    cause = stop_cause(execution.rsplit(":", 1)[-1], deployment.requested_by)
    if interrupted := event.get("interrupt"):
        _stop(interrupted, cause)
    lock = deployments.acquire(function, execution, started, event["deployment"], take_over=interrupted)
    if lock is None:
        holder = deployments.holder(function)
        raise DeploymentInProgress(deployments.busy(holder) if holder else
                                   f"{function} was being deployed a moment ago; try again")
    if interrupted and event.get("interruptStartedAt"):
        # A stopped execution runs no Catch, and its lock is ours now: nothing else would close its record
        # (unless it ended by itself before the stop, and its record already says how).
        deployments.record(function, interrupted, event["interruptStartedAt"], only_if_running=True,
                           outcome="aborted", finishedAt=deployments.now(),
                           cause=f"{cause}; it returns alias {deployment.alias} to version {deployment.stable.version}",
                           durationSeconds=seconds_since(event["interruptStartedAt"]))
    deployments.record(
        function, execution, started, kind=deployment.kind, outcome=deployments.RUNNING,
        fromVersion=deployment.from_version, toVersion=deployment.to_version,
        **{"code" if deployment.zip else "image": deployment.to_image[0]},
        strategy=deployment.plan.name, requestedBy=deployment.requested_by,
        # zip: where the version left behind came from, so a later rollback request can restore its package
        fromCode=deployment.stable.image if deployment.zip and deployment.stable and deployment.kind != ROLLBACK
        else None,
    )
    notify.publish(notifications.started(deployment, execution))
    return {}


def _stop(execution: str, cause: str) -> None:
    try:
        client("stepfunctions").stop_execution(executionArn=execution, error=ROLLBACK_REQUESTED, cause=cause)
    except ClientError as exc:
        if error_code(exc) != "ExecutionDoesNotExist":
            raise
    logger.info("stopped the deployment in progress", stopped=execution)
