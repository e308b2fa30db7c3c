"""What is live for a function right now: the alias, its weights, the images behind each version."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.domain.errors import InvalidDeploymentRequest
from handlers.domain.images import digest_of, parse_image_uri, pinned_image, short


@dataclass(frozen=True)
class LiveState:
    function: str
    alias: str
    versions: dict[str, float]  # version → share of traffic (1.0 = all)
    digests: dict[str, str | None]  # version (and "$LATEST") → image digest
    tag_digest: str | None  # where the function-name tag points

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
        return (f"alias {self.alias}: {split}; tag {self.function} → {short(self.tag_digest)}; "
                f"$LATEST → {short(self.digests.get('$LATEST'))}")


def live_state(lam, ecr, function: str, alias: str) -> LiveState:
    found = lam.get_alias(FunctionName=function, Name=alias)
    function = found["AliasArn"].split(":function:", 1)[1].split(":")[0]  # a name, even if given an ARN
    extra = (found.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    versions = {found["FunctionVersion"]: round(1 - sum(extra.values()), 4), **extra}
    digests: dict[str, str | None] = {}
    image = None
    for version in [*versions, "$LATEST"]:
        code = lam.get_function(FunctionName=function, Qualifier=version)["Code"]
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
