"""Moving ECR tags: ``BatchGetImage`` for the manifest, then ``PutImage`` with the new tag."""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import ClientError

from handlers.aws.clients import client, error_code
from handlers.domain.images import ImageRef
from handlers.domain.tags import PREVIOUS_SUFFIX

# Ask for every manifest type so ECR returns each manifest as pushed, never converted: the digest of a
# re-put manifest must stay the digest the function pins.
MANIFEST_MEDIA_TYPES = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v1+json",
]


@dataclass(frozen=True)
class Manifest:
    digest: str
    body: str
    media_type: str | None


def previous_tag(function: str) -> str:
    """Keeps the image the stable version runs tagged, so 'expire untagged' lifecycle rules spare it."""
    return f"{function}{PREVIOUS_SUFFIX}"


def get(repository: ImageRef, *, digests: list[str] = (), tags: list[str] = ()) -> dict[str, Manifest]:
    """Manifests by digest and by tag, in one call; what does not exist is simply absent."""
    ids = [{"imageDigest": d} for d in dict.fromkeys(digests)] + [{"imageTag": t} for t in tags]
    if not ids:
        return {}
    images = client("ecr").batch_get_image(
        registryId=repository.account, repositoryName=repository.repository, imageIds=ids,
        acceptedMediaTypes=MANIFEST_MEDIA_TYPES,
    )["images"]
    found: dict[str, Manifest] = {}
    for image in images:
        manifest = Manifest(image["imageId"]["imageDigest"], image["imageManifest"],
                            image.get("imageManifestMediaType"))
        found[manifest.digest] = manifest
        if tag := image["imageId"].get("imageTag"):
            found[tag] = manifest
    return found


def put_tag(repository: ImageRef, manifest: Manifest, tag: str) -> bool:
    """Point ``tag`` at ``manifest``; False when it already was (ECR's ImageAlreadyExistsException)."""
    params = {"registryId": repository.account, "repositoryName": repository.repository,
              "imageManifest": manifest.body, "imageTag": tag, "imageDigest": manifest.digest}
    if manifest.media_type:
        params["imageManifestMediaType"] = manifest.media_type
    try:
        client("ecr").put_image(**params)
    except ClientError as exc:
        if error_code(exc) == "ImageAlreadyExistsException":
            return False
        raise
    return True
