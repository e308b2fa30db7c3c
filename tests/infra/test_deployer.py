"""``LambdaDeployer`` as another team uses it: its resources are attributes, and it composes with others."""

from __future__ import annotations

from aws_cdk import App, Stack
from aws_cdk.assertions import Template
from synthesized import configured_deployer, default_deployer  # noqa: F401 (fixtures)

from handlers.domain.catalog import EVENT_HANDLERS, TASKS
from infra import DeployerSettings, LambdaDeployer


def test_deployments_table_is_keyed_by_pk_and_sk_on_demand_with_point_in_time_recovery(configured):
    configured.template.has_resource("AWS::DynamoDB::Table", {
        "Properties": {
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                     {"AttributeName": "sk", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        },
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
    })


def test_resources_are_attributes_of_the_construct(configured, defaults):
    deployer = configured.stack.deployer

    assert set(deployer.tasks.functions) == set(TASKS) | set(EVENT_HANDLERS)
    assert deployer.safety_net.rescue_rule and deployer.safety_net.reconcile_rule
    assert deployer.state_machine is deployer.workflow.state_machine
    assert deployer.table.table_name
    assert deployer.auto_deploy.start_rule and deployer.auto_deploy.bus
    assert deployer.ci.policy and deployer.ci.github_role
    assert defaults.stack.deployer.auto_deploy is None
    assert defaults.stack.deployer.ci.github_role is None


def test_another_teams_stack_can_hold_two_deployers():
    stack = Stack(App(), "TeamStack")
    LambdaDeployer(stack, "Blue", settings=DeployerSettings(state_machine_name="deployer-blue"))
    LambdaDeployer(stack, "Green", settings=DeployerSettings(state_machine_name="deployer-green",
                                                             auto_deploy={"orders": ["main"]}))

    template = Template.from_stack(stack)

    template.resource_count_is("AWS::StepFunctions::StateMachine", 2)
    template.resource_count_is("AWS::Lambda::Function", 2 * (len(TASKS) + len(EVENT_HANDLERS)))
    template.resource_count_is("AWS::Events::Rule", 2 + 2 + 2)  # auto-deploy (Green), rescue and reconcile (each)
