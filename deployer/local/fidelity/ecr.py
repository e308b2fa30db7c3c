"""ECR as AWS documents it, where moto 5.2.5 differs (MOTO_GAPS.md, "ECR")."""

from __future__ import annotations

import copy

from moto.core.exceptions import ServiceException
from moto.ecr import exceptions as ecr_errors
from moto.ecr.models import ECRBackend

from deployer.local.fidelity import emit
from deployer.local.patching import Patch, original
from handlers.domain import events


class ImageTagAlreadyExistsException(ServiceException):
    code = "ImageTagAlreadyExistsException"


def patches() -> list[Patch]:
    moto_put_image = original(ECRBackend, "put_image")

    # AWS (PutImage errors): pushing an existing tag of an immutable repository onto another image is
    # ImageTagAlreadyExistsException; moto reports ImageAlreadyExistsException, which means "already there".
    def put_image(self, repository_name, image_manifest, image_tag, image_manifest_mediatype=None, digest=None):
        try:
            image = moto_put_image(self, repository_name, image_manifest, image_tag, image_manifest_mediatype, digest)
        except ecr_errors.ImageAlreadyExistsException:
            tagged = [i for i in self.repositories[repository_name].images if image_tag in i.image_tags]
            if tagged and tagged[0].image_manifest != image_manifest:
                raise ImageTagAlreadyExistsException(
                    f"The image tag '{image_tag}' already exists in the '{repository_name}' repository and "
                    "cannot be overwritten because the repository is immutable."
                ) from None
            raise
        # AWS: every successful push (the deployer's own retags included) is an "ECR Image Action" event.
        emit(self.account_id, self.region_name, events.ECR_SOURCE, events.ECR_DETAIL_TYPE, {
            "result": "SUCCESS", "repository-name": repository_name, "image-digest": image.get_image_digest(),
            "action-type": "PUSH", "image-tag": image_tag,
        })
        return image

    moto_batch_get_image = original(ECRBackend, "batch_get_image")

    # AWS (aws-cli's batch-get-image example 2, "imageTag=prod imageTag=team1" of one digest): each image asked
    # for by tag comes back with that tag in its imageId. moto answers the image's latest tag, so a caller
    # cannot tell which of its tags exist (the prune looks its version tags up this way).
    def batch_get_image(self, repository_name, registry_id=None, image_ids=None):
        response = moto_batch_get_image(self, repository_name, registry_id, image_ids)  # its checks and failures
        response["images"] = [_as_asked(image, image_id) for image_id in image_ids
                              for image in self.repositories[repository_name].images if _matches(image, image_id)]
        return response

    return [
        Patch(ECRBackend, "batch_get_image", batch_get_image, ("self", "repository_name", "registry_id", "image_ids"),
              why="an image asked for by tag is answered with that tag in its imageId"),
        Patch(ECRBackend, "put_image", put_image,
              ("self", "repository_name", "image_manifest", "image_tag", "image_manifest_mediatype", "digest"),
              why="ImageTagAlreadyExistsException for a moved immutable tag; an ECR Image Action event per push"),
    ]


def _matches(image, image_id: dict) -> bool:
    """moto's own match (ECRBackend.batch_get_image): by digest, or by one of the image's tags."""
    return (("imageDigest" in image_id and image.get_image_digest() == image_id["imageDigest"])
            or ("imageTag" in image_id and image_id["imageTag"] in image.image_tags))


def _as_asked(image, image_id: dict):
    if "imageTag" not in image_id:
        return image
    answered = copy.copy(image)  # the stored image keeps its own latest tag
    answered.image_tag = image_id["imageTag"]
    return answered
