"""The rescue runs on every abnormal end of this state machine's executions; the reconciler on a schedule."""

from __future__ import annotations

import json

from moto.events.models import EventPattern
from synthesized import configured_deployer  # noqa: F401 (fixture)

from handlers.domain.catalog import EVENT_HANDLERS

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


def test_the_reconciler_runs_every_five_minutes(configured):
    rule = rule_targeting(configured, EVENT_HANDLERS["Reconcile"])
    assert rule["ScheduleExpression"] == "rate(5 minutes)"
    _, function = configured.function(EVENT_HANDLERS["Reconcile"])
    assert function["Timeout"] >= 300
