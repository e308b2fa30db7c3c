"""The state machine: the one ASL file with every task function substituted; logged, traced, least privilege."""

from __future__ import annotations

import json
import re

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Match
from synthesized import configured_deployer  # noqa: F401 (fixtures)

import statemachine
from handlers.domain.catalog import TASKS
from infra import ConfigurationError
from infra.grants import Targets
from infra.nag import render
from infra.state_machine import DeploymentStateMachine

STATE_MACHINE = "AWS::StepFunctions::StateMachine"
ARN = "arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>:{resource}"


def properties(synth) -> dict:
    (state_machine,) = synth.of_type(STATE_MACHINE).values()
    return state_machine["Properties"]


def test_state_machine_is_standard_traced_and_logs_everything_to_its_own_group(configured):
    configured.template.has_resource_properties(STATE_MACHINE, {
        "StateMachineName": "deployer-under-test",
        "StateMachineType": "STANDARD",
        "TracingConfiguration": {"Enabled": True},
        "LoggingConfiguration": {"Level": "ALL", "IncludeExecutionData": True, "Destinations": [
            {"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": [Match.any_value(), "Arn"]}}},
        ]},
    })
    (log_group, _), = properties(configured)["LoggingConfiguration"]["Destinations"][0][
        "CloudWatchLogsLogGroup"]["LogGroupArn"].values()
    assert configured.resources[log_group]["Properties"] == {
        "LogGroupName": "/aws/vendedlogs/states/deployer-under-test", "RetentionInDays": 90,
    }


def test_definition_is_the_asl_file_and_every_placeholder_is_substituted(configured):
    props = properties(configured)
    uploaded = configured.asset(props["DefinitionS3Location"]["Key"]).read_text()
    substitutions = props["DefinitionSubstitutions"]

    # What CloudFormation does with DefinitionSubstitutions; a placeholder without a value is a KeyError.
    deployed = re.sub(r"\$\{([A-Za-z0-9_]+)\}", lambda m: render(substitutions[m[1]]), uploaded)

    assert uploaded == statemachine.DEFINITION.read_text()  # AWS runs the file the emulator runs
    assert "${" not in deployed
    states = json.loads(deployed)["States"]
    states |= {name: state for branch in states["AwaitApproval"]["Branches"]
               for name, state in branch["States"].items()}
    for state, handler in TASKS.items():
        function, _ = configured.function(handler)
        assert states[state]["Parameters"]["FunctionName"] == f"<{function}.Arn>"


def test_each_lambda_task_waits_longer_than_its_function_may_run(configured):
    """Step Functions gives up on a task (States.Timeout) only after Lambda has ended the function: a function
    still running could otherwise write after the state machine moved on to Rollback."""
    definition = json.loads(statemachine.DEFINITION.read_text())
    timeouts = {f"<{configured.function(handler)[0]}.Arn>": configured.function(handler)[1]["Timeout"]
                for handler in TASKS.values()}
    substitutions = properties(configured)["DefinitionSubstitutions"]
    every = definition["States"] | {name: state for branch in definition["States"]["AwaitApproval"]["Branches"]
                                     for name, state in branch["States"].items()}
    invoking = {name: state for name, state in every.items()
                if state["Type"] == "Task" and "FunctionName" in state["Parameters"]
                and "TimeoutSecondsPath" not in state}
    # The approval wait lasts as long as the request says; a RequestApproval still running after it gave up can
    # only fail to write its token (the write is conditional on the lock its rollback released).
    assert set(invoking) >= set(TASKS) - {"RequestApproval"}
    for name, state in invoking.items():
        function = render(substitutions[state["Parameters"]["FunctionName"][2:-1]])
        assert state["TimeoutSeconds"] >= timeouts[function] + 20, name  # + invocation and a cold start


def test_state_machine_role_invokes_only_its_task_functions_and_runs_only_itself(configured):
    role = properties(configured)["RoleArn"]["Fn::GetAtt"][0]
    state_machine = ARN.format(service="states", resource="stateMachine:deployer-under-test")
    executions = ARN.format(service="states", resource="execution:deployer-under-test:*")
    sync_rule = ARN.format(service="events", resource="rule/StepFunctionsGetEventsForStepFunctionsExecutionRule")
    none = json.dumps({})

    granted = configured.grants(configured.statements(role))

    invoked = {f"<{configured.function(handler)[0]}.Arn>" for handler in TASKS.values()}
    assert {(action, resource) for action, resource, _ in granted if action.startswith("lambda:")} == {
        ("lambda:InvokeFunction", function) for function in invoked
    }
    assert {grant for grant in granted if grant[0].startswith(("states:", "events:"))} == {
        ("states:StartExecution", state_machine, none),
        ("states:DescribeExecution", executions, none),
        ("states:StopExecution", executions, none),
        ("events:PutTargets", sync_rule, none),
        ("events:PutRule", sync_rule, none),
        ("events:DescribeRule", sync_rule, none),
    }
    unscoped = {action for action, resource, _ in granted if resource == "*"}
    assert all(action.startswith(("logs:", "xray:")) for action in unscoped), unscoped  # log delivery, tracing
    assert {action.split(":")[0] for action, _, _ in granted} == {"lambda", "states", "events", "logs", "xray"}


def test_only_this_state_machine_of_this_account_may_assume_its_role(configured):
    """Step Functions assumes the role on behalf of a state machine: not any account's (the confused deputy)."""
    role = properties(configured)["RoleArn"]["Fn::GetAtt"][0]
    (trust,) = configured.resources[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert {render(arn) for arn in trust["Condition"]["ArnLike"]["aws:SourceArn"]} == {
        ARN.format(service="states", resource="stateMachine:deployer-under-test"),
        ARN.format(service="states", resource="stateMachine:deployer-under-test:*"),  # its versions and aliases
    }
    configured.template.has_resource_properties("AWS::IAM::Role", {"AssumeRolePolicyDocument": {"Statement": [{
        "Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"},
        "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                      "ArnLike": {"aws:SourceArn": Match.any_value()}},
    }]}})
    configured.template.resource_properties_count_is("AWS::IAM::Role", {"AssumeRolePolicyDocument": {
        "Statement": Match.array_with([Match.object_like({"Principal": {"Service": "states.amazonaws.com"}})]),
    }}, 1)


def test_a_placeholder_without_a_task_function_fails_the_synth():
    stack = Stack(App(), "Workflow")
    targets = Targets(scope=stack, state_machine_name="lambda-deployer", function_name_prefix="",
                      repositories=("*",), table_arn="arn:aws:dynamodb:eu-west-1:123456789012:table/deployments")
    with pytest.raises(ConfigurationError, match=r"ResolveFunctionArn.*nothing substitutes.*handlers\.catalog\.TASKS"):
        DeploymentStateMachine(stack, "Workflow", name="lambda-deployer", task_functions={}, targets=targets,
                               log_retention=logs.RetentionDays.ONE_WEEK)
