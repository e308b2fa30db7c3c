"""``python app.py`` synthesizes offline, with cdk-nag, from cdk.json plus context the way the CDK CLI passes it;
the CDK CLI that deploys it is pinned to a version that reads its cloud assembly."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from aws_cdk.cloud_assembly_schema import Manifest
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]


def test_app_synthesizes_the_stack_offline_with_cli_context(tmp_path):
    cli_context = {"stateMachineName": "from-the-cli", "autoDeploy": '{"orders": ["main"]}'}  # -c values: strings
    env = {**os.environ, "CDK_OUTDIR": str(tmp_path), "CDK_CONTEXT_JSON": json.dumps(cli_context),
           "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1"}

    result = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)

    assert result.returncode == 0, result.stderr[-4000:]
    template = json.loads((tmp_path / "LambdaDeployer.template.json").read_text())
    types = [resource["Type"] for resource in template["Resources"].values()]
    assert types.count("AWS::Events::Rule") == 5  # auto-deploy (two chained), rescue, reconcile schedule, alarm
    (state_machine,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    assert state_machine["Properties"]["StateMachineName"] == "from-the-cli"
    assert {"StateMachineArn", "CiPolicyArn"} <= set(template["Outputs"])


def test_the_pinned_cdk_cli_reads_the_cloud_assembly_of_the_pinned_cdk_library():
    """A CLI older than the cloud assembly schema of aws-cdk-lib refuses the app's output; ``latest`` or a range
    could be one (npm also carries a deprecated aws-cdk 3.0.0 that knows only schema 43)."""
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"]
    locked = json.loads((ROOT / "package-lock.json").read_text())["packages"]

    assert re.fullmatch(r"2\.\d+\.\d+", pinned), f"aws-cdk {pinned!r} is not one exact 2.x version"
    assert locked["node_modules/aws-cdk"]["version"] == locked[""]["devDependencies"]["aws-cdk"] == pinned
    assert Version(pinned) >= Version(Manifest.cli_version()), (
        f"aws-cdk-lib's cloud assembly schema {Manifest.version()} needs CLI {Manifest.cli_version()} or newer")


def test_the_documented_cdk_commands_run_the_pinned_cli_through_make():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("cdk-synth", "cdk-diff", "cdk-bootstrap", "deploy"):
        assert re.search(rf"^{target}:.*\$\(NODE_STAMP\).*\n\t\$\(CDK\) ", makefile, re.MULTILINE), target
    assert re.search(r"^CDK := node_modules/\.bin/cdk$", makefile, re.MULTILINE)
    assert re.search(r"^\$\(NODE_STAMP\): package\.json package-lock\.json\n\tnpm ci ", makefile, re.MULTILINE)
    for doc in (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))):
        commands = re.findall(r"^\s*(?:npx|cdk) .*$", doc.read_text(), re.MULTILINE)
        assert not commands, f"{doc.name} runs the CDK CLI outside make: {commands}"
