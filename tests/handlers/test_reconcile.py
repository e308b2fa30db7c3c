"""The reconciler reads only what is locked, looks only at the deployer's own functions, and repairs each
function on its own."""

from __future__ import annotations

import pytest
from support import World, make_world, wait_for

from deployer.local import sample
from deployer.local.emulator import Emulator
from deployer.local.faults import Crash, Fault, TaskScope, task_scope
from handlers.aws import deployments

CANARY = {"strategy": "Canary10Percent30Seconds", "checkIntervalSeconds": 1, "analysis": False}
# A canary still running when the test looks, however long seeding the table takes on a loaded machine.
LONG_CANARY = {"strategy": "Canary10Percent30Minutes", "checkIntervalSeconds": 60, "analysis": False}
HISTORY_RECORDS = 5_000
DENIED = (403, "AccessDeniedException")


def seed_history(emulator: Emulator, count: int) -> None:
    """``count`` finished deployment records of 50 functions, written straight into the table (25 a call)."""
    items = [{"PutRequest": {"Item": {
        "pk": {"S": f"fn-{n % 50}" if n % 10 else "orders-api"},
        "sk": {"S": f"{deployments.RECORD_PREFIX}2025-01-01T00:00:{n:06d}#run-{n}"},
        "execution": {"S": f"arn:aws:states:us-east-1:123456789012:execution:lambda-deployer:run-{n}"},
        "startedAt": {"S": "2025-01-01T00:00:00.000+00:00"}, "outcome": {"S": "deployed"},
        deployments.EXPIRES_AT: {"N": "1767225600"},
    }}} for n in range(count)]
    ddb = emulator.client("dynamodb")
    for start in range(0, count, 25):
        ddb.batch_write_item(RequestItems={emulator.table_name: items[start:start + 25]})


def items_read(calls) -> int:
    """The table items the calls returned (Query/Scan pages, GetItem, BatchGetItem)."""
    def read(call) -> int:
        answer = call.response or {}
        if call.operation in ("Query", "Scan"):
            return len(answer.get("Items", []))
        if call.operation == "GetItem":
            return int("Item" in answer)
        if call.operation == "BatchGetItem":
            return sum(len(items) for items in answer.get("Responses", {}).values())
        return 0
    return sum(read(call) for call in calls if call.service == "dynamodb")


def leave_weighted(emulator: Emulator, fn: sample.SampleFunction) -> None:
    """A split that no deployment owns: version 2 published and given 40 % of the alias."""
    lam, ecr = emulator.client("lambda"), emulator.client("ecr")
    stray = sample.push_image(ecr, fn.name, f"{fn.name}:stray", tag="stray")
    lam.update_function_code(FunctionName=fn.name, ImageUri=fn.image(stray))
    lam.publish_version(FunctionName=fn.name)
    lam.update_alias(FunctionName=fn.name, Name=fn.alias, RoutingConfig={"AdditionalVersionWeights": {"2": 0.4}})


def weights(emulator: Emulator, fn: sample.SampleFunction) -> dict:
    found = emulator.client("lambda").get_alias(FunctionName=fn.name, Name=fn.alias)
    return (found.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}


def reconciler_calls(emulator: Emulator) -> list:
    return [call for call in emulator.api.calls_of() if call.task == "Reconcile"]


def test_reconcile_uses_no_scan_and_reads_only_the_locked_items_among_5000_history_records(world: World):
    emulator = world.emulator
    running = emulator.start_execution(world.request(world.v2, **LONG_CANARY))
    wait_for(world.weights, what="the canary")
    billing = make_world(emulator, "billing-api")
    lost = Crash("Rescue", times=None)  # billing's rescue is lost: its lock goes stale
    emulator.api.inject(lost)
    stopped = emulator.start_execution(billing.request(billing.v2, **CANARY))
    wait_for(billing.weights, what="billing's canary")
    emulator.client("stepfunctions").stop_execution(executionArn=stopped)
    emulator.wait(stopped)
    wait_for(lambda: lost.fired, what="billing's rescue to be lost")  # it is delivered after the execution ends
    emulator.api.clear()
    seed_history(emulator, HISTORY_RECORDS)

    report = emulator.reconcile()

    calls = reconciler_calls(emulator)
    assert report == {"freedLocks": ["billing-api"], "repairedAliases": [], "problems": []}
    assert [call.operation for call in calls if call.operation == "Scan"] == []
    assert items_read(calls) == 2  # the two locks, of 5,000 records and 2 locks
    assert [(call.operation, call.params.get("IndexName")) for call in calls
            if call.service == "dynamodb" and not call.mutating] == [("Query", deployments.LOCKS_INDEX)]
    assert billing.settled_on() == "1"
    # the running canary is untouched: nothing the reconciler wrote named it, and it still serves its split
    assert [call.operation for call in calls if call.mutating and "orders-api" in repr(call.params)] == []
    assert world.weights() == {"2": 0.1}
    emulator.client("stepfunctions").stop_execution(executionArn=running)


@pytest.fixture
def team_emulator():
    with Emulator(function_name_prefix="team-") as emulator:
        yield emulator


def test_with_a_name_prefix_the_reconciler_never_touches_a_managed_function_outside_it(team_emulator):
    outside = sample.create_function(team_emulator, "other-api")  # managed, but another deployer's
    inside = sample.create_function(team_emulator, "team-orders")
    for fn in (outside, inside):
        leave_weighted(team_emulator, fn)

    report = team_emulator.reconcile()

    assert report == {"freedLocks": [], "repairedAliases": ["team-orders:live"], "problems": []}
    assert weights(team_emulator, inside) == {} and weights(team_emulator, outside) == {"2": 0.4}
    assert not [call for call in reconciler_calls(team_emulator) if "other-api" in repr(call.params)]


@pytest.mark.parametrize("operation", ["ListAliases", "GetFunction", "UpdateAlias"])
def test_one_function_failing_to_repair_does_not_stop_the_others(emulator, operation):
    functions = [sample.create_function(emulator, name) for name in ("orders-api", "billing-api")]
    for fn in functions:
        leave_weighted(emulator, fn)
    emulator.api.inject(Fault(DENIED, task="Reconcile", operation=operation))  # the first such call only

    report = emulator.reconcile()

    (problem,) = report["problems"]
    (repaired,) = report["repairedAliases"]
    failed = problem.split(":", 1)[0]
    assert "AccessDenied" in problem and {failed, repaired.split(":")[0]} == {"orders-api", "billing-api"}
    assert emulator.reconcile()["repairedAliases"] == [f"{failed}:live"]  # the next run finishes it
    assert all(weights(emulator, fn) == {} for fn in functions)


def test_a_weighted_alias_whose_lock_was_taken_since_the_locks_were_read_is_left_alone(world: World, monkeypatch):
    leave_weighted(world.emulator, world.fn)
    locks = deployments.locks

    def lock_taken_meanwhile():
        found = locks()  # the index is read, then a deployment's Lock task takes orders-api's lock
        with task_scope(TaskScope("new", "Lock")):
            deployments.acquire("orders-api", "arn:aws:states:us-east-1:123456789012:execution:lambda-deployer:new",
                                deployments.now(), {})
        return found

    monkeypatch.setattr(deployments, "locks", lock_taken_meanwhile)

    report = world.emulator.reconcile()

    assert report == {"freedLocks": [], "repairedAliases": [], "problems": []}
    assert world.weights() == {"2": 0.4}
