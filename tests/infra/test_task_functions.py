"""One function per task state: newest Python on arm64, Powertools from its public layer, the handlers as code."""

from __future__ import annotations

from pathlib import Path

from synthesized import configured_deployer  # noqa: F401 (fixtures)

import handlers
from handlers.domain.catalog import EVENT_HANDLERS, TASKS
from infra.nag import render
from infra.task_functions import POWERTOOLS_LAYER_VERSION

POWERTOOLS_LAYER = ("arn:<AWS::Partition>:lambda:<AWS::Region>:017000801446:layer:"
                    f"AWSLambdaPowertoolsPythonV3-python314-arm64:{POWERTOOLS_LAYER_VERSION}")


def functions(synth) -> list[dict]:
    return [resource["Properties"] for resource in synth.of_type("AWS::Lambda::Function").values()]


def test_one_function_runs_each_handler_of_the_catalog(configured):
    assert sorted(f["Handler"] for f in functions(configured)) == sorted([*TASKS.values(), *EVENT_HANDLERS.values()])


def test_functions_run_python_3_14_on_arm64_traced_with_the_regional_powertools_layer(configured):
    configured.template.all_resources_properties("AWS::Lambda::Function", {
        "Runtime": "python3.14", "Architectures": ["arm64"], "TracingConfig": {"Mode": "Active"},
    })
    assert {render(layer) for f in functions(configured) for layer in f["Layers"]} == {POWERTOOLS_LAYER}


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
