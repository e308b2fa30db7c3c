"""Lambda's versions in the emulator, as AWS documents them (deployer/local/fidelity/lambda_versions.py)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from deployer.local import sample


def publish(emulator, fn, count: int) -> None:
    lam, ecr = emulator.client("lambda"), emulator.client("ecr")
    for index in range(count):
        digest = sample.push_image(ecr, fn.repository, f"{fn.name}:n{index}")
        lam.update_function_code(FunctionName=fn.name, ImageUri=fn.image(digest))
        lam.publish_version(FunctionName=fn.name)


def code(error: pytest.ExceptionInfo) -> str:
    return error.value.response["Error"]["Code"]


def test_a_version_an_alias_references_cannot_be_deleted_primary_or_routed(emulator):
    fn = sample.create_function(emulator)
    publish(emulator, fn, 2)
    lam = emulator.client("lambda")
    lam.update_alias(FunctionName=fn.name, Name="live", RoutingConfig={"AdditionalVersionWeights": {"2": 0.2}})
    for version in ("1", "2"):
        with pytest.raises(ClientError) as refused:
            lam.delete_function(FunctionName=fn.name, Qualifier=version)
        assert code(refused) == "ResourceConflictException" and "live" in str(refused.value)
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    lam.delete_function(FunctionName=fn.name, Qualifier="3")
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=fn.name)["Versions"]]
    assert versions == ["$LATEST", "1", "2"]


def test_deleting_by_qualifier_takes_a_version_never_an_alias_or_latest(emulator):
    fn = sample.create_function(emulator)
    lam = emulator.client("lambda")
    for qualifier in ("live", "$LATEST"):
        with pytest.raises(ClientError) as refused:
            lam.delete_function(FunctionName=fn.name, Qualifier=qualifier)
        assert code(refused) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as missing:
        lam.delete_function(FunctionName=fn.name, Qualifier="9")
    assert code(missing) == "ResourceNotFoundException"
    assert lam.get_alias(FunctionName=fn.name, Name="live")["FunctionVersion"] == "1"


def test_versions_are_listed_fifty_a_page_and_the_paginator_finds_them_all(emulator):
    fn = sample.create_function(emulator)
    publish(emulator, fn, 55)
    lam = emulator.client("lambda")
    first = lam.list_versions_by_function(FunctionName=fn.name, MaxItems=1000)
    assert len(first["Versions"]) == 50 and first["NextMarker"]
    pages = list(lam.get_paginator("list_versions_by_function").paginate(FunctionName=fn.name))
    listed = [v["Version"] for page in pages for v in page["Versions"]]
    assert len(pages) == 2 and listed == ["$LATEST", *map(str, range(1, 57))]


def test_provisioned_concurrency_is_configured_on_a_version_or_alias_never_on_latest(emulator):
    fn = sample.create_function(emulator)
    lam = emulator.client("lambda")
    lam.put_provisioned_concurrency_config(FunctionName=fn.name, Qualifier="live", ProvisionedConcurrentExecutions=3)
    got = lam.get_provisioned_concurrency_config(FunctionName=fn.name, Qualifier="live")
    assert (got["Status"], got["RequestedProvisionedConcurrentExecutions"]) == ("READY", 3)
    listed = lam.list_provisioned_concurrency_configs(FunctionName=fn.name)["ProvisionedConcurrencyConfigs"]
    assert [c["FunctionArn"].rsplit(":", 1)[-1] for c in listed] == ["live"]
    with pytest.raises(ClientError) as refused:
        lam.put_provisioned_concurrency_config(FunctionName=fn.name, Qualifier="$LATEST",
                                               ProvisionedConcurrentExecutions=1)
    assert code(refused) == "InvalidParameterValueException"
    lam.delete_provisioned_concurrency_config(FunctionName=fn.name, Qualifier="live")
    with pytest.raises(ClientError) as gone:
        lam.get_provisioned_concurrency_config(FunctionName=fn.name, Qualifier="live")
    assert code(gone) == "ProvisionedConcurrencyConfigNotFoundException"


def test_account_settings_count_the_code_of_zip_versions_and_not_of_images(emulator):
    lam = emulator.client("lambda")
    before = lam.get_account_settings()
    fn = sample.create_function(emulator, "imaged")
    publish(emulator, fn, 2)
    assert lam.get_account_settings()["AccountUsage"]["TotalCodeSize"] == before["AccountUsage"]["TotalCodeSize"]
    sample.create_python_function(emulator, "zipped", "def handler(e, c):\n    return 1\n")
    size = lam.publish_version(FunctionName="zipped")["CodeSize"]
    after = lam.get_account_settings()
    assert after["AccountUsage"]["TotalCodeSize"] == before["AccountUsage"]["TotalCodeSize"] + 2 * size  # + $LATEST
    assert after["AccountLimit"]["TotalCodeSize"] == 75 * 1024**3


def test_provisioned_concurrency_needs_a_function_and_a_qualifier_that_exist(emulator):
    fn = sample.create_function(emulator)
    lam = emulator.client("lambda")
    for function, qualifier in (("no-such-function", "live"), (fn.name, "no-such-alias"), (fn.name, "9")):
        with pytest.raises(ClientError) as missing:
            lam.put_provisioned_concurrency_config(FunctionName=function, Qualifier=qualifier,
                                                   ProvisionedConcurrentExecutions=1)
        assert code(missing) == "ResourceNotFoundException"
    assert lam.list_provisioned_concurrency_configs(FunctionName=fn.name)["ProvisionedConcurrencyConfigs"] == []


def test_provisioned_concurrency_configurations_are_listed_fifty_a_page(emulator):
    fn = sample.create_function(emulator)
    publish(emulator, fn, 51)
    lam = emulator.client("lambda")
    for version in range(1, 53):
        lam.put_provisioned_concurrency_config(FunctionName=fn.name, Qualifier=str(version),
                                               ProvisionedConcurrentExecutions=1)
    first = lam.list_provisioned_concurrency_configs(FunctionName=fn.name)
    assert len(first["ProvisionedConcurrencyConfigs"]) == 50 and first["NextMarker"]
    pages = list(lam.get_paginator("list_provisioned_concurrency_configs").paginate(FunctionName=fn.name))
    listed = [config["FunctionArn"] for page in pages for config in page["ProvisionedConcurrencyConfigs"]]
    arn = lam.get_function(FunctionName=fn.name)["Configuration"]["FunctionArn"]
    assert len(pages) == 2 and listed == [f"{arn}:{version}" for version in range(1, 53)]


def test_deleting_a_function_deletes_its_provisioned_concurrency_configurations(emulator):
    fn = sample.create_function(emulator)
    lam = emulator.client("lambda")
    lam.put_provisioned_concurrency_config(FunctionName=fn.name, Qualifier="live", ProvisionedConcurrentExecutions=2)
    lam.put_provisioned_concurrency_config(FunctionName=fn.name, Qualifier="1", ProvisionedConcurrentExecutions=1)
    lam.delete_function(FunctionName=fn.name)
    role = emulator.client("iam").get_role(RoleName=f"{fn.name}-role")["Role"]["Arn"]
    lam.create_function(FunctionName=fn.name, Role=role, PackageType="Image", Publish=True,
                        Code={"ImageUri": f"{fn.repository_uri}:{fn.name}"})
    lam.create_alias(FunctionName=fn.name, Name="live", FunctionVersion="1")
    assert lam.list_provisioned_concurrency_configs(FunctionName=fn.name)["ProvisionedConcurrencyConfigs"] == []
    with pytest.raises(ClientError) as gone:
        lam.get_provisioned_concurrency_config(FunctionName=fn.name, Qualifier="live")
    assert code(gone) == "ProvisionedConcurrencyConfigNotFoundException"
