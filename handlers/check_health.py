"""CheckHealth: read the watched alarms once; any in ALARM (or gone) rolls the deployment back."""

from __future__ import annotations

from handlers.aws import deployments
from handlers.aws.alarms import alarm_states
from handlers.aws.task import count, logger, task
from handlers.domain import progress
from handlers.domain.approval import PromoteRequest
from handlers.domain.errors import DeploymentUnhealthy
from handlers.domain.health import judge
from handlers.domain.model import Deployment


@task
def handler(event: dict) -> dict:
    deployment = Deployment.from_json(event["deployment"])
    traffic = progress.Progress.from_json(event["traffic"])
    states = alarm_states(deployment.alarms)
    verdict = judge(deployment.alarms, states, deployment.ignored_alarms)
    if not verdict.healthy:
        count("HealthCheckFailed")
        raise DeploymentUnhealthy(
            f"{verdict.reason} with {traffic.weight:g}% of traffic on the new version "
            f"(step {traffic.step + 1} of {len(deployment.plan.steps)})"
        )
    logger.info("healthy", alarms=states, weight=traffic.weight)
    advanced = progress.checked(deployment.plan, traffic, deployment.check_interval_seconds)
    advanced = _promote_requested(deployment, advanced, event["executionId"])
    return {"traffic": advanced.to_json(), "alarms": states}


def _promote_requested(deployment: Deployment, advanced: progress.Progress, execution: str) -> progress.Progress:
    """A person's ``lambda-deployer promote`` waiting on the lock (one GetItem a check), applied after a check
    that passed (handlers.domain.approval)."""
    lock = deployments.holder(deployment.function_name)
    request = PromoteRequest.from_json(lock.promote) if lock and lock.execution == execution else None
    if not request:
        return advanced
    logger.info("promote requested", mode=request.mode, by=request.by)
    return progress.promote_requested(deployment.plan, advanced, mode=request.mode, by=request.by, at=request.at)
