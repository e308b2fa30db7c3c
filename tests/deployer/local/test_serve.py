"""``lambda-deployer local serve`` is a real AWS endpoint: the AWS CLI drives a whole deployment through it,
invocations through it run the functions' code, and the account behaves as one: request quotas for every caller,
the rescue and the reconciler as the stack wires them."""

from __future__ import annotations

import io
import json
import os
import queue
import subprocess
import sys
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from support import World, wait_for

from deployer.local import sample
from deployer.local.sample import manifest
from handlers.domain.events import RECONCILE_EVERY_MINUTES

BIN = Path(sys.executable).parent
CHECKOUT = Path(__file__).resolve().parents[3]  # the code under test, not the virtualenv's installed copy


@contextmanager
def serving(*options: str):
    """``local serve`` on a free port, as a separate process; yields (endpoint, state machine ARN)."""
    process = subprocess.Popen([BIN / "lambda-deployer", "local", "serve", "--port", "0", *options],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "PYTHONPATH": str(CHECKOUT)})
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    announced, deadline = {}, time.monotonic() + 90  # a bound: importing moto and boto3 under load
    try:
        while "state machine" not in announced:
            remaining = deadline - time.monotonic()
            assert remaining > 0 and process.poll() is None, f"serve did not start: {announced}"
            try:
                key, _, value = lines.get(timeout=remaining).partition(": ")
            except queue.Empty:
                continue
            announced[key] = value.strip()
        yield announced["endpoint"], announced["state machine"]
    finally:
        process.terminate()
    assert process.wait(timeout=30) == 0


@pytest.fixture
def server():
    with serving("--auto-deploy", "orders=main") as endpoint_and_state_machine:
        yield endpoint_and_state_machine


class Account:
    """boto3 clients of a ``local serve`` endpoint (``emulator.client`` for the sample and World helpers)."""

    def __init__(self, endpoint: str, config: Config | None = None) -> None:
        self.endpoint, self.config, self._clients = endpoint, config, {}

    def client(self, service: str):
        if service not in self._clients:
            self._clients[service] = boto3.client(
                service, endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id="test",
                aws_secret_access_key="test", config=self.config or Config(retries={"mode": "adaptive",
                                                                                     "max_attempts": 10}))
        return self._clients[service]


def world_of(account: Account, name: str) -> World:
    """A sample function with version 1 live, served by ``local serve``; v2 pushed."""
    fn = sample.create_function(account, name)
    ecr = account.client("ecr")
    v1 = ecr.describe_images(repositoryName=name, imageIds=[{"imageTag": name}])["imageDetails"][0]["imageDigest"]
    v2 = sample.push_image(ecr, name, f"{name}:v2", tag="v2")
    return World(SimpleNamespace(client=account.client), fn, v1, v2, "")


def settled_on_version_1(world: World) -> bool:
    """The repair's final state, not its first step: the alias is unweighted before the tag and $LATEST follow."""
    return not world.weights() and world.tag_digest() == world.latest_digest() == world.version_digest("1")


