"""PublishVersion: publish exactly the code this deployment uploaded."""

from __future__ import annotations

from botocore.exceptions import ClientError

from handlers.aws.clients import client, error_code
from handlers.aws.task import logger, task
from handlers.domain import progress
from handlers.domain.code import description
from handlers.domain.errors import ConcurrentModification, TransientAwsError
from handlers.domain.model import ACTIVE, Deployment, Release


@task
def handler(event: dict) -> dict:
    deployment = Deployment.from_json(event["deployment"])
    release = Release.from_json(event["release"])
    # The Description records what the version runs: a rollback to it restores $LATEST from exactly this.
    recorded = description(deployment.target) if deployment.zip else f"lambda-deployer {deployment.target.digest}"
    params = {"FunctionName": deployment.function_arn, "CodeSha256": release.code_sha256, "Description": recorded}
    if release.revision_id:
        params["RevisionId"] = release.revision_id
    try:
        published = client("lambda").publish_version(**params)
    except ClientError as exc:
        code, message = error_code(exc), exc.response.get("Error", {}).get("Message", "")
        refused = code == "PreconditionFailedException"
        if refused and _still_as_uploaded(deployment, release):
            raise TransientAwsError("PublishVersion refused a precondition $LATEST still meets; retrying") from exc
        if refused or (code == "InvalidParameterValueException" and "CodeSHA256" in message):
            raise ConcurrentModification(
                f"{deployment.function_name} changed (code or configuration) between the update and the "
                "publish; nothing was published"
            ) from None
        raise
    version, state = published["Version"], published.get("State", ACTIVE)
    logger.info("version published", version=version, state=state)
    update = {"release": release.published(version, state).to_json()}
    if deployment.stable and version == deployment.stable.version:
        # Lambda publishes nothing new when code and configuration match the latest version: there is
        # no second version to shift traffic to, only the alias to settle.
        traffic = progress.Traffic.from_json(event["traffic"])
        update["traffic"] = progress.Traffic(progress.PROMOTE, alias_revision_id=traffic.alias_revision_id).to_json()
    return update


def _still_as_uploaded(deployment: Deployment, release: Release) -> bool:
    current = client("lambda").get_function_configuration(FunctionName=deployment.function_arn)
    return current.get("RevisionId") == release.revision_id and current.get("CodeSha256") == release.code_sha256
