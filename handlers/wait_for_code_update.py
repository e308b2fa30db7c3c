"""WaitForCodeUpdate: one look at ``LastUpdateStatus``; the state machine retries while it is in progress.

Raising ``CodeUpdateInProgress`` instead of sleeping keeps the waiting in Step Functions, unbilled.
"""

from __future__ import annotations

from handlers.aws.clients import client
from handlers.aws.task import task
from handlers.domain.errors import CodeUpdateFailed, CodeUpdateInProgress, ConcurrentModification
from handlers.domain.model import Deployment, NewVersion


@task
def handler(event: dict) -> dict:
    deployment = Deployment.from_json(event["deployment"])
    release = NewVersion.from_json(event["release"])
    config = client("lambda").get_function_configuration(FunctionName=deployment.function_arn)
    status = config.get("LastUpdateStatus", "Successful")
    if status == "InProgress" or config.get("State") == "Pending":
        raise CodeUpdateInProgress(f"$LATEST of {deployment.function_name} is still updating")
    if status == "Failed":
        raise CodeUpdateFailed(
            f"Lambda could not update {deployment.function_name} to {deployment.target.uri}: "
            f"{config.get('LastUpdateStatusReasonCode', '')} {config.get('LastUpdateStatusReason', '')}".strip()
        )
    if config["CodeSha256"] != release.code_sha256:
        raise ConcurrentModification(
            f"$LATEST of {deployment.function_name} changed to other code while the deployment waited"
        )
    return {"release": NewVersion(release.code_sha256, config.get("RevisionId")).to_json()}
