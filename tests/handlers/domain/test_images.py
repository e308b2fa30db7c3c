"""ECR image references."""

import pytest

from handlers.domain.errors import InvalidDeploymentRequest
from handlers.domain.images import ImageRef, digest_of, parse_image_uri, pinned_image

DIGEST = "sha256:" + "ab" * 32
REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


def test_digest_form():
    image = parse_image_uri(f"{REGISTRY}/team/app@{DIGEST}")
    assert image == ImageRef("123456789012", "eu-west-1", "team/app", DIGEST, None)
    assert image.uri == f"{REGISTRY}/team/app@{DIGEST}" and image.short_digest == "sha256:abababababab"


def test_tag_form_and_pinning():
    image = parse_image_uri(f"{REGISTRY}/app:v1.2")
    assert (image.tag, image.digest) == ("v1.2", None)
    assert image.pinned(DIGEST).uri == f"{REGISTRY}/app@{DIGEST}"


@pytest.mark.parametrize("registry", [
    "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",  # aws-cn: endpoints end in .com.cn
    "123456789012.dkr.ecr.us-gov-west-1.amazonaws.com",
])
def test_images_outside_the_commercial_partition_keep_their_registry(registry):
    image = parse_image_uri(f"{registry}/app:v1")
    assert image.pinned(DIGEST).uri == f"{registry}/app@{DIGEST}"
    assert ImageRef(image.account, image.region, "app", DIGEST).uri == f"{registry}/app@{DIGEST}"


def test_tag_and_digest_together_keep_the_digest():
    assert parse_image_uri(f"{REGISTRY}/app:v1@{DIGEST}").digest == DIGEST


@pytest.mark.parametrize("uri", [
    None, "", "app:v1", f"{REGISTRY}/app", f"{REGISTRY}/App:v1", f"{REGISTRY}/app@sha256:abc",
    "docker.io/library/app:v1", f"{REGISTRY}/app:-bad",
])
def test_not_an_ecr_image(uri):
    with pytest.raises(InvalidDeploymentRequest) as refused:
        parse_image_uri(uri)
    if uri:
        assert str(refused.value) == (
            f"'image' {uri!r} is not an ECR image URI; expected "
            "ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY@sha256:<64 hex> or …/REPOSITORY:TAG")
    else:
        assert str(refused.value) == ("'image' must be an ECR image URI such as "
                                      "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:<digest>")


def test_digest_of_reads_only_real_digests():
    assert digest_of(f"{REGISTRY}/app@{DIGEST}") == DIGEST
    assert digest_of(f"{REGISTRY}/app:v1") is None and digest_of(None) is None


def test_pinned_image_prefers_the_digest_lambda_resolved():
    code = {"ImageUri": f"{REGISTRY}/app:orders", "ResolvedImageUri": f"{REGISTRY}/app@{DIGEST}"}
    assert pinned_image(code) == f"{REGISTRY}/app@{DIGEST}"
    assert pinned_image({"ImageUri": f"{REGISTRY}/app:orders"}) == f"{REGISTRY}/app:orders"
