"""Pre- and post-traffic checks on the emulator, with real invocations: the new version's image answers as its
registered behaviour says, and the hooks are zip functions whose own handler runs.

Each test deploys its own function in one shared emulator (waits at 1/100). Runs that must get through a bake
turn the canary analysis off (``NO_ANALYSIS``): they send the alias no traffic, so it could not conclude, and the
checks are what these tests are about.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from support import World, make_world

from deployer.local import sample
from deployer.local.emulator import Emulator
from deployer.local.invocations import Behaviour
from handlers.aws import deployments

CANARY = {"steps": [{"weight": 10, "bakeSeconds": 1}]}
TWO_STEPS = {"steps": [{"weight": 10, "bakeSeconds": 1}, {"weight": 50, "bakeSeconds": 0}]}
HEALTHY = Behaviour(duration_ms=20, result={"statusCode": 200, "body": json.dumps({"status": "ok", "db": "up"})})
EXPECT_OK = {"statusCode": 200, "fields": {"body.status": "ok"}}
NO_ANALYSIS = {"analysis": False}
_names = itertools.count()


@pytest.fixture(scope="module")
def emulator():
    with Emulator(time_scale=0.01) as emu:
        yield emu


@pytest.fixture
def world(emulator) -> World:
    return make_world(emulator, f"checked-{next(_names)}")


def hook(emulator: Emulator, log: Path, *, fail_at: tuple[str, ...] = (), raise_at: tuple[str, ...] = (),
         name: str | None = None) -> str:
    """A hook function that records every event it gets (with the alias as it finds it), and fails at the phases
    named: ``fail_at`` answers ``{"status": "fail"}``, ``raise_at`` raises."""
    source = f'''import json

import boto3


def handler(event, context):
    lam = boto3.client("lambda", region_name=event["functionArn"].split(":")[3])
    try:
        alias = lam.get_alias(FunctionName=event["function"], Name=event["alias"])
        seen = {{"version": alias["FunctionVersion"],
                "weights": (alias.get("RoutingConfig") or {{}}).get("AdditionalVersionWeights") or {{}}}}
    except lam.exceptions.ResourceNotFoundException:  # a first deployment, before promotion
        seen = None
    with open({str(log)!r}, "a") as log:
        log.write(json.dumps({{"event": event, "alias": seen}}) + "\\n")
    if event["phase"] in {raise_at!r}:
        raise AssertionError("GET /orders answered 500")
    if event["phase"] in {fail_at!r}:
        return {{"status": "fail", "reason": "checkout flow broken"}}
    return {{"status": "pass"}}
'''
    return sample.create_python_function(emulator, name or f"hook-{next(_names)}", source)


def seen(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def alias_updates(world: World, execution) -> list[tuple[str, str, dict]]:
    """Every UpdateAlias the execution made: (task, version, weights)."""
    return [(c.task, c.params["FunctionVersion"], c.params["RoutingConfig"]["AdditionalVersionWeights"])
            for c in world.emulator.api.calls_of(execution.arn) if c.operation == "UpdateAlias" and c.fault is None]


def invocations(world: World, execution) -> list[tuple[str, str | None]]:
    return [(c.params["FunctionName"].rsplit(":", 1)[-1], c.params.get("Qualifier"))
            for c in world.emulator.api.calls_of(execution.arn) if c.operation == "Invoke"]


def test_a_synthetic_answer_that_misses_its_expectation_rolls_back_before_any_traffic_moved(world):
    world.emulator.behaviours.register(world.v2, Behaviour(result={"statusCode": 503, "body": "overloaded"}))

    execution = world.emulator.run(world.request(
        world.v2, strategy=CANARY, checkIntervalSeconds=1,
        preTraffic={"invocations": 3, "payload": {"path": "/health"}, "expect": EXPECT_OK}))

    assert (execution.status, execution.error) == ("FAILED", "DeploymentRolledBack")
    assert ("SyntheticCheckFailed: before any traffic moved: synthetic invocation 1 of 3 of version 2 answered "
            "statusCode 503, expected 200") in execution.cause
    assert invocations(world, execution) == [(world.fn.name, "2")]  # the version itself, and no more once failed
    assert "ShiftTraffic" not in execution.states_entered()
    assert all(weights == {} for _, _, weights in alias_updates(world, execution))  # no weighted alias, ever
    assert world.settled_on() == "1" and deployments.holder(world.fn.name) is None


def test_a_synthetic_invocation_that_fails_rolls_back_naming_the_error(world):
    world.emulator.behaviours.register(world.v2, Behaviour(
        error_rate=1.0, error_type="OrderStoreError", error_message="the order store refused the write"))

    execution = world.emulator.run(world.request(world.v2, preTraffic={}))

    assert (execution.status, execution.error) == ("FAILED", "DeploymentRolledBack")
    assert ("synthetic invocation 1 of 1 of version 2 failed (OrderStoreError: the order store refused the "
            "write)") in execution.cause
    assert "Promote" not in execution.states_entered() and world.settled_on() == "1"


def test_checks_that_pass_let_the_deployment_succeed_and_each_hook_is_told_where_the_deployment_is(
        world, tmp_path):
    world.emulator.behaviours.register(world.v2, HEALTHY)
    log = tmp_path / "hook.jsonl"
    smoke = hook(world.emulator, log)

    execution = world.emulator.run(world.request(
        world.v2, strategy=TWO_STEPS, checkIntervalSeconds=1, **NO_ANALYSIS,
        preTraffic={"invocations": 3, "payload": {"path": "/health"}, "expect": EXPECT_OK},
        hooks={"beforeTraffic": smoke, "afterShift": smoke, "afterPromote": smoke}))

    assert execution.status == "SUCCEEDED", execution.cause
    assert [(c["phase"], c["step"], c.get("invocations")) for c in execution.output["checks"]] == [
        ("beforeTraffic", 0, 3), ("afterShift", 1, None), ("afterShift", 2, None), ("afterPromote", 2, None)]
    told = seen(log)
    assert [(t["event"]["phase"], t["event"]["step"], t["event"]["weight"]) for t in told] == [
        ("beforeTraffic", 0, 0.0), ("afterShift", 1, 10.0), ("afterShift", 2, 50.0), ("afterPromote", 2, 100.0)]
    assert {(t["event"]["function"], t["event"]["alias"], t["event"]["newVersion"], t["event"]["stableVersion"],
             t["event"]["steps"], t["event"]["execution"]) for t in told} == {
        (world.fn.name, "live", "2", "1", 2, execution.arn)}
    # each hook ran where it says it did: the alias as the hook itself read it (its own call, its own role)
    assert [t["alias"] for t in told] == [{"version": "1", "weights": {}}, {"version": "1", "weights": {"2": 0.1}},
                                          {"version": "1", "weights": {"2": 0.5}}, {"version": "2", "weights": {}}]
    assert invocations(world, execution).count((world.fn.name, "2")) == 3
    assert world.settled_on() == "2"


def test_synthetic_invocations_are_counted_on_the_version_not_in_the_aliass_per_version_metrics(world):
    """Lambda's Resource dimension names the version or alias invoked; ExecutedVersion exists only for alias
    invocations (Lambda guide, "Types of metrics for Lambda functions"). So the canary's analysis, which reads
    the alias' ExecutedVersion metrics, never counts the deployer's own synthetic calls."""
    world.emulator.behaviours.register(world.v2, HEALTHY)
    execution = world.emulator.run(world.request(world.v2, preTraffic={"invocations": 4}))
    assert execution.status == "SUCCEEDED", execution.cause

    def invocations_with(*dimensions: tuple[str, str]) -> float:
        points = world.emulator.client("cloudwatch").get_metric_statistics(
            Namespace="AWS/Lambda", MetricName="Invocations", Statistics=["Sum"], Period=60,
            StartTime=execution.history[0]["timestamp"].replace(second=0, microsecond=0),
            EndTime=execution.history[-1]["timestamp"].replace(second=59),
            Dimensions=[{"Name": "FunctionName", "Value": world.fn.name},
                        *({"Name": name, "Value": value} for name, value in dimensions)])["Datapoints"]
        return sum(point["Sum"] for point in points)

    assert invocations_with(("Resource", f"{world.fn.name}:2")) == 4
    assert invocations_with(("Resource", f"{world.fn.name}:live"), ("ExecutedVersion", "2")) == 0


def test_a_hook_failing_after_the_first_shift_rolls_back(world, tmp_path):
    world.emulator.behaviours.register(world.v2, HEALTHY)
    log = tmp_path / "hook.jsonl"
    smoke = hook(world.emulator, log, fail_at=("afterShift",))

    execution = world.emulator.run(world.request(world.v2, strategy=TWO_STEPS, checkIntervalSeconds=1,
                                                 hooks={"afterShift": smoke}))

    assert (execution.status, execution.error) == ("FAILED", "DeploymentRolledBack")
    assert (f"HookFailed: after shifting 10% of traffic (step 1 of 2): hook {smoke} (afterShift) answered fail: "
            "checkout flow broken") in execution.cause
    assert [(task, version, weights) for task, version, weights in alias_updates(world, execution)] == [
        ("ShiftTraffic", "1", {"2": 0.1}), ("Rollback", "1", {})]
    assert [t["event"]["phase"] for t in seen(log)] == ["afterShift"]
    assert world.settled_on() == "1" and deployments.holder(world.fn.name) is None


def test_a_hook_that_raises_rolls_back_with_its_error(world, tmp_path):
    world.emulator.behaviours.register(world.v2, HEALTHY)
    smoke = hook(world.emulator, tmp_path / "hook.jsonl", raise_at=("beforeTraffic",))

    execution = world.emulator.run(world.request(world.v2, strategy=CANARY, hooks={"beforeTraffic": smoke}))

    assert (execution.status, execution.error) == ("FAILED", "DeploymentRolledBack")
    assert f"hook {smoke} (beforeTraffic) failed (AssertionError: GET /orders answered 500)" in execution.cause
    assert "ShiftTraffic" not in execution.states_entered() and world.settled_on() == "1"


def test_a_hook_failing_after_promotion_puts_all_traffic_back_on_the_stable_version(world, tmp_path):
    world.emulator.behaviours.register(world.v2, HEALTHY)
    smoke = hook(world.emulator, tmp_path / "hook.jsonl", fail_at=("afterPromote",))

    execution = world.emulator.run(world.request(world.v2, strategy=CANARY, checkIntervalSeconds=1, **NO_ANALYSIS,
                                                 hooks={"afterPromote": smoke}))

    assert (execution.status, execution.error) == ("FAILED", "DeploymentRolledBack")
    assert f"HookFailed: after promotion: hook {smoke} (afterPromote) answered fail" in execution.cause
    assert alias_updates(world, execution) == [
        ("ShiftTraffic", "1", {"2": 0.1}), ("Promote", "2", {}), ("Rollback", "1", {})]
    assert "Rolled back: alias live → version 1 (all traffic)" in execution.cause
    assert world.settled_on() == "1"  # and the tag and $LATEST back on version 1's image
    assert deployments.holder(world.fn.name) is None
    assert deployments.history(world.fn.name, limit=1)[0]["outcome"] == "DeploymentRolledBack"


def test_checks_after_each_shift_roll_back_a_version_that_starts_failing_once_it_takes_traffic(world):
    answers = itertools.count()
    world.emulator.behaviours.register(world.v2, Behaviour(
        result=lambda event: {"statusCode": 200 if next(answers) < 2 else 500}))

    execution = world.emulator.run(world.request(world.v2, strategy=TWO_STEPS, checkIntervalSeconds=1,
                                                 preTraffic={"invocations": 2, "afterEachShift": True,
                                                             "expect": {"statusCode": 200}}))

    assert (execution.status, execution.error) == ("FAILED", "DeploymentRolledBack")
    assert ("after shifting 10% of traffic (step 1 of 2): synthetic invocation 1 of 2 of version 2 answered "
            "statusCode 500, expected 200") in execution.cause
    assert world.settled_on() == "1"


def test_a_first_deployment_checks_before_traffic_and_leaves_out_the_hook_after_promotion(emulator, tmp_path):
    fn = sample.create_function(emulator, f"fresh-{next(_names)}", alias=None)
    v2 = sample.push_version(emulator, fn, "v2", HEALTHY)
    log = tmp_path / "hook.jsonl"
    smoke = hook(emulator, log)

    execution = emulator.run({"function": fn.name, "image": fn.image(v2), "preTraffic": {"expect": EXPECT_OK},
                              "hooks": {"beforeTraffic": smoke, "afterPromote": smoke}})

    assert execution.status == "SUCCEEDED", execution.cause
    assert [t["event"]["phase"] for t in seen(log)] == ["beforeTraffic"]
    assert [(t["event"]["stableVersion"], t["alias"]) for t in seen(log)] == [(None, None)]
    notes = execution.state_outputs("Resolve")[0]["deployment"]["checks"]["notes"]
    assert notes == [f"hook {smoke} (afterPromote) not run: a first deployment has no earlier version to return "
                     "to after promotion"]


def test_a_deployment_without_checks_takes_exactly_the_states_it_took_before_checks_existed(world):
    execution = world.emulator.run(world.request(world.v2))
    assert execution.states_entered() == [
        "Route", "Resolve", "AlreadyLive", "Lock", "DeployOrRollBack", "RetagImage", "UpdateCode",
        "WaitForCodeUpdate", "PublishVersion", "VersionReady", "NextStep", "Promote", "Finalize"]
    canary = world.emulator.run(world.request(world.v3, strategy=CANARY, checkIntervalSeconds=1, **NO_ANALYSIS))
    assert canary.status == "SUCCEEDED" and "RunChecks" not in canary.states_entered()
    assert "checks" not in canary.output