def test_the_aws_cli_drives_a_whole_deployment_and_a_push_deploys_too(server, tmp_path):
    endpoint, state_machine = server
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_PAGER": ""}

    def aws(*args: str):
        done = subprocess.run([BIN / "aws", "--endpoint-url", endpoint, "--output", "json", *args],
                              capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else None

    for version in ("v1", "v2", "v3"):
        (tmp_path / f"{version}.json").write_text(manifest(f"orders:{version}"))
    repository = aws("ecr", "create-repository", "--repository-name", "orders")["repository"]["repositoryUri"]
    aws("ecr", "put-image", "--repository-name", "orders", "--image-tag", "orders",
        "--image-manifest", f"file://{tmp_path / 'v1.json'}")
    new = aws("ecr", "put-image", "--repository-name", "orders", "--image-tag", "v2",
              "--image-manifest", f"file://{tmp_path / 'v2.json'}")["image"]["imageId"]["imageDigest"]
    role = aws("iam", "create-role", "--role-name", "orders", "--assume-role-policy-document", "{}")["Role"]["Arn"]
    aws("lambda", "create-function", "--function-name", "orders", "--package-type", "Image", "--role", role,
        "--code", f"ImageUri={repository}:orders", "--publish",
        "--tags", "lambda-deployer:managed=true,lambda-deployer:track=orders:main")
    aws("lambda", "create-alias", "--function-name", "orders", "--name", "live", "--function-version", "1")

    request = {"function": "orders", "image": f"{repository}@{new}", "strategy": "Canary50Percent1Second",
               "checkIntervalSeconds": 1, "analysis": False}
    execution = aws("stepfunctions", "start-execution", "--state-machine-arn", state_machine,
                    "--name", "from-the-cli", "--input", json.dumps(request))["executionArn"]
    deadline = time.monotonic() + 30
    while (described := aws("stepfunctions", "describe-execution", "--execution-arn", execution))["status"] \
            == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not finish"

    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert json.loads(described["output"])["version"] == "2"
    alias = aws("lambda", "get-alias", "--function-name", "orders", "--name", "live")
    assert alias["FunctionVersion"] == "2" and not alias["RoutingConfig"]["AdditionalVersionWeights"]
    tagged = aws("ecr", "describe-images", "--repository-name", "orders", "--image-ids", "imageTag=orders")
    assert tagged["imageDetails"][0]["imageDigest"] == new

    # a push of the tracked tag starts the same execution EventBridge would start in AWS
    aws("ecr", "put-image", "--repository-name", "orders", "--image-tag", "main",
        "--image-manifest", f"file://{tmp_path / 'v3.json'}")
    deadline = time.monotonic() + 30
    while aws("lambda", "get-alias", "--function-name", "orders", "--name", "live")["FunctionVersion"] != "3":
        assert time.monotonic() < deadline, "the push did not deploy"
    listed = aws("stepfunctions", "list-executions", "--state-machine-arn", state_machine)["executions"]
    assert len(listed) == 3  # ours, the push's, and the deployment it started


def test_http_callers_meet_the_accounts_lambda_control_plane_quota(server):
    endpoint, _ = server
    lam = Account(endpoint, Config(retries={"total_max_attempts": 1})).client("lambda")
    throttled = threading.Event()

    def call(_) -> str | None:
        if throttled.is_set():
            return None
        try:
            lam.list_functions()
        except ClientError as exc:
            throttled.set()
            return f"{exc.response['ResponseMetadata']['HTTPStatusCode']} {exc.response['Error']['Code']} " \
                   f"{exc.response.get('Reason')}"
        return None

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = {answer for answer in pool.map(call, range(400)) if answer}
    assert answers == {"429 TooManyRequestsException CallerRateLimitExceeded"}


def test_an_execution_stopped_mid_canary_is_rescued_through_the_stacks_rule(server):
    """StopExecution runs no Catch; the status-change event reaches the rescue (the reconciler runs only
    every five minutes here, so it is not what repairs)."""
    endpoint, state_machine = server
    account = Account(endpoint)
    world = world_of(account, "payments")
    sfn = account.client("stepfunctions")
    execution = sfn.start_execution(stateMachineArn=state_machine, input=json.dumps(world.request(
        world.v2, strategy="Canary50Percent10Minutes", checkIntervalSeconds=60, analysis=False)))["executionArn"]
    wait_for(world.weights, timeout=30, what="the canary")

    sfn.stop_execution(executionArn=execution, error="Stopped", cause="by the test")

    wait_for(lambda: settled_on_version_1(world), timeout=30, what="the rescue's whole repair (alias, tag, $LATEST)")
    assert sfn.describe_execution(executionArn=execution)["status"] == "ABORTED"
    assert world.settled_on() == "1"


@pytest.mark.slow
def test_serve_runs_the_reconciler_on_the_stacks_schedule():
    five_minutes_in_a_second = 1 / RECONCILE_EVERY_MINUTES / 60
    with serving("--time-scale", str(five_minutes_in_a_second)) as (endpoint, _):
        world = world_of(Account(endpoint), "billing")
        lam = world.emulator.client("lambda")
        lam.update_function_code(FunctionName=world.fn.name, ImageUri=world.fn.image(world.v2))
        wait_for(lambda: lam.get_function_configuration(FunctionName=world.fn.name)["LastUpdateStatus"]
                 == "Successful", what="the code update")
        lam.publish_version(FunctionName=world.fn.name)
        lam.update_alias(FunctionName=world.fn.name, Name=world.fn.alias,  # a canary no deployment owns
                         RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})

        wait_for(lambda: settled_on_version_1(world), timeout=30,
                 what="the scheduled reconciler's whole repair (alias, then $LATEST)")
        assert world.settled_on() == "1"


