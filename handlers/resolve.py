"""Resolve: validate a deploy request against AWS and record the stable version and the plan.

Only reads. Everything that can make a deployment fail for a reason known up front is refused here,
before the first mutation, with a message a person can act on (``handlers.aws.resolution``).
"""

from __future__ import annotations

from handlers.aws.context import Aws
from handlers.aws.resolution import resolve
from handlers.aws.task import count, logger, task
from handlers.domain import progress
from handlers.domain.model import parse_request


@task
def handler(event: dict) -> dict:
    request = parse_request(event.get("request"))
    deployment, alias_revision_id = resolve(request, event["executionId"], Aws.from_environment())
    count("DeploymentStarted")
    logger.info("deployment resolved", deployment=deployment.to_json())
    return {
        "deployment": deployment.to_json(),
        "traffic": progress.start(deployment.plan, alias_revision_id, deployment.checks).to_json(),
    }
