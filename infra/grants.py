"""The permission table as CDK policy statements: each scope resolved to this stack's ARNs, with cdk-nag reasons.

The table and the ARN patterns themselves are in ``infra.permissions`` (no CDK there, so the local emulator
enforces the very same statements).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import IConstruct

from infra.nag import wildcard_findings
from infra.permissions import WILDCARD_REASONS, Allow, Resources, Scope


@dataclass(frozen=True, kw_only=True)
class Targets:
    """This deployer's resources behind each scope: ARNs (region-agnostic tokens) and conditions."""

    scope: IConstruct
    state_machine_name: str
    function_name_prefix: str
    repositories: tuple[str, ...]
    table_arn: str
    artifact_buckets: tuple[str, ...] = ()

    @functools.cached_property
    def _resources(self) -> Resources:
        stack = Stack.of(self.scope)
        return Resources(partition=stack.partition, region=stack.region, account=stack.account,
                         state_machine_name=self.state_machine_name, function_name_prefix=self.function_name_prefix,
                         repositories=tuple(self.repositories), table_arn=self.table_arn,
                         artifact_buckets=tuple(self.artifact_buckets))

    def statement(self, allow: Allow) -> iam.PolicyStatement:
        return iam.PolicyStatement(actions=list(allow.actions), resources=self.resources(allow.scope),
                                   conditions=self.conditions(allow.scope))

    def findings(self, allows: tuple[Allow, ...]) -> dict[str, list[str]]:
        """The cdk-nag wildcard findings these statements raise, each with its reason."""
        found: dict[str, list[str]] = {}
        for allow in allows:
            for finding in wildcard_findings(self.scope, self.resources(allow.scope)):
                if allow.scope not in WILDCARD_REASONS:
                    raise ValueError(f"{allow.scope} yields a wildcard: say why in WILDCARD_REASONS")
                found.setdefault(finding, []).append(WILDCARD_REASONS[allow.scope])
        return found

    def resources(self, scope: Scope) -> list[str]:
        return self._resources.arns(scope)

    def conditions(self, scope: Scope) -> dict | None:
        return self._resources.conditions(scope)

    @property
    def state_machine_arn(self) -> str:
        return self._resources.state_machine_arn
