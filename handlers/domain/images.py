"""ECR image references: parsing and formatting, no AWS calls."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from handlers.domain.errors import InvalidDeploymentRequest

_REPOSITORY = r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*"
_IMAGE_URI = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com(?:\.cn)?"
    rf"/(?P<repository>{_REPOSITORY})"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")


def dns_suffix(region: str) -> str:
    """The domain of a region's endpoints: ``amazonaws.com.cn`` in the China regions (aws-cn), else
    ``amazonaws.com`` (the commercial regions and GovCloud)."""
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


@dataclass(frozen=True)
class ImageRef:
    """An image in an ECR repository, by digest (preferred) or by tag."""

    account: str
    region: str
    repository: str
    digest: str | None = None
    tag: str | None = None

    @property
    def registry(self) -> str:
        return f"{self.account}.dkr.ecr.{self.region}.{dns_suffix(self.region)}"

    @property
    def repository_uri(self) -> str:
        return f"{self.registry}/{self.repository}"

    @property
    def uri(self) -> str:
        """The pinned form ``repo@sha256:…`` when the digest is known, else ``repo:tag``."""
        if self.digest:
            return f"{self.repository_uri}@{self.digest}"
        return f"{self.repository_uri}:{self.tag}"

    @property
    def short_digest(self) -> str:
        return short(self.digest)

    def pinned(self, digest: str) -> ImageRef:
        return replace(self, digest=digest, tag=None)


def parse_image_uri(uri: object) -> ImageRef:
    """Parse ``ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO@sha256:…`` or ``…/REPO:TAG``."""
    if not isinstance(uri, str) or not uri:
        raise InvalidDeploymentRequest("'image' must be an ECR image URI such as "
                                       "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:<digest>")
    match = _IMAGE_URI.match(uri.strip())
    if not match or not (match["tag"] or match["digest"]):
        raise InvalidDeploymentRequest(
            f"'image' {uri!r} is not an ECR image URI; expected "
            "ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY@sha256:<64 hex> or …/REPOSITORY:TAG"
        )
    return ImageRef(
        account=match["account"],
        region=match["region"],
        repository=match["repository"],
        digest=match["digest"],
        tag=None if match["digest"] else match["tag"],
    )


def parse_repository_uri(uri: str) -> ImageRef:
    """``ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO`` (``ImageRef.repository_uri``): a repository, no image."""
    match = _IMAGE_URI.match(uri)
    if not match or match["tag"] or match["digest"]:
        raise InvalidDeploymentRequest(f"{uri!r} is not an ECR repository URI")
    return ImageRef(account=match["account"], region=match["region"], repository=match["repository"])


def short(digest: str | None) -> str:
    """``sha256:0123456789ab``: enough of a digest for people to tell images apart."""
    return (digest or "")[: len("sha256:") + 12]


def digest_of(uri: str | None) -> str | None:
    """The digest pinned by an image URI as Lambda reports it (``ImageUri`` or ``ResolvedImageUri``)."""
    if not uri or "@" not in uri:
        return None
    digest = uri.rsplit("@", 1)[1]
    return digest if _DIGEST.match(digest) else None


def pinned_image(code: dict) -> str | None:
    """The image a Lambda function version runs (its ``Code``), pinned by digest when Lambda resolved one.

    A function's IaC may name ``repo:tag``; ``ResolvedImageUri`` carries the digest Lambda pulled.
    """
    given = code.get("ImageUri")
    try:
        image = parse_image_uri(given)
    except InvalidDeploymentRequest:
        return given
    digest = digest_of(code.get("ResolvedImageUri")) or image.digest
    return image.pinned(digest).uri if digest else given
