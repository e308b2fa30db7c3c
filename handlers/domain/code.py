"""Zip packages in S3: ``s3://bucket/key`` (optionally ``?versionId=…``) references, no AWS calls.

The drift-free convention for zip functions (docs/zip-functions.md): the function's IaC points at the key
``functions/<function-name>.zip`` in the artifact bucket, and the deployer copies each released object onto
it, as it moves the ``repo:<function-name>`` tag for images. Lambda takes the code from ``S3Bucket`` in
"the same AWS Region as your function" (UpdateFunctionCode API reference), and ``S3ObjectVersion`` pins
"the version of the deployment package object to use": the bucket must be versioned so that every
release (and the stable one a rollback returns to) stays readable as it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from urllib.parse import parse_qs, quote

from handlers.domain.errors import InvalidDeploymentRequest

SCHEME = "s3://"
FUNCTION_KEY_PREFIX = "functions/"
"""The function-named key is ``functions/<function-name>.zip`` (docs/zip-functions.md)."""
DESCRIPTION_PREFIX = "lambda-deployer "
"""A published version's Description: ``lambda-deployer <image digest>`` or ``lambda-deployer s3://…``."""
MAX_DESCRIPTION = 256  # Lambda's limit on a version's Description

# S3 bucket naming rules (S3 guide, "General purpose bucket naming rules"): 3-63 lower-case letters, digits,
# dots and hyphens, starting and ending with a letter or digit.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_SHA256_B64 = re.compile(r"^[A-Za-z0-9+/]{43}=$")


@dataclass(frozen=True)
class CodeRef:
    """A zip package in S3, pinned by object version once resolved; ``digest`` is its SHA-256 as Lambda
    reports ``CodeSha256`` (base64), known once resolved."""

    bucket: str
    key: str
    version_id: str | None = None
    digest: str | None = None

    @property
    def uri(self) -> str:
        base = f"{SCHEME}{self.bucket}/{self.key}"
        return f"{base}?versionId={quote(self.version_id, safe='')}" if self.version_id else base

    @property
    def location(self) -> dict:
        """``UpdateFunctionCode``'s code parameters."""
        params = {"S3Bucket": self.bucket, "S3Key": self.key}
        if self.version_id:
            params["S3ObjectVersion"] = self.version_id
        return params

    @property
    def copy_source(self) -> dict:
        """``CopyObject``'s ``CopySource``."""
        source = {"Bucket": self.bucket, "Key": self.key}
        if self.version_id:
            source["VersionId"] = self.version_id
        return source

    def pinned(self, version_id: str, digest: str | None) -> CodeRef:
        return replace(self, version_id=version_id, digest=digest)


def function_key(function: str) -> str:
    """The key the function's IaC refers to, in the artifact bucket."""
    return f"{FUNCTION_KEY_PREFIX}{function}.zip"


def is_code_uri(value: object) -> bool:
    return isinstance(value, str) and value.startswith(SCHEME)


def parse_code_uri(value: object, digest: str | None = None) -> CodeRef:
    """Parse ``s3://bucket/key`` or ``s3://bucket/key?versionId=…`` (the key as S3 names it, not URL-encoded;
    the version id URL-encoded, as it may hold ``+`` and ``/``)."""
    if not is_code_uri(value):
        raise InvalidDeploymentRequest(f"'code' {value!r} must be an S3 URI such as s3://artifacts/app/1.2.3.zip "
                                       "(optionally ?versionId=…)")
    rest = value[len(SCHEME):]
    path, _, query = rest.partition("?")
    bucket, _, key = path.partition("/")
    version_id = None
    if query:
        params = parse_qs(query, keep_blank_values=True)
        if set(params) != {"versionId"} or len(params["versionId"]) != 1 or not params["versionId"][0]:
            raise InvalidDeploymentRequest(f"'code' {value!r}: the only query parameter allowed is one versionId")
        version_id = params["versionId"][0]
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise InvalidDeploymentRequest(f"'code' {value!r}: {bucket!r} is not a valid S3 bucket name")
    if not key or len(key.encode()) > 1024:
        raise InvalidDeploymentRequest(f"'code' {value!r}: the object key must be 1 to 1024 bytes")
    if not key.endswith(".zip"):
        raise InvalidDeploymentRequest(f"'code' {value!r}: a Lambda deployment package is a .zip file")
    return CodeRef(bucket, key, version_id, digest)


def description(code: CodeRef) -> str:
    """What a version published from ``code`` records of it, so a rollback knows its exact source."""
    return f"{DESCRIPTION_PREFIX}{code.uri}"


def recorded_source(version_description: str | None, code_sha256: str | None) -> CodeRef | None:
    """The source a version published by lambda-deployer recorded in its Description, else None."""
    text = (version_description or "").removeprefix(DESCRIPTION_PREFIX)
    if not version_description or text == version_description or not is_code_uri(text):
        return None
    try:
        return parse_code_uri(text, code_sha256)
    except InvalidDeploymentRequest:
        return None


def full_object_sha256(checksum: str | None) -> str | None:
    """S3's ``ChecksumSHA256`` when it is the whole object's SHA-256 (base64, as Lambda's CodeSha256), not
    a checksum of part checksums (multipart uploads report ``…-<parts>``)."""
    return checksum if checksum and _SHA256_B64.match(checksum) else None
