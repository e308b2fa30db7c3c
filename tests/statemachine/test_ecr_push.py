"""An image pushed to ECR deploys every function that tracks that repository and tag (EventBridge → Map)."""

from __future__ import annotations

import pytest
from support import wait_for

from deployer.local import sample
from deployer.local.emulator import Emulator


@pytest.fixture
def shop():
    """Repository ``shop`` shared by two functions that track ``shop:main``, and one that tracks nothing."""
    with Emulator(auto_deploy={"shop": ["main", "release-*"]}) as emulator:
        track = {"lambda-deployer:track": "shop:main", "lambda-deployer:strategy": "Canary50Percent1Second",
                 "lambda-deployer:check-interval": "1"}
        for name in ("orders", "billing"):
            sample.create_function(emulator, name, repository="shop", tags=track)
        sample.create_function(emulator, "reports", repository="shop")
        yield emulator


def executions(emulator: Emulator) -> list[dict]:
    return emulator.client("stepfunctions").list_executions(stateMachineArn=emulator.state_machine_arn)["executions"]


def finished(emulator: Emulator, count: int) -> list[dict]:
    return wait_for(lambda: len(done := [e for e in executions(emulator) if e["status"] != "RUNNING"]) >= count
                    and not [e for e in executions(emulator) if e["status"] == "RUNNING"] and done,
                    timeout=30, what=f"{count} executions")


def test_a_push_deploys_every_function_that_tracks_the_tag(shop):
    digest = sample.push_image(shop.client("ecr"), "shop", "shop:v2", tag="main")

    ended = finished(shop, 3)

    assert len(ended) == 3 and {e["status"] for e in ended} == {"SUCCEEDED"}  # the push, and one per function
    parent = next(e for e in ended if shop.describe(e["executionArn"]).input.get("source") == "aws.ecr")
    children = shop.describe(parent["executionArn"]).output["deployments"]
    assert sorted(child["function"] for child in children) == ["billing", "orders"]
    assert {child["result"]["status"] for child in children} == {"SUCCEEDED"}
    lam, ecr = shop.client("lambda"), shop.client("ecr")
    for name in ("orders", "billing"):
        assert lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "2"
        tagged = ecr.describe_images(repositoryName="shop", imageIds=[{"imageTag": name}])["imageDetails"]
        assert tagged[0]["imageDigest"] == digest  # the deployer's own retags started nothing more
    assert lam.get_alias(FunctionName="reports", Name="live")["FunctionVersion"] == "1"


def test_a_push_that_no_function_tracks_ends_quickly_and_changes_nothing(shop):
    sample.push_image(shop.client("ecr"), "shop", "shop:rc", tag="release-7")

    [ended] = finished(shop, 1)

    execution = shop.describe(ended["executionArn"])
    assert execution.status == "SUCCEEDED" and execution.output["deployments"] == []
    assert [c for c in shop.api.calls_of(execution.arn) if c.mutating] == []


def test_pushes_of_other_tags_start_nothing(shop):
    ecr = shop.client("ecr")
    sample.push_image(ecr, "shop", "shop:feature", tag="feature-x")
    sample.push_image(ecr, "shop", "shop:v1-again", tag="orders")  # what the deployer's retags look like
    sample.push_image(ecr, "shop", "shop:v1-again", tag="orders.previous")
    assert executions(shop) == []
