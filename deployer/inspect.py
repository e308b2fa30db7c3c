"""What is live for a function right now: the alias, its weights, the images (or zip packages) behind each version.

For a zip function a "digest" is the version's CodeSha256 and the "tag" is the function-named key
``functions/<name>.zip`` (docs/zip-functions.md), whose SHA-256 S3 keeps since the deployer copies it with one."""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import ClientError

from handlers.domain.code import full_object_sha256, function_key, recorded_source
from handlers.domain.errors import InvalidDeploymentRequest
from handlers.domain.images import digest_of, parse_image_uri, pinned_image, short


@dataclass(frozen=True)
class LiveState:
    function: str
    alias: str
    versions: dict[str, float]  # version → share of traffic (1.0 = all)
    digests: dict[str, str | None]  # version (and "$LATEST") → image digest
    tag_digest: str | None  # where the function-name tag points (zip: the function-named key's SHA-256)
    zip: bool = False

    @property
    def settled(self) -> bool:
        """One version, all traffic; tag and $LATEST agree with it."""
        if len(self.versions) != 1:
            return False
        digest = self.digests.get(next(iter(self.versions)))
        return digest is not None and self.tag_digest == digest == self.digests.get("$LATEST")

    def to_json(self) -> dict:
        return {
            "function": self.function,
            "alias": self.alias,
            "versions": [{"version": v, "percent": round(w * 100, 2), "digest": self.digests.get(v)}
                         for v, w in self.versions.items()],
            "latestDigest": self.digests.get("$LATEST"),
            "tagDigest": self.tag_digest,
            "settled": self.settled,
        }

    def describe(self) -> str:
        split = ", ".join(f"version {v} {w * 100:g}% ({short(self.digests.get(v))})"
                          for v, w in self.versions.items())
        return (f"alias {self.alias}: {split}; {self.reference} → {short(self.tag_digest)}; "
                f"$LATEST → {short(self.digests.get('$LATEST'))}")

    @property
    def reference(self) -> str:
        """What the function's IaC refers to: the tag ``<function>``, or the key ``functions/<function>.zip``."""
        return f"key {function_key(self.function)}" if self.zip else f"tag {self.function}"


def live_state(lam, ecr, function: str, alias: str, s3=None) -> LiveState:
    found = lam.get_alias(FunctionName=function, Name=alias)
    function = found["AliasArn"].split(":function:", 1)[1].split(":")[0]  # a name, even if given an ARN
    extra = (found.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    versions = {found["FunctionVersion"]: round(1 - sum(extra.values()), 4), **extra}
    digests: dict[str, str | None] = {}
    image = None
    found = {version: lam.get_function(FunctionName=function, Qualifier=version) for version in [*versions, "$LATEST"]}
    if found["$LATEST"]["Configuration"].get("PackageType") == "Zip":
        return _zip_state(s3, function, alias, versions, found)
    for version, described in found.items():
        code = described["Code"]
        digests[version] = digest_of(pinned_image(code))
        image = image or code.get("ImageUri")
    tag_digest = None
    try:
        repository = parse_image_uri(image) if image else None
    except InvalidDeploymentRequest:
        repository = None  # not an ECR image URI: there is no function-name tag to look at
    if repository:
        images = ecr.batch_get_image(registryId=repository.account, repositoryName=repository.repository,
                                     imageIds=[{"imageTag": function}])["images"]
        tag_digest = images[0]["imageId"]["imageDigest"] if images else None
    return LiveState(function, alias, versions, digests, tag_digest)


def _zip_state(s3, function: str, alias: str, versions: dict[str, float], found: dict[str, dict]) -> LiveState:
    configurations = {version: described["Configuration"] for version, described in found.items()}
    digests = {version: configuration.get("CodeSha256") for version, configuration in configurations.items()}
    sources = [recorded_source(c.get("Description"), c.get("CodeSha256")) for c in configurations.values()]
    bucket = next((source.bucket for source in sources if source), None)
    key_digest = None
    if s3 is not None and bucket:  # the bucket is known once lambda-deployer published a version
        try:
            head = s3.head_object(Bucket=bucket, Key=function_key(function), ChecksumMode="ENABLED")
            key_digest = full_object_sha256(head.get("ChecksumSHA256"))
        except ClientError:
            key_digest = None  # no such key, or no right to read it: not shown
    return LiveState(function, alias, versions, digests, key_digest, zip=True)
