"""The emulator's versions that are not ready and its provisioned concurrency (deployer.local.readiness), on their
own: moto reports every version Active at once and implements no provisioned concurrency at all."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from support import wait_for

from deployer.local import sample
from deployer.local.emulator import Emulator


@pytest.fixture
def emulator():
    with Emulator(version_pending_seconds=0.5, provisioned_concurrency_seconds=0.5) as emu:
        yield emu


def state(emulator, version: str) -> str:
    return emulator.client("lambda").get_function_configuration(FunctionName="orders-api", Qualifier=version)["State"]


def test_a_published_version_is_pending_then_active(emulator):
    fn = sample.create_function(emulator)
    lam = emulator.client("lambda")
    lam.update_function_code(FunctionName=fn.name, ImageUri=fn.image(sample.push_version(emulator, fn, "v2")))
    published = lam.publish_version(FunctionName=fn.name)

    assert published["State"] == "Pending" and published["StateReasonCode"] == "Creating"
    assert state(emulator, "2") == "Pending"
    assert lam.get_function_configuration(FunctionName=fn.name)["State"] == "Active"  # $LATEST is not held
    with pytest.raises(ClientError) as refused:  # Lambda does not invoke a Pending version
        lam.invoke(FunctionName=fn.name, Qualifier="2")
    assert refused.value.response["Error"]["Code"] == "ResourceConflictException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert "currently in the following state: Pending" in refused.value.response["Error"]["Message"]
    wait_for(lambda: state(emulator, "2") == "Active", what="version 2 Active")
    assert "FunctionError" not in lam.invoke(FunctionName=fn.name, Qualifier="2")


def test_a_version_can_be_put_in_a_state_and_back(emulator):
    sample.create_function(emulator)
    emulator.readiness.set_state("orders-api", "1", "Inactive", "idle for two weeks")
    config = emulator.client("lambda").get_function_configuration(FunctionName="orders-api", Qualifier="1")
    assert (config["State"], config["StateReasonCode"], config["StateReason"]) == (
        "Inactive", "Idle", "idle for two weeks")
    emulator.readiness.set_state("orders-api", "1", None)
    wait_for(lambda: state(emulator, "1") == "Active", what="version 1 Active (once its own Pending time is over)")


def test_provisioned_concurrency_is_in_progress_then_ready_and_reallocates_after_a_routing_change(emulator):
    fn = sample.create_function(emulator)
    lam = emulator.client("lambda")
    put = lam.put_provisioned_concurrency_config(FunctionName=fn.name, Qualifier="live",
                                                 ProvisionedConcurrentExecutions=10)
    assert (put["Status"], put["RequestedProvisionedConcurrentExecutions"]) == ("IN_PROGRESS", 10)

    def status() -> dict:
        return lam.get_provisioned_concurrency_config(FunctionName=fn.name, Qualifier="live")

    ready = wait_for(lambda: (found := status())["Status"] == "READY" and found, what="READY")
    assert ready["AllocatedProvisionedConcurrentExecutions"] == 10

    lam.update_function_code(FunctionName=fn.name, ImageUri=fn.image(sample.push_version(emulator, fn, "v2")))
    lam.publish_version(FunctionName=fn.name)
    lam.update_alias(FunctionName=fn.name, Name="live", RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}})
    moving = status()
    assert moving["Status"] == "IN_PROGRESS" and moving["AllocatedProvisionedConcurrentExecutions"] == 7
    wait_for(lambda: status()["Status"] == "READY", what="READY again")


def test_a_failed_allocation_and_a_missing_configuration_answer_as_lambda_does(emulator):
    fn = sample.create_function(emulator)
    lam = emulator.client("lambda")
    with pytest.raises(ClientError) as missing:
        lam.get_provisioned_concurrency_config(FunctionName=fn.name, Qualifier="live")
    assert missing.value.response["Error"]["Code"] == "ProvisionedConcurrencyConfigNotFoundException"
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404

    lam.put_provisioned_concurrency_config(FunctionName=fn.name, Qualifier="live", ProvisionedConcurrentExecutions=5)
    emulator.readiness.fail(fn.name, "live", "not enough unreserved concurrency")
    found = lam.get_provisioned_concurrency_config(FunctionName=fn.name, Qualifier="live")
    assert (found["Status"], found["StatusReason"]) == ("FAILED", "not enough unreserved concurrency")
    listed = lam.list_provisioned_concurrency_configs(FunctionName=fn.name)["ProvisionedConcurrencyConfigs"]
    assert [c["Status"] for c in listed] == ["FAILED"]
    lam.delete_provisioned_concurrency_config(FunctionName=fn.name, Qualifier="live")
    assert lam.list_provisioned_concurrency_configs(FunctionName=fn.name)["ProvisionedConcurrencyConfigs"] == []
