"""The stack this project deploys: one ``LambdaDeployer``, configured through CDK context."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.deployer import LambdaDeployer
from infra.settings import DeployerSettings


class LambdaDeployerStack(Stack):
    """lambda-deployer and what CI needs to know about it (outputs)."""

    def __init__(self, scope: Construct, id: str, *, settings: DeployerSettings | None = None, **kwargs) -> None:
        kwargs.setdefault("stack_name", scope.node.try_get_context("stackName"))
        kwargs.setdefault("description", "lambda-deployer: ships container images to Lambda functions")
        super().__init__(scope, id, **kwargs)
        self.deployer = LambdaDeployer(self, "Deployer", settings=settings or DeployerSettings.from_context(self.node))

        CfnOutput(self, "StateMachineArn", value=self.deployer.state_machine.state_machine_arn,
                  description="Start deployments here (aws stepfunctions start-execution)")
        CfnOutput(self, "CiPolicyArn", value=self.deployer.ci.policy.managed_policy_arn,
                  description="Attach to the CI principal: start and follow deployments, nothing else")
        CfnOutput(self, "ApproverPolicyArn", value=self.deployer.approvers.policy.managed_policy_arn,
                  description="Attach to the people who may approve, reject or promote deployments (not to CI)")
        CfnOutput(self, "DashboardName", value=self.deployer.monitoring.dashboard.dashboard_name,
                  description="The deployer's own CloudWatch dashboard")
        CfnOutput(self, "DeadLetterQueueUrl", value=self.deployer.safety_net.dead_letters.queue_url,
                  description="Events the rescue or the reconciler could not handle (alarmed on)")
        if notifications := self.deployer.notifications:
            CfnOutput(self, "NotificationsTopicArn", value=notifications.topic.topic_arn,
                      description="Lifecycle events as short messages, and the deployer's alarms: subscribe here")
        if role := self.deployer.ci.github_role:
            CfnOutput(self, "GithubActionsRoleArn", value=role.role_arn,
                      description="role-to-assume for aws-actions/configure-aws-credentials")
