"""Putting a function back on its stable version: alias, function-name tag (or key), ``$LATEST``; after a
failed preview, its own alias back where the preview found it.

Shared by the Rollback task, the rescue after an abort and the reconciler. Each part first looks, then
writes only what differs, so running it twice is harmless. Every part gets its chance; what could not be
restored is returned, not raised, so the caller decides how to report it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from handlers.aws import alias, artifacts, deployments, notify, registry
from handlers.aws.clients import client, error_code
from handlers.aws.context import Aws
from handlers.aws.task import count, logger
from handlers.domain import notifications
from handlers.domain.code import is_code_uri, parse_code_uri, recorded_source
from handlers.domain.errors import ConcurrentModification, RollbackIncomplete
from handlers.domain.images import digest_of, pinned_image, short
from handlers.domain.model import PREVIEW, ROLLBACK, Deployment
from handlers.domain.timing import seconds_since


@dataclass(frozen=True)
class RestorePoint:
    version: str | None  # what the alias serves afterwards
    image: str | None  # the image that version runs, pinned by digest when known; or its zip package's s3:// source
    code_sha256: str | None = None  # a zip package's CodeSha256

    @property
    def digest(self) -> str | None:
        return self.code_sha256 if is_code_uri(self.image) else digest_of(self.image)


@dataclass
class Restored:
    done: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        return ", ".join(self.done) or "nothing had changed"


def restore(deployment: Deployment, *, keep_alias: bool = False, preview_alias: bool = True) -> Restored:
    """Back to ``deployment.stable``. ``keep_alias``: someone else changed the alias; leave it, and make
    the tag and ``$LATEST`` follow the version it serves instead.

    A preview never writes production's alias: the tag and ``$LATEST`` go back on the production release
    (``stable``), whatever changed the preview alias, and the preview alias back where the preview found it
    (``_restore_preview_alias``) unless ``preview_alias`` is False (ReleaseLatest, before PointPreview)."""
    if deployment.kind == PREVIEW:
        keep_alias = False
    result = Restored()
    try:
        point = _restore_point(deployment, keep_alias)
    except Exception as exc:
        result.left.append(f"reading the alias: {exc}")
        return result
    parts = (_restore_alias, _restore_tag, _restore_latest)
    if deployment.kind == PREVIEW and preview_alias:
        parts = (_restore_preview_alias, *parts)
    for part in parts:
        try:
            if done := part(deployment, point, keep_alias):
                result.done.append(done)
        except Exception as exc:  # every part gets its chance; the caller reports and retries what is left
            logger.exception("restore part failed", part=part.__name__)
            result.left.append(f"{part.__name__.removeprefix('_restore_')}: {exc}")
    return result


def _restore_point(deployment: Deployment, keep_alias: bool) -> RestorePoint | None:
    if not keep_alias:
        if deployment.stable:
            return RestorePoint(deployment.stable.version, deployment.stable.image, deployment.stable.digest)
        return RestorePoint(None, deployment.latest_image, deployment.latest_digest)  # first deployment: as it was
    current = alias.get(deployment.function_arn, deployment.alias)
    if not current or alias.weights_of(current):
        return None  # someone else's split or deletion: nothing single to follow
    version = current["FunctionVersion"]
    found = client("lambda").get_function(FunctionName=deployment.function_arn, Qualifier=version)
    if deployment.zip:  # the source the version recorded, if lambda-deployer published it
        configuration = found["Configuration"]
        source = recorded_source(configuration.get("Description"), configuration.get("CodeSha256"))
        return RestorePoint(version, source.uri if source else None, configuration.get("CodeSha256"))
    return RestorePoint(version, pinned_image(found["Code"]))


def _restore_alias(deployment: Deployment, point: RestorePoint | None, keep_alias: bool) -> str | None:
    if keep_alias or not point or not point.version or not deployment.alias_exists or deployment.kind == PREVIEW:
        return None
    current = alias.get(deployment.function_arn, deployment.alias)
    if current is None:
        return f"alias {deployment.alias} no longer exists (not recreated)"
    if current["FunctionVersion"] == point.version and not alias.weights_of(current):
        return None
    client("lambda").update_alias(  # no RevisionId: restoring must win over the deployment's own writes
        FunctionName=deployment.function_arn, Name=deployment.alias, FunctionVersion=point.version,
        RoutingConfig={"AdditionalVersionWeights": {}},
    )
    return f"alias {deployment.alias} → version {point.version} (all traffic)"


def _restore_preview_alias(deployment: Deployment, point: RestorePoint | None, keep_alias: bool) -> str | None:
    """A failed preview's alias back on the version it served before (``current_version``), or deleted if this
    preview created it: a failed execution never leaves the branch's alias on the version it failed with.

    Only this preview's own move is undone: the alias is written only while it serves a version of the
    branch's image (``target``; an alias already on that image made the preview a no-op, so that version is
    this preview's), and UpdateAlias only at the RevisionId just read, so a person's change meanwhile stays.
    DeleteAlias takes no RevisionId (Lambda API reference: FunctionName and Name only): it follows the read."""
    arn, name = deployment.function_arn, deployment.alias
    found = alias.get(arn, name)
    if found is None:
        return f"preview alias {name} no longer exists (not recreated)" if deployment.alias_exists else None
    version = found["FunctionVersion"]
    if version == deployment.current_version:
        return None  # never moved (PointPreview writes the version and empty routing at once)
    if alias.weights_of(found) or not _runs_target(deployment, version):
        return f"preview alias {name} left on {alias.describe(found)}, as changed outside this preview"
    if not deployment.alias_exists:
        try:
            client("lambda").delete_alias(FunctionName=arn, Name=name)
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":  # gone since the read: nothing left to delete
                raise
        return f"preview alias {name} deleted (this preview created it)"
    try:
        alias.write(arn, name, version=deployment.current_version, weights={}, revision_id=found.get("RevisionId"))
    except ConcurrentModification:
        return f"preview alias {name} left as changed outside this preview meanwhile"
    return f"preview alias {name} → version {deployment.current_version}"


def _runs_target(deployment: Deployment, version: str) -> bool:
    """Whether ``version`` runs the preview's image: the version PublishVersion made for it (a Rescue or the
    reconciler has only the lock's deployment, which never learns its number)."""
    code = client("lambda").get_function(FunctionName=deployment.function_arn, Qualifier=version)["Code"]
    return digest_of(pinned_image(code)) == deployment.target.digest


