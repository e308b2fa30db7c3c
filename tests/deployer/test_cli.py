"""``python -m deployer.cli`` as a separate process against ``local serve``: the CLI over a real endpoint."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import pytest

from deployer.local import sample

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "deployer.cli"]


@pytest.fixture
def endpoint(tmp_path):
    """``local serve`` on a free port; yields its endpoint. Run from this checkout, not an installed copy."""
    process = subprocess.Popen([*CLI, "local", "serve", "--port", "0"], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    deadline = time.monotonic() + 90  # a bound: importing moto and boto3 under load
    while True:
        assert time.monotonic() < deadline and process.poll() is None, "local serve did not start"
        try:
            key, _, value = lines.get(timeout=1).partition(": ")
        except queue.Empty:
            continue
        if key == "endpoint":
            break
    yield value.strip()
    process.kill()  # nothing to keep; tests/deployer/local/test_serve.py checks a clean stop
    process.wait(timeout=10)


class Remote:
    """What ``deployer.local.sample`` needs: clients, here on the endpoint."""

    def __init__(self, url: str) -> None:
        self.url = url

    def client(self, service: str):
        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1", aws_access_key_id="test",
                            aws_secret_access_key="test")


def test_plan_deploy_and_status_over_an_endpoint_from_a_separate_process(endpoint, tmp_path):
    remote = Remote(endpoint)
    fn = sample.create_function(remote)
    v2 = sample.push_image(remote.client("ecr"), fn.name, "orders-api:v2", tag="v2")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "GITHUB_"))}
    env |= {"AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
            "AWS_EC2_METADATA_DISABLED": "true"}  # no credentials at all: a local endpoint takes any

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*CLI, "--endpoint-url", endpoint, "--region", "us-east-1", *args], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=60)

    request = ("--function", fn.name, "--image", fn.image(v2))
    planned = cli("plan", *request)  # the handlers' own clients, pointed at the endpoint
    deployed = cli("deploy", *request, "--poll-interval", "0.2")
    status = cli("--output", "json", "status", fn.name)

    assert planned.returncode == 0 and "alias live: all traffic to the new version" in planned.stdout, planned.stderr

    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert f"execution:lambda-deployer:orders-api-{v2[7:19]}-" in deployed.stdout
    assert f"on {endpoint}" in deployed.stdout and "=> SUCCEEDED" in deployed.stdout
    assert "\x1b" not in deployed.stdout + deployed.stderr
    assert json.loads(status.stdout)["versions"] == [{"version": "2", "percent": 100.0, "digest": v2}]
