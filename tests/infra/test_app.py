"""``python app.py`` synthesizes offline, with cdk-nag, from cdk.json plus context the way the CDK CLI passes it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_app_synthesizes_the_stack_offline_with_cli_context(tmp_path):
    cli_context = {"stateMachineName": "from-the-cli", "autoDeploy": '{"orders": ["main"]}'}  # -c values: strings
    env = {**os.environ, "CDK_OUTDIR": str(tmp_path), "CDK_CONTEXT_JSON": json.dumps(cli_context),
           "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1"}

    result = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)

    assert result.returncode == 0, result.stderr[-4000:]
    template = json.loads((tmp_path / "LambdaDeployer.template.json").read_text())
    types = [resource["Type"] for resource in template["Resources"].values()]
    assert types.count("AWS::Events::Rule") == 4  # auto-deploy (two chained), rescue, reconcile schedule
    (state_machine,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    assert state_machine["Properties"]["StateMachineName"] == "from-the-cli"
    assert {"StateMachineArn", "CiPolicyArn"} <= set(template["Outputs"])
