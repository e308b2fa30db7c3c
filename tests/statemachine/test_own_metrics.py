"""The deployer's own metrics are emitted as handlers.domain.telemetry says, which the dashboard and the alarms
read (infra.monitoring): each name with the dimensions service and task, by the tasks listed, and nothing else.

The emulator runs the handlers with Powertools' metrics switched off; here each invocation's metrics are taken
at the moment Powertools would flush them as EMF: names, units and dimensions exactly as they would be printed.
Powertools keeps one metric set per process (as in Lambda, one invocation at a time), so the runs here are made
one after another: the rescue is invoked by the test, as its rule would, instead of behind the test's back.
"""

from __future__ import annotations

import json
import threading

import pytest
from support import Traffic, fire_alarm_once_weighted, make_world, wait_for

from deployer.local import sample
from deployer.local.emulator import Emulator
from deployer.local.faults import SERVER_ERROR, THROTTLE, Fault
from deployer.local.invocations import Behaviour
from handlers.aws import deployments
from handlers.aws import task as task_module
from handlers.domain import tags, telemetry
from handlers.domain.catalog import SERVICE

LONG_CANARY = {"steps": [{"weight": 10, "bakeSeconds": 600}]}
ONE_SHIFT = {"steps": [{"weight": 10, "bakeSeconds": 1}]}
GATED = {"steps": [{"weight": 10, "bakeSeconds": 1}, {"approval": True}]}
PUSHED = "pushed"


class Recorded:
    """(metric, unit, dimensions) of every flush, as Powertools would have printed it."""

    def __init__(self) -> None:
        self.metrics: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()

    def flush(self, provider) -> None:
        with self._lock:
            if provider.metric_set:
                emf = provider.serialize_metric_set()  # what Powertools prints when metrics are on
                (directive,) = emf["_aws"]["CloudWatchMetrics"]
                (names,) = directive["Dimensions"]
                dimensions = json.dumps({name: emf[name] for name in names}, sort_keys=True)
                for metric in directive["Metrics"]:
                    self.metrics.add((metric["Name"], metric["Unit"], dimensions))
            provider.clear_metrics()

    def by(self, task: str) -> dict[str, str]:
        """The metrics ``task`` counted, with their units."""
        expected = json.dumps({telemetry.SERVICE_DIMENSION: SERVICE,
                               telemetry.TASK_DIMENSION: telemetry.task_dimension(task)}, sort_keys=True)
        return {name: unit for name, unit, dimensions in self.metrics if dimensions == expected}


@pytest.fixture(scope="module")
def recorded():
    provider = task_module.metrics.provider
    record = Recorded()
    with Emulator(time_scale=0.05, auto_deploy={PUSHED: ["main"]}) as emulator:
        for rule in ("execution-ended", "alarm-fired"):  # those runs are made by the test, one at a time
            emulator.client("events").remove_targets(Rule=f"{emulator.state_machine_name}-{rule}", Ids=["deployer"])
        provider.flush_metrics = lambda raise_on_empty_metrics=False: record.flush(provider)
        try:
            run_everything(emulator)
        finally:
            del provider.flush_metrics
    return record


def run_everything(emulator: Emulator) -> None:
    """Everything once with notifications sent, once with every one of them failing; an ECR push."""
    for phase, failing in (("sent", []), ("lost", [Fault(SERVER_ERROR, service="events", operation="PutEvents",
                                                         times=None)])):
        emulator.api.inject(*failing)
        run_each_outcome(emulator, phase)
        emulator.api.clear()
    run_each_failed_check(emulator)
    sample.create_function(emulator, "tracker", repository=PUSHED, tags={tags.TRACK: f"{PUSHED}:main"})
    sample.push_image(emulator.client("ecr"), PUSHED, "tracker:v2", tag="main")
    sfn = emulator.client("stepfunctions")
    wait_for(lambda: emulator.client("lambda").get_alias(FunctionName="tracker", Name="live")["FunctionVersion"] != "1"
             and not sfn.list_executions(stateMachineArn=emulator.state_machine_arn, statusFilter="RUNNING")[
                 "executions"], timeout=30, what="the push's deployment to end")


