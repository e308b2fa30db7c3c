"""The task decorator: merged state, errors logged, counted and passed on by name, logs correlated by execution,
metrics flushed per invocation, one trace subsegment per task."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from handlers.aws import task as task_module
from handlers.aws.task import event_handler, task
from handlers.domain.errors import DeploymentUnhealthy, TransientAwsError

ROOT = Path(__file__).resolve().parents[3]
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:lambda-deployer:run-42"


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


@pytest.fixture
def logs(monkeypatch):
    """The JSON lines the handlers' logger writes during the test."""
    stream = io.StringIO()
    monkeypatch.setattr(task_module.logger.registered_handler, "stream", stream)
    return lambda: [json.loads(line) for line in stream.getvalue().splitlines()]


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


def test_transient_errors_are_counted_apart_for_the_dashboards_throttles(emf):
    def throttled(event):
        raise aws_error("TooManyRequestsException", 429)

    def denied(event):
        raise aws_error("AccessDeniedException", 403)

    for failing, raised in ((throttled, TransientAwsError), (denied, ClientError)):
        with pytest.raises(raised):
            task(failing)({}, Context())

    transient, other = emf()
    assert transient["TransientAwsError"] == [1.0] and transient["TaskFailed"] == [1.0]
    assert "TransientAwsError" not in other and other["TaskFailed"] == [1.0]


def test_a_gauge_is_a_duration_in_seconds_not_a_count(emf):
    event_handler(lambda event: task_module.gauge("OldestLockAgeSeconds", 12.345) or {})({}, Context())

    (metrics,) = emf()
    (definition,) = [m for m in metrics["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                     if m["Name"] == "OldestLockAgeSeconds"]
    assert metrics["OldestLockAgeSeconds"] == [12.3] and definition["Unit"] == "Seconds"


def test_other_errors_keep_their_names():
    def denied(event):
        raise aws_error("AccessDeniedException", 403)

    with pytest.raises(ClientError, match="AccessDenied"):
        task(denied)({}, Context())


def test_an_unexpected_exception_is_logged_counted_and_raised_unchanged(emf, logs):
    bug = KeyError("deployment")

    def broken(event):
        raise bug

    with pytest.raises(KeyError) as raised:
        task(broken)({"executionId": EXECUTION}, Context())

    assert raised.value is bug  # the runtime reports KeyError: the ASL's Catch sees that name
    (line,) = [line for line in logs() if line["level"] == "ERROR"]
    assert line["message"] == "unexpected error" and line["error"] == "KeyError"
    assert "KeyError" in line["exception"] and line["correlation_id"] == EXECUTION
    (metrics,) = emf()
    assert metrics["TaskFailed"] == [1.0] and metrics["task"] == "test_task"


def test_every_log_line_of_an_invocation_carries_its_execution_as_correlation_id(logs):
    def working(event):
        task_module.logger.info("working")
        return {}

    task(working)({"executionId": EXECUTION, "deployment": {"functionName": "orders-api"}}, Context())
    event_handler(working)({"detail": {"executionArn": EXECUTION.replace("run-42", "run-43")}}, Context())
    event_handler(working)({}, Context())

    first, second, third = logs()
    assert (first["correlation_id"], first["function"], first["task"]) == (EXECUTION, "orders-api", "test_task")
    assert second["correlation_id"].endswith(":run-43") and "function" not in second
    assert "correlation_id" not in third  # nothing of an earlier invocation is left


def test_every_invocation_records_its_duration_and_failures_by_task(emf):
    def unhealthy(event):
        raise DeploymentUnhealthy("alarm")

    task(lambda event: {})({}, Context())
    with pytest.raises(DeploymentUnhealthy):
        task(unhealthy)({}, Context())

    ok, failed = emf()
    assert ok["task"] == failed["task"] == "test_task" and "TaskDuration" in ok
    assert failed["TaskFailed"] == [1.0] and "TaskFailed" not in ok


def test_with_metrics_disabled_nothing_piles_up_between_invocations(emf, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")  # as in the emulator

    for _ in range(3):
        task(lambda event: {})({}, Context())

    assert task_module.metrics.metric_set == {} and emf() == []


class Subsegment:
    def __init__(self, name: str) -> None:
        self.name, self.annotations, self.metadata = name, {}, {}

    def put_annotation(self, key, value):
        self.annotations[key] = value

    def put_metadata(self, key, value, namespace=None):
        self.metadata[key] = value

    def add_exception(self, exception, stack):
        self.metadata["exception"] = exception


class Provider:
    """Records what the tracer writes, in place of the X-Ray recorder."""

    def __init__(self) -> None:
        self.subsegments: list[Subsegment] = []

    @contextlib.contextmanager
    def in_subsegment(self, name, **kwargs):
        self.subsegments.append(subsegment := Subsegment(name))
        yield subsegment

    def put_annotation(self, key, value):
        self.subsegments[-1].put_annotation(key, value)


def test_each_invocation_is_one_trace_subsegment_annotated_with_task_and_execution_without_the_state(monkeypatch):
    provider = Provider()
    monkeypatch.setattr(task_module.tracer, "provider", provider)
    monkeypatch.setattr(task_module.tracer, "disabled", False)

    task(lambda event: {"secret-looking": "state"})({"executionId": EXECUTION}, Context())

    (subsegment,) = provider.subsegments
    assert subsegment.annotations == {"task": "test_task", "execution": "run-42", "Service": "lambda-deployer",
                                      "ColdStart": subsegment.annotations["ColdStart"]}
    assert subsegment.metadata == {}  # the response (the deployment state) stays out of the trace


def test_in_lambda_the_tracer_patches_botocore_so_every_aws_call_is_traced():
    env = {key: value for key, value in os.environ.items() if not key.startswith("POWERTOOLS_")}
    env |= {"LAMBDA_TASK_ROOT": "/var/task", "AWS_REGION": "us-east-1", "PYTHONPATH": str(ROOT)}
    probe = ("import handlers.aws.task, aws_xray_sdk.core.patcher as p; "
             "print(sorted(p._PATCHED_MODULES), handlers.aws.task.tracer.disabled)")

    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["['botocore']", "False"]
