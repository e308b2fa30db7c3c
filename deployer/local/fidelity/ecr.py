"""ECR as AWS documents it, where moto 5.2.5 differs (MOTO_GAPS.md, "ECR")."""

from __future__ import annotations

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

    return [
        Patch(ECRBackend, "put_image", put_image,
              ("self", "repository_name", "image_manifest", "image_tag", "image_manifest_mediatype", "digest"),
              why="ImageTagAlreadyExistsException for a moved immutable tag; an ECR Image Action event per push"),
    ]
