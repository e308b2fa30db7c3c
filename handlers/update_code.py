"""UpdateCode: point ``$LATEST`` at the new image, pinned by digest (never a moving tag)."""

from __future__ import annotations

from handlers.aws import client
from handlers.model import Deployment, NewVersion
from handlers.task import logger, task


@task
def handler(event: dict) -> dict:
    deployment = Deployment.from_json(event["deployment"])
    updated = client("lambda").update_function_code(
        FunctionName=deployment.function_arn, ImageUri=deployment.target.uri
    )
    logger.info("code update started", image=deployment.target.uri, status=updated.get("LastUpdateStatus"))
    return {"release": NewVersion(code_sha256=updated["CodeSha256"], revision_id=updated.get("RevisionId")).to_json()}
