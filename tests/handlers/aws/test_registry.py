"""The ECR reads the prune relies on, with botocore's Stubber: how a missing image is told from a failure."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from handlers.aws import registry
from handlers.domain.images import ImageRef

REPO = ImageRef("123456789012", "eu-west-1", "orders-api")
A, B = "sha256:" + "a" * 64, "sha256:" + "b" * 64


@pytest.fixture
def ecr(monkeypatch):
    client = boto3.client("ecr", region_name="eu-west-1", aws_access_key_id="k", aws_secret_access_key="s")
    monkeypatch.setattr(registry, "client", lambda service: client)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def ids(*digests: str) -> dict:
    return {"registryId": REPO.account, "repositoryName": REPO.repository,
            "imageIds": [{"imageDigest": d} for d in digests]}


def test_an_image_gone_meanwhile_costs_only_its_own_tags(ecr):
    """DescribeImages refuses the whole request for one missing image: the others are asked one by one."""
    ecr.add_client_error("describe_images", "ImageNotFoundException", expected_params=ids(A, B))
    ecr.add_response("describe_images", {"imageDetails": [{"imageDigest": A, "imageTags": ["x", "y"]}]}, ids(A))
    ecr.add_client_error("describe_images", "ImageNotFoundException", expected_params=ids(B))
    assert registry.image_tags(REPO, [A, B]) == {A: ["x", "y"]}


def test_another_describe_failure_is_raised(ecr):
    ecr.add_client_error("describe_images", "AccessDeniedException", expected_params=ids(A))
    with pytest.raises(ClientError, match="AccessDenied"):
        registry.image_tags(REPO, [A])
