"""Promote: the new version becomes the alias' primary version, with empty routing.

With a hook after promotion, the state machine enters this as PromoteThenCheck, and the traffic cursor it
returns carries that checkpoint to RunChecks. A preview enters it as PointPreview: its alias is the branch's.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from handlers.aws import alias, notify
from handlers.aws.clients import client, error_code
from handlers.aws.task import logger, task
from handlers.domain import notifications, previews, progress
from handlers.domain.errors import ConcurrentModification
from handlers.domain.model import Deployment, Release


@task
def handler(event: dict) -> dict:
    deployment = Deployment.from_json(event["deployment"])
    release = Release.from_json(event["release"])
    traffic = progress.Traffic.from_json(event["traffic"])
    if deployment.alias_exists:
        revision = alias.write(deployment.function_arn, deployment.alias, version=release.version, weights={},
                               revision_id=traffic.alias_revision_id)
    else:
        revision = _create(deployment, release.version)
    logger.info("promoted", version=release.version, alias=deployment.alias)
    notify.publish(notifications.promoted(deployment, release.version, event["executionId"]))
    return {"traffic": progress.promoted(deployment.plan, traffic, revision, deployment.checks).to_json()}


def _create(deployment: Deployment, version: str) -> str | None:
    """First deployment: the alias is born on the new version (a lost answer is found on retry)."""
    description = previews.description(deployment.preview) if deployment.preview else "managed by lambda-deployer"
    try:
        return client("lambda").create_alias(
            FunctionName=deployment.function_arn, Name=deployment.alias, FunctionVersion=version,
            Description=description,
        ).get("RevisionId")
    except ClientError as exc:
        if error_code(exc) != "ResourceConflictException":
            raise
    current = alias.get(deployment.function_arn, deployment.alias)
    if current and current["FunctionVersion"] == version and not alias.weights_of(current):
        return current.get("RevisionId")
    raise ConcurrentModification(
        f"alias {deployment.alias} was created outside this deployment "
        f"({alias.describe(current) if current else 'and deleted again'}); it was left as it is"
    )
