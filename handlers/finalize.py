"""Finalize: record the outcome, release the lock, and name what is live now (the execution's output)."""

from __future__ import annotations

import json

from handlers.aws import deployments
from handlers.aws.task import count, logger, task
from handlers.domain import check_report
from handlers.domain.model import PREVIEW, ROLLBACK, Deployment, Release
from handlers.domain.timing import seconds_since


@task
def handler(event: dict) -> dict:
    deployment = Deployment.from_json(event["deployment"])
    image, digest = deployment.to_image
    version = deployment.to_version or Release.from_json(event["release"]).version
    # A preview is not "deployed": a rollback request must not read it as production's move.
    outcome = ("unchanged" if deployment.noop else
               {ROLLBACK: "rolledBack", PREVIEW: "previewed"}.get(deployment.kind, "deployed"))
    previous = deployment.from_version
    duration = seconds_since(event.get("startedAt"))
    result = {
        "outcome": outcome,
        "function": deployment.function_name,
        "alias": deployment.alias,
        "version": version,
        "previousVersion": previous,
        **_artifact(deployment, image, digest),
        "strategy": deployment.plan.name,
        "durationSeconds": duration,
        "lastCheck": check_report.summary(event),  # what the console shows as the execution's output: why it promoted
    }
    if deployment.preview is not None:
        result["preview"] = deployment.preview
    if event.get("checks"):  # what RunChecks ran and passed (handlers.run_checks)
        result["checks"] = event["checks"]
    if deployment.kind != ROLLBACK:  # the last check's verdict and numbers: why it promoted (null: none analysed)
        result["analysis"] = event.get("analysis")
    people = _people(event)
    result.update(people)
    execution, started = event["executionId"], event["startedAt"]
    deployments.record(deployment.function_name, execution, started, kind=deployment.kind, outcome=outcome,
                       fromVersion=previous, toVersion=version, **{"code" if deployment.zip else "image": image},
                       strategy=deployment.plan.name,
                       requestedBy=deployment.requested_by, finishedAt=deployments.now(), durationSeconds=duration,
                       lastCheck=check_report.encode(result["lastCheck"]),
                       **{key: json.dumps(value) if not isinstance(value, str) else value
                          for key, value in people.items()})
    if not deployment.noop:  # a no-op never took the lock
        deployments.release(deployment.function_name, execution)
    count("DeploymentSucceeded" if outcome != "rolledBack" else "RollbackRequestCompleted")
    logger.info("deployment finished", **result)
    return {"result": result}


def _artifact(deployment: Deployment, uri: str, digest: str | None) -> dict:
    """What is live now: the image and its digest, or the zip package's S3 source, its CodeSha256 and the
    function-named key that holds a copy of it."""
    if not deployment.zip:
        return {"image": uri, "digest": digest}
    key = f"s3://{deployment.target.bucket}/{deployment.function_key}"
    return {"code": uri, "codeSha256": digest, "codeKey": key}
def _people(event: dict) -> dict:
    """Who approved the last gate passed, who asked to promote early and which steps that skipped."""
    found = {}
    if answer := (event.get("approval") or {}).get("answer"):
        found["approvedBy"] = answer.get("approvedBy")
    traffic = event.get("traffic") or {}
    if traffic.get("promotedBy"):
        found.update(promotedBy=traffic["promotedBy"], skippedSteps=traffic.get("skipped", []))
    return found