def run_each_outcome(emulator: Emulator, phase: str) -> None:
    """A success, a rollback request, a rollback on an alarm with a throttled shift, a rollback nobody could finish
    (the rescue does), a lock whose rescue was lost (the reconciler frees it)."""
    ok = make_world(emulator, f"ok-{phase}")
    assert emulator.run(ok.request(ok.v2, strategy=ONE_SHIFT, checkIntervalSeconds=1, analysis=False,
                                   preTraffic={"invocations": 1})).status == "SUCCEEDED"
    assert emulator.run({"action": "rollback", "function": ok.fn.name}).status == "SUCCEEDED"
    lam = emulator.client("lambda")
    for digest in (ok.v3, ok.v1):  # two versions nothing uses: the older one is pruned
        lam.update_function_code(FunctionName=ok.fn.name, ImageUri=ok.fn.image(digest))
        wait_for(lambda: lam.get_function(FunctionName=ok.fn.name)["Configuration"]["LastUpdateStatus"] == "Successful")
        lam.publish_version(FunctionName=ok.fn.name)
    pruned = emulator.run({"action": "prune", "function": ok.fn.name, "keep": 1})  # ResolvePrune, then Prune
    assert pruned.status == "SUCCEEDED", pruned.cause  # both versions stay: the last deployments name them

    unhealthy = make_world(emulator, f"unhealthy-{phase}")
    emulator.api.inject(Fault(THROTTLE, task="ShiftTraffic", operation="UpdateAlias", times=6))
    fire_alarm_once_weighted(unhealthy)
    assert emulator.run(unhealthy.request(unhealthy.v2, strategy=LONG_CANARY, checkIntervalSeconds=1, analysis=False,
                                          alarms=[unhealthy.fn.alarm])).error == "DeploymentRolledBack"

    stuck = make_world(emulator, f"stuck-{phase}")
    rollback_broken = Fault(SERVER_ERROR, task="Rollback", operation="UpdateAlias", times=None)
    emulator.api.inject(rollback_broken)
    fire_alarm_once_weighted(stuck)
    failed = emulator.run(stuck.request(stuck.v2, strategy=LONG_CANARY, checkIntervalSeconds=1, analysis=False,
                                        alarms=[stuck.fn.alarm]))
    assert failed.error == "RollbackFailed"
    emulator.api.faults.remove(rollback_broken)
    assert rescue(emulator, failed)["rescued"] is True

    invoke(emulator, "AlarmFired", alarm_event(unhealthy.fn.alarm))  # no deployment watches it any more

    gated = make_world(emulator, f"gated-{phase}")  # waits at its gate (checked, heartbeated), then approved
    arn = emulator.start_execution(gated.request(gated.v2, strategy=GATED, checkIntervalSeconds=1, analysis=False,
                                                 alarms=[gated.fn.alarm], approvalTimeoutSeconds=600))
    token = wait_for(lambda: gate_token(emulator, gated.fn.name), what="the gate's token")
    wait_for(lambda: any(v.name == "WatchApproval" for v in emulator.describe(arn).visits()), what="a watch")
    emulator.client("stepfunctions").send_task_success(taskToken=token, output="{}")
    assert emulator.wait(arn).status == "SUCCEEDED"
    arn = emulator.start_execution(gated.request(gated.v3, strategy=GATED, checkIntervalSeconds=1, analysis=False,
                                                 alarms=[gated.fn.alarm], approvalTimeoutSeconds=600))
    wait_for(lambda: gate_token(emulator, gated.fn.name), what="the second gate's token")
    gated.set_alarm("ALARM")  # the watch's check rolls it back (the alarm's own rule is off here)
    assert emulator.wait(arn).error == "DeploymentRolledBack"

    lost = make_world(emulator, f"lost-{phase}")  # its rescue never comes: the reconciler frees the lock
    arn = emulator.start_execution(lost.request(lost.v2, strategy=LONG_CANARY, checkIntervalSeconds=60, analysis=False))
    wait_for(lost.weights, what="the canary")
    emulator.client("stepfunctions").stop_execution(executionArn=arn)
    emulator.wait(arn)
    assert emulator.reconcile()["freedLocks"] == [lost.fn.name]


