"""WatchApproval: while a deployment waits for approval, its traffic is still checked, and the wait kept alive.

The other branch of AwaitApproval (statemachine/deploy.asl.json) runs this every check interval. A watched
alarm in ALARM fails the branch, and with it the wait: the deployment rolls back (the alarm's own event has
usually stopped it already, handlers/alarm_fired.py). Otherwise it heartbeats the gate's task token, which
keeps the wait's HeartbeatSeconds from running out; Step Functions answers TaskTimedOut once the task is
closed ("The task token has either expired or the task associated with the token has already been closed",
SendTaskHeartbeat API reference), which is how this branch learns that the wait ended (approved, rejected or
timed out) and ends too.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from handlers.aws import deployments
from handlers.aws.alarms import alarm_states
from handlers.aws.clients import client, error_code
from handlers.aws.task import count, logger, task
from handlers.domain import progress
from handlers.domain.errors import DeploymentUnhealthy
from handlers.domain.health import judge
from handlers.domain.model import Deployment

WAIT_ENDED = ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken")


@task
def handler(event: dict) -> dict:
    deployment = Deployment.from_json(event["deployment"])
    traffic = progress.Traffic.from_json(event["traffic"])
    states = alarm_states(deployment.alarms)
    verdict = judge(deployment.alarms, states, deployment.ignored_alarms)
    if not verdict.healthy:
        count("HealthCheckFailed")
        raise DeploymentUnhealthy(f"{verdict.reason} with {traffic.weight:g}% of traffic on the new version, "
                                  "while waiting for approval")
    lock = deployments.holder(deployment.function_name)
    token = ((lock.approval or {}).get("taskToken") if lock and lock.execution == event["executionId"] else None)
    if not token:  # the wait's own task has not written its token yet: watch on
        return {"watch": {"ended": False, "alarms": states}}
    try:
        client("stepfunctions").send_task_heartbeat(taskToken=token)
    except ClientError as exc:
        if error_code(exc) not in WAIT_ENDED:
            raise
        logger.info("the approval wait ended", answer=error_code(exc))
        return {"watch": {"ended": True, "alarms": states}}
    return {"watch": {"ended": False, "alarms": states}}
