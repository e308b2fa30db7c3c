"""Zip packages in S3: resolving a release, copying it onto the function-named key, knowing a version's source.

Reads first, one call each where one suffices: ``HeadObject`` with ``ChecksumMode=ENABLED`` returns the
object's ``ChecksumSHA256`` when it has one (the deployer's own copies always do: it copies with
``ChecksumAlgorithm=SHA256``), which is Lambda's ``CodeSha256`` of the same bytes (both the base64 SHA-256 of
the package). Only an object uploaded without a SHA-256 checksum is read to hash it.
"""

from __future__ import annotations

import base64
import hashlib

from botocore.exceptions import ClientError

from handlers.aws.clients import error_code
from handlers.aws.context import Aws
from handlers.domain.code import CodeRef, full_object_sha256, function_key, recorded_source
from handlers.domain.errors import InvalidDeploymentRequest

_MISSING = {"404", "NoSuchKey", "NoSuchVersion", "NotFound", "NoSuchBucket"}
_UNVERSIONED = (None, "null")  # S3 reports version "null" for objects written while versioning was off


def bucket_region(aws: Aws, bucket: str) -> str:
    """``GetBucketLocation``: None for us-east-1, "EU" for the oldest eu-west-1 buckets (S3 API reference)."""
    try:
        location = aws.client("s3").get_bucket_location(Bucket=bucket).get("LocationConstraint")
    except ClientError as exc:
        if error_code(exc) in ("NoSuchBucket", "AccessDenied", "AccessDeniedException"):
            raise InvalidDeploymentRequest(
                f"bucket {bucket} does not exist or is not an artifact bucket of this deployer (stack setting "
                "artifactBuckets)"
            ) from None
        raise
    return {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, location)


def head(aws: Aws, bucket: str, key: str, version_id: str | None = None) -> dict | None:
    params = {"Bucket": bucket, "Key": key, "ChecksumMode": "ENABLED"}
    if version_id:
        params["VersionId"] = version_id
    try:
        return aws.client("s3").head_object(**params)
    except ClientError as exc:
        if error_code(exc) in _MISSING:
            return None
        raise


def resolve_code(aws: Aws, code: CodeRef, region: str) -> CodeRef:
    """The request's package, pinned by object version and SHA-256; refused unless Lambda can take it."""
    where = bucket_region(aws, code.bucket)
    if where != region:
        raise InvalidDeploymentRequest(
            f"bucket {code.bucket} is in {where} but the function is in {region}; Lambda takes code only from a "
            "bucket in the function's own region"
        )
    found = head(aws, code.bucket, code.key, code.version_id)
    if found is None:
        raise InvalidDeploymentRequest(f"{code.uri} does not exist")
    version_id = found.get("VersionId")
    if version_id in _UNVERSIONED:
        raise InvalidDeploymentRequest(
            f"{code.uri} is not versioned: enable versioning on bucket {code.bucket}, so that a release (and the "
            "stable one a rollback returns to) cannot be overwritten"
        )
    digest = full_object_sha256(found.get("ChecksumSHA256")) or _hash(aws, code.bucket, code.key, version_id)
    return code.pinned(version_id, digest)


def _hash(aws: Aws, bucket: str, key: str, version_id: str) -> str:
    """The base64 SHA-256 of an object uploaded without a SHA-256 checksum (read in chunks)."""
    body = aws.client("s3").get_object(Bucket=bucket, Key=key, VersionId=version_id)["Body"]
    digest = hashlib.sha256()
    for chunk in iter(lambda: body.read(1 << 20), b""):
        digest.update(chunk)
    return base64.b64encode(digest.digest()).decode()


def source_of(aws: Aws, bucket: str, function: str, configuration: dict) -> CodeRef | None:
    """Where a version's exact code can be read again: what lambda-deployer recorded when it published it
    (its Description), else the function-named key when that holds the same bytes (the IaC's own upload)."""
    sha = configuration.get("CodeSha256")
    if recorded := recorded_source(configuration.get("Description"), sha):
        return recorded
    key = function_key(function)
    found = head(aws, bucket, key)
    if not found or found.get("VersionId") in _UNVERSIONED:
        return None
    digest = full_object_sha256(found.get("ChecksumSHA256")) or _hash(aws, bucket, key, found["VersionId"])
    return CodeRef(bucket, key, found["VersionId"], digest) if digest == sha else None


def key_digest(aws: Aws, bucket: str, function: str) -> str | None:
    """The SHA-256 of what the function-named key holds now (None: nothing there)."""
    found = head(aws, bucket, function_key(function))
    if not found:
        return None
    return full_object_sha256(found.get("ChecksumSHA256")) or (
        _hash(aws, bucket, function_key(function), found["VersionId"]) if found.get("VersionId") else None)


def copy_to_function_key(aws: Aws, code: CodeRef, function: str) -> str | None:
    """Copy ``code`` onto ``functions/<function>.zip`` (a new object version); returns that version's id.

    ``ChecksumAlgorithm=SHA256`` makes S3 store the copy's SHA-256, so later reads need no download."""
    copied = aws.client("s3").copy_object(Bucket=code.bucket, Key=function_key(function),
                                          CopySource=code.copy_source, ChecksumAlgorithm="SHA256")
    return copied.get("VersionId")
