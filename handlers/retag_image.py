"""RetagImage: move the function-name reference onto the new code, so the function's IaC and reality agree.

Images: the tag ``<function>`` moves onto the new digest, and the stable digest stays tagged too. Zip
packages: the released object is copied onto ``functions/<function>.zip`` in its (versioned) bucket, the
key the function's IaC refers to (docs/zip-functions.md); the stable release stays readable under its own key
and object version, so nothing needs keeping.
"""

from __future__ import annotations

from handlers.aws import artifacts, registry
from handlers.aws.context import Aws
from handlers.aws.task import logger, task
from handlers.domain.errors import InvalidDeploymentRequest
from handlers.domain.model import Deployment


@task
def handler(event: dict) -> dict:
    deployment = Deployment.from_json(event["deployment"])
    if deployment.zip:
        version_id = artifacts.copy_to_function_key(Aws.from_environment(), deployment.target, deployment.function_name)
        logger.info("function-named key holds the new package", key=deployment.function_key,
                    source=deployment.target.uri, key_version=version_id)
        return {}
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
