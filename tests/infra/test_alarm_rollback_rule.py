"""Rollback on the alarm's own event, infrastructure side: which events reach AlarmFired, and who may invoke it."""

from __future__ import annotations

import json

from moto.events.models import EventPattern
from synthesized import configured_deployer  # noqa: F401 (fixture)

from handlers.domain.catalog import EVENT_HANDLERS, STATE_MACHINE_ARN
from infra.nag import render

ACCOUNT, REGION = "123456789012", "eu-west-1"


def alarm_rule(configured) -> tuple[str, dict]:
    function_id, _ = configured.function(EVENT_HANDLERS["AlarmFired"])
    (found,) = [(id, r["Properties"]) for id, r in configured.of_type("AWS::Events::Rule").items()
                if any(t["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]} for t in r["Properties"]["Targets"])]
    return found


def concrete(pattern: dict) -> EventPattern:
    """The rule's pattern as EventBridge holds it once CloudFormation resolved the account and region."""
    assert pattern["account"] == [{"Ref": "AWS::AccountId"}] and pattern["region"] == [{"Ref": "AWS::Region"}]
    return EventPattern.load(json.dumps({**pattern, "account": [ACCOUNT], "region": [REGION]}))


def alarm_event(state: str, *, name: str = "orders-errors", account: str = ACCOUNT, composite: bool = False) -> dict:
    """Shaped as the CloudWatch User Guide's examples ("Alarm events and EventBridge")."""
    configuration = {"alarmRule": 'ALARM("orders-errors")'} if composite else {"metrics": [{"id": "m1"}]}
    return {"version": "0", "id": "c4c1c1c9", "detail-type": "CloudWatch Alarm State Change",
            "source": "aws.cloudwatch", "account": account, "time": "2026-11-22T12:00:00Z", "region": REGION,
            "resources": [f"arn:aws:cloudwatch:{REGION}:{account}:alarm:{name}"],
            "detail": {"alarmName": name, "state": {"value": state, "timestamp": "2026-11-22T12:00:00.123+0000"},
                       "previousState": {"value": "OK"}, "configuration": configuration}}


def test_every_alarm_of_this_account_going_to_alarm_reaches_the_function_and_nothing_else(configured):
    _, rule = alarm_rule(configured)
    pattern = concrete(rule["EventPattern"])

    assert pattern.matches_event(alarm_event("ALARM"))
    assert pattern.matches_event(alarm_event("ALARM", name="checkout-composite", composite=True))
    assert pattern.matches_event(alarm_event("ALARM", name="an-alarm-no-deployment-watches"))
    assert not pattern.matches_event(alarm_event("OK"))
    assert not pattern.matches_event(alarm_event("INSUFFICIENT_DATA"))
    assert not pattern.matches_event(alarm_event("ALARM", account="210987654321"))  # forwarded from elsewhere


def test_failed_deliveries_are_retried_then_kept_and_the_function_retries_its_own_failures(configured):
    _, rule = alarm_rule(configured)
    (target,) = rule["Targets"]
    (queue_id,) = configured.of_type("AWS::SQS::Queue")

    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 3600}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
    function_id, _ = configured.function(EVENT_HANDLERS["AlarmFired"])
    (config,) = [r["Properties"] for r in configured.of_type("AWS::Lambda::EventInvokeConfig").values()
                 if r["Properties"]["FunctionName"] == {"Ref": function_id}]
    assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (2, 3600)


def test_eventbridge_may_invoke_the_function_and_fill_the_queue_only_for_this_rule(configured):
    rule_id, _ = alarm_rule(configured)
    function_id, _ = configured.function(EVENT_HANDLERS["AlarmFired"])
    rule_arn = {"Fn::GetAtt": [rule_id, "Arn"]}

    permissions = [r["Properties"] for r in configured.of_type("AWS::Lambda::Permission").values()
                   if r["Properties"]["FunctionName"] == {"Fn::GetAtt": [function_id, "Arn"]}]
    assert permissions == [{"Action": "lambda:InvokeFunction", "FunctionName": {"Fn::GetAtt": [function_id, "Arn"]},
                            "Principal": "events.amazonaws.com", "SourceArn": rule_arn}]
    (policy,) = configured.of_type("AWS::SQS::QueuePolicy").values()
    # one queue keeps every event-driven function's dead letters: each rule may fill it with its own only
    allows = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    rules = {id for id in configured.of_type("AWS::Events::Rule")}
    assert {(s["Principal"]["Service"], s["Action"]) for s in allows} == {("events.amazonaws.com", "sqs:SendMessage")}
    assert {"Fn::GetAtt": [rule_id, "Arn"]} in [s["Condition"]["ArnEquals"]["aws:SourceArn"] for s in allows]
    assert all(s["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::GetAtt"][0] in rules for s in allows)
    denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert [s["Condition"] for s in denies] == [{"Bool": {"aws:SecureTransport": "false"}}]


def test_the_function_starts_rollbacks_on_this_deployers_state_machine(configured):
    _, function = configured.function(EVENT_HANDLERS["AlarmFired"])

    named = render(function["Environment"]["Variables"][STATE_MACHINE_ARN])  # built from the name: no cycle
    assert named == "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:stateMachine:deployer-under-test"
    (state_machine,) = configured.of_type("AWS::StepFunctions::StateMachine").values()
    assert state_machine["Properties"]["StateMachineName"] == "deployer-under-test"
