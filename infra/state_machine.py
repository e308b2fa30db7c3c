"""The deployment state machine: the one ASL definition, with each task's function substituted."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from handlers.domain.catalog import placeholder
from infra.errors import ConfigurationError
from infra.grants import Targets
from infra.nag import ANY_RESOURCE, X_RAY_REASON, acknowledge
from infra.permissions import STATE_MACHINE_PERMISSIONS
from statemachine import DEFINITION, PARTITION, placeholders

LOG_DELIVERY_REASON = (
    "Step Functions logs through CloudWatch Logs vended log delivery, whose actions (logs:CreateLogDelivery, "
    "logs:PutResourcePolicy, ...) have no resource-level permissions."
)


class DeploymentStateMachine(Construct):
    """The Standard state machine of ``statemachine/deploy.asl.json``, logged (ALL) and traced.

    Its role may invoke only the given task functions, plus run child executions of itself.
    """

    def __init__(self, scope: Construct, id: str, *, name: str, task_functions: Mapping[str, lambda_.IFunction],
                 targets: Targets, log_retention: logs.RetentionDays,
                 substitutions: Mapping[str, str] | None = None) -> None:
        """``substitutions``: placeholders other than task functions (e.g. a table name for a direct SDK task)."""
        super().__init__(scope, id)
        substitutions = {
            PARTITION: Aws.PARTITION,
            **{placeholder(state): function.function_arn for state, function in task_functions.items()},
            **(substitutions or {}),
        }
        if missing := sorted(placeholders() - set(substitutions)):
            raise ConfigurationError(
                f"{DEFINITION.name} refers to {', '.join(missing)}, which nothing substitutes: add the task state "
                "to handlers.catalog.TASKS, or pass other values as substitutions"
            )

        # The /aws/vendedlogs/ prefix keeps the account's CloudWatch Logs resource policy from growing with
        # every state machine. The execution history lives on in Step Functions and the deployments table.
        self.log_group = logs.LogGroup(self, "Logs", log_group_name=f"/aws/vendedlogs/states/{name}",
                                       retention=log_retention, removal_policy=RemovalPolicy.DESTROY)
        # Only this state machine (and its versions or aliases) may assume the role, not Step Functions on
        # anyone's behalf (the confused deputy): the conditions of the role Step Functions' console creates,
        # narrowed to the ARN built from the name (a reference to the state machine would be a cycle).
        trusted = iam.ServicePrincipal("states.amazonaws.com", conditions={
            "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
            "ArnLike": {"aws:SourceArn": [targets.state_machine_arn, f"{targets.state_machine_arn}:*"]},
        })
        self.role = iam.Role(self, "Role", assumed_by=trusted,
                             description="lambda-deployer state machine: invokes its own task functions only")
        # Unqualified ARNs only: the definition invokes each task function itself, never a version or alias.
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["lambda:InvokeFunction"], resources=[fn.function_arn for fn in task_functions.values()],
        ))
        for allow in STATE_MACHINE_PERMISSIONS:
            self.role.add_to_policy(targets.statement(allow))

        self.state_machine = sfn.StateMachine(
            self, "StateMachine",
            state_machine_name=name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_file(str(DEFINITION)),
            definition_substitutions=substitutions,
            role=self.role,
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        )
        findings = targets.findings(STATE_MACHINE_PERMISSIONS)
        findings.setdefault(ANY_RESOURCE, []).extend([X_RAY_REASON, LOG_DELIVERY_REASON])  # statements CDK adds
        acknowledge(self.role, findings)
