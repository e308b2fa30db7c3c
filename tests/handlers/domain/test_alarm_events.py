"""From an alarm's state-change event to the rollback request of each deployment that judges that alarm."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from handlers.domain import alarm_events
from handlers.domain.alarm_events import IGNORED, WATCHED, AlarmFired, parse_event
from handlers.domain.images import parse_image_uri
from handlers.domain.model import ROLLBACK, Deployment, Stable, parse_rollback_request
from handlers.domain.strategy import Plan

ARN = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServerCpuTooHigh"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/orders@sha256:" + "a" * 64


def event(**detail) -> dict:
    """The CloudWatch User Guide's single metric alarm example ("Alarm events and EventBridge"), trimmed."""
    return {"version": "0", "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
            "detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch", "account": "123456789012",
            "time": "2019-10-02T17:04:40Z",
            "region": "us-east-1", "resources": [ARN],
            "detail": {"alarmName": "ServerCpuTooHigh", "state": {
                "value": "ALARM", "reason": "Threshold Crossed", "timestamp": "2019-10-02T17:04:40.985+0000"},
                "previousState": {"value": "OK"}, **detail}}


def deployment(**changes) -> Deployment:
    fields = dict(function_name="orders", function_arn="arn:aws:lambda:us-east-1:123456789012:function:orders",
                  alias="live", alias_exists=True, target=parse_image_uri(IMAGE), stable=Stable("4", IMAGE, None),
                  latest_image=IMAGE, plan=Plan("Canary10Percent5Minutes", ()), check_interval_seconds=300,
                  alarms=("ServerCpuTooHigh",))
    return Deployment(**(fields | changes))


def test_an_alarm_event_says_which_alarm_went_where_and_when():
    fired = parse_event(event())
    assert fired == AlarmFired("ServerCpuTooHigh", ARN, "ALARM", datetime(2019, 10, 2, 17, 4, 40, 985000, tzinfo=UTC))
    assert fired.identities == {"ServerCpuTooHigh", ARN}


def test_without_the_alarms_timestamp_the_events_time_is_the_transitions():
    fired = parse_event(event(state={"value": "ALARM"}))
    assert fired.at == datetime(2019, 10, 2, 17, 4, 40, tzinfo=UTC)


def test_an_event_that_is_not_an_alarms_is_none():
    assert parse_event({"detail": {"status": "FAILED"}}) is None
    assert parse_event({"detail": "ALARM"}) is None
    assert parse_event([]) is None


def test_a_deployment_matches_the_alarm_by_name_or_by_arn_and_an_ignored_one_is_told_apart():
    fired = parse_event(event())
    assert alarm_events.watching(deployment(), fired) == WATCHED
    assert alarm_events.watching(deployment(alarms=(ARN,)), fired) == WATCHED
    assert alarm_events.watching(deployment(alarms=("ServerCpuTooHigh",), ignored_alarms=("ServerCpuTooHigh",)),
                                 fired) == IGNORED
    assert alarm_events.watching(deployment(alarms=("OrdersErrors",)), fired) is None
    assert alarm_events.watching(deployment(alarms=("servercputoohigh",)), fired) is None  # names are exact
    assert alarm_events.watching(deployment(kind=ROLLBACK), fired) is None  # a rollback judges nothing


def test_a_transition_before_the_deployment_started_is_a_late_event_about_another():
    fired = parse_event(event())
    assert alarm_events.before_start(fired, "2019-10-02T17:04:41.000+00:00")
    assert not alarm_events.before_start(fired, "2019-10-02T17:04:40.000+00:00")
    assert not alarm_events.before_start(AlarmFired("a", None, "ALARM", None), "2019-10-02T17:04:41.000+00:00")


def test_the_rollback_request_returns_the_alias_to_the_version_the_deployment_started_from():
    request = alarm_events.rollback_request(deployment(alias="prod"), parse_event(event()))
    assert request == {"action": "rollback", "function": "orders", "alias": "prod", "toVersion": "4",
                       "requestedBy": "alarm ServerCpuTooHigh"}
    assert alarm_events.rollback_request(deployment(stable=None), parse_event(event())) is None  # first deploy


@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=255))
def test_every_alarm_name_makes_a_valid_rollback_request(name):
    request = alarm_events.rollback_request(deployment(), AlarmFired(name, None, "ALARM", None))
    parsed = parse_rollback_request(request)
    assert parsed.requested_by.startswith("alarm ") and parsed.to_version == "4"


NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")  # what the deployer's execution names are made of (80: SFN's limit)


@given(st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True), st.text(min_size=1, max_size=80))
def test_a_rollback_name_is_valid_and_the_same_for_every_event_about_one_deployment(function, execution):
    arn = f"arn:aws:states:us-east-1:123456789012:execution:lambda-deployer:{execution}"
    name = alarm_events.rollback_name(function, arn)
    assert NAME.match(name) and name == alarm_events.rollback_name(function, arn)
    assert name != alarm_events.rollback_name(function, arn + "-2")
    assert "-rollback-on-alarm-" in name


def test_a_rollback_name_is_the_function_and_12_hex_of_the_executions_arn_cut_to_80_characters():
    arn = "arn:aws:states:us-east-1:123456789012:execution:lambda-deployer:run-1"  # sha256: af35751d0c73…
    assert alarm_events.rollback_name("orders", arn) == "orders-rollback-on-alarm-af35751d0c73"
    long = "a" * 48 + "-" + "b" * 15  # 64 characters: cut to 80 - 31 = 49, then the dash it ends on goes too
    assert alarm_events.rollback_name(long, arn) == "a" * 48 + "-rollback-on-alarm-af35751d0c73"
    assert alarm_events.rollback_name("orders.v2", arn) == "orders-v2-rollback-on-alarm-af35751d0c73"
