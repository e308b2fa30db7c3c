"""Nothing is left half-deployed: locks, aborts, out-of-band changes, the reconciler."""

from __future__ import annotations

import contextvars

from support import wait_for

from deployer.local import sample
from deployer.local.faults import SERVER_ERROR, Crash, Fault
from handlers.aws import deployments

CANARY = {"strategy": "Canary10Percent30Seconds", "checkIntervalSeconds": 1, "analysis": False}


HOLDS_THE_LOCK = {"steps": [{"weight": 50, "bakeSeconds": 10}]}  # long enough for the second to meet it


def test_a_second_deployment_of_the_same_function_fails_fast_and_names_the_running_one(world):
    """The second starts while the first bakes (started at once, either might lock first, and on a loaded machine
    the second could lock after the first ended: then its stale view is ConcurrentModification, another test's)."""
    first = world.emulator.start_execution(world.request(world.v2, strategy=HOLDS_THE_LOCK, checkIntervalSeconds=1,
                                                         analysis=False), name="first")
    wait_for(world.weights, what="the first deployment's canary")
    second = world.emulator.start_execution(world.request(world.v3, strategy=HOLDS_THE_LOCK, checkIntervalSeconds=1,
                                                          analysis=False), name="second")
    loser, winner = world.emulator.wait(second), world.emulator.wait(first)

    assert winner.status == "SUCCEEDED", winner.cause
    assert (loser.status, loser.error) == ("FAILED", "DeploymentInProgress")
    assert f"being deployed by execution {winner.name}" in loser.cause
    assert world.writes(loser) == []
    assert loser.history[-1]["timestamp"] < winner.history[-1]["timestamp"]  # it did not wait its turn
    assert world.settled_on() == "2"


def test_different_functions_deploy_in_parallel(world):
    other = sample.create_function(world.emulator, "billing-api")
    ecr = world.emulator.client("ecr")
    billing_v2 = sample.push_image(ecr, "billing-api", "billing-api:v2", tag="v2")
    runs = [world.emulator.start_execution(world.request(world.v2, strategy="Canary50Percent2Seconds",
                                                         checkIntervalSeconds=1, analysis=False)),
            world.emulator.start_execution({"function": other.name, "image": other.image(billing_v2),
                                            "strategy": "Canary50Percent2Seconds", "checkIntervalSeconds": 1,
                                            "analysis": False})]
    orders, billing = (world.emulator.wait(arn) for arn in runs)

    assert orders.status == billing.status == "SUCCEEDED"
    start, end = (lambda e: e.history[0]["timestamp"]), (lambda e: e.history[-1]["timestamp"])
    assert start(orders) < end(billing) and start(billing) < end(orders)  # they overlapped


def test_stopping_an_execution_mid_canary_is_rescued_to_the_stable_version(world):
    arn = world.emulator.start_execution(world.request(world.v2, **CANARY))
    wait_for(world.weights, what="the canary")
    world.emulator.client("stepfunctions").stop_execution(executionArn=arn, cause="an operator pressed Stop")

    assert world.emulator.wait(arn).status == "ABORTED"
    wait_for(lambda: not deployments.holder("orders-api"), what="the rescue")
    assert world.settled_on() == "1"
    record = deployments.history("orders-api")[0]
    assert record["outcome"] == "aborted" and "alias live → version 1" in record["cause"]


def test_a_failed_rollback_is_finished_by_the_rescue(fast_world):
    world = fast_world
    world.emulator.api.inject(Fault((403, "AccessDeniedException"), task="Promote", operation="UpdateAlias"),
                              Fault(SERVER_ERROR, task="Rollback", operation="UpdateAlias", times=None))
    execution = world.emulator.run(world.request(world.v2, strategy="Canary10Percent1Second",
                                                 checkIntervalSeconds=1, analysis=False))

    assert execution.error == "RollbackFailed" and "could not restore alias" in execution.cause
    wait_for(lambda: not deployments.holder("orders-api"), what="the rescue")
    assert world.settled_on() == "1"


