"""Resolve's branches with botocore's Stubber: each refusal and each kind of plan, in milliseconds.

The end-to-end tests (tests/statemachine/test_validation.py) prove the same rules against the emulator;
these pin which AWS answer leads to which outcome, with no emulator at all.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from handlers.aws.context import Aws
from handlers.aws.resolution import resolve
from handlers.domain.errors import DeploymentInProgress, InvalidDeploymentRequest
from handlers.domain.model import parse_request

REGION, ACCOUNT = "eu-west-1", "123456789012"
FN = "orders-api"
FN_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FN}"
REPO_URI = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{FN}"
OLD, NEW = "sha256:" + "a" * 64, "sha256:" + "b" * 64
TABLE = "deployer-deployments"


class Stubbed:
    """One stubbed client per service, handed to Resolve through its AWS context."""

    def __init__(self) -> None:
        self.clients, self.stubbers = {}, {}

    def client(self, service: str):
        if service not in self.clients:
            self.clients[service] = boto3.client(service, region_name=REGION, aws_access_key_id="k",
                                                 aws_secret_access_key="s")
            self.stubbers[service] = Stubber(self.clients[service])
            self.stubbers[service].activate()
        return self.clients[service]

    def answer(self, service: str, operation: str, response: dict, params: dict | None = None) -> None:
        self.client(service)
        self.stubbers[service].add_response(operation, response, params)

    def fail(self, service: str, operation: str, code: str) -> None:
        self.client(service)
        self.stubbers[service].add_client_error(operation, code)

    def all_used(self) -> None:
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()

    @property
    def aws(self) -> Aws:
        return Aws(region=REGION, table=TABLE, client=self.client)


def function(digest: str = OLD, *, package: str = "Image", role: str = "arn:aws:iam::1:role/r") -> dict:
    return {"Configuration": {"FunctionName": FN, "FunctionArn": FN_ARN, "PackageType": package, "Role": role,
                              "RevisionId": "rev-latest"},
            "Code": {"ImageUri": f"{REPO_URI}:{FN}", "ResolvedImageUri": f"{REPO_URI}@{digest}"}}


def request(**extra) -> dict:
    return {"function": FN, "image": f"{REPO_URI}@{NEW}", **extra}


@pytest.fixture
def aws() -> Stubbed:
    return Stubbed()


def up_to_the_image(aws: Stubbed, *, lock: dict | None = None, mutability: str = "MUTABLE") -> None:
    aws.answer("lambda", "get_function", function())
    aws.answer("dynamodb", "get_item", {"Item": lock} if lock else {})
    aws.answer("ecr", "describe_repositories", {"repositories": [
        {"repositoryName": FN, "repositoryUri": REPO_URI, "imageTagMutability": mutability}]})
    aws.answer("ecr", "describe_images", {"imageDetails": [{"imageDigest": NEW}]})


def live_alias(aws: Stubbed, version: str = "1", weights: dict | None = None) -> None:
    answer = {"Name": "live", "FunctionVersion": version, "RevisionId": "rev-alias"}
    if weights:
        answer["RoutingConfig"] = {"AdditionalVersionWeights": weights}
    aws.answer("lambda", "get_alias", answer)


def test_a_canary_against_the_live_version_records_it_as_stable_and_keeps_the_plan(aws):
    up_to_the_image(aws)
    live_alias(aws)
    aws.answer("lambda", "get_function", function(OLD), {"FunctionName": FN_ARN, "Qualifier": "1"})
    aws.fail("lambda", "get_provisioned_concurrency_config", "ProvisionedConcurrencyConfigNotFoundException")

    deployment, revision = resolve(parse_request(request(strategy="Canary10Percent5Minutes")), "exec", aws.aws)

    assert (deployment.stable.version, deployment.stable.digest, deployment.target.digest) == ("1", OLD, NEW)
    assert [step.weight for step in deployment.plan.steps] == [10]
    assert (revision, deployment.noop, deployment.latest_revision_id) == ("rev-alias", False, "rev-latest")
    assert not deployment.wait_for_capacity
    aws.all_used()


def test_provisioned_concurrency_on_the_alias_makes_each_shift_wait_for_it(aws):
    up_to_the_image(aws)
    live_alias(aws)
    aws.answer("lambda", "get_function", function(OLD))
    aws.answer("lambda", "get_provisioned_concurrency_config", {"Status": "READY"},
               {"FunctionName": FN_ARN, "Qualifier": "live"})

    deployment, _ = resolve(parse_request(request(strategy="Canary10Percent5Minutes")), "exec", aws.aws)

    assert deployment.wait_for_capacity
    aws.all_used()


@pytest.mark.parametrize("state", ["Inactive", "Failed"])
def test_a_stable_version_lambda_would_not_invoke_is_refused_as_a_rollback_target(aws, state):
    up_to_the_image(aws)
    live_alias(aws)
    stable = function(OLD)
    stable["Configuration"].update(State=state, StateReason="idle")
    aws.answer("lambda", "get_function", stable)

    with pytest.raises(InvalidDeploymentRequest, match=f"version 1 of orders-api, which a rollback would return to, "
                                                      f"is {state} \\(idle\\)"):
        resolve(parse_request(request()), "exec", aws.aws)


def test_no_alias_yet_means_a_first_deployment_all_at_once(aws):
    up_to_the_image(aws)
    aws.fail("lambda", "get_alias", "ResourceNotFoundException")

    deployment, revision = resolve(parse_request(request(strategy="Linear10PercentEvery1Minute")), "exec", aws.aws)

    assert (deployment.alias_exists, deployment.plan.steps, revision) == (False, (), None)
    assert deployment.plan.name.startswith("AllAtOnce (first deployment")


def test_the_live_image_again_is_a_noop(aws):
    up_to_the_image(aws)
    live_alias(aws)
    aws.answer("lambda", "get_function", function(NEW))
    deployment, _ = resolve(parse_request(request()), "exec", aws.aws)
    assert deployment.noop


@pytest.mark.parametrize(("weights", "version", "refusal"), [
    ({"2": 0.1}, "1", "already weighted (10% to version 2)"),
    (None, "$LATEST", "points at $LATEST"),
])
def test_an_alias_that_cannot_be_shifted_is_refused(aws, weights, version, refusal):
    up_to_the_image(aws)
    live_alias(aws, version, weights)
    with pytest.raises(InvalidDeploymentRequest) as refused:
        resolve(parse_request(request()), "exec", aws.aws)
    assert refusal in str(refused.value)


def test_a_lock_held_by_another_execution_refuses_with_that_execution(aws):
    aws.answer("lambda", "get_function", function())
    aws.answer("dynamodb", "get_item", {"Item": {
        "pk": {"S": FN}, "sk": {"S": "lock"}, "execution": {"S": "arn:aws:states:x:1:execution:sm:other-run"},
        "startedAt": {"S": "2026-12-01T00:00:00Z"}, "deployment": {"S": "{}"}}})
    with pytest.raises(DeploymentInProgress, match="other-run"):
        resolve(parse_request(request()), "exec", aws.aws)


def test_an_immutable_repository_is_refused_before_anything_moves(aws):
    aws.answer("lambda", "get_function", function())
    aws.answer("dynamodb", "get_item", {})
    aws.answer("ecr", "describe_repositories", {"repositories": [
        {"repositoryName": FN, "repositoryUri": REPO_URI, "imageTagMutability": "IMMUTABLE"}]})
    with pytest.raises(InvalidDeploymentRequest, match="immutable tags"):
        resolve(parse_request(request()), "exec", aws.aws)


def test_a_zip_function_is_refused(aws):
    aws.answer("lambda", "get_function", function(package="Zip"))
    with pytest.raises(InvalidDeploymentRequest, match="zip-packaged"):
        resolve(parse_request(request()), "exec", aws.aws)


def test_an_image_from_another_region_is_refused_without_a_call(aws):
    other = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/{FN}@{NEW}"
    with pytest.raises(InvalidDeploymentRequest, match="Lambda pulls images only from the function's own region"):
        resolve(parse_request(request(image=other)), "exec", aws.aws)
    assert aws.clients == {}


def test_versions_on_different_roles_cannot_share_traffic(aws):
    up_to_the_image(aws)
    live_alias(aws)
    aws.answer("lambda", "get_function", function(OLD, role="arn:aws:iam::1:role/old"))
    with pytest.raises(InvalidDeploymentRequest, match="different execution roles"):
        resolve(parse_request(request(strategy="Canary10Percent5Minutes")), "exec", aws.aws)


def test_a_missing_or_firing_alarm_is_refused_and_a_hotfix_ignores_the_firing_one(aws):
    def alarms(*states):
        aws.answer("cloudwatch", "describe_alarms", {"MetricAlarms": [
            {"AlarmName": name, "StateValue": state} for name, state in states], "CompositeAlarms": []})

    up_to_the_image(aws)
    live_alias(aws)
    aws.answer("lambda", "get_function", function(OLD))
    alarms(("errors", "OK"))
    with pytest.raises(InvalidDeploymentRequest, match="unknown alarm"):
        resolve(parse_request(request(alarms=["errors", "latency"])), "exec", aws.aws)

    hotfix = Stubbed()
    up_to_the_image(hotfix)
    live_alias(hotfix)
    hotfix.answer("lambda", "get_function", function(OLD))
    hotfix.answer("cloudwatch", "describe_alarms", {"MetricAlarms": [
        {"AlarmName": "errors", "StateValue": "ALARM"}, {"AlarmName": "latency", "StateValue": "OK"}]})
    deployment, _ = resolve(parse_request(request(alarms=["errors", "latency"], allowFiringAlarms=True)), "exec",
                            hotfix.aws)
    assert deployment.ignored_alarms == ("errors",)
