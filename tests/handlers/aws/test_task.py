"""The task decorator: merged state, AWS errors translated for the state machine, a metric per invocation."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from handlers.aws.task import event_handler, task
from handlers.domain.errors import DeploymentUnhealthy, TransientAwsError


class Context:
    function_name = "lambda-deployer-Test"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:lambda-deployer-Test"
    memory_limit_in_mb = 256
    aws_request_id = "req-1"


def aws_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       "UpdateAlias")


@pytest.fixture(autouse=True)
def emf(monkeypatch, capsys):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")

    def printed() -> list[dict]:
        return [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    return printed


def test_a_task_returns_the_state_with_its_keys_merged_in():
    assert task(lambda event: {"b": 2})({"a": 1}, Context()) == {"a": 1, "b": 2}
    assert event_handler(lambda event: {"b": 2})({"a": 1}, Context()) == {"b": 2}


@pytest.mark.parametrize(("code", "status"), [("TooManyRequestsException", 429), ("ServiceException", 500),
                                              ("ResourceConflictException", 409), ("ThrottlingException", 400)])
def test_transient_aws_errors_become_one_name_the_state_machine_retries(code, status):
    def failing(event):
        raise aws_error(code, status)

    with pytest.raises(TransientAwsError, match=code):
        task(failing)({}, Context())


def test_other_errors_keep_their_names():
    def denied(event):
        raise aws_error("AccessDeniedException", 403)

    with pytest.raises(ClientError, match="AccessDenied"):
        task(denied)({}, Context())


def test_every_invocation_records_its_duration_and_failures_by_task(emf):
    def unhealthy(event):
        raise DeploymentUnhealthy("alarm")

    task(lambda event: {})({}, Context())
    with pytest.raises(DeploymentUnhealthy):
        task(unhealthy)({}, Context())

    ok, failed = emf()
    assert ok["task"] == failed["task"] == "test_task" and "TaskDuration" in ok
    assert failed["TaskFailed"] == [1.0] and "TaskFailed" not in ok
