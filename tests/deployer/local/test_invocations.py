"""Invoking a function runs its code, honours its alias' weights and records Lambda's metrics
(deployer/local/invocations.py)."""

from __future__ import annotations

import base64
import io
import json
import math
import time
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from support import wait_for

from deployer.local import sample
from deployer.local.emulator import Emulator
from deployer.local.faults import TaskScope, task_scope
from deployer.local.invocations import Behaviour

HANDLER = '''
import helpers

def handler(event, context):
    if event.get("fail"):
        raise ValueError("no such order: " + str(event["fail"]))
    if event.get("unserializable"):
        return {1, 2}
    return {"answer": helpers.ANSWER, "event": event, "version": context.function_version}
'''


def package(answer: str) -> bytes:
    """A zip function's code: a handler module and a helper module it imports, as packaged for Lambda."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", HANDLER)
        archive.writestr("helpers.py", f"ANSWER = {answer!r}\n")
    return buffer.getvalue()


def zip_function(emulator: Emulator, name: str = "quotes") -> None:
    """Versions 1 and 2 (with different packages, same module names), alias ``live`` on version 1."""
    lam = emulator.client("lambda")
    role = emulator.client("iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="app.handler",
                        Code={"ZipFile": package("one")}, Publish=True)
    lam.update_function_code(FunctionName=name, ZipFile=package("two"))
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")


def invoke(emulator: Emulator, name: str, payload: dict | None = None, **params) -> tuple[dict, object]:
    answer = emulator.client("lambda").invoke(FunctionName=name, Payload=json.dumps(payload or {}), **params)
    body = answer["Payload"].read()
    return answer, json.loads(body) if body else None


def dimensions(function: str, resource: str | None = None, version: str | None = None) -> list[dict]:
    dims = [{"Name": "FunctionName", "Value": function}]
    if resource:
        dims.append({"Name": "Resource", "Value": resource})
    if version:
        dims.append({"Name": "ExecutedVersion", "Value": version})
    return dims


WINDOW = {"StartTime": datetime.now(UTC) - timedelta(hours=1), "EndTime": datetime.now(UTC) + timedelta(hours=1)}


def total(emulator: Emulator, metric: str, dims: list[dict], stat: str = "Sum") -> float:
    """``stat`` of a Lambda metric over the last hour and the next, through GetMetricStatistics."""
    points = emulator.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda", MetricName=metric, Dimensions=dims, Period=60, Statistics=[stat], **WINDOW)
    return sum(point[stat] for point in points["Datapoints"])


def series(emulator: Emulator, queries: dict[str, tuple[str, list[dict], str]]) -> dict[str, float]:
    """Several metrics at once through GetMetricData, each summed over its periods (two-hour periods: one)."""
    answer = emulator.client("cloudwatch").get_metric_data(MetricDataQueries=[
        {"Id": key, "MetricStat": {"Metric": {"Namespace": "AWS/Lambda", "MetricName": metric, "Dimensions": dims},
                                   "Period": 7200, "Stat": stat}}
        for key, (metric, dims, stat) in queries.items()], **WINDOW)
    return {result["Id"]: sum(result["Values"]) for result in answer["MetricDataResults"]}


def test_an_alias_at_ten_percent_sends_the_new_version_its_share_and_the_metrics_add_up(emulator):
    fn = sample.create_function(emulator, behaviour=sample.HEALTHY)
    new = sample.push_version(emulator, fn, "v2", behaviour=Behaviour(error_rate=0.3, duration_ms=80))
    lam = emulator.client("lambda")
    lam.update_function_code(FunctionName=fn.name, ImageUri=fn.image(new))
    lam.publish_version(FunctionName=fn.name)
    lam.update_alias(FunctionName=fn.name, Name=fn.alias, RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}})

    n, started = 2000, time.perf_counter()
    ran = {"1": 0, "2": 0}
    failed = {"1": 0, "2": 0}
    for _ in range(n):
        answer = lam.invoke(FunctionName=fn.name, Qualifier=fn.alias, Payload=b"{}")
        ran[answer["ExecutedVersion"]] += 1
        failed[answer["ExecutedVersion"]] += "FunctionError" in answer
    took = time.perf_counter() - started

    sigma = math.sqrt(n * 0.1 * 0.9)  # binomial: 13.4 invocations
    assert abs(ran["2"] - n * 0.1) < 5 * sigma, ran
    assert failed["1"] == 0 and 0 < failed["2"] < ran["2"]
    alias = f"{fn.name}:{fn.alias}"
    got = series(emulator, {
        "v1": ("Invocations", dimensions(fn.name, alias, "1"), "Sum"),
        "v2": ("Invocations", dimensions(fn.name, alias, "2"), "Sum"),
        "alias": ("Invocations", dimensions(fn.name, alias), "Sum"),
        "function": ("Invocations", dimensions(fn.name), "Sum"),
        "v2errors": ("Errors", dimensions(fn.name, alias, "2"), "Sum"),
        "v2durations": ("Duration", dimensions(fn.name, alias, "2"), "SampleCount"),
        "v2p99": ("Duration", dimensions(fn.name, alias, "2"), "p99"),
        "v1max": ("Duration", dimensions(fn.name, alias, "1"), "Maximum"),
    })
    assert (got["v1"], got["v2"]) == (ran["1"], ran["2"])
    assert got["v1"] + got["v2"] == got["alias"] == got["function"] == n
    assert got["v2errors"] == failed["2"] == total(emulator, "Errors", dimensions(fn.name, alias))
    assert got["v2durations"] == ran["2"] and got["v2p99"] == 80
    assert sample.HEALTHY.duration_ms <= got["v1max"] <= sample.HEALTHY.duration_ms + sample.HEALTHY.jitter_ms
    assert total(emulator, "Throttles", dimensions(fn.name, alias), "SampleCount") == n
    assert total(emulator, "Throttles", dimensions(fn.name, alias)) == 0
    print(f"\n{n} invocations through boto3 in {took:.1f} s")


def test_a_zip_function_runs_the_handler_of_the_version_invoked(emulator):
    zip_function(emulator)

    answer, body = invoke(emulator, "quotes", {"id": 7}, Qualifier="live")
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    assert body == {"answer": "one", "event": {"id": 7}, "version": "1"}
    assert invoke(emulator, "quotes", Qualifier="2")[1]["answer"] == "two"  # same module names, its own code
    assert invoke(emulator, "quotes", Qualifier="1")[1]["answer"] == "one"
    assert invoke(emulator, "quotes")[1] == {"answer": "two", "event": {}, "version": "$LATEST"}
    tail = base64.b64decode(invoke(emulator, "quotes", Qualifier="live", LogType="Tail")[0]["LogResult"]).decode()
    assert tail.startswith("START RequestId: ") and "Version: 1" in tail and "REPORT RequestId: " in tail


def test_executed_version_names_the_version_that_ran(emulator):
    zip_function(emulator)
    lam = emulator.client("lambda")
    lam.update_alias(FunctionName="quotes", Name="live", FunctionVersion="2")
    arn = lam.get_function(FunctionName="quotes")["Configuration"]["FunctionArn"]

    for params, version in (({}, "$LATEST"), ({"Qualifier": "1"}, "1"), ({"Qualifier": "live"}, "2"),
                            ({"Qualifier": "$LATEST"}, "$LATEST")):
        answer, _ = invoke(emulator, "quotes", **params)
        assert answer["ExecutedVersion"] == version, params
        assert answer["ResponseMetadata"]["HTTPHeaders"]["x-amz-executed-version"] == version
    assert invoke(emulator, f"{arn}:live")[0]["ExecutedVersion"] == "2"
    assert invoke(emulator, "quotes:1")[0]["ExecutedVersion"] == "1"


def test_an_uncaught_exception_is_an_unhandled_function_error_with_the_runtime_payload(emulator):
    zip_function(emulator)

    answer, body = invoke(emulator, "quotes", {"fail": 42}, Qualifier="live")
    assert answer["StatusCode"] == 200 and answer["FunctionError"] == "Unhandled"
    assert set(body) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert (body["errorType"], body["errorMessage"]) == ("ValueError", "no such order: 42")
    assert body["stackTrace"] and all(isinstance(line, str) for line in body["stackTrace"])
    assert "app.py" in body["stackTrace"][0] and "invocations.py" not in "".join(body["stackTrace"])
    assert len(body["requestId"]) == 36

    _, body = invoke(emulator, "quotes", {"unserializable": True})
    assert body["errorType"] == "Runtime.MarshalError"


def test_a_handler_that_cannot_be_imported_is_reported_as_the_runtime_does(emulator):
    lam = emulator.client("lambda")
    role = emulator.client("iam").create_role(RoleName="broken", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam.create_function(FunctionName="broken", Runtime="python3.12", Role=role, Handler="missing.handler",
                        Code={"ZipFile": package("x")})
    lam.create_function(FunctionName="misnamed", Runtime="python3.12", Role=role, Handler="app.nothing",
                        Code={"ZipFile": package("x")})
    assert invoke(emulator, "broken")[1]["errorType"] == "Runtime.ImportModuleError"
    assert invoke(emulator, "misnamed")[1]["errorType"] == "Runtime.HandlerNotFound"


def test_an_image_runs_the_behaviour_registered_for_its_digest_without_waiting_for_it(emulator):
    """14 minutes a call under Lambda's 15-minute timeout: 40 calls waited for would take over nine hours, so the
    generous two-minute bound below cannot be missed by a loaded machine, only by a wait."""
    fn = sample.create_function(emulator, behaviour=Behaviour(duration_ms=840_000, error_rate=0.5,
                                                              result={"ok": True}, error_type="Boom"))
    lam = emulator.client("lambda")
    lam.update_function_configuration(FunctionName=fn.name, Timeout=900)
    wait_for(lambda: lam.get_function_configuration(FunctionName=fn.name)["LastUpdateStatus"] == "Successful",
             what="the configuration update")
    lam.update_alias(FunctionName=fn.name, Name=fn.alias,
                     FunctionVersion=lam.publish_version(FunctionName=fn.name)["Version"])
    outcomes = {"ok": 0, "Boom": 0}
    started = time.perf_counter()
    for _ in range(40):
        answer, body = invoke(emulator, fn.name, Qualifier=fn.alias)
        outcomes["Boom" if answer.get("FunctionError") else "ok"] += 1
        assert body == {"ok": True} or body["errorType"] == "Boom"
    assert time.perf_counter() - started < 120  # reported, not waited for
    assert outcomes["ok"] > 0 and outcomes["Boom"] > 0  # each has probability 2**-40 of never happening
    durations = dimensions(fn.name, f"{fn.name}:{fn.alias}", "2")
    assert total(emulator, "Duration", durations, "Minimum") == 840_000
    assert total(emulator, "Errors", durations) == outcomes["Boom"]


def test_an_image_with_no_behaviour_answers_null_and_a_slow_one_times_out(emulator):
    fn = sample.create_function(emulator, behaviour=None)
    answer, body = invoke(emulator, fn.name)
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer and body is None

    slow = sample.push_version(emulator, fn, "slow", behaviour=Behaviour(duration_ms=5000))
    emulator.client("lambda").update_function_code(FunctionName=fn.name, ImageUri=fn.image(slow))
    answer, body = invoke(emulator, fn.name)
    assert answer["FunctionError"] == "Unhandled" and body["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 3.00 seconds" in body["errorMessage"]
    assert total(emulator, "Duration", dimensions(fn.name), "Maximum") == 3000  # the function's timeout


def test_an_answer_larger_than_lambda_allows_is_a_function_error(emulator):
    fn = sample.create_function(emulator, behaviour=Behaviour(result="x" * 6_300_000))
    answer, body = invoke(emulator, fn.name)
    assert answer["FunctionError"] == "Unhandled" and body["errorType"] == "Function.ResponseSizeTooLarge"


def test_an_event_invocation_is_accepted_then_runs_and_records_its_metrics(emulator):
    zip_function(emulator)

    answer, body = invoke(emulator, "quotes", {"id": 1}, Qualifier="live", InvocationType="Event")
    assert answer["StatusCode"] == 202 and body is None and "ExecutedVersion" not in answer
    assert emulator.invocations.settle(timeout=10)
    assert total(emulator, "Invocations", dimensions("quotes", "quotes:live", "1")) == 1


def test_a_dry_run_runs_nothing_and_records_nothing(emulator):
    zip_function(emulator)

    answer, body = invoke(emulator, "quotes", {"fail": 1}, Qualifier="live", InvocationType="DryRun")
    assert answer["StatusCode"] == 204 and body is None and "FunctionError" not in answer
    assert emulator.invocations.settle(timeout=1)
    assert total(emulator, "Invocations", dimensions("quotes")) == 0
    with pytest.raises(ClientError) as raised:
        invoke(emulator, "nothing-here", InvocationType="DryRun")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_each_invocation_is_recorded_under_the_dimension_sets_lambda_publishes(emulator):
    zip_function(emulator)
    invoke(emulator, "quotes")
    invoke(emulator, "quotes", Qualifier="1")
    invoke(emulator, "quotes", Qualifier="live")

    listed = emulator.client("cloudwatch").list_metrics(Namespace="AWS/Lambda", MetricName="Invocations",
                                                        Dimensions=[{"Name": "FunctionName", "Value": "quotes"}])
    assert sorted(tuple(sorted((d["Name"], d["Value"]) for d in metric["Dimensions"]))
                  for metric in listed["Metrics"]) == [
        (("ExecutedVersion", "1"), ("FunctionName", "quotes"), ("Resource", "quotes:live")),
        (("FunctionName", "quotes"),),
        (("FunctionName", "quotes"), ("Resource", "quotes:1")),
        (("FunctionName", "quotes"), ("Resource", "quotes:live")),
    ]
    assert total(emulator, "Invocations", dimensions("quotes")) == 3
    assert total(emulator, "Invocations", []) >= 3  # across all functions


def test_a_payload_that_is_not_json_is_refused(emulator):
    zip_function(emulator)
    with pytest.raises(ClientError) as raised:
        emulator.client("lambda").invoke(FunctionName="quotes", Payload=b"{not json")
    assert raised.value.response["Error"]["Code"] == "InvalidRequestContentException"


@pytest.mark.slow
def test_a_seeded_emulator_routes_the_same_way_every_time():
    def routed(seed: int) -> list[str]:
        with Emulator(seed=seed) as emulator:
            fn = sample.create_function(emulator)
            sample.push_version(emulator, fn, "v2")
            lam = emulator.client("lambda")
            lam.update_function_code(FunctionName=fn.name, ImageUri=fn.image(
                emulator.client("ecr").describe_images(repositoryName=fn.name, imageIds=[{"imageTag": "v2"}])
                ["imageDetails"][0]["imageDigest"]))
            lam.publish_version(FunctionName=fn.name)
            lam.update_alias(FunctionName=fn.name, Name=fn.alias,
                             RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
            return [invoke(emulator, fn.name, Qualifier=fn.alias)[0]["ExecutedVersion"] for _ in range(40)]

    first = routed(7)
    assert routed(7) == first
    assert routed(8) != first  # two seeds agreeing on 40 fair coin flips: 2**-40


def test_the_deployers_own_functions_are_in_lambdas_metrics_too(emulator):
    emulator.reconcile()
    name = emulator.function_arns["Reconcile"].rsplit(":", 1)[-1]
    assert total(emulator, "Invocations", dimensions(name)) == 1


@pytest.mark.slow
def test_metrics_arrive_as_late_as_the_emulator_is_told_scaled_like_its_waits():
    with Emulator(metric_delay_seconds=60, time_scale=0.05) as emulator:  # 3 s
        zip_function(emulator)
        invoked = time.monotonic()
        invoke(emulator, "quotes", Qualifier="live")
        seen_at_once = total(emulator, "Invocations", dimensions("quotes"))
        assert seen_at_once == 0 or time.monotonic() - invoked >= 3
        wait_for(lambda: total(emulator, "Invocations", dimensions("quotes")) == 1, timeout=15,
                 what="the late metric")
        assert time.monotonic() - invoked >= 3


CALLS_AWS = '''
import boto3

def handler(event, context):
    return boto3.client("lambda", region_name="us-east-1").get_alias(FunctionName="orders-api",
                                                                      Name="live")["FunctionVersion"]
'''


def test_code_a_deployer_task_invokes_makes_its_own_calls_not_the_tasks(emulator):
    """On AWS the invoked function calls AWS with its own execution role: what it calls is neither recorded as the
    invoking task's nor judged by the task's permissions (RunChecks may not GetAlias; a hook may)."""
    sample.create_function(emulator)
    hook = sample.create_python_function(emulator, "alias-reader", CALLS_AWS)
    with task_scope(TaskScope("exec-1", "RunChecks")):
        answer = emulator.client("lambda").invoke(FunctionName=hook, Payload=b"{}")
    assert "FunctionError" not in answer and json.loads(answer["Payload"].read()) == "1"
    assert [(c.task, c.operation) for c in emulator.api.calls_of("exec-1")] == [("RunChecks", "Invoke")]
    assert emulator.iam.denials() == []