def test_the_reconciler_repairs_an_alias_left_weighted_with_no_deployment_running(world):
    lam = world.emulator.client("lambda")
    lam.update_function_code(FunctionName="orders-api", ImageUri=world.fn.image(world.v2))
    lam.publish_version(FunctionName="orders-api")
    lam.update_alias(FunctionName="orders-api", Name="live", RoutingConfig={"AdditionalVersionWeights": {"2": 0.4}})

    report = world.emulator.reconcile()

    assert report["repairedAliases"] == ["orders-api:live"] and report["problems"] == []
    assert world.settled_on() == "1"


def test_the_reconciler_frees_a_stale_lock_after_a_lost_rescue(world):
    lost = Crash("Rescue", times=None)  # the status-change delivery is lost
    world.emulator.api.inject(lost)
    arn = world.emulator.start_execution(world.request(world.v2, **CANARY))
    wait_for(world.weights, what="the canary")
    world.emulator.client("stepfunctions").stop_execution(executionArn=arn)
    world.emulator.wait(arn)
    wait_for(lambda: lost.fired, what="the rescue to be lost")  # delivered after the execution ends
    assert deployments.holder("orders-api").execution == arn
    world.emulator.api.clear()

    report = world.emulator.reconcile()

    assert report["freedLocks"] == ["orders-api"]
    assert deployments.holder("orders-api") is None and world.settled_on() == "1"


def test_the_reconciler_leaves_running_deployments_alone(world):
    """A 30-minute bake: the canary is still running when the test looks, however loaded the machine."""
    arn = world.emulator.start_execution(world.request(world.v2, strategy="Canary10Percent30Minutes",
                                                       checkIntervalSeconds=60, analysis=False))
    wait_for(world.weights, what="the canary")

    report = world.emulator.reconcile()

    assert report == {"freedLocks": [], "repairedAliases": [], "problems": []}
    assert [c.operation for c in world.emulator.api.calls_of() if c.task == "Reconcile" and c.mutating] == []
    assert world.weights() == {"2": 0.1}
    world.emulator.client("stepfunctions").stop_execution(executionArn=arn)


def test_an_alias_changed_out_of_band_between_two_shifts_is_left_as_changed(world):
    """Someone sets the weight to 30% just before the second shift writes the alias (a guard makes the
    change at that moment, outside any task, so no thread timing decides the order)."""
    lam = world.emulator.client("lambda")

    def change_it_first(scope, call, context):
        if (scope.task, call.operation) == ("ShiftTraffic", "UpdateAlias") and \
                call.params["RoutingConfig"]["AdditionalVersionWeights"] == {"2": 0.5}:
            contextvars.Context().run(lam.update_alias, FunctionName="orders-api", Name="live",
                                      RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}})

    world.emulator.api.guards.append(change_it_first)
    two_shifts = {"steps": [{"weight": 10, "bakeSeconds": 0}, {"weight": 50, "bakeSeconds": 0}]}
    execution = world.emulator.run(world.request(world.v2, strategy=two_shifts, analysis=False))

    assert (execution.status, execution.error) == ("FAILED", "ConcurrentModification")
    assert "changed outside this deployment" in execution.cause
    assert world.weights() == {"2": 0.3}  # their change is still there
    assert deployments.holder("orders-api") is None


def test_every_deployment_is_recorded_for_history(world):
    world.emulator.run(world.request(world.v2, requestedBy="ci job 42"))
    world.set_alarm("ALARM")
    world.emulator.run(world.request(world.v3, alarms=[world.fn.alarm]))  # refused: not recorded
    world.set_alarm("OK")
    world.emulator.run(world.request(world.v2))  # already live: recorded as unchanged

    records = deployments.history("orders-api")
    assert [(r["outcome"], r.get("fromVersion"), r.get("toVersion")) for r in records] == [
        ("unchanged", "2", "2"), ("deployed", "1", "2")]
    assert records[1]["requestedBy"] == "ci job 42" and records[1]["image"] == world.fn.image(world.v2)
