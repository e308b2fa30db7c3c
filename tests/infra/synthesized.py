"""Synthesized deployers shared by the infra tests: synthesis takes seconds, so each is built once per run.

Fixtures ``configured`` (every setting in use) and ``defaults`` (none). A test module imports the fixtures it
uses (``from synthesized import configured_deployer  # noqa: F401``): a conftest.py here would replace the
``conftest`` module that other test packages import by name. Tests look resources up by their properties
(handler, type, references), never by hashed logical ids.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from infra import LambdaDeployerStack, cdk_json_context
from infra.nag import render

CONFIGURED = {
    "stateMachineName": "deployer-under-test",
    "functionNamePrefix": "team-",
    "repositories": ["orders", "payments", "billing"],
    "artifactBuckets": ["builds", "releases-*"],
    "autoDeploy": {"orders": ["main", "release-*"], "payments": ["main", "release-*"], "billing": ["prod"]},
    "logRetentionDays": 90,
    "historyRetentionDays": 400,
    "logLevel": "DEBUG",
    "githubRepository": "acme/orders",
    "createGithubOidcProvider": True,
    "notificationEmails": ["oncall@example.com", "team@example.com"],
    "lockAlarmMinutes": 240,
}


@dataclass
class Synth:
    """A synthesized ``LambdaDeployerStack`` and ways to look into its template."""

    stack: LambdaDeployerStack
    template: Template
    outdir: Path

    @functools.cached_property
    def resources(self) -> dict[str, dict]:
        return self.template.to_json()["Resources"]

    def of_type(self, resource_type: str) -> dict[str, dict]:
        return {id: r for id, r in self.resources.items() if r["Type"] == resource_type}

    def function(self, handler: str) -> tuple[str, dict]:
        """The task function running ``handler``: its logical id and properties."""
        found = [(id, r["Properties"]) for id, r in self.of_type("AWS::Lambda::Function").items()
                 if r["Properties"]["Handler"] == handler]
        assert len(found) == 1, f"{len(found)} functions run {handler}"
        return found[0]

    def role_of(self, function_properties: dict) -> str:
        (role, attribute), = function_properties["Role"].values()
        assert attribute == "Arn"
        return role

    def statements(self, role: str) -> list[dict]:
        """Every statement of the inline policies attached to ``role``."""
        return [statement for policy in self.of_type("AWS::IAM::Policy").values()
                if {"Ref": role} in policy["Properties"]["Roles"]
                for statement in policy["Properties"]["PolicyDocument"]["Statement"]]

    def grants(self, statements: list[dict]) -> set[tuple[str, str, str]]:
        """``(action, resource, condition)`` per action and resource; resources rendered as cdk-nag does."""
        found = set()
        for statement in statements:
            assert statement["Effect"] == "Allow"
            condition = json.dumps(statement.get("Condition", {}), sort_keys=True)
            for action in _listed(statement["Action"]):
                for resource in _listed(statement["Resource"]):
                    found.add((action, render(resource), condition))
        return found

    def asset(self, s3_key: str) -> Path:
        """The staged asset behind an S3 key: a directory for a zip, else the file itself."""
        stem, suffix = s3_key.rsplit(".", 1)
        return self.outdir / (f"asset.{stem}" if suffix == "zip" else f"asset.{s3_key}")


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]


_SYNTHESIZED: dict[str, Synth] = {}


def synthesized(name: str, context: dict, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """Each importing module registers the fixture anew; the synthesis itself happens once per run."""
    if name not in _SYNTHESIZED:
        outdir = tmp_path_factory.mktemp(name)
        app = App(context=cdk_json_context() | context, outdir=str(outdir))
        stack = LambdaDeployerStack(app, "LambdaDeployer")
        app.synth()
        _SYNTHESIZED[name] = Synth(stack, Template.from_stack(stack), outdir)
    return _SYNTHESIZED[name]


@pytest.fixture(scope="session", name="configured")
def configured_deployer(tmp_path_factory) -> Synth:
    return synthesized("configured", CONFIGURED, tmp_path_factory)


@pytest.fixture(scope="session", name="defaults")
def default_deployer(tmp_path_factory) -> Synth:
    return synthesized("defaults", {}, tmp_path_factory)
