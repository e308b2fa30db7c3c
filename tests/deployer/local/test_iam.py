"""The emulator enforces IAM as AWS does: each deployer function may make only the calls its role allows.

Facts checked here (deployer.local.iam cites where each is documented): action names and service prefixes,
the resource ARN a call acts on, the managed-tag condition against the function's real tags, the name
prefix and repository patterns, the ECR pull an image update needs, and the error each service answers.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from botocore.exceptions import ClientError
from support import make_world

from deployer.local import sample
from deployer.local.emulator import Emulator
from deployer.local.faults import TaskScope, task_scope
from deployer.local.iam import Need, function_arn, needs
from infra import permissions
from infra.permissions import Allow, Scope

REGION = "us-east-1"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:orders-api"
REPOSITORY = "arn:aws:ecr:us-east-1:123456789012:repository/orders-api"
EVENTS = "arn:aws:events:us-east-1:123456789012"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/orders-api@sha256:" + "a" * 64


def as_task(task: str):
    """Calls made in this block are made as ``task``'s function (its role), as the handlers' are."""
    return task_scope(TaskScope("test", task))


def refused(call) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value


def test_the_emulator_reads_the_permission_table_without_importing_cdk():
    probe = "import sys, deployer.local.emulator; sys.exit('aws_cdk' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], check=False).returncode == 0


@pytest.mark.parametrize(("service", "operation", "params", "expected"), [
    ("resourcegroupstaggingapi", "GetResources", {}, [Need("tag:GetResources", "*")]),
    ("stepfunctions", "StopExecution", {"executionArn": "arn:aws:states:us-east-1:123456789012:execution:sm:x"},
     [Need("states:StopExecution", "arn:aws:states:us-east-1:123456789012:execution:sm:x")]),
    ("cloudwatch", "DescribeAlarms", {"AlarmNames": ["a"]},
     [Need("cloudwatch:DescribeAlarms", "arn:aws:cloudwatch:us-east-1:123456789012:alarm:*")]),
    ("cloudwatch", "GetMetricData", {}, [Need("cloudwatch:GetMetricData", "*")]),
    ("events", "PutEvents", {"Entries": [{"Source": "s"}, {"Source": "s", "EventBusName": "default"}]},
     [Need("events:PutEvents", f"{EVENTS}:event-bus/default")]),
    ("events", "PutEvents", {"Entries": [{"EventBusName": "pushes"}, {"EventBusName": f"{EVENTS}:event-bus/x"}]},
     [Need("events:PutEvents", f"{EVENTS}:event-bus/pushes"), Need("events:PutEvents", f"{EVENTS}:event-bus/x")]),
    ("events", "PutTargets", {"Rule": "start", "EventBusName": "pushes"},
     [Need("events:PutTargets", f"{EVENTS}:rule/pushes/start")]),
    ("dynamodb", "Query", {"TableName": "t"},
     [Need("dynamodb:Query", "arn:aws:dynamodb:us-east-1:123456789012:table/t")]),
    ("ecr", "PutImage", {"repositoryName": "orders-api"}, [Need("ecr:PutImage", REPOSITORY)]),
    ("lambda", "Invoke", {"FunctionName": "orders-api", "Qualifier": "live"},
     [Need("lambda:InvokeFunction", f"{FUNCTION}:live")]),
    ("lambda", "GetFunction", {"FunctionName": "123456789012:function:orders-api:3"},
     [Need("lambda:GetFunction", f"{FUNCTION}:3")]),
    ("lambda", "GetFunctionConfiguration", {"FunctionName": FUNCTION},
     [Need("lambda:GetFunctionConfiguration", FUNCTION)]),
    ("lambda", "UpdateAlias", {"FunctionName": "orders-api", "Name": "live"}, [Need("lambda:UpdateAlias", FUNCTION)]),
    ("lambda", "UpdateFunctionCode", {"FunctionName": "orders-api", "ImageUri": IMAGE},
     [Need("lambda:UpdateFunctionCode", FUNCTION), Need("ecr:BatchGetImage", REPOSITORY),
      Need("ecr:GetDownloadUrlForLayer", REPOSITORY)]),
    # a zip package from S3: Lambda reads the object version on the caller's behalf
    ("lambda", "UpdateFunctionCode", {"FunctionName": "q", "S3Bucket": "b", "S3Key": "k.zip", "S3ObjectVersion": "3"},
     [Need("lambda:UpdateFunctionCode", FUNCTION.replace("orders-api", "q")),
      Need("s3:GetObject", "arn:aws:s3:::b/k.zip"), Need("s3:GetObjectVersion", "arn:aws:s3:::b/k.zip")]),
    # S3's actions are not its operation names: HeadObject is s3:GetObject (+Version when one is named)
    ("s3", "HeadObject", {"Bucket": "b", "Key": "k.zip"}, [Need("s3:GetObject", "arn:aws:s3:::b/k.zip")]),
    ("s3", "HeadObject", {"Bucket": "b", "Key": "k.zip", "VersionId": "3"},
     [Need("s3:GetObject", "arn:aws:s3:::b/k.zip"), Need("s3:GetObjectVersion", "arn:aws:s3:::b/k.zip")]),
    ("s3", "CopyObject", {"Bucket": "b", "Key": "functions/q.zip", "CopySource": {"Bucket": "b", "Key": "k.zip"}},
     [Need("s3:GetObject", "arn:aws:s3:::b/k.zip"), Need("s3:PutObject", "arn:aws:s3:::b/functions/q.zip")]),
    ("s3", "CopyObject", {"Bucket": "b", "Key": "functions/q.zip", "CopySource": "b/k.zip?versionId=3"},
     [Need("s3:GetObject", "arn:aws:s3:::b/k.zip"), Need("s3:GetObjectVersion", "arn:aws:s3:::b/k.zip"),
      Need("s3:PutObject", "arn:aws:s3:::b/functions/q.zip")]),
    ("s3", "GetBucketLocation", {"Bucket": "b"}, [Need("s3:GetBucketLocation", "arn:aws:s3:::b")]),
])
def test_a_call_needs_its_iam_action_on_the_resource_it_acts_on(service, operation, params, expected):
    assert needs(service, operation, params, REGION) == expected


@pytest.mark.parametrize("name", ["orders-api", "123456789012:function:orders-api", FUNCTION])
def test_names_partial_and_full_arns_are_the_same_function(name):
    assert function_arn(name, None, REGION) == FUNCTION
    assert function_arn(name, "2", REGION) == f"{FUNCTION}:2"


def test_a_function_in_another_region_is_another_resource():
    assert function_arn("arn:aws:lambda:eu-west-1:123456789012:function:orders-api", None, REGION).startswith(
        "arn:aws:lambda:eu-west-1:")


@pytest.fixture
def world():
    with Emulator() as emulator:
        yield make_world(emulator)


def test_a_call_the_role_does_not_allow_is_refused_as_lambda_words_it(world):
    lam = world.emulator.client("lambda")
    with as_task("CheckHealth"):  # its role reads alarms only
        error = refused(lambda: lam.get_function_configuration(FunctionName="orders-api"))

    assert error.response["Error"]["Code"] == "AccessDeniedException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error.response["Error"]["Message"] == (
        "User: arn:aws:sts::123456789012:assumed-role/lambda-deployer-CheckHealth/lambda-deployer-CheckHealth is not "
        f"authorized to perform: lambda:GetFunctionConfiguration on resource: {FUNCTION} because no identity-based "
        "policy allows the lambda:GetFunctionConfiguration action")
    assert [d.need.action for d in world.emulator.iam.denials()] == ["lambda:GetFunctionConfiguration"]
    assert world.emulator.api.calls_of("test")[-1].fault == "AccessDeniedException"  # it never reached Lambda


@pytest.mark.parametrize(("service", "call", "status", "code", "action"), [
    ("ecr", lambda c: c.describe_images(repositoryName="orders-api"), 400, "AccessDeniedException",
     "ecr:DescribeImages on resource: " + REPOSITORY),
    ("dynamodb", lambda c: c.scan(TableName="lambda-deployer-deployments"), 400, "AccessDeniedException",
     "dynamodb:Scan on resource: arn:aws:dynamodb:us-east-1:123456789012:table/lambda-deployer-deployments"),
    ("cloudwatch", lambda c: c.describe_alarms(), 403, "AccessDenied",
     "cloudwatch:DescribeAlarms on resource: arn:aws:cloudwatch:us-east-1:123456789012:alarm:*"),
    ("stepfunctions", lambda c: c.list_state_machines(), 400, "AccessDeniedException",
     "states:ListStateMachines on resource: *"),
    ("events", lambda c: c.put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}"}]), 400,
     "AccessDeniedException", "events:PutEvents on resource: arn:aws:events:us-east-1:123456789012:event-bus/default"),
    ("resourcegroupstaggingapi", lambda c: c.get_resources(), 400, "AccessDeniedException", "tag:GetResources"),
    # ^ the Tagging API names no resource: it has none (Service Authorization Reference)
])
def test_each_service_refuses_with_its_own_code(world, service, call, status, code, action):
    client = world.emulator.client(service)
    with as_task("WaitForCodeUpdate"):  # its role reads one function's configuration, nothing else
        error = refused(lambda: call(client))
    assert (error.response["ResponseMetadata"]["HTTPStatusCode"], error.response["Error"]["Code"]) == (status, code)
    assert f"is not authorized to perform: {action} because no identity-based policy allows" in (
        error.response["Error"]["Message"])


def test_who_am_i_needs_no_permission(world):
    with as_task("WaitForCodeUpdate"):
        assert world.emulator.client("sts").get_caller_identity()["Account"] == "123456789012"


def test_functions_are_reachable_only_while_tagged_managed(world):
    lam = world.emulator.client("lambda")
    with as_task("Resolve"):
        assert lam.get_function(FunctionName="orders-api", Qualifier="1")["Configuration"]["Version"] == "1"
    lam.untag_resource(Resource=FUNCTION, TagKeys=["lambda-deployer:managed"])
    with as_task("Resolve"):
        untagged = refused(lambda: lam.get_function(FunctionName="orders-api"))
        missing = refused(lambda: lam.get_function(FunctionName="no-such-function"))
    assert untagged.response["Error"]["Code"] == missing.response["Error"]["Code"] == "AccessDeniedException"


def test_an_image_update_needs_the_right_to_pull_the_image(world, monkeypatch):
    lam, image = world.emulator.client("lambda"), world.fn.image(world.v2)
    without_pull = (Allow(Scope.MANAGED_FUNCTIONS, "lambda:UpdateFunctionCode"),)
    monkeypatch.setitem(permissions.TASK_PERMISSIONS, "UpdateCode", without_pull)
    with as_task("UpdateCode"):
        error = refused(lambda: lam.update_function_code(FunctionName="orders-api", ImageUri=image))
    assert f"ecr:BatchGetImage on resource: {REPOSITORY}" in error.response["Error"]["Message"]
    assert world.latest_digest() == world.v1


def test_get_function_shows_tags_only_to_a_role_that_may_list_them(world, monkeypatch):
    lam = world.emulator.client("lambda")
    with as_task("Resolve"):
        plain = lam.get_function(FunctionName="orders-api")
    monkeypatch.setitem(permissions.TASK_PERMISSIONS, "Resolve", (
        *permissions.TASK_PERMISSIONS["Resolve"], Allow(Scope.MANAGED_FUNCTIONS, "lambda:ListTags")))
    with as_task("Resolve"):
        tagged = lam.get_function(FunctionName="orders-api")
    assert "Tags" not in plain and plain["TagsError"]["ErrorCode"] == "AccessDeniedException"
    assert tagged["Tags"] == {"lambda-deployer:managed": "true"} and "TagsError" not in tagged


@pytest.mark.slow
def test_the_name_prefix_and_repository_patterns_narrow_the_roles():
    with Emulator(function_name_prefix="team-", repositories=("team/*",)) as emulator:
        lam, ecr = emulator.client("lambda"), emulator.client("ecr")
        sample.create_function(emulator, "team-orders", repository="team/orders")
        sample.create_function(emulator, "orders-api")
        with as_task("Resolve"):
            assert lam.get_function(FunctionName="team-orders")["Configuration"]["FunctionName"] == "team-orders"
            assert ecr.describe_images(repositoryName="team/orders")["imageDetails"]
            outside = refused(lambda: lam.get_function(FunctionName="orders-api"))
            other_repository = refused(lambda: ecr.describe_images(repositoryName="orders-api"))
    assert "lambda:GetFunction on resource: arn:aws:lambda:us-east-1:123456789012:function:orders-api" in (
        outside.response["Error"]["Message"])
    assert "ecr:DescribeImages on resource: " + REPOSITORY in other_repository.response["Error"]["Message"]


@pytest.mark.slow
def test_enforcement_can_be_switched_off():
    with Emulator(enforce_iam=False) as emulator:
        make_world(emulator)
        with as_task("CheckHealth"):
            config = emulator.client("lambda").get_function_configuration(FunctionName="orders-api")
    assert config["FunctionName"] == "orders-api" and emulator.iam.decisions == []
