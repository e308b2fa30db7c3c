"""AlarmFired: a CloudWatch alarm went to ALARM; roll back, now, every running deployment that judges it.

Without this, a firing alarm is noticed at the deployment's next check, up to ``checkIntervalSeconds`` later.
The EventBridge rule hears every transition to ALARM in the account (infra.alarm_rollback says why not
fewer); the locks index says which deployments run and what they watch (one Query). A deployment is skipped
when it ignores the alarm (a hotfix started while it was firing), when its execution has ended (the rescue
and the reconciler restore those), when it started after the transition (a late event), or when it is a
first deployment (nothing to return to). Each other one gets the rollback request a person would send, under
a name derived from the deployment, so a redelivered event starts nothing twice.

The periodic check stays the backstop: if this function, its rule or the lookup fails, the next check sees
the alarm. Starting a rollback is the only mutation; it is idempotent, so Lambda's own retry is harmless.
"""

from __future__ import annotations

import json
import os

from botocore.exceptions import ClientError

from handlers.aws import deployments
from handlers.aws.clients import client, error_code
from handlers.aws.task import count, event_handler, logger
from handlers.domain import alarm_events
from handlers.domain.catalog import STATE_MACHINE_ARN
from handlers.domain.model import Deployment


@event_handler
def handler(event: dict) -> dict:
    alarm = alarm_events.parse_event(event)
    if alarm is None or alarm.state != alarm_events.ALARM:
        return {"alarm": alarm.name if alarm else None, "rollbacks": [], "skipped": ["not a transition to ALARM"]}
    state_machine = os.environ[STATE_MACHINE_ARN]
    rollbacks, skipped, failed = [], [], None
    for lock in deployments.locks():
        try:
            deployment = Deployment.from_json(lock.deployment)
        except (KeyError, TypeError, ValueError):
            skipped.append(f"{lock.function}: its lock records no deployment to judge")
            continue
        why_not = _why_not(deployment, lock, alarm)
        try:
            if why_not is None and (status := _status(lock.execution)) != "RUNNING":
                why_not = f"its execution is {status} (the rescue restores it)"
            if why_not:
                if why_not != UNWATCHED:
                    skipped.append(f"{lock.function}: {why_not}")
                continue
            name = alarm_events.rollback_name(lock.function, lock.execution)
            started = _start(state_machine, name, alarm_events.rollback_request(deployment, alarm))
        except ClientError as exc:  # the other deployments still get their rollback; Lambda retries this one
            logger.exception("starting the rollback failed", function=lock.function)
            failed = failed or exc
            continue
        rollbacks.append({"function": lock.function, "stopping": lock.execution_name, "rollback": name,
                          "started": started})
    count("AlarmRollbacksStarted", sum(r["started"] for r in rollbacks))
    logger.info("alarm fired", alarm=alarm.name, rollbacks=rollbacks, skipped=skipped)
    if failed:
        raise failed
    return {"alarm": alarm.name, "rollbacks": rollbacks, "skipped": skipped}


UNWATCHED = "unwatched"  # not worth a line in the answer: most locks will be about other alarms


def _why_not(deployment: Deployment, lock: deployments.Lock, alarm: alarm_events.AlarmFired) -> str | None:
    """Why this lock's deployment is not rolled back for this alarm, or None."""
    watching = alarm_events.watching(deployment, alarm)
    if watching is None:
        return UNWATCHED
    if watching == alarm_events.IGNORED:
        return f"{alarm.name} was already firing when it started (allowFiringAlarms): not judged"
    if alarm_events.before_start(alarm, lock.started_at):
        return f"{alarm.name} changed state before it started"
    if alarm_events.rollback_request(deployment, alarm) is None:
        return "a first deployment has no version to return to; its next check rolls it back"
    return None


def _status(execution: str) -> str:
    try:
        return client("stepfunctions").describe_execution(executionArn=execution)["status"]
    except ClientError as exc:
        if error_code(exc) == "ExecutionDoesNotExist":
            return "gone"
        raise


def _start(state_machine: str, name: str, request: dict) -> bool:
    """Start the rollback. True also when this very request runs under that name already (StartExecution
    answers it); False when the name is taken otherwise (another alarm of the same deployment was first, or
    that rollback has ended): nothing is started twice."""
    try:
        client("stepfunctions").start_execution(stateMachineArn=state_machine, name=name,
                                                input=json.dumps(request, sort_keys=True))
    except ClientError as exc:
        if error_code(exc) == "ExecutionAlreadyExists":
            return False
        raise
    return True
