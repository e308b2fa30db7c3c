#!/usr/bin/env python3
"""The CDK app: one LambdaDeployerStack, configured through CDK context (docs/deploy-to-aws.md), checked by cdk-nag."""

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from infra import LambdaDeployerStack, cdk_json_context

app = App(context=cdk_json_context())
LambdaDeployerStack(app, "LambdaDeployer")
Validations.of(app).add_plugins(AwsSolutionsChecks(app))
app.synth()