def _restore_tag(deployment: Deployment, point: RestorePoint | None, keep_alias: bool) -> str | None:
    if not point or not point.digest:
        return None
    if deployment.zip:
        return _restore_key(deployment, point)
    manifests = registry.get(deployment.target, digests=[point.digest], tags=[deployment.tag])
    tagged = manifests.get(deployment.tag)
    if tagged and tagged.digest == point.digest:
        return None
    if point.digest not in manifests:
        raise RuntimeError(f"image {point.digest} is no longer in {deployment.target.repository}")
    registry.put_tag(deployment.target, manifests[point.digest], deployment.tag)
    return f"tag {deployment.tag} → {short(point.digest)}"


def _restore_key(deployment: Deployment, point: RestorePoint) -> str | None:
    """The function-named key back on the stable package: copied again from the source the version recorded."""
    aws, bucket = Aws.from_environment(), deployment.target.bucket
    if not point.image or artifacts.key_digest(aws, bucket, deployment.function_name) == point.digest:
        return None
    artifacts.copy_to_function_key(aws, parse_code_uri(point.image), deployment.function_name)
    return f"key {deployment.function_key} → {point.image}"


def _restore_latest(deployment: Deployment, point: RestorePoint | None, keep_alias: bool) -> str | None:
    if not point or not point.image:
        return None
    lam = client("lambda")
    if deployment.zip:
        current = lam.get_function(FunctionName=deployment.function_arn)["Configuration"].get("CodeSha256")
        if current == point.digest or (keep_alias and current != deployment.target.digest):
            return None  # already right, or someone else's code since: theirs to keep
        lam.update_function_code(FunctionName=deployment.function_arn, **parse_code_uri(point.image).location)
        return f"$LATEST → {point.image}"
    current = pinned_image(lam.get_function(FunctionName=deployment.function_arn)["Code"])
    if current == point.image or (keep_alias and current != deployment.target.uri):
        return None  # already right, or someone else's image since: theirs to keep
    lam.update_function_code(FunctionName=deployment.function_arn, ImageUri=point.image)
    return f"$LATEST → {short(point.digest) if point.digest else point.image}"


def rescue(lock: deployments.Lock, status: str, error: str | None = None) -> Restored:
    """Back to the stable version the lock's deployment recorded, then record, release and notify.

    An execution that SUCCEEDED but could not write its record finished its work: the record is closed
    and the lock released, nothing is restored. ``error`` is the execution's, when it FAILED."""
    deployment = Deployment.from_json(lock.deployment)
    if status == "SUCCEEDED":
        deployments.record(lock.function, lock.execution, lock.started_at, finishedAt=deployments.now(),
                           outcome={ROLLBACK: "rolledBack", PREVIEW: "previewed"}.get(deployment.kind, "deployed"))
        deployments.release(lock.function, lock.execution)
        return Restored()
    restored = restore(deployment)
    if restored.left:
        raise RollbackIncomplete(f"{lock.function} after {status}: could not restore {'; '.join(restored.left)}")
    outcome = {"ABORTED": "aborted", "TIMED_OUT": "timedOut"}.get(status, "failed")
    deployments.record(lock.function, lock.execution, lock.started_at, outcome=outcome,
                       cause=f"execution ended {status}; restored by the deployer: {restored.summary}",
                       finishedAt=deployments.now(), durationSeconds=seconds_since(lock.started_at))
    deployments.release(lock.function, lock.execution)
    count("DeploymentRescued")
    logger.info("rescued", function=lock.function, execution=lock.execution, status=status,
                restored=restored.done)
    ended = f"{status} ({error})" if error else status
    notify.publish(notifications.rescued(deployment, lock.execution, reason=f"the execution ended {ended}",
                                         error=error or status, restored=restored.done))
    return restored
