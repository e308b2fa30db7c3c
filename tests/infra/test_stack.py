"""The stack's outputs tell CI what to call and what to attach; its name comes from context."""

from __future__ import annotations

from aws_cdk import App
from synthesized import configured_deployer, default_deployer  # noqa: F401 (fixtures)

from infra import LambdaDeployerStack


def test_outputs_are_the_state_machine_the_ci_policy_and_the_github_role(configured):
    (state_machine,) = configured.of_type("AWS::StepFunctions::StateMachine")
    (policy,) = [id for id, p in configured.of_type("AWS::IAM::ManagedPolicy").items()
                 if p["Properties"]["Description"].startswith("lambda-deployer CI")]
    (github_role,) = [id for id, role in configured.of_type("AWS::IAM::Role").items()
                      if "sts:AssumeRoleWithWebIdentity" in str(role)]

    configured.template.has_output("StateMachineArn", {"Value": {"Ref": state_machine}})
    configured.template.has_output("CiPolicyArn", {"Value": {"Ref": policy}})
    configured.template.has_output("GithubActionsRoleArn", {"Value": {"Fn::GetAtt": [github_role, "Arn"]}})


def test_without_github_or_a_topic_the_state_machine_ci_policy_dashboard_and_dead_letters_are_output(defaults):
    assert set(defaults.template.to_json()["Outputs"]) == {"StateMachineArn", "CiPolicyArn", "ApproverPolicyArn",
                                                          "DashboardName", "DeadLetterQueueUrl"}


def test_a_configured_topic_is_output(configured):
    assert {"NotificationsTopicArn", "GithubActionsRoleArn"} <= set(configured.template.to_json()["Outputs"])


def test_stack_name_comes_from_context():
    app = App(context={"stackName": "deployer-prod", "repositories": "orders"})
    assert LambdaDeployerStack(app, "LambdaDeployer").stack_name == "deployer-prod"