FAILS_EVERY_CALL = Behaviour(error_rate=1.0, duration_ms=20)
REFUSES = "def handler(event, context):\n    return {'status': 'fail', 'reason': 'the contract tests failed'}\n"


def run_each_failed_check(emulator: Emulator) -> None:
    """A version whose every call fails: refused by its synthetic invocation, by a hook, and, under traffic, by the
    canary analysis (the window lags two minutes, 6 s here, before a check counts a call)."""
    checked = make_world(emulator, "checked")
    sample.register(emulator, checked.v2, FAILS_EVERY_CALL)
    hook = sample.create_python_function(emulator, "contract-tests", REFUSES)
    for checks in ({"preTraffic": {"invocations": 1}}, {"hooks": {"beforeTraffic": hook}}):
        assert emulator.run(checked.request(checked.v2, strategy=ONE_SHIFT, checkIntervalSeconds=1, analysis=False,
                                            **checks)).error == "DeploymentRolledBack"
    with Traffic(checked, rate=50, count=2000, seconds=30):
        analysed = emulator.run(checked.request(checked.v2, strategy=LONG_CANARY, checkIntervalSeconds=10))
    assert "canary analysis failed" in analysed.cause, analysed.cause


def rescue(emulator: Emulator, execution) -> dict:
    """Invoke the rescue with the status-change event its rule would deliver."""
    event = {"detail": {"status": execution.status, "executionArn": execution.arn, "error": execution.error,
                        "input": json.dumps(execution.input)}}
    return invoke(emulator, "Rescue", event)


def gate_token(emulator: Emulator, function: str) -> str | None:
    lock = deployments.holder(function, ddb=emulator.client("dynamodb"), table=emulator.table_name)
    return ((lock.approval if lock else None) or {}).get("taskToken")


def invoke(emulator: Emulator, function: str, event: dict) -> dict:
    answer = emulator.client("lambda").invoke(FunctionName=emulator.function_arns[function], Payload=json.dumps(event))
    return json.loads(answer["Payload"].read())


def alarm_event(name: str) -> dict:
    """As the CloudWatch User Guide shows them ("Alarm events and EventBridge")."""
    return {"version": "0", "id": "c4c1c1c9", "detail-type": "CloudWatch Alarm State Change",
            "source": "aws.cloudwatch",
            "account": "123456789012", "time": "2026-11-22T12:00:00Z", "region": "us-east-1",
            "resources": [f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"],
            "detail": {"alarmName": name, "state": {"value": "ALARM", "timestamp": "2026-11-22T12:00:00.123+0000"},
                       "previousState": {"value": "OK"}, "configuration": {"metrics": [{"id": "m1"}]}}}


@pytest.mark.parametrize(("metric", "task"), sorted((metric, task) for metric, tasks in telemetry.COUNTED_BY.items()
                                                    for task in tasks))
def test_each_metric_is_counted_by_its_tasks_with_the_service_and_task_dimensions(recorded, metric, task):
    unit = "Seconds" if metric == "OldestLockAgeSeconds" else "Count"
    assert recorded.by(task).get(metric) == unit, f"{task} did not count {metric}: {recorded.by(task)}"


@pytest.mark.parametrize("task", sorted(telemetry.functions()))
def test_every_task_records_its_duration(recorded, task):
    assert recorded.by(task).get("TaskDuration") == "Milliseconds"


def test_task_failures_and_transient_errors_are_counted_by_the_task_that_met_them(recorded):
    assert recorded.by("ShiftTraffic").get("TransientAwsError") == "Count"
    assert recorded.by("Rollback").get("TaskFailed") == "Count"


def test_no_metric_is_emitted_that_the_dashboard_does_not_know(recorded):
    known = {*telemetry.COUNTED_BY, *telemetry.EVERY_TASK}
    unknown = {(name, dimensions) for name, _, dimensions in recorded.metrics if name not in known}
    assert unknown == set()
    tasks = {json.loads(dimensions)[telemetry.TASK_DIMENSION] for _, _, dimensions in recorded.metrics}
    assert tasks <= {telemetry.task_dimension(task) for task in telemetry.functions()}

