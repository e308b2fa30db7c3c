"""One function per task state: newest Python on arm64, Powertools from its public layer, the handlers as code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import App, CfnResource, Environment, Stack
from aws_cdk.assertions import Template
from aws_cdk.region_info import RegionInfo
from synthesized import configured_deployer  # noqa: F401 (fixtures)

import handlers
from handlers.domain.catalog import EVENT_HANDLERS, TASKS
from infra import ConfigurationError, cdk_json_context
from infra.task_functions import POWERTOOLS_LAYER_VERSION, TARGET_PARTITIONS, powertools_layer

LAYER_NAME = f"AWSLambdaPowertoolsPythonV3-python314-arm64:{POWERTOOLS_LAYER_VERSION}"
COMMERCIAL = "017000801446"


def functions(synth) -> list[dict]:
    return [resource["Properties"] for resource in synth.of_type("AWS::Lambda::Function").values()]


def test_one_function_runs_each_handler_of_the_catalog(configured):
    assert sorted(f["Handler"] for f in functions(configured)) == sorted([*TASKS.values(), *EVENT_HANDLERS.values()])


def test_functions_run_python_3_14_on_arm64_traced_with_the_regional_powertools_layer(configured):
    configured.template.all_resources_properties("AWS::Lambda::Function", {
        "Runtime": "python3.14", "Architectures": ["arm64"], "TracingConfig": {"Mode": "Active"},
    })
    (layer,) = {json.dumps(layer) for f in functions(configured) for layer in f["Layers"]}
    mapping = next(iter(configured.template.to_json()["Mappings"]))
    assert json.loads(layer) == {"Fn::Join": ["", [
        "arn:", {"Ref": "AWS::Partition"}, ":lambda:", {"Ref": "AWS::Region"}, ":",
        {"Fn::FindInMap": [mapping, {"Ref": "AWS::Region"}, "account"]}, f":layer:{LAYER_NAME}",
    ]]}


def test_an_environment_agnostic_stack_finds_the_layer_publisher_of_each_region_of_its_partitions(configured):
    """cdk.json targets aws and aws-cn: every commercial region, and Beijing (Ningxia has no layer, so a deploy
    there fails at the lookup instead of creating functions without their layer)."""
    (accounts,) = configured.template.to_json()["Mappings"].values()
    commercial = {region.name for region in RegionInfo.regions if region.partition == "aws"}
    assert {region: entry["account"] for region, entry in accounts.items()} == {
        **dict.fromkeys(commercial, COMMERCIAL), "cn-north-1": "498634801083"}


@pytest.mark.parametrize("region, arn", [
    ("eu-west-1", f"arn:aws:lambda:eu-west-1:{COMMERCIAL}:layer:{LAYER_NAME}"),
    ("cn-north-1", f"arn:aws-cn:lambda:cn-north-1:498634801083:layer:{LAYER_NAME}"),
    ("us-gov-east-1", f"arn:aws-us-gov:lambda:us-gov-east-1:165087284144:layer:{LAYER_NAME}"),
    ("us-gov-west-1", f"arn:aws-us-gov:lambda:us-gov-west-1:165093116878:layer:{LAYER_NAME}"),
])
def test_a_stack_for_one_region_uses_that_regions_layer_in_its_partition(region, arn):
    stack = Stack(App(context=cdk_json_context()), "Layer", env=Environment(account="123456789012", region=region))
    layer = powertools_layer(stack, "Powertools", version=POWERTOOLS_LAYER_VERSION)
    assert stack.resolve(layer.layer_version_arn) == arn


@pytest.mark.parametrize("region", ["cn-northwest-1", "us-iso-east-1", "eusc-de-east-1"])
def test_a_stack_for_a_region_without_the_layer_is_refused_at_synth(region):
    stack = Stack(App(context=cdk_json_context()), "Layer", env=Environment(account="123456789012", region=region))
    with pytest.raises(ConfigurationError, match=rf"publishes no layer in {region}.*it does in every commercial"):
        powertools_layer(stack, "Powertools", version=POWERTOOLS_LAYER_VERSION)


def test_without_target_partitions_every_region_with_a_layer_is_mapped():
    stack = Stack(App(context={key: value for key, value in cdk_json_context().items() if key != TARGET_PARTITIONS}),
                  "Layer")
    powertools_layer(stack, "Powertools", version=POWERTOOLS_LAYER_VERSION)
    CfnResource(stack, "Something", type="AWS::CloudFormation::WaitConditionHandle")  # a template needs one
    (accounts,) = Template.from_stack(stack).to_json()["Mappings"].values()
    assert {"us-east-1", "cn-north-1", "us-gov-east-1", "us-gov-west-1"} <= set(accounts)
    assert not {"cn-northwest-1", "us-iso-east-1"} & set(accounts)


def test_target_partitions_without_any_layer_are_refused_at_synth():
    stack = Stack(App(context={**cdk_json_context(), TARGET_PARTITIONS: ["aws", "aws-iso"]}), "Layer")
    with pytest.raises(ConfigurationError, match=r"includes aws-iso, where Powertools .* publishes no layer"):
        powertools_layer(stack, "Powertools", version=POWERTOOLS_LAYER_VERSION)


def test_functions_know_their_service_metrics_namespace_log_level_and_the_deployments_table(configured):
    (table,) = configured.of_type("AWS::DynamoDB::Table")
    configured.template.all_resources_properties("AWS::Lambda::Function", {"Environment": {"Variables": {
        "POWERTOOLS_SERVICE_NAME": "lambda-deployer",
        "POWERTOOLS_METRICS_NAMESPACE": "LambdaDeployer",
        "POWERTOOLS_LOG_LEVEL": "DEBUG",
        "DEPLOYMENTS_TABLE": {"Ref": table},
    }}})


def test_each_function_logs_to_its_own_group_kept_as_configured(configured):
    groups = [f["LoggingConfig"]["LogGroup"]["Ref"] for f in functions(configured)]
    assert len(set(groups)) == len(TASKS) + len(EVENT_HANDLERS)
    assert {configured.resources[group]["Properties"]["RetentionInDays"] for group in groups} == {90}


def test_the_code_is_the_handlers_package_and_nothing_else(configured):
    (key,) = {f["Code"]["S3Key"] for f in functions(configured)}
    bundle = configured.asset(key)
    source = Path(handlers.__file__).parent

    packaged = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()}

    assert packaged == {f"handlers/{p.relative_to(source).as_posix()}" for p in source.rglob("*.py")}
    for handler in TASKS.values():
        module, _ = handler.rsplit(".", 1)
        assert f"{module.replace('.', '/')}.py" in packaged
