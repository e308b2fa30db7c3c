"""What CI may do: start deployments of this deployer and follow them, nothing else."""

from __future__ import annotations

import re
from dataclasses import dataclass

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.errors import ConfigurationError
from infra.grants import Targets
from infra.nag import acknowledge
from infra.permissions import CI_PERMISSIONS

GITHUB_TOKEN_HOST = "token.actions.githubusercontent.com"
_GITHUB_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
# GitHub's default subject formats (OIDC reference, "Filtering for ..."): repo:OWNER/REPO: then
# ref:refs/heads/BRANCH, ref:refs/tags/TAG, environment:NAME or pull_request. Repositories with immutable
# subject claims add their ids: repo:OWNER@ID/REPO@ID:... A wildcard (* or ?, StringLike) may stand only in
# the branch or tag name: git forbids ':' in ref names, so it cannot reach past the ref into another context.
_SUBJECT = re.compile(r"^repo:(?P<owner>[A-Za-z0-9_.-]+)(@\d+)?/(?P<name>[A-Za-z0-9_.-]+)(@\d+)?:"
                      r"(?:ref:refs/(?:heads|tags)/[^:]+|environment:[^:*?]+|pull_request)$")


@dataclass(frozen=True, kw_only=True)
class GithubOidc:
    """CI on GitHub Actions: a role that workflows of ``repository`` assume through OIDC."""

    repository: str
    """``org/repo``."""
    subject: str = ""
    """The token's ``sub`` claim (``StringLike``); default: the repository's main branch. One of GitHub's
    default formats for ``repository``; ``*`` and ``?`` only in a branch or tag name (``ref:refs/heads/release-*``)."""
    provider_arn: str = ""
    """An existing OIDC provider; default: this account's provider for token.actions.githubusercontent.com."""
    create_provider: bool = False
    """Create the OIDC provider (an account has one per URL: only if it does not exist yet)."""

    def __post_init__(self) -> None:
        if not _GITHUB_REPOSITORY.match(self.repository):
            raise ConfigurationError(f"githubRepository {self.repository!r} is not a GitHub repository like org/repo")
        if self.subject:
            self._check_subject()
        if self.create_provider and self.provider_arn:
            raise ConfigurationError("give either githubOidcProviderArn (use that provider) or "
                                     "createGithubOidcProvider (create one), not both")

    def _check_subject(self) -> None:
        found = _SUBJECT.match(self.subject)
        if not found:
            raise ConfigurationError(
                f"githubSubject {self.subject!r}: give one of repo:{self.repository}:ref:refs/heads/BRANCH, "
                f"…:ref:refs/tags/TAG, …:environment:NAME or …:pull_request; a wildcard (* or ?) may stand only in "
                "the branch or tag name, never in the repository or instead of the ref"
            )
        if f"{found['owner']}/{found['name']}".lower() != self.repository.lower():
            raise ConfigurationError(f"githubSubject {self.subject!r} names another repository than "
                                     f"githubRepository {self.repository!r}")

    @property
    def allowed_subject(self) -> str:
        return self.subject or f"repo:{self.repository}:ref:refs/heads/main"


class CiAccess(Construct):
    """A customer-managed policy for CI, and optionally a GitHub Actions role that holds it."""

    def __init__(self, scope: Construct, id: str, *, targets: Targets, github: GithubOidc | None = None) -> None:
        super().__init__(scope, id)
        self.policy = iam.ManagedPolicy(
            self, "Policy", description="lambda-deployer CI: start deployments and follow them",
            statements=[targets.statement(allow) for allow in CI_PERMISSIONS],
        )
        acknowledge(self.policy, targets.findings(CI_PERMISSIONS))
        self.github_role: iam.Role | None = None
        self.github_provider: iam.IOidcProvider | None = None
        if github:
            self.github_provider = self._provider(github)
            self.github_role = iam.Role(
                self, "GithubActionsRole",
                description=f"GitHub Actions of {github.repository} deploy with lambda-deployer",
                assumed_by=iam.OpenIdConnectPrincipal(self.github_provider, conditions={
                    "StringEquals": {f"{GITHUB_TOKEN_HOST}:aud": "sts.amazonaws.com"},
                    "StringLike": {f"{GITHUB_TOKEN_HOST}:sub": github.allowed_subject},
                }),
                managed_policies=[self.policy],
                # A job follows its deployment to the end: canaries and linear shifts take hours. The role can
                # only start and read this state machine's executions, so a long session risks little.
                max_session_duration=Duration.hours(6),
            )

    def _provider(self, github: GithubOidc) -> iam.IOidcProvider:
        if github.create_provider:
            return iam.OidcProviderNative(self, "GithubProvider", url=f"https://{GITHUB_TOKEN_HOST}",
                                          client_ids=["sts.amazonaws.com"])
        arn = github.provider_arn or Stack.of(self).format_arn(
            service="iam", region="", resource="oidc-provider", resource_name=GITHUB_TOKEN_HOST,
        )
        return iam.OidcProviderNative.from_oidc_provider_arn(self, "GithubProvider", arn)
