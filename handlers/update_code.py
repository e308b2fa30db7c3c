"""UpdateCode: point ``$LATEST`` at the new code, pinned (an image by digest, never a moving tag; a zip package
by S3 object version).

``RevisionId`` is the one Resolve saw: if the function changed since (an IaC run, another tool), the
update is refused and the deployment stops rather than mixing its image into someone else's change.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from handlers.aws.clients import client, error_code
from handlers.aws.task import logger, task
from handlers.domain.errors import ConcurrentModification, TransientAwsError
from handlers.domain.images import pinned_image
from handlers.domain.model import Deployment, Release


@task
def handler(event: dict) -> dict:
    deployment = Deployment.from_json(event["deployment"])
    lam = client("lambda")
    code = deployment.target.location if deployment.zip else {"ImageUri": deployment.target.uri}
    params = {"FunctionName": deployment.function_arn, **code}
    if deployment.latest_revision_id:
        params["RevisionId"] = deployment.latest_revision_id
    try:
        updated = lam.update_function_code(**params)
    except ClientError as exc:
        if error_code(exc) != "PreconditionFailedException":
            raise
        # Our own earlier update whose answer was lost, someone else's change, or a glitch?
        current = lam.get_function(FunctionName=deployment.function_arn)
        if current["Configuration"].get("RevisionId") == deployment.latest_revision_id:
            raise TransientAwsError("UpdateFunctionCode refused a precondition $LATEST still meets; retrying") from exc
        if not _runs_target(deployment, current):
            raise ConcurrentModification(
                f"{deployment.function_name} changed since the deployment started (an IaC run or another "
                "tool?); nothing of it was overwritten"
            ) from None
        updated = current["Configuration"]
    logger.info("code update started", code=deployment.target.uri, status=updated.get("LastUpdateStatus"))
    return {"release": Release(code_sha256=updated["CodeSha256"], revision_id=updated.get("RevisionId")).to_json()}


def _runs_target(deployment: Deployment, current: dict) -> bool:
    """Is ``$LATEST`` on this deployment's code already (our own update, its answer lost)?"""
    if deployment.zip:
        return current["Configuration"].get("CodeSha256") == deployment.target.digest
    return pinned_image(current["Code"]) == deployment.target.uri
