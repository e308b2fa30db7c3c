"""CI may start this state machine's executions and follow them, nothing else; GitHub Actions through OIDC."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Match, Template
from synthesized import configured_deployer, default_deployer  # noqa: F401 (fixtures)

from infra import ConfigurationError, GithubOidc
from infra.ci_access import CiAccess
from infra.grants import Targets
from infra.nag import render

ARN = "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:{resource}"
GITHUB_PROVIDER_URL = "https://token.actions.githubusercontent.com"


def ci_policy(configured) -> tuple[str, dict]:
    (found,) = [(id, p) for id, p in configured.of_type("AWS::IAM::ManagedPolicy").items()
                if p["Properties"]["Description"].startswith("lambda-deployer CI")]
    return found


def test_ci_policy_allows_only_starting_and_following_this_state_machine(configured):
    _, policy = ci_policy(configured)
    state_machine = ARN.format(resource="stateMachine:deployer-under-test")
    executions = ARN.format(resource="execution:deployer-under-test:*")
    none = json.dumps({})

    assert configured.grants(policy["Properties"]["PolicyDocument"]["Statement"]) == {
        ("states:StartExecution", state_machine, none),
        ("states:ListExecutions", state_machine, none),
        ("states:DescribeExecution", executions, none),
        ("states:GetExecutionHistory", executions, none),
    }
    configured.template.has_resource_properties("AWS::StepFunctions::StateMachine",
                                                {"StateMachineName": "deployer-under-test"})


def test_github_actions_role_holds_the_ci_policy_and_trusts_only_the_main_branch(configured):
    policy, _ = ci_policy(configured)
    (provider,) = configured.of_type("AWS::IAM::OIDCProvider").values()
    assert provider["Properties"] == {"Url": GITHUB_PROVIDER_URL, "ClientIdList": ["sts.amazonaws.com"]}

    configured.template.has_resource_properties("AWS::IAM::Role", {
        "ManagedPolicyArns": [{"Ref": policy}],
        "AssumeRolePolicyDocument": {"Statement": [{
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Effect": "Allow",
            "Principal": {"Federated": {"Ref": Match.any_value()}},
            "Condition": {
                "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
                "StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/orders:ref:refs/heads/main"},
            },
        }]},
    })


def test_without_github_there_is_no_role_and_no_provider(defaults):
    defaults.template.resource_count_is("AWS::IAM::OIDCProvider", 0)
    defaults.template.resource_count_is("AWS::IAM::ManagedPolicy", 2)  # CI's and the approvers'
    assert not defaults.of_type("AWS::IAM::Role") or all(
        "ManagedPolicyArns" not in r["Properties"] for r in defaults.of_type("AWS::IAM::Role").values())
    assert not [role for role in defaults.of_type("AWS::IAM::Role").values()
                if "sts:AssumeRoleWithWebIdentity" in json.dumps(role)]


def test_an_existing_github_provider_is_used_not_created():
    stack = Stack(App(), "Ci")
    targets = Targets(scope=stack, state_machine_name="lambda-deployer", function_name_prefix="",
                      repositories=("*",), table_arn="arn:aws:dynamodb:eu-west-1:123456789012:table/deployments")
    CiAccess(stack, "Ci", targets=targets,
             github=GithubOidc(repository="acme/orders", subject="repo:acme/orders:environment:production"))

    template = Template.from_stack(stack)

    template.resource_count_is("AWS::IAM::OIDCProvider", 0)
    (role,) = template.find_resources("AWS::IAM::Role").values()
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert render(trust["Principal"]["Federated"]) == (
        "arn:<AWS::Partition>:iam::<AWS::AccountId>:oidc-provider/token.actions.githubusercontent.com"
    )
    assert trust["Condition"]["StringLike"] == {
        "token.actions.githubusercontent.com:sub": "repo:acme/orders:environment:production"
    }


@pytest.mark.parametrize("settings, problem", [
    ({"repository": "acme"}, "not a GitHub repository like org/repo"),
    ({"repository": "acme/orders", "provider_arn": "arn:aws:iam::123456789012:oidc-provider/x",
      "create_provider": True}, "not both"),
])
def test_github_settings_are_checked(settings, problem):
    with pytest.raises(ConfigurationError, match=problem):
        GithubOidc(**settings)


@pytest.mark.parametrize("subject", [
    "repo:acme/orders:ref:refs/heads/main",
    "repo:acme/orders:ref:refs/heads/*",  # any branch of this repository: a ref wildcard
    "repo:acme/orders:ref:refs/heads/release-*",
    "repo:acme/orders:ref:refs/tags/v?.*",
    "repo:acme/orders:environment:Production",
    "repo:acme/orders:pull_request",
    "repo:acme@123456/orders@456789:ref:refs/heads/main",  # immutable subject claims carry the ids
    "repo:Acme/Orders:environment:prod",  # GitHub names are case-insensitive
])
def test_a_subject_may_name_a_ref_of_the_repository_with_wildcards_in_the_ref_name(subject):
    assert GithubOidc(repository="acme/orders", subject=subject).allowed_subject == subject


@pytest.mark.parametrize("subject", [
    "*",
    "repo:acme/*",  # every repository of the organization
    "repo:acme/orders*:ref:refs/heads/main",  # orders-fork, orders2, ...
    "repo:acme/orders:*",  # any ref, environment or pull request
    "repo:acme/orders:ref:*",
    "repo:acme/orders:ref:refs/*",  # beyond branches and tags
    "repo:acme/orders:environment:*",  # any environment, protected or not
    "repo:acme/orders:environment:prod?",
    "repo:acme/orders:ref:refs/heads/main:environment:prod",
    "repo:acme/orders:ref:refs/heads/",
    "repo:acme/orders:workflow:deploy",
])
def test_a_subject_with_a_wildcard_beyond_the_ref_or_of_another_form_fails_the_synth(subject):
    with pytest.raises(ConfigurationError, match=r"wildcard .* may stand only in the branch or tag name"):
        GithubOidc(repository="acme/orders", subject=subject)


def test_a_subject_of_another_repository_fails_the_synth():
    with pytest.raises(ConfigurationError, match="names another repository"):
        GithubOidc(repository="acme/orders", subject="repo:acme/payments:ref:refs/heads/main")


def test_the_github_role_lasts_long_enough_to_follow_a_long_canary(configured):
    configured.template.has_resource_properties("AWS::IAM::Role", {"MaxSessionDuration": 6 * 3600})
