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


def _chunks(items: list, size: int = 100) -> list[list]:
    """ECR's batch calls take at most 100 image ids a request."""
    return [items[i:i + size] for i in range(0, len(items), size)]


def tagged(repository: ImageRef, tags: list[str]) -> dict[str, str]:
    """tag -> digest for those of ``tags`` that exist (BatchGetImage reports the others as failures)."""
    found: dict[str, str] = {}
    for chunk in _chunks(list(dict.fromkeys(tags))):
        manifests = get(repository, tags=chunk)
        found.update({tag: manifests[tag].digest for tag in chunk if tag in manifests})
    return found


def image_tags(repository: ImageRef, digests: list[str]) -> dict[str, list[str]]:
    """digest -> every tag of that image (DescribeImages ``imageTags``), for images that exist.

    DescribeImages refuses a whole request when one image is missing (ImageNotFoundException): if one went
    meanwhile, its chunk is asked again one image at a time."""
    found: dict[str, list[str]] = {}
    for chunk in _chunks(list(dict.fromkeys(digests))):
        try:
            details = _describe(repository, chunk)
        except ClientError as exc:
            if error_code(exc) != "ImageNotFoundException":
                raise
            details = [detail for digest in chunk for detail in _describe(repository, [digest], missing_ok=True)]
        found.update({d["imageDigest"]: list(d.get("imageTags") or []) for d in details})
    return found


def _describe(repository: ImageRef, digests: list[str], *, missing_ok: bool = False) -> list[dict]:
    try:
        return client("ecr").describe_images(registryId=repository.account, repositoryName=repository.repository,
                                             imageIds=[{"imageDigest": d} for d in digests])["imageDetails"]
    except ClientError as exc:
        if missing_ok and error_code(exc) == "ImageNotFoundException":
            return []
        raise


def remove_tags(repository: ImageRef, tags: list[str]) -> list[str]:
    """Remove ``tags`` (BatchDeleteImage by tag: the image stays while it has another tag); the tags removed."""
    removed: list[str] = []
    for chunk in _chunks(list(dict.fromkeys(tags))):
        answer = client("ecr").batch_delete_image(registryId=repository.account, repositoryName=repository.repository,
                                                  imageIds=[{"imageTag": t} for t in chunk])
        removed += [i["imageTag"] for i in answer.get("imageIds", []) if i.get("imageTag")]
    return removed
