"""Each task function's role holds exactly the AWS calls of its handler, on this deployer's resources only.

The expectations are read off the handlers' boto3 calls (handlers/*.py), independently of the table in
infra/permissions.py; ``configured`` narrows functions to the prefix ``team-`` and three repositories.
"""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Template
from synthesized import configured_deployer, default_deployer  # noqa: F401 (fixtures)

from handlers.domain.catalog import EVENT_HANDLERS, TASKS
from infra import ConfigurationError, cdk_json_context
from infra.grants import Targets
from infra.permissions import TASK_PERMISSIONS, Allow, Scope
from infra.task_functions import TaskFunctions

FUNCTIONS_OF = {**TASKS, **EVENT_HANDLERS}

ARN = "arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>:{resource}"
FUNCTIONS = ARN.format(service="lambda", resource="function:team-*")
REPOSITORIES = [ARN.format(service="ecr", resource=f"repository/{name}") for name in ("orders", "payments", "billing")]
ALARMS = ARN.format(service="cloudwatch", resource="alarm:*")
MANAGED_TAG = json.dumps({"StringEquals": {"aws:ResourceTag/lambda-deployer:managed": "true"}}, sort_keys=True)
UNCONDITIONAL = json.dumps({})
TABLE = "<DeployerDeployments*.Arn>"  # matched loosely: the table's logical id is CDK's to choose
EXECUTIONS = ARN.format(service="states", resource="execution:deployer-under-test:*")


def on_managed_functions(*actions: str) -> set:
    return {(action, FUNCTIONS, MANAGED_TAG) for action in actions}


def on_repositories(*actions: str) -> set:
    return {(action, repository, UNCONDITIONAL) for action in actions for repository in REPOSITORIES}


def on_alarms(*actions: str) -> set:
    return {(action, ALARMS, UNCONDITIONAL) for action in actions}


def on_table(*actions: str) -> set:
    return {(action, TABLE, UNCONDITIONAL) for action in actions}


def on_executions(*actions: str) -> set:
    return {(action, EXECUTIONS, UNCONDITIONAL) for action in actions}


def anywhere(*actions: str) -> set:
    return {(action, "*", UNCONDITIONAL) for action in actions}


RESTORE = on_managed_functions("lambda:GetAlias", "lambda:UpdateAlias", "lambda:GetFunction",
                               "lambda:UpdateFunctionCode") \
    | on_repositories("ecr:BatchGetImage", "ecr:PutImage", "ecr:GetDownloadUrlForLayer")
