"""RequestApproval: the approval gate's task token goes on the lock, and people hear that a deployment waits.

The state machine invokes this with ``lambda:invoke.waitForTaskToken`` and then waits for the token to be
answered (``lambda-deployer approve`` / ``reject``), for its timeout, or for its heartbeat to stop
(AwaitApproval in statemachine/deploy.asl.json); what this returns is not used. A retried invocation gets a
new token, and the lock then holds the new one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handlers.aws import deployments, notify
from handlers.aws.task import count, logger, task
from handlers.domain import notifications, progress
from handlers.domain.errors import ConcurrentModification
from handlers.domain.model import Deployment, Release


@task
def handler(event: dict) -> dict:
    deployment = Deployment.from_json(event["deployment"])
    traffic = progress.Traffic.from_json(event["traffic"])
    gate = traffic.step if traffic.then == progress.SHIFT else len(deployment.plan.steps)  # as Plan.approvals
    timeout_at = (datetime.now(UTC) + timedelta(seconds=deployment.approval.timeout_seconds)).isoformat(
        timespec="seconds")
    approval = {"taskToken": event["taskToken"], "gate": gate, "weight": traffic.weight,
                "requestedAt": deployments.now(), "timeoutAt": timeout_at, "onTimeout": deployment.approval.on_timeout}
    if not deployments.await_approval(deployment.function_name, event["executionId"], approval):
        raise ConcurrentModification(f"the lock on {deployment.function_name} is no longer this deployment's")
    count("ApprovalRequested")
    logger.info("waiting for approval", gate=gate, weight=traffic.weight, timeout_at=timeout_at)
    version = Release.from_json(event["release"]).version
    notify.publish(notifications.approval_needed(deployment, version, event["executionId"], weight=traffic.weight,
                                                 gate=gate, timeout_at=timeout_at,
                                                 on_timeout=deployment.approval.on_timeout))
    return {}
