"""--state-machine, --region, --endpoint-url: the ARN, the table, the console link, and usage errors."""

from __future__ import annotations

import pytest
from moto import mock_aws

from deployer.connection import Connection
from deployer.errors import UsageError

ARN = "arn:aws:states:eu-west-1:210987654321:stateMachine:deployer-prod"


def test_a_name_becomes_an_arn_in_the_callers_account_and_names_the_table():
    with mock_aws():
        conn = Connection(state_machine="deployer-prod", region="eu-central-1")
        assert conn.state_machine_arn == "arn:aws:states:eu-central-1:123456789012:stateMachine:deployer-prod"
    assert conn.table == "deployer-prod-deployments"
    assert conn.execution_arn("run-1") == "arn:aws:states:eu-central-1:123456789012:execution:deployer-prod:run-1"


def test_an_arn_is_taken_as_given_and_brings_its_region():
    conn = Connection(state_machine=ARN)
    assert (conn.state_machine_arn, conn.region, conn.table) == (ARN, "eu-west-1", "deployer-prod-deployments")
    with pytest.raises(UsageError, match="is in eu-west-1, not in --region us-east-1"):
        Connection(state_machine=ARN, region="us-east-1")


def test_the_console_link_and_its_local_stand_in():
    execution = "arn:aws:states:eu-west-1:210987654321:execution:deployer-prod:run-1"
    assert Connection(state_machine=ARN).console_url(execution) == (
        "https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/" + execution)
    local = Connection(state_machine=ARN, endpoint_url="http://127.0.0.1:4599")
    assert local.console_url(execution) is None and local.where(execution) == f"{execution} on http://127.0.0.1:4599"
    china = Connection(state_machine="d", region="cn-north-1")
    assert china.console_url("x").startswith("https://cn-north-1.console.amazonaws.cn/states/home?region=cn-north-1")


def test_bad_values_are_usage_errors_naming_the_option(monkeypatch, tmp_path):
    with pytest.raises(UsageError, match="--state-machine 'my machine'"):
        Connection(state_machine="my machine", region="eu-west-1")
    with pytest.raises(UsageError, match="--profile 'nobody'"):
        Connection(region="eu-west-1", profile="nobody")
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(UsageError, match="no region: give --region"):
        Connection()
