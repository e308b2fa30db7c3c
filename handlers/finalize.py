"""Finalize: record the outcome, release the lock, and name what is live now (the execution's output)."""

from __future__ import annotations

import json

from handlers.aws import deployments
from handlers.aws.task import count, logger, task
from handlers.domain import check_report
from handlers.domain.model import ROLLBACK, Deployment, NewVersion
from handlers.domain.timing import seconds_since


@task
def handler(event: dict) -> dict:
    deployment = Deployment.from_json(event["deployment"])
    stable_version = deployment.stable.version if deployment.stable else None
    image, digest = deployment.target.uri, deployment.target.digest
    if deployment.noop:
        outcome, version, previous = "unchanged", stable_version, stable_version
    elif deployment.kind == ROLLBACK:
        outcome, version, previous = "rolledBack", stable_version, deployment.current_version
        image, digest = deployment.stable.image, deployment.stable.digest
    else:
        outcome, version, previous = "deployed", NewVersion.from_json(event["release"]).version, stable_version
    duration = seconds_since(event.get("startedAt"))
    result = {
        "outcome": outcome,
        "function": deployment.function_name,
        "alias": deployment.alias,
        "version": version,
        "previousVersion": previous,
        "image": image,
        "digest": digest,
        "strategy": deployment.plan.name,
        "durationSeconds": duration,
        "lastCheck": check_report.summary(event),  # what the console shows as the execution's output: why it promoted
    }
    if event.get("checks"):  # what RunChecks ran and passed (handlers.run_checks)
        result["checks"] = event["checks"]
    people = _people(event)
    result.update(people)
    execution, started = event["executionId"], event["startedAt"]
    deployments.record(deployment.function_name, execution, started, kind=deployment.kind, outcome=outcome,
                       fromVersion=previous, toVersion=version, image=image, strategy=deployment.plan.name,
                       requestedBy=deployment.requested_by, finishedAt=deployments.now(), durationSeconds=duration,
                       lastCheck=check_report.encode(result["lastCheck"]),
                       **{key: json.dumps(value) if not isinstance(value, str) else value
                          for key, value in people.items()})
    if not deployment.noop:  # a no-op never took the lock
        deployments.release(deployment.function_name, execution)
    count("DeploymentSucceeded" if outcome != "rolledBack" else "RollbackRequestCompleted")
    logger.info("deployment finished", **result)
    return {"result": result}


def _people(event: dict) -> dict:
    """Who approved the last gate passed, who asked to promote early and which steps that skipped."""
    found = {}
    if answer := (event.get("approval") or {}).get("answer"):
        found["approvedBy"] = answer.get("approvedBy")
    traffic = event.get("traffic") or {}
    if traffic.get("promotedBy"):
        found.update(promotedBy=traffic["promotedBy"], skippedSteps=traffic.get("skipped", []))
    return found