def test_invocations_through_the_endpoint_run_the_code_and_reach_the_metrics(server):
    endpoint, _ = server
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    lam = session.client("lambda", endpoint_url=endpoint)
    cloudwatch = session.client("cloudwatch", endpoint_url=endpoint)
    role = session.client("iam", endpoint_url=endpoint).create_role(
        RoleName="greeter", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("greet.py", "def handler(event, context):\n"
                                     "    if 'boom' in event:\n        raise KeyError(event['boom'])\n"
                                     "    return 'hello ' + event['name']\n")
    lam.create_function(FunctionName="greeter", Runtime="python3.13", Role=role, Handler="greet.handler",
                        Code={"ZipFile": code.getvalue()}, Publish=True)
    lam.create_alias(FunctionName="greeter", Name="live", FunctionVersion="1")

    answer = lam.invoke(FunctionName="greeter", Qualifier="live", Payload=json.dumps({"name": "ada"}))
    assert (answer["StatusCode"], answer["ExecutedVersion"]) == (200, "1")
    assert json.loads(answer["Payload"].read()) == "hello ada"
    failed = lam.invoke(FunctionName="greeter", Qualifier="live", Payload=json.dumps({"boom": "x"}))
    assert failed["FunctionError"] == "Unhandled" and json.loads(failed["Payload"].read())["errorType"] == "KeyError"
    assert lam.invoke(FunctionName="greeter", Qualifier="live", InvocationType="Event",
                      Payload=json.dumps({"name": "bob"}))["StatusCode"] == 202

    now = datetime.now(UTC)
    query = {"Namespace": "AWS/Lambda", "Period": 60, "Statistics": ["Sum"],
             "StartTime": now - timedelta(minutes=5), "EndTime": now + timedelta(minutes=5),
             "Dimensions": [{"Name": "FunctionName", "Value": "greeter"}, {"Name": "Resource", "Value": "greeter:live"},
                            {"Name": "ExecutedVersion", "Value": "1"}]}

    def total(metric: str) -> float:
        return sum(p["Sum"] for p in cloudwatch.get_metric_statistics(MetricName=metric, **query)["Datapoints"])

    wait_for(lambda: total("Invocations") == 3, what="the asynchronous invocation")
    assert total("Errors") == 1


def test_provisioned_concurrency_answers_through_the_endpoint_and_a_shift_waits_for_it(server):
    """moto answers provisioned concurrency (deployer/local/fidelity/lambda_versions.py), so an HTTP caller meets
    the model the in-process tests do: $LATEST refused, the alias' ARN listed, and a deployment on the alias
    waiting for the capacity after its shift (ready at once here: serve allocates without delay)."""
    endpoint, state_machine = server
    account = Account(endpoint)
    world = world_of(account, "ledger")
    lam, sfn = account.client("lambda"), account.client("stepfunctions")
    with pytest.raises(ClientError) as refused:
        lam.put_provisioned_concurrency_config(FunctionName=world.fn.name, Qualifier="$LATEST",
                                               ProvisionedConcurrentExecutions=1)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    lam.put_provisioned_concurrency_config(FunctionName=world.fn.name, Qualifier=world.fn.alias,
                                           ProvisionedConcurrentExecutions=2)
    listed = lam.list_provisioned_concurrency_configs(FunctionName=world.fn.name)["ProvisionedConcurrencyConfigs"]
    assert [config["FunctionArn"] for config in listed] == [world.alias()["AliasArn"]]

    execution = sfn.start_execution(stateMachineArn=state_machine, input=json.dumps(world.request(
        world.v2, strategy="Canary50Percent1Second", checkIntervalSeconds=1, analysis=False)))["executionArn"]
    described = wait_for(lambda: (found := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING"
                         and found, timeout=60, what="the deployment", every=0.25)

    assert described["status"] == "SUCCEEDED", described.get("cause")
    entered = [event["stateEnteredEventDetails"]["name"] for event in
               sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
               if "stateEnteredEventDetails" in event]
    assert "WaitForCapacity" in entered
    assert world.settled_on() == "2"
    lam.delete_provisioned_concurrency_config(FunctionName=world.fn.name, Qualifier=world.fn.alias)
    with pytest.raises(ClientError) as gone:
        lam.get_provisioned_concurrency_config(FunctionName=world.fn.name, Qualifier=world.fn.alias)
    assert gone.value.response["Error"]["Code"] == "ProvisionedConcurrencyConfigNotFoundException"