EXPECTED = {
    "Resolve": on_managed_functions("lambda:GetFunction", "lambda:GetAlias")
    | on_repositories("ecr:DescribeRepositories", "ecr:DescribeImages")
    | on_alarms("cloudwatch:DescribeAlarms") | on_table("dynamodb:GetItem"),
    "ResolveRollback": on_managed_functions("lambda:GetFunction", "lambda:GetAlias")
    | on_repositories("ecr:DescribeImages") | on_table("dynamodb:GetItem", "dynamodb:Query"),
    "FindTrackingFunctions": anywhere("tag:GetResources"),
    "Lock": on_table("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem")
    | on_executions("states:StopExecution"),
    "RetagImage": on_repositories("ecr:BatchGetImage", "ecr:PutImage"),
    # UpdateFunctionCode with an image: Lambda checks that the caller may pull that image.
    "UpdateCode": on_managed_functions("lambda:UpdateFunctionCode", "lambda:GetFunction")
    | on_repositories("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"),
    "WaitForCodeUpdate": on_managed_functions("lambda:GetFunctionConfiguration"),
    "PublishVersion": on_managed_functions("lambda:PublishVersion", "lambda:GetFunctionConfiguration"),
    "ShiftTraffic": on_managed_functions("lambda:GetAlias", "lambda:UpdateAlias"),
    "CheckHealth": on_alarms("cloudwatch:DescribeAlarms"),
    "Promote": on_managed_functions("lambda:GetAlias", "lambda:UpdateAlias", "lambda:CreateAlias"),
    "Finalize": on_table("dynamodb:UpdateItem", "dynamodb:DeleteItem"),
    "Rollback": RESTORE | on_table("dynamodb:UpdateItem", "dynamodb:DeleteItem"),
    "Rescue": RESTORE | on_table("dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"),
    "Reconcile": RESTORE | on_managed_functions("lambda:ListAliases")
    | on_table("dynamodb:Scan", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
    | on_executions("states:DescribeExecution") | anywhere("tag:GetResources"),
}
X_RAY = {("xray:PutTraceSegments", "*", UNCONDITIONAL), ("xray:PutTelemetryRecords", "*", UNCONDITIONAL)}


def test_every_function_has_expectations_here():
    assert set(EXPECTED) == set(FUNCTIONS_OF)


@pytest.mark.parametrize("state", sorted(FUNCTIONS_OF))
def test_task_role_holds_exactly_the_calls_of_its_handler(configured, state):
    _, function = configured.function(FUNCTIONS_OF[state])
    own_logs = f"<{function['LoggingConfig']['LogGroup']['Ref']}.Arn>"
    writes_logs = {(action, own_logs, UNCONDITIONAL) for action in ("logs:CreateLogStream", "logs:PutLogEvents")}

    statements = configured.statements(configured.role_of(function))
    granted = {(action, TABLE if resource.startswith("<DeployerDeployments") else resource, condition)
               for action, resource, condition in configured.grants(statements)}

    assert granted == EXPECTED[state] | writes_logs | X_RAY


def test_each_task_function_has_a_role_of_its_own_that_only_lambda_assumes(configured):
    roles = {configured.role_of(configured.function(handler)[1]) for handler in FUNCTIONS_OF.values()}
    assert len(roles) == len(FUNCTIONS_OF)
    for role in roles:
        assert configured.resources[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
            {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
        ]


def test_by_default_the_managed_tag_alone_scopes_functions_and_any_repository_may_be_retagged(defaults):
    _, function = defaults.function(TASKS["Rollback"])
    granted = defaults.grants(defaults.statements(defaults.role_of(function)))
    assert ("lambda:UpdateFunctionCode", ARN.format(service="lambda", resource="function:*"), MANAGED_TAG) in granted
    assert ("ecr:PutImage", ARN.format(service="ecr", resource="repository/*"), UNCONDITIONAL) in granted


def task_functions(tasks: dict[str, str], permissions=TASK_PERMISSIONS) -> TaskFunctions:
    stack = Stack(App(context=cdk_json_context()), "Tasks")
    targets = Targets(scope=stack, state_machine_name="lambda-deployer", function_name_prefix="",
                      repositories=("*",), table_arn="arn:aws:dynamodb:eu-west-1:123456789012:table/deployments")
    return TaskFunctions(stack, "Tasks", targets=targets, environment={}, log_level="INFO",
                         log_retention=logs.RetentionDays.ONE_WEEK, powertools_layer_version=1, tasks=tasks,
                         permissions=permissions)


def test_a_new_task_needs_only_its_entry_in_the_permission_table():
    new = {"Audit": (Allow(Scope.ANY, "tag:GetResources"), Allow(Scope.MANAGED_FUNCTIONS, "lambda:GetFunction"))}

    functions = task_functions({**FUNCTIONS_OF, "Audit": "handlers.audit.handler"}, {**TASK_PERMISSIONS, **new})

    template = Template.from_stack(Stack.of(functions))
    template.resource_count_is("AWS::Lambda::Function", len(FUNCTIONS_OF) + 1)
    role = functions.tasks["Audit"].role
    statements = Stack.of(role).resolve(role.node.find_child("DefaultPolicy").document.to_json())["Statement"]
    granted = {(action, json.dumps(s["Resource"]), json.dumps(s.get("Condition", {}), sort_keys=True))
               for s in statements for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert ("tag:GetResources", '"*"', UNCONDITIONAL) in granted
    assert [condition for action, _, condition in granted if action == "lambda:GetFunction"] == [MANAGED_TAG]


def test_a_task_state_without_a_permission_entry_fails_the_synth():
    with pytest.raises(ConfigurationError, match=r"Unlisted have no permissions.*TASK_PERMISSIONS"):
        task_functions({**FUNCTIONS_OF, "Unlisted": "handlers.unlisted.handler"})
