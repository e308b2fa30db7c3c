"""Sending a notification: one PutEvents to the default bus; what cannot be sent is logged and counted, never
raised (a deployment must not fail or roll back for want of a notification)."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber

from handlers.aws import notify
from handlers.aws.task import event_handler
from handlers.domain import notifications
from handlers.domain.images import parse_image_uri
from handlers.domain.model import Deployment, Stable
from handlers.domain.strategy import Plan, Step

REPOSITORY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders"
EXECUTION = "arn:aws:states:eu-west-1:123456789012:execution:lambda-deployer:run-1"
DEPLOYMENT = Deployment(
    function_name="orders-api", function_arn="arn:aws:lambda:eu-west-1:123456789012:function:orders-api",
    alias="live", alias_exists=True, target=parse_image_uri(f"{REPOSITORY}@sha256:{'b' * 64}"),
    stable=Stable("1", f"{REPOSITORY}@sha256:{'a' * 64}", f"sha256:{'a' * 64}"), latest_image=None,
    plan=Plan("Canary10Percent5Minutes", (Step(10, 300),)), check_interval_seconds=60,
)
SHIFTED = notifications.traffic_shifted(DEPLOYMENT, "2", 10, 0, EXECUTION)


class Context:
    function_name = "lambda-deployer-ShiftTraffic"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:lambda-deployer-ShiftTraffic"
    memory_limit_in_mb = 256
    aws_request_id = "req-1"


@pytest.fixture
def events(monkeypatch):
    bridge = boto3.client("events", region_name="eu-west-1", aws_access_key_id="k", aws_secret_access_key="s")
    monkeypatch.setattr(notify, "client", lambda service: bridge)
    with Stubber(bridge) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def counted(monkeypatch, capsys):
    """Runs ``publish`` in a handler, as the tasks do, and returns what it answered and the EMF it printed."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")

    def run() -> tuple[bool, dict]:
        sent = event_handler(lambda event: {"sent": notify.publish(SHIFTED)})({}, Context())["sent"]
        (emf,) = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
        return sent, emf
    return run


def test_a_change_is_one_event_from_lambda_deployer_on_the_default_bus(events, counted):
    def entry_of(entries):
        (entry,) = entries
        assert "EventBusName" not in entry  # the default bus, the one the permission names
        assert (entry["Source"], entry["DetailType"]) == ("lambda-deployer", "Traffic Shifted")
        assert entry["Resources"] == [DEPLOYMENT.function_arn, EXECUTION]
        detail = json.loads(entry["Detail"])
        assert (detail["weight"], detail["step"], detail["toVersion"], detail["schemaVersion"]) == (10, 1, "2", "1")
        assert detail["time"].startswith("20")
        return True

    events.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "e-1"}]},
                        {"Entries": _Checked(entry_of)})
    sent, emf = counted()

    assert sent is True and emf["NotificationSent"] == [1.0] and "NotificationFailed" not in emf


def test_an_entry_eventbridge_refuses_answers_200_and_is_counted_as_failed(events, counted):
    events.add_response("put_events", {"FailedEntryCount": 1, "Entries": [
        {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}]})

    sent, emf = counted()

    assert sent is False and emf["NotificationFailed"] == [1.0] and "TaskFailed" not in emf


@pytest.mark.parametrize(("code", "status"), [("AccessDeniedException", 400), ("ThrottlingException", 400),
                                              ("InternalException", 500)])
def test_an_aws_error_is_counted_and_swallowed(events, counted, code, status):
    events.add_client_error("put_events", service_error_code=code, http_status_code=status)

    sent, emf = counted()

    assert sent is False and emf["NotificationFailed"] == [1.0] and "TaskFailed" not in emf


class _Checked:
    """A Stubber expected-parameter that runs checks on the real value."""

    def __init__(self, check) -> None:
        self.check = check

    def __eq__(self, other) -> bool:
        return self.check(other)

    def __repr__(self) -> str:
        return "<checked>"
