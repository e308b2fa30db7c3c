"""CheckHealth: read the watched alarms once; any in ALARM (or gone) rolls the deployment back."""

from __future__ import annotations

from handlers.aws.alarms import alarm_states
from handlers.aws.task import count, logger, task
from handlers.domain import progress
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
    return {"traffic": advanced.to_json(), "alarms": states}
