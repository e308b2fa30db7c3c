"""The tag contract of auto-deploys: what a tracked function's tags put into its deploy request."""

import re

import pytest

from handlers.domain import tags
from handlers.domain.errors import InvalidDeploymentRequest
from handlers.domain.model import parse_request

ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/orders@sha256:" + "a" * 64


def request(**extra: str) -> dict:
    return tags.request_from_tags(ARN, {tags.MANAGED: "true", **extra}, IMAGE, "push")


@pytest.mark.parametrize(("value", "enabled"), [("false", False), ("False", False), ("true", True)])
def test_the_analysis_tag_turns_the_canary_analysis_off_or_on(value, enabled):
    raw = request(**{tags.ANALYSIS: value})
    assert parse_request(raw).analysis.enabled is enabled


def test_without_the_analysis_tag_the_request_leaves_analysis_to_its_default():
    raw = request(**{tags.STRATEGY: "Canary10Percent5Minutes"})
    assert "analysis" not in raw and parse_request(raw).analysis.enabled


def test_any_other_analysis_tag_value_is_refused_by_the_request_like_any_bad_value():
    with pytest.raises(InvalidDeploymentRequest, match="'analysis' 'off' must be false, true or an object"):
        parse_request(request(**{tags.ANALYSIS: "off"}))


def test_a_versions_tag_ends_in_previous_and_fits_an_ecr_tag_for_the_longest_names():
    tag = tags.version_tag("f" * 64, "4294967295")
    assert tag.endswith(tags.PREVIOUS_SUFFIX) and len(tag) <= 128  # OCI/Docker tags; ECR allows 300
    assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", tag)


@pytest.mark.parametrize(("tag", "own"), [
    ("orders", True), ("orders.previous", True), ("orders.v12.previous", True),
    ("orders.v12", False), ("orders.v0.previous", False), ("orders.vx.previous", False),
    ("orders-api.v3.previous", False),  # another function's tag
    ("release-1.previous", False), ("main", False),
])
def test_the_deployers_own_tags_of_a_function_are_its_name_its_previous_and_its_versions(tag, own):
    assert tags.is_deployer_tag(tag, "orders") is own
