"""Finalize: the execution's output, naming what is live now."""

from __future__ import annotations

from handlers.model import Deployment, NewVersion
from handlers.task import count, logger, task
from handlers.timing import seconds_since


@task
def handler(event: dict) -> dict:
    deployment = Deployment.from_json(event["deployment"])
    stable_version = deployment.stable.version if deployment.stable else None
    if deployment.noop:
        version, outcome = stable_version, "unchanged"
    else:
        version, outcome = NewVersion.from_json(event["release"]).version, "deployed"
    duration = seconds_since(event.get("startedAt"))
    result = {
        "outcome": outcome,
        "function": deployment.function_name,
        "alias": deployment.alias,
        "version": version,
        "previousVersion": stable_version,
        "image": deployment.target.uri,
        "digest": deployment.target.digest,
        "strategy": deployment.plan.name,
        "durationSeconds": duration,
    }
    count("DeploymentSucceeded")
    logger.info("deployment finished", **result)
    return {"result": result}
