"""RetagImage: move the function-name tag onto the new digest; keep the stable digest tagged too."""

from __future__ import annotations

from handlers.aws import registry
from handlers.aws.task import logger, task
from handlers.domain.errors import InvalidDeploymentRequest
from handlers.domain.model import Deployment


@task
def handler(event: dict) -> dict:
    deployment = Deployment.from_json(event["deployment"])
    target, stable = deployment.target, deployment.stable
    wanted = [target.digest] + ([stable.digest] if stable and stable.digest else [])
    manifests = registry.get(target, digests=wanted)
    if target.digest not in manifests:
        raise InvalidDeploymentRequest(f"image {target.uri} disappeared from its repository")
    moved = registry.put_tag(target, manifests[target.digest], deployment.tag)
    if stable and stable.digest in manifests and stable.digest != target.digest:
        registry.put_tag(target, manifests[stable.digest], registry.previous_tag(deployment.tag))
    logger.info("function-name tag on the new image", tag=deployment.tag, digest=target.digest, moved=moved)
    return {}
