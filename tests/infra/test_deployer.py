"""``LambdaDeployer`` as another team uses it: its resources are attributes, and it composes with others."""

from __future__ import annotations

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Match, Template
from synthesized import configured_deployer, default_deployer  # noqa: F401 (fixtures)

from deployer.local.emulator import Emulator
from handlers.domain.catalog import EVENT_HANDLERS, TASKS
from infra import DeployerSettings, LambdaDeployer

LOCKS_INDEX = {"IndexName": "locks", "KeySchema": [{"AttributeName": "held", "KeyType": "HASH"},
                                                    {"AttributeName": "pk", "KeyType": "RANGE"}],
               "Projection": {"ProjectionType": "ALL"}}


def test_deployments_table_is_keyed_by_pk_and_sk_on_demand_with_point_in_time_recovery(configured):
    configured.template.has_resource("AWS::DynamoDB::Table", {
        "Properties": {
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "AttributeDefinitions": Match.array_with([{"AttributeName": "pk", "AttributeType": "S"},
                                                      {"AttributeName": "sk", "AttributeType": "S"}]),
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        },
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
    })


def test_history_records_expire_by_ttl_and_a_sparse_index_holds_the_locks(configured):
    configured.template.has_resource_properties("AWS::DynamoDB::Table", {
        "TimeToLiveSpecification": {"AttributeName": "expiresAt", "Enabled": True},
        "GlobalSecondaryIndexes": [LOCKS_INDEX],
        "AttributeDefinitions": Match.array_with([{"AttributeName": "held", "AttributeType": "S"}]),
    })


@pytest.mark.slow
def test_the_emulator_creates_the_table_the_stack_declares(configured):
    (table,) = configured.of_type("AWS::DynamoDB::Table").values()
    declared = table["Properties"]

    with Emulator() as emulator:
        ddb = emulator.client("dynamodb")
        created = ddb.describe_table(TableName=emulator.table_name)["Table"]
        ttl = ddb.describe_time_to_live(TableName=emulator.table_name)["TimeToLiveDescription"]

    assert created["KeySchema"] == declared["KeySchema"]
    assert sorted(created["AttributeDefinitions"], key=str) == sorted(declared["AttributeDefinitions"], key=str)
    assert [{key: index[key] for key in ("IndexName", "KeySchema", "Projection")}
            for index in created["GlobalSecondaryIndexes"]] == declared["GlobalSecondaryIndexes"]
    assert created["BillingModeSummary"]["BillingMode"] == declared["BillingMode"]
    assert (ttl["AttributeName"], ttl["TimeToLiveStatus"]) == (declared["TimeToLiveSpecification"]["AttributeName"],
                                                               "ENABLED")


def test_every_function_knows_the_prefix_and_the_history_retention(configured, defaults):
    for synth, prefix, days in ((configured, "team-", "400"), (defaults, "", "365")):
        synth.template.all_resources_properties("AWS::Lambda::Function", {"Environment": {"Variables": {
            "FUNCTION_NAME_PREFIX": prefix, "HISTORY_RETENTION_DAYS": days}}})


def test_resources_are_attributes_of_the_construct(configured, defaults):
    deployer = configured.stack.deployer

    assert set(deployer.tasks.functions) == set(TASKS) | set(EVENT_HANDLERS)
    assert deployer.safety_net.rescue_rule and deployer.safety_net.reconcile_rule
    assert deployer.alarm_rollback.rule and deployer.alarm_rollback.dead_letters
    assert deployer.state_machine is deployer.workflow.state_machine
    assert deployer.table.table_name
    assert deployer.auto_deploy.start_rule and deployer.auto_deploy.bus
    assert deployer.ci.policy and deployer.ci.github_role
    assert defaults.stack.deployer.auto_deploy is None
    assert defaults.stack.deployer.ci.github_role is None


def test_another_teams_stack_can_hold_two_deployers():
    stack = Stack(App(), "TeamStack")
    LambdaDeployer(stack, "Blue", settings=DeployerSettings(state_machine_name="deployer-blue",
                                                            repositories=("orders",)))
    LambdaDeployer(stack, "Green", settings=DeployerSettings(state_machine_name="deployer-green",
                                                             repositories=("orders",),
                                                             auto_deploy={"orders": ["main"]}))

    template = Template.from_stack(stack)

    template.resource_count_is("AWS::StepFunctions::StateMachine", 2)
    template.resource_count_is("AWS::Lambda::Function", 2 * (len(TASKS) + len(EVENT_HANDLERS)))
    # auto-deploy (Green); rescue, reconcile and rollback on alarm (each: both hear every alarm, each acts on the
    # deployments of its own table)
    template.resource_count_is("AWS::Events::Rule", 2 + 2 * 3)
