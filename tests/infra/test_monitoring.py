"""The deployer watches itself: a dashboard of what it did and how it is doing, and alarms on its own failures.

Which metrics the handlers emit, with which dimensions, is shown on the emulator
(tests/statemachine/test_own_metrics.py); here: that the synthesized dashboard and alarms read exactly those.
"""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match
from synthesized import configured_deployer, default_deployer  # noqa: F401 (fixtures)

from handlers.domain import telemetry
from handlers.domain.catalog import EVENT_HANDLERS, TASKS
from infra import permissions
from infra.nag import render

ALARM = "AWS::CloudWatch::Alarm"
NAME = "deployer-under-test"  # the configured state machine's name: the dashboard's, and every alarm's prefix


def own(metric: str, task: str) -> list:
    """A metric of the handlers as a dashboard widget lists it."""
    return ["LambdaDeployer", metric, "service", "lambda-deployer", "task", telemetry.task_dimension(task)]


def widgets(synth) -> dict[str, dict]:
    (dashboard,) = synth.of_type("AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == synth.stack.deployer.settings.state_machine_name
    body = json.loads(render(dashboard["Properties"]["DashboardBody"]))
    return {w["properties"]["title"]: w for w in body["widgets"]}


def metrics_of(widget: dict) -> list[list]:
    """Each metric of a widget, without its rendering options (label, stat)."""
    return [[part for part in metric if not isinstance(part, dict)] for metric in widget["properties"]["metrics"]]


def test_the_dashboard_shows_deployments_and_their_outcomes(configured):
    found = widgets(configured)
    outcomes = [own("DeploymentStarted", "Resolve"), own("DeploymentSucceeded", "Finalize"),
                own("DeploymentRolledBack", "Rollback"), own("RollbackRequestCompleted", "Finalize"),
                own("DeploymentRescued", "Rescue"), own("DeploymentRescued", "Reconcile"),
                own("RollbackFailed", "Rescue")]

    assert metrics_of(found["Deployments"]) == outcomes
    assert metrics_of(found["Outcomes in the time range"]) == outcomes
    assert found["Outcomes in the time range"]["properties"]["setPeriodToTimeRange"] is True


def test_the_dashboard_shows_durations_of_executions_and_of_every_task(configured):
    (state_machine,) = configured.of_type("AWS::StepFunctions::StateMachine")
    found = widgets(configured)

    executions = found["Execution duration (ms)"]["properties"]["metrics"]
    assert {(m[1], m[3], m[4]["stat"]) for m in executions} == {
        ("ExecutionTime", f"<{state_machine}>", stat) for stat in ("p50", "p90", "Maximum")}
    assert metrics_of(found["Task duration, p90 (ms)"]) == [own("TaskDuration", t) for t in {**TASKS, **EVENT_HANDLERS}]


def test_the_dashboard_shows_rollbacks_and_their_causes_from_the_rollback_functions_logs(configured):
    _, rollback = configured.function(TASKS["Rollback"])
    log_group = f"<{rollback['LoggingConfig']['LogGroup']['Ref']}>"
    found = widgets(configured)

    assert metrics_of(found["Rollbacks and the checks that failed"]) == [
        own("DeploymentRolledBack", "Rollback"), own("HealthCheckFailed", "CheckHealth"),
        own("CanaryAnalysisFailed", "CheckHealth"), own("SyntheticCheckFailed", "RunChecks"),
        own("HookFailed", "RunChecks"), own("HealthCheckFailed", "WatchApproval"),
        own("ApprovalRequested", "RequestApproval"), own("AlarmRollbacksStarted", "AlarmFired")]
    for title in ("Rollbacks by cause", "Latest rollbacks"):
        query = found[title]["properties"]["query"]
        assert query.startswith(f"SOURCE '{log_group}' | ") and "filter message = 'rolled back'" in query
    assert "stats count(*) as rollbacks by error" in found["Rollbacks by cause"]["properties"]["query"]


def test_the_dashboard_shows_failures_throttles_and_transient_errors_of_every_task(configured):
    found = widgets(configured)
    every = {**TASKS, **EVENT_HANDLERS}

    assert metrics_of(found["Task failures"]) == [own("TaskFailed", task) for task in every]
    assert metrics_of(found["Transient AWS errors (throttling, 5xx; retried)"]) == [
        own("TransientAwsError", task) for task in every]
    throttled = {(m[0], m[1], m[3]) for m in metrics_of(found["Throttles of the deployer's functions"])}
    assert throttled == {("AWS/Lambda", "Throttles", f"<{configured.function(handler)[0]}>")
                         for handler in every.values()}


def test_the_dashboard_shows_the_state_machines_ended_executions_and_the_safety_net(configured):
    (state_machine,) = configured.of_type("AWS::StepFunctions::StateMachine")
    found = widgets(configured)

    ended = {m[1] for m in metrics_of(found["Step Functions executions"]) if m[3] == f"<{state_machine}>"}
    assert {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted", "ExecutionsSucceeded"} <= ended
    safety = metrics_of(found["Safety net"])
    assert [own(m, "Reconcile") for m in ("LocksFreed", "AliasesRepaired", "ReconcileProblems",
                                          "OldestLockAgeSeconds")] == [m for m in safety if m[0] == "LambdaDeployer"]
    assert ["AWS/SQS", "ApproximateNumberOfMessagesVisible"] in [m[:2] for m in safety]
    alarms = found["The deployer's alarms"]["properties"]["alarms"]
    assert len(alarms) == len(configured.of_type(ALARM)) == 6


def alarm(synth, purpose: str) -> dict:
    name = f"{synth.stack.deployer.settings.state_machine_name}-{purpose}"
    (found,) = [a["Properties"] for a in synth.of_type(ALARM).values() if a["Properties"]["AlarmName"] == name]
    return found


def dimensions(metric: str, task: str) -> list[dict]:
    return [{"Name": "service", "Value": "lambda-deployer"}, {"Name": "task", "Value": telemetry.task_dimension(task)}]


@pytest.mark.parametrize(("purpose", "metric", "task", "statistic"), [
    ("reconcile-problems", "ReconcileProblems", "Reconcile", "Sum"),
    ("rollback-failed", "RollbackFailed", "Rescue", "Sum"),
])
def test_an_alarm_fires_on_the_first_of_the_deployers_own_failures(configured, purpose, metric, task, statistic):
    configured.template.has_resource_properties(ALARM, {
        "AlarmName": f"{NAME}-{purpose}", "Namespace": "LambdaDeployer", "MetricName": metric,
        "Dimensions": Match.array_equals(dimensions(metric, task)), "Statistic": statistic, "Period": 300,
        "Threshold": 1, "EvaluationPeriods": 1, "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching",
    })


@pytest.mark.parametrize("task", ["Rescue", "Reconcile"])
def test_a_rescue_or_reconcile_run_that_errors_raises_an_alarm(configured, task):
    function_id, _ = configured.function(EVENT_HANDLERS[task])
    configured.template.has_resource_properties(ALARM, {
        "AlarmName": f"{NAME}-{task.lower()}-errors", "Namespace": "AWS/Lambda", "MetricName": "Errors",
        "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": function_id}}], "Statistic": "Sum",
        "Threshold": 1, "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    })


def test_a_lock_held_longer_than_the_setting_raises_an_alarm(configured, defaults):
    for synth, minutes in ((configured, 240), (defaults, 720)):
        found = alarm(synth, "lock-held-too-long")
        assert (found["MetricName"], found["Statistic"], found["Dimensions"]) == (
            "OldestLockAgeSeconds", "Maximum", dimensions("OldestLockAgeSeconds", "Reconcile"))
        assert (found["Threshold"], found["ComparisonOperator"]) == (minutes * 60, "GreaterThanThreshold")


def test_anything_in_the_dead_letter_queue_raises_an_alarm(configured):
    (queue,) = configured.of_type("AWS::SQS::Queue")
    configured.template.has_resource_properties(ALARM, {
        "AlarmName": f"{NAME}-dead-letters", "Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible",
        "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}], "Threshold": 1,
    })


def test_with_a_topic_every_alarm_notifies_it_on_alarm_and_on_ok_without_one_none_does(configured, defaults):
    (topic,) = configured.of_type("AWS::SNS::Topic")
    for properties in (a["Properties"] for a in configured.of_type(ALARM).values()):
        assert properties["AlarmActions"] == properties["OKActions"] == [{"Ref": topic}]
        assert len(properties["AlarmDescription"].split()) >= 12  # says what happened and what to do
    assert all("AlarmActions" not in a["Properties"] for a in defaults.of_type(ALARM).values())


def test_exactly_the_tasks_that_notify_may_put_events():
    allowed = {task for task, allows in permissions.TASK_PERMISSIONS.items()
               if any("events:PutEvents" in allow.actions for allow in allows)}
    assert allowed == set(telemetry.NOTIFYING)
