"""Rollback: traffic, function-name tag and ``$LATEST`` back on the stable version.

Idempotent (each part first looks, then writes only what differs) and retried hard by the state
machine; if a part cannot be restored the task fails with a message listing what is left.
After a ``ConcurrentModification`` the alias belongs to whoever changed it: it is left alone, and the
tag and ``$LATEST`` follow the version it serves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from handlers import alias, registry
from handlers.aws import client
from handlers.errors import RollbackIncomplete
from handlers.images import digest_of, pinned_image, short
from handlers.model import Deployment
from handlers.task import count, logger, task
from handlers.timing import seconds_since


@dataclass(frozen=True)
class RestorePoint:
    version: str | None  # what the alias serves after the rollback
    image: str | None  # the image that version runs, pinned by digest when known

    @property
    def digest(self) -> str | None:
        return digest_of(self.image)


@task
def handler(event: dict) -> dict:
    deployment = Deployment.from_json(event["deployment"])
    failure = event.get("failure") or {"Error": "InternalError", "Cause": "no next step to take"}
    concurrent = failure.get("Error") == "ConcurrentModification"
    restored: list[str] = []
    left: list[str] = []
    point = _restore_point(deployment, concurrent)
    for part in (_restore_alias, _restore_tag, _restore_latest):
        try:
            if done := part(deployment, point, concurrent):
                restored.append(done)
        except Exception as exc:  # every part gets its chance; what failed is reported, then retried
            logger.exception("rollback part failed", part=part.__name__)
            left.append(f"{part.__name__.removeprefix('_restore_')}: {exc}")
    if left:
        raise RollbackIncomplete(
            f"after {failure_reason(failure)}: could not restore {'; '.join(left)}"
            + (f" (restored: {', '.join(restored)})" if restored else "")
        )
    count("DeploymentRolledBack")
    took = seconds_since(event.get("startedAt"))
    summary = ", ".join(restored) or "nothing had changed"
    logger.info("rolled back", restored=restored, execution_seconds=took)
    return {"outcome": {
        "error": "ConcurrentModification" if concurrent else "DeploymentRolledBack",
        "cause": f"{failure_reason(failure)}. Rolled back: {summary}.",
    }}


def failure_reason(failure: dict) -> str:
    """``Error: message`` from a Catch's output, unwrapping the Lambda error JSON in ``Cause``."""
    error, cause = failure.get("Error", "Error"), failure.get("Cause", "")
    try:
        message = json.loads(cause).get("errorMessage", cause)
    except (ValueError, AttributeError):
        message = cause
    return f"{error}: {message}" if message else error


def _restore_point(deployment: Deployment, concurrent: bool) -> RestorePoint | None:
    if not concurrent:
        if deployment.stable:
            return RestorePoint(deployment.stable.version, deployment.stable.image)
        return RestorePoint(None, deployment.latest_image)  # first deployment: $LATEST as it was
    current = alias.get(deployment.function_arn, deployment.alias)
    if not current or alias.weights_of(current):
        return None  # someone else's split or deletion: nothing single to follow
    version = current["FunctionVersion"]
    code = client("lambda").get_function(FunctionName=deployment.function_arn, Qualifier=version)["Code"]
    return RestorePoint(version, pinned_image(code))


def _restore_alias(deployment: Deployment, point: RestorePoint | None, concurrent: bool) -> str | None:
    if concurrent or not point or not point.version or not deployment.alias_exists:
        return None
    current = alias.get(deployment.function_arn, deployment.alias)
    if current is None:
        return f"alias {deployment.alias} no longer exists (not recreated)"
    if current["FunctionVersion"] == point.version and not alias.weights_of(current):
        return None
    client("lambda").update_alias(  # no RevisionId: the rollback must win over our own last write
        FunctionName=deployment.function_arn, Name=deployment.alias, FunctionVersion=point.version,
        RoutingConfig={"AdditionalVersionWeights": {}},
    )
    return f"alias {deployment.alias} → version {point.version} (all traffic)"


def _restore_tag(deployment: Deployment, point: RestorePoint | None, concurrent: bool) -> str | None:
    if not point or not point.digest:
        return None
    manifests = registry.get(deployment.target, digests=[point.digest], tags=[deployment.tag])
    tagged = manifests.get(deployment.tag)
    if tagged and tagged.digest == point.digest:
        return None
    if point.digest not in manifests:
        raise RuntimeError(f"image {point.digest} is no longer in {deployment.target.repository}")
    registry.put_tag(deployment.target, manifests[point.digest], deployment.tag)
    return f"tag {deployment.tag} → {short(point.digest)}"


def _restore_latest(deployment: Deployment, point: RestorePoint | None, concurrent: bool) -> str | None:
    if not point or not point.image:
        return None
    lam = client("lambda")
    current = pinned_image(lam.get_function(FunctionName=deployment.function_arn)["Code"])
    if current == point.image or (concurrent and current != deployment.target.uri):
        return None  # already right, or someone else's image since: theirs to keep
    lam.update_function_code(FunctionName=deployment.function_arn, ImageUri=point.image)
    return f"$LATEST → {short(point.digest) if point.digest else point.image}"
