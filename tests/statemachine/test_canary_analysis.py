"""Canary analysis on the emulator with real traffic: clients call the alias while a deployment runs, Lambda's
metrics (per executed version, arriving late) are all a check has, and the verdict decides.

Waits run at 1/100 (a 60 s check interval is 0.6 s, the window's lag of 120 s is 1.2 s). The verdict's own
properties are proved in tests/handlers/domain/test_analysis.py; here, that CheckHealth reads the right numbers
and the execution acts on them.
"""

from __future__ import annotations

import json
import os
import re

import pytest
from support import Traffic, make_world

from deployer.local import sample
from deployer.local.emulator import Emulator
from deployer.local.invocations import Behaviour
from handlers.domain import canary_metrics
from handlers.domain.catalog import METRICS_LAG_SECONDS

SCALE = 0.01
CANARY = {"steps": [{"weight": 10, "bakeSeconds": 600}]}  # ten checks, a minute apart (6 s here)
SHORT_CANARY = {"steps": [{"weight": 10, "bakeSeconds": 180}]}  # three checks
FAILS_A_FIFTH = Behaviour(error_rate=0.2, duration_ms=40, jitter_ms=30, error_type="OrderStoreError")
BUSY = {"rate": 300, "count": 9000, "seconds": 40}  # 30 calls a second reach a 10 % canary
# A Pass needs 100 calls of the new version; on a loaded machine the clients fall behind their rate, so a healthy
# canary may take extensions (0.6 s each here) to get there, as a quiet function would in AWS.
PATIENT = {"maxExtensions": 20}
QUIET = {"rate": 10, "count": 600, "seconds": 30}  # one a second: far from the 100 a verdict needs


@pytest.fixture
def canary_world():
    with Emulator(time_scale=SCALE, seed=11) as emulator:
        world = make_world(emulator)
        sample.register(emulator, world.v2, sample.HEALTHY)
        sample.register(emulator, world.v3, FAILS_A_FIFTH)
        yield world


def deploy(world, digest, traffic: dict | None = None, **request):
    """Run a deployment (no alarms unless given) while ``traffic`` calls the alias; the execution and the calls."""
    body = world.request(digest, strategy=CANARY, checkIntervalSeconds=60) | request
    if traffic is None:
        return world.emulator.run(body, timeout=60), None
    with Traffic(world, **traffic) as calls:
        execution = world.emulator.run(body, timeout=60)
    return execution, calls


def passed_checks(execution) -> list[dict]:
    """The outputs of the checks that did not raise (a raising one has the failure instead)."""
    return [visit.output for visit in execution.visits() if visit.name == "CheckHealth" and not visit.failure]


def checks(execution) -> list[dict]:
    return [output["analysis"] for output in passed_checks(execution)]


def check_count(execution) -> int:
    return execution.states_entered().count("CheckHealth")


def calls_made(world, execution, operation: str) -> int:
    return sum(1 for call in world.emulator.api.calls_of(execution.arn)
               if call.task == "CheckHealth" and call.operation == operation)


def test_a_canary_failing_a_fifth_of_its_calls_rolls_back_on_its_metrics_alone(canary_world):
    execution, traffic = deploy(canary_world, canary_world.v3, BUSY, analysis=PATIENT)

    assert (execution.status, execution.error) == ("FAILED", "DeploymentRolledBack"), execution.cause
    assert "canary analysis failed" in execution.cause and "with 10% of traffic" in execution.cause
    rates = re.search(r"new version 2: ([\d.]+)% errors \((\d+) of (\d+).*stable version 1: ([\d.]+)% "
                      r"\((\d+) of ([\d,]+)", execution.cause)
    assert rates, execution.cause
    errors, calls = int(rates[2]), int(rates[3])
    # As few as 3 calls can be clear enough (3 of 3 failing is at least 21% at 99% confidence): a loaded
    # machine's clients fall behind their rate, so the count depends on when the check ran.
    assert float(rates[4]) == 0 and calls >= errors > 0 and errors / calls > 0.05
    # what the verdict counted is what the clients saw, up to the calls too recent for its window
    assert calls <= len(traffic.of("2")) and errors <= sum(call.failed for call in traffic.of("2"))
    assert int(rates[6].replace(",", "")) <= len(traffic.of("1"))
    assert canary_world.settled_on() == "1"


