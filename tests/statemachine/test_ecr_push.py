"""An image pushed to ECR deploys every function that tracks that repository and tag (EventBridge → Map).

The push's own execution reports each function's outcome, and fails (``DeploymentsFailed``) when any
function's deployment did not succeed, after letting the others finish.
"""

from __future__ import annotations

import json

import pytest
from support import wait_for

from deployer.local import sample
from deployer.local.emulator import Emulator
from deployer.local.faults import Fault

TRACK = {"lambda-deployer:track": "shop:main", "lambda-deployer:strategy": "Canary50Percent1Second",
         "lambda-deployer:check-interval": "1", "lambda-deployer:analysis": "false"}
MISSING_ALARM = {"lambda-deployer:alarms": "no-such-alarm"}  # Resolve refuses: the alarm does not exist


@pytest.fixture
def shop():
    """Repository ``shop`` shared by two functions that track ``shop:main``, and one that tracks nothing."""
    with Emulator(auto_deploy={"shop": ["main", "release-*"]}) as emulator:
        for name in ("orders", "billing"):
            sample.create_function(emulator, name, repository="shop", tags=TRACK)
        sample.create_function(emulator, "reports", repository="shop")
        yield emulator


@pytest.fixture
def broken_shop():
    """``shop:main`` tracked by ``orders`` (deploys, canary and all) and ``billing`` (watches an alarm that
    does not exist)."""
    with Emulator(auto_deploy={"shop": ["main"]}) as emulator:
        sample.create_function(emulator, "orders", repository="shop", tags=TRACK)
        sample.create_function(emulator, "billing", repository="shop", tags=TRACK | MISSING_ALARM)
        yield emulator


def executions(emulator: Emulator) -> list[dict]:
    return emulator.client("stepfunctions").list_executions(stateMachineArn=emulator.state_machine_arn)["executions"]


def finished(emulator: Emulator, count: int) -> list[dict]:
    return wait_for(lambda: len(done := [e for e in executions(emulator) if e["status"] != "RUNNING"]) >= count
                    and not [e for e in executions(emulator) if e["status"] == "RUNNING"] and done,
                    timeout=30, what=f"{count} executions")


def push_execution(emulator: Emulator, ended: list[dict]):
    return next(execution for execution in (emulator.describe(e["executionArn"]) for e in ended)
                if execution.input.get("source") == "aws.ecr")


def child_of(emulator: Emulator, ended: list[dict], function: str):
    return next(emulator.describe(e["executionArn"]) for e in ended
                if emulator.describe(e["executionArn"]).input.get("function", "").endswith(f":{function}"))


def reported_failures(push) -> list[dict]:
    """The failed deployments the push's cause lists (``N of M deployments did not succeed: [...]``)."""
    return json.loads(push.cause.split(": ", 1)[1])


def test_a_push_deploys_every_function_that_tracks_the_tag(shop):
    digest = sample.push_image(shop.client("ecr"), "shop", "shop:v2", tag="main")

    ended = finished(shop, 3)

    assert len(ended) == 3 and {e["status"] for e in ended} == {"SUCCEEDED"}  # the push, and one per function
    children = push_execution(shop, ended).output["deployments"]
    assert sorted(child["function"] for child in children) == ["billing", "orders"]
    assert {(child["status"], child["failed"]) for child in children} == {("SUCCEEDED", False)}
    assert {child["execution"] for child in children} == {e["executionArn"] for e in ended} - {
        push_execution(shop, ended).arn}
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


def test_one_failed_deployment_fails_the_push_naming_it_and_the_others_still_finish(broken_shop):
    sample.push_image(broken_shop.client("ecr"), "shop", "shop:v2", tag="main")

    ended = finished(broken_shop, 3)

    push = push_execution(broken_shop, ended)
    assert (push.status, push.error) == ("FAILED", "DeploymentsFailed")
    assert push.cause.startswith("1 of 2 deployments did not succeed")
    [failed] = reported_failures(push)
    billing = child_of(broken_shop, ended, "billing")
    assert failed == {"function": "billing", "execution": billing.arn, "status": "FAILED", "failed": True,
                      "error": "InvalidDeploymentRequest"}
    # orders bakes its canary after billing was refused, and is deployed all the same
    orders = child_of(broken_shop, ended, "orders")
    assert orders.status == "SUCCEEDED" and orders.history[-1]["timestamp"] > billing.history[-1]["timestamp"]
    lam = broken_shop.client("lambda")
    assert lam.get_alias(FunctionName="orders", Name="live")["FunctionVersion"] == "2"
    assert lam.get_alias(FunctionName="billing", Name="live")["FunctionVersion"] == "1"


def test_a_push_whose_every_deployment_fails_fails_with_each_function_and_its_error(broken_shop):
    broken_shop.api.inject(Fault((403, "AccessDeniedException"), task="ShiftTraffic", operation="UpdateAlias",
                                 times=None))  # orders gets as far as its canary, and is rolled back
    sample.push_image(broken_shop.client("ecr"), "shop", "shop:v2", tag="main")

    ended = finished(broken_shop, 3)

    push = push_execution(broken_shop, ended)
    assert (push.status, push.error) == ("FAILED", "DeploymentsFailed")
    assert push.cause.startswith("2 of 2 deployments did not succeed")
    assert {(f["function"], f["status"], f["error"]) for f in reported_failures(push)} == {
        ("orders", "FAILED", "DeploymentRolledBack"), ("billing", "FAILED", "InvalidDeploymentRequest")}
    assert broken_shop.client("lambda").get_alias(FunctionName="orders", Name="live")["FunctionVersion"] == "1"


def test_the_tags_a_prune_puts_on_kept_versions_start_nothing(shop):
    """``release-api.v1.previous`` matches the trigger ``release-*``: only the ``.previous`` exclusion keeps the
    prune's own tag from deploying. A push of ``release-9`` afterwards shows the rules deliver meanwhile."""
    sample.create_function(shop, "release-api", repository="shop")
    before = {e["executionArn"] for e in finished(shop, 2)}  # its IaC's pushes (release-api-v1, release-api) match
    prune = shop.run({"action": "prune", "function": "release-api", "keep": 5})
    assert prune.status == "SUCCEEDED" and prune.output["imageTags"]["tagged"] == {"1": "release-api.v1.previous"}

    sample.push_image(shop.client("ecr"), "shop", "shop:rc", tag="release-9")

    ended = finished(shop, 4)
    [after] = [e["executionArn"] for e in ended if e["executionArn"] not in before | {prune.arn}]
    assert shop.describe(after).input["detail"]["image-tag"] == "release-9"
