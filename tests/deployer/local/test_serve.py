"""``lambda-deployer local serve`` is a real AWS endpoint: the AWS CLI drives a whole deployment through it."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

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