def test_a_healthy_canary_under_the_same_traffic_passes_and_is_promoted(canary_world):
    execution, traffic = deploy(canary_world, canary_world.v2, BUSY, analysis=PATIENT)

    assert execution.status == "SUCCEEDED", execution.cause
    final = execution.output["analysis"]
    assert final["verdict"] == "Pass" and final["rule"] == "withinTolerances"
    assert final["new"]["invocations"] >= 100 and final["new"]["errors"] == 0
    assert final["stable"]["invocations"] > final["new"]["invocations"]
    assert final["new"]["latencyMs"] > 0 and final["stable"]["latencyMs"] > 0
    assert canary_world.settled_on() == "2"
    # no alarm to describe; one GetMetricData per check that had a window old enough to read, none before
    seen = checks(execution)
    assert calls_made(canary_world, execution, "GetMetricData") == sum(1 for a in seen if a["window"]["to"])
    assert calls_made(canary_world, execution, "DescribeAlarms") == 0
    assert len(traffic.of("2")) >= final["new"]["invocations"]


def test_too_little_traffic_extends_the_step_then_rolls_back(canary_world):
    execution, _ = deploy(canary_world, canary_world.v2, QUIET, strategy=SHORT_CANARY,
                          analysis={"maxExtensions": 2})

    assert (execution.status, execution.error) == ("FAILED", "DeploymentRolledBack"), execution.cause
    assert "DeploymentInconclusive: still inconclusive at the end of step 1 of 1" in execution.cause
    assert "2 extension(s) of 60 s" in execution.cause and "fewer than the 100 a verdict needs" in execution.cause
    assert check_count(execution) == 3 + 2 and len(passed_checks(execution)) == 3 + 2 - 1  # the last one raised
    assert canary_world.settled_on() == "1"


def test_too_little_traffic_extends_the_step_then_promotes_when_the_request_says_so(canary_world):
    execution, _ = deploy(canary_world, canary_world.v2, QUIET, strategy=SHORT_CANARY,
                          analysis={"maxExtensions": 2, "inconclusive": "promote"})

    assert execution.status == "SUCCEEDED", execution.cause
    assert check_count(execution) == len(passed_checks(execution)) == 3 + 2
    assert execution.output["analysis"]["verdict"] == "Inconclusive"
    assert execution.output["analysis"]["rule"] == "tooFewInvocations"
    assert canary_world.settled_on() == "2"


