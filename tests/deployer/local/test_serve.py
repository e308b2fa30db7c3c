"""``lambda-deployer local serve`` is a real AWS endpoint: the AWS CLI drives a whole deployment through it, and
invocations through it run the functions' code."""

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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from support import wait_for

from deployer.local.sample import manifest

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def server():
    """``local serve`` on a free port, as a separate process; yields (endpoint, state machine ARN)."""
    process = subprocess.Popen([BIN / "lambda-deployer", "local", "serve", "--port", "0",
                                "--auto-deploy", "orders=main"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})  # this checkout, not the installed one
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    announced, deadline = {}, time.monotonic() + 30
    while "state machine" not in announced:
        remaining = deadline - time.monotonic()
        assert remaining > 0 and process.poll() is None, f"serve did not start: {announced}"
        try:
            key, _, value = lines.get(timeout=remaining).partition(": ")
        except queue.Empty:
            continue
        announced[key] = value.strip()
    yield announced["endpoint"], announced["state machine"]
    process.terminate()
    assert process.wait(timeout=10) == 0


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
               "checkIntervalSeconds": 1}
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
