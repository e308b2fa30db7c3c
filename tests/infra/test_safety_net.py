"""The rescue runs on every abnormal end of this state machine's executions; the reconciler on a schedule."""

from __future__ import annotations

import json
import re

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from moto.events.models import EventPattern
from synthesized import configured_deployer  # noqa: F401 (fixture)

from handlers.domain.catalog import EVENT_HANDLERS
from infra import ConfigurationError
from infra.safety_net import SafetyNet

RULE = "AWS::Events::Rule"


def rule_targeting(configured, handler: str) -> dict:
    function_id, _ = configured.function(handler)
    (rule,) = [r["Properties"] for r in configured.of_type(RULE).values()
               if any(t["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]} for t in r["Properties"]["Targets"])]
    return rule


def status_change(status: str, state_machine: str) -> dict:
    return {"version": "0", "id": "315c1398", "detail-type": "Step Functions Execution Status Change",
            "source": "aws.states", "account": "123456789012", "time": "2026-11-22T12:00:00Z", "region": "eu-west-1",
            "resources": [f"{state_machine}:run"], "detail": {
                "executionArn": f"{state_machine.replace('stateMachine', 'execution')}:run",
                "stateMachineArn": state_machine, "name": "run", "status": status, "input": "{}"}}


def test_the_rescue_hears_aborted_timed_out_and_failed_executions_of_this_state_machine_only(configured):
    rule = rule_targeting(configured, EVENT_HANDLERS["Rescue"])
    (state_machine_id,) = configured.of_type("AWS::StepFunctions::StateMachine")
    pattern = rule["EventPattern"]
    assert pattern["detail"]["stateMachineArn"] == [{"Ref": state_machine_id}]
    ours = "arn:aws:states:eu-west-1:123456789012:stateMachine:deployer-under-test"
    concrete = EventPattern.load(json.dumps({**pattern, "detail": {**pattern["detail"], "stateMachineArn": [ours]}}))
    for status in ("ABORTED", "TIMED_OUT", "FAILED"):
        assert concrete.matches_event(status_change(status, ours))
    assert not concrete.matches_event(status_change("SUCCEEDED", ours))
    assert not concrete.matches_event(status_change("ABORTED", ours.replace("deployer-under-test", "other")))
    assert rule["Targets"][0]["RetryPolicy"]["MaximumRetryAttempts"] >= 3


def test_the_reconciler_runs_every_five_minutes_and_each_run_ends_before_the_next_can_start(configured):
    """EventBridge invokes it asynchronously: a run starts at most the event ages after its slot (EventBridge's
    delivery retries, then Lambda's queue) and ends at most its timeout after that; Lambda retries nothing."""
    rule = rule_targeting(configured, EVENT_HANDLERS["Reconcile"])
    function_id, function = configured.function(EVENT_HANDLERS["Reconcile"])
    (invoke_config,) = [c["Properties"] for c in configured.of_type("AWS::Lambda::EventInvokeConfig").values()
                        if c["Properties"]["FunctionName"] == {"Ref": function_id}]
    every = re.fullmatch(r"rate\((\d+) minutes\)", rule["ScheduleExpression"])

    assert every and int(every[1]) == 5
    assert invoke_config["MaximumRetryAttempts"] == 0
    latest_end = (rule["Targets"][0]["RetryPolicy"]["MaximumEventAgeInSeconds"]
                  + invoke_config["MaximumEventAgeInSeconds"] + function["Timeout"])
    assert latest_end < int(every[1]) * 60
    assert function["Timeout"] >= 60  # still time to walk every managed function


def test_a_reconciler_that_could_outlast_its_schedule_fails_the_synth():
    stack = Stack(App(), "Net")
    state_machine = sfn.StateMachine(stack, "Machine", definition_body=sfn.DefinitionBody.from_chainable(
        sfn.Pass(stack, "Nothing")))
    code = lambda_.Code.from_inline("def handler(event, context): pass")

    def function(id: str, timeout: Duration) -> lambda_.Function:
        return lambda_.Function(stack, id, runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler", code=code,
                                timeout=timeout)

    with pytest.raises(ConfigurationError, match="two runs would overlap"):
        SafetyNet(stack, "SafetyNet", state_machine=state_machine, rescue=function("Rescue", Duration.seconds(30)),
                  reconcile=function("Reconcile", Duration.minutes(4)))


@pytest.mark.parametrize(("task", "retries"), [("Rescue", 2), ("Reconcile", 0), ("AlarmFired", 2)])
def test_a_failed_event_driven_run_lands_in_the_dead_letter_queue_after_its_retries(configured, task, retries):
    (queue,) = configured.of_type("AWS::SQS::Queue")
    function_id, _ = configured.function(EVENT_HANDLERS[task])

    configured.template.has_resource_properties("AWS::Lambda::EventInvokeConfig", {
        "FunctionName": {"Ref": function_id}, "MaximumRetryAttempts": retries,
        "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [queue, "Arn"]}}},
    })
    target = rule_targeting(configured, EVENT_HANDLERS[task])["Targets"][0]
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue, "Arn"]}}  # what EventBridge never delivered


def test_the_dead_letter_queue_is_encrypted_kept_two_weeks_and_written_only_by_the_deployers_own_rules(configured):
    (queue,) = configured.of_type("AWS::SQS::Queue").values()
    (policy,) = configured.of_type("AWS::SQS::QueuePolicy").values()
    rules = {json.dumps({"Fn::GetAtt": [id, "Arn"]}) for id, r in configured.of_type(RULE).items()
             if any(t.get("DeadLetterConfig") for t in r["Properties"]["Targets"])}

    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    allowed = [s for s in statements if s["Effect"] == "Allow"]
    assert {(s["Principal"]["Service"], s["Action"]) for s in allowed} == {("events.amazonaws.com", "sqs:SendMessage")}
    assert {json.dumps(s["Condition"]["ArnEquals"]["aws:SourceArn"]) for s in allowed} == rules
    assert len(rules) == 3  # rescue, reconcile, alarm rollback
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               for s in statements)