def quiet_alarm(world) -> str:
    """An alarm on a metric nothing reports, whose owner left missing data open: INSUFFICIENT_DATA for good."""
    name = f"{world.fn.name}-quiet"
    world.emulator.client("cloudwatch").put_metric_alarm(
        AlarmName=name, Namespace="Orders", MetricName="Refunds", Statistic="Sum", Period=60, EvaluationPeriods=1,
        Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold", TreatMissingData="missing")
    return name


def test_an_alarm_without_data_counted_unhealthy_rolls_back_at_the_first_check(canary_world):
    alarm = quiet_alarm(canary_world)
    execution, _ = deploy(canary_world, canary_world.v2, alarms=[alarm], analysis={"insufficientData": "unhealthy"})

    assert (execution.status, execution.error) == ("FAILED", "DeploymentRolledBack")
    assert f"DeploymentUnhealthy: alarm {alarm} has insufficient data with 10% of traffic" in execution.cause
    assert check_count(execution) == 1


def test_an_alarm_without_data_counted_inconclusive_extends_the_step_then_decides(canary_world):
    alarm = quiet_alarm(canary_world)
    execution, _ = deploy(canary_world, canary_world.v2, strategy=SHORT_CANARY, alarms=[alarm],
                          analysis={"maxExtensions": 1})  # insufficientData: inconclusive is the default

    assert (execution.status, execution.error) == ("FAILED", "DeploymentRolledBack")
    assert "DeploymentInconclusive" in execution.cause and f"alarm {alarm} has insufficient data" in execution.cause
    assert check_count(execution) == 3 + 1
    assert [o["alarms"] for o in passed_checks(execution)] == [{alarm: "INSUFFICIENT_DATA"}] * 3


def test_an_alarm_without_data_counted_healthy_leaves_the_verdict_to_the_metrics(canary_world):
    alarm = quiet_alarm(canary_world)
    execution, _ = deploy(canary_world, canary_world.v2, BUSY, alarms=[alarm],
                          analysis=PATIENT | {"insufficientData": "healthy"})

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["analysis"]["verdict"] == "Pass"
    assert {o["alarms"][alarm] for o in passed_checks(execution)} == {"INSUFFICIENT_DATA"}


def test_analysis_false_judges_by_alarms_alone_and_reads_no_metrics(canary_world):
    execution, _ = deploy(canary_world, canary_world.v3, strategy=SHORT_CANARY, analysis=False)

    assert execution.status == "SUCCEEDED", execution.cause  # nothing watched it: no traffic, no alarm
    assert {json.dumps(a) for a in checks(execution)} == {"null"} and execution.output["analysis"] is None
    assert calls_made(canary_world, execution, "GetMetricData") == 0


# the lag -----------------------------------------------------------------------------------------------

def counted_as_they_were_made(execution, traffic, version: str, role: str) -> list[tuple[int, int, int]]:
    """For each check that read a window: (calls surely in it, what the check counted, calls maybe in it)."""
    found = []
    for analysis in checks(execution):
        window = analysis["window"]
        if not window["to"]:
            continue
        start, end = canary_metrics.parse_time(window["from"]), canary_metrics.parse_time(window["to"])
        calls = traffic.of(version)
        surely = sum(1 for call in calls if start <= call.sent and call.answered < end)
        maybe = sum(1 for call in calls if call.answered >= start and call.sent < end)
        found.append((surely, analysis[role]["invocations"], maybe))
    return found


@pytest.fixture
def late_metrics_world():
    """Lambda's metrics a minute late (0.6 s here), as in AWS; the deployer's window lags 2 minutes (1.2 s)."""
    with Emulator(time_scale=SCALE, seed=5, metric_delay_seconds=60) as emulator:
        world = make_world(emulator)
        sample.register(emulator, world.v2, sample.HEALTHY)
        yield world


def test_with_late_metrics_every_check_counts_every_call_in_its_window(late_metrics_world):
    world = late_metrics_world
    execution, traffic = deploy(world, world.v2, BUSY, analysis={"inconclusive": "promote"})

    assert execution.status == "SUCCEEDED", execution.cause
    for role, version in (("new", "2"), ("stable", "1")):
        counted = counted_as_they_were_made(execution, traffic, version, role)
        assert len(counted) >= 5
        assert all(surely <= count <= maybe for surely, count, maybe in counted), (role, counted)


def test_a_window_reaching_closer_than_the_metrics_delay_misses_calls_it_claims_to_cover(late_metrics_world):
    """Why the lag: with the window ending at the check itself, the last 0.6 s of calls have not arrived."""
    world = late_metrics_world
    os.environ[METRICS_LAG_SECONDS] = "0"  # the emulator restores its environment when it stops
    execution, traffic = deploy(world, world.v2, BUSY, analysis={"inconclusive": "promote"})

    counted = counted_as_they_were_made(execution, traffic, "1", "stable")
    # Any: a check that runs late on a loaded machine (its query after the last calls arrived) counts them all.
    assert counted and any(count < surely for surely, count, _ in counted), counted
