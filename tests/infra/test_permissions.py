"""Each task function's role grants exactly its entry of infra/permissions.py, on this deployer's resources only.

Which actions each role needs is not read off the handlers here: a list of what the code calls, kept
beside the table, proves nothing (it missed PublishVersion's GetFunctionConfiguration exactly as the
table did). The emulator enforces the table as IAM would, and tests/statemachine/test_least_privilege.py
shows every permission used and needed. What is checked here is what only the synthesized template
shows: each scope becomes this deployer's ARN patterns and conditions (``configured`` narrows functions
to the prefix ``team-`` and three repositories), nothing else is granted, and each role is its own.
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
MANAGED_TAG = json.dumps({"StringEquals": {"aws:ResourceTag/lambda-deployer:managed": "true"}}, sort_keys=True)
HOOK_TAG = json.dumps({"StringEquals": {"aws:ResourceTag/lambda-deployer:hook": "true"}}, sort_keys=True)
UNCONDITIONAL = json.dumps({})
TABLE = "<DeployerDeployments*.Arn>"  # matched loosely: the table's logical id is CDK's to choose
BUCKETS = ("builds", "releases-*")  # the configured deployer's artifactBuckets
CONFIGURED = {  # scope -> (resource as cdk-nag renders it, condition) for the ``configured`` deployer
    Scope.MANAGED_FUNCTIONS: {(ARN.format(service="lambda", resource="function:team-*"), MANAGED_TAG)},
    Scope.MANAGED_VERSIONS: {(ARN.format(service="lambda", resource="function:team-*:*"), MANAGED_TAG)},
    # hooks are the user's own functions: the prefix of the functions to deploy does not narrow them
    Scope.HOOK_FUNCTIONS: {(ARN.format(service="lambda", resource="function:*"), HOOK_TAG)},
    Scope.REPOSITORIES: {(ARN.format(service="ecr", resource=f"repository/{name}"), UNCONDITIONAL)
                         for name in ("orders", "payments", "billing")},
    Scope.ALARMS: {(ARN.format(service="cloudwatch", resource="alarm:*"), UNCONDITIONAL)},
    Scope.DEPLOYMENTS_TABLE: {(TABLE, UNCONDITIONAL)},
    Scope.LOCKS_INDEX: {(f"{TABLE}/index/locks", UNCONDITIONAL)},
    Scope.EXECUTIONS: {(ARN.format(service="states", resource="execution:deployer-under-test:*"), UNCONDITIONAL)},
    Scope.STATE_MACHINE: {(ARN.format(service="states", resource="stateMachine:deployer-under-test"), UNCONDITIONAL)},
    Scope.ARTIFACT_BUCKETS: {(f"arn:<AWS::Partition>:s3:::{bucket}", UNCONDITIONAL) for bucket in BUCKETS},
    Scope.ARTIFACTS: {(f"arn:<AWS::Partition>:s3:::{bucket}/*", UNCONDITIONAL) for bucket in BUCKETS},
    # the deployer writes only the function-named keys of the functions it may deploy (prefix team-)
    Scope.FUNCTION_KEYS: {(f"arn:<AWS::Partition>:s3:::{b}/functions/team-*", UNCONDITIONAL) for b in BUCKETS},
    Scope.DEFAULT_EVENT_BUS: {(ARN.format(service="events", resource="event-bus/default"), UNCONDITIONAL)},
    Scope.TASK_TOKENS: {("*", UNCONDITIONAL)},
    Scope.ANY: {("*", UNCONDITIONAL)},
}


def on_configured_resources(allows: tuple[Allow, ...]) -> set:
    return {(action, resource, condition) for allow in allows for action in allow.actions
            for resource, condition in CONFIGURED[allow.scope]}


def _loosely(resource: str) -> str:
    """The table's ARN (and its index's), the dead-letter queue's, with CDK's logical ids left out."""
    if resource.startswith("<DeployerDeployments"):
        return TABLE + resource.partition(".Arn>")[2]
    if resource.startswith("<DeployerSafetyNetDeadLetters"):
        return DEAD_LETTERS
    return resource


DEAD_LETTERS = "<DeployerSafetyNetDeadLetters*.Arn>"
# Lambda sends an event-driven function's failed invocations to its on-failure destination with the function's
# own role ("Capturing records of Lambda asynchronous invocations"): CDK's SqsDestination grants these.
ON_FAILURE = {(action, DEAD_LETTERS, UNCONDITIONAL)
              for action in ("sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl")}


X_RAY = {("xray:PutTraceSegments", "*", UNCONDITIONAL), ("xray:PutTelemetryRecords", "*", UNCONDITIONAL)}


@pytest.mark.parametrize("state", sorted(FUNCTIONS_OF))
def test_each_task_role_grants_its_table_entry_on_this_deployers_resources_only(configured, state):
    _, function = configured.function(FUNCTIONS_OF[state])
    own_logs = f"<{function['LoggingConfig']['LogGroup']['Ref']}.Arn>"
    writes_logs = {(action, own_logs, UNCONDITIONAL) for action in ("logs:CreateLogStream", "logs:PutLogEvents")}

    statements = configured.statements(configured.role_of(function))
    granted = {(action, _loosely(resource), condition) for action, resource, condition in configured.grants(statements)}

    on_failure = ON_FAILURE if state in EVENT_HANDLERS else set()
    assert granted == on_configured_resources(TASK_PERMISSIONS[state]) | writes_logs | X_RAY | on_failure


def test_resolves_role_grants_reads_only_written_out_by_hand(configured):
    """One role spelled out, not derived from the table: the test above would pass a table and a synth that
    agree on the wrong thing (Resolve runs before any lock: it must not be able to change anything)."""
    _, function = configured.function(FUNCTIONS_OF["Resolve"])
    own_logs = f"<{function['LoggingConfig']['LogGroup']['Ref']}.Arn>"
    statements = configured.statements(configured.role_of(function))
    granted = {(action, _loosely(resource), condition) for action, resource, condition in configured.grants(statements)}

    team = ARN.format(service="lambda", resource="function:team-*")
    repositories = [ARN.format(service="ecr", resource=f"repository/{name}") for name in ("orders", "payments",
                                                                                           "billing")]
    assert granted == {
        ("lambda:GetFunction", team, MANAGED_TAG), ("lambda:GetAlias", team, MANAGED_TAG),
        ("lambda:GetProvisionedConcurrencyConfig", team, MANAGED_TAG),
        # zip packages: where each configured bucket is, and the objects in it (reads only)
        ("s3:GetBucketLocation", "arn:<AWS::Partition>:s3:::builds", UNCONDITIONAL),
        ("s3:GetBucketLocation", "arn:<AWS::Partition>:s3:::releases-*", UNCONDITIONAL),
        *{(action, f"arn:<AWS::Partition>:s3:::{bucket}/*", UNCONDITIONAL) for bucket in ("builds", "releases-*")
          for action in ("s3:GetObject", "s3:GetObjectVersion")},
        *{(action, repository, UNCONDITIONAL) for repository in repositories
          for action in ("ecr:DescribeRepositories", "ecr:DescribeImages")},
        ("cloudwatch:DescribeAlarms", ARN.format(service="cloudwatch", resource="alarm:*"), UNCONDITIONAL),
        ("dynamodb:GetItem", TABLE, UNCONDITIONAL),
        ("lambda:GetFunctionConfiguration", ARN.format(service="lambda", resource="function:*"), HOOK_TAG),
        ("logs:CreateLogStream", own_logs, UNCONDITIONAL), ("logs:PutLogEvents", own_logs, UNCONDITIONAL),
        ("xray:PutTraceSegments", "*", UNCONDITIONAL), ("xray:PutTelemetryRecords", "*", UNCONDITIONAL),
    }


NO_RESOURCE_LEVEL = {"lambda:ListEventSourceMappings", "lambda:GetAccountSettings"}
"""Lambda actions the Service Authorization Reference lists with no resource type: granted on * (read-only)."""


def test_every_lambda_statement_is_limited_to_functions_tagged_managed_or_opted_in_as_hooks(configured):
    for handler in FUNCTIONS_OF.values():
        grants = configured.grants(configured.statements(configured.role_of(configured.function(handler)[1])))
        assert {condition for action, _, condition in grants
                if action.startswith("lambda:") and action not in NO_RESOURCE_LEVEL} <= {MANAGED_TAG, HOOK_TAG}
        assert {(resource, condition) for action, resource, condition in grants
                if action in NO_RESOURCE_LEVEL} <= {("*", UNCONDITIONAL)}
        # on a hook, the deployer may only read its configuration (Resolve) and invoke it (RunChecks)
        assert {action for action, _, condition in grants if condition == HOOK_TAG} <= {
            "lambda:GetFunctionConfiguration", "lambda:InvokeFunction"}


def test_each_task_function_has_a_role_of_its_own_that_only_lambda_assumes(configured):
    roles = {configured.role_of(configured.function(handler)[1]) for handler in FUNCTIONS_OF.values()}
    assert len(roles) == len(FUNCTIONS_OF)
    for role in roles:
        assert configured.resources[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
            {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
        ]


def test_by_default_the_managed_tag_alone_scopes_functions_and_only_the_named_repositories_are_retagged(defaults):
    _, function = defaults.function(TASKS["Rollback"])
    granted = defaults.grants(defaults.statements(defaults.role_of(function)))
    assert ("lambda:UpdateFunctionCode", ARN.format(service="lambda", resource="function:*"), MANAGED_TAG) in granted
    assert {resource for action, resource, _ in granted if action == "ecr:PutImage"} == {
        ARN.format(service="ecr", resource="repository/orders")}  # cdk.json's example, never every repository


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
