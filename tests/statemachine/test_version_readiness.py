"""Versions that are not ready and provisioned concurrency on the emulator: traffic moves only to an Active
version, a bake counts only once the alias' provisioned concurrency is READY, and FAILED rolls back.

The emulator holds published versions Pending and allocates provisioned concurrency as
deployer.local.readiness describes (tested on its own in tests/deployer/local/test_readiness.py; this
module's name differs from that one's, as pytest needs).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from support import make_world, wait_for

from deployer.local.emulator import Emulator

CANARY = {"strategy": "Canary50Percent10Seconds", "checkIntervalSeconds": 5, "analysis": False}  # 1/10: 1 s, 0.5 s


@pytest.fixture
def emulator():
    with Emulator(time_scale=0.1, version_pending_seconds=20, provisioned_concurrency_seconds=20) as emu:
        yield emu


def watch(condition, then) -> threading.Thread:
    """Once ``condition()`` holds, ``then()`` (on a thread, so the deployment runs meanwhile)."""
    def run() -> None:
        wait_for(condition, timeout=30, what="the watched condition")
        then()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def version_state(world, version: str) -> str | None:
    lam = world.emulator.client("lambda")
    try:
        return lam.get_function_configuration(FunctionName=world.fn.name, Qualifier=version)["State"]
    except lam.exceptions.ResourceNotFoundException:
        return None


def test_no_traffic_moves_to_a_version_while_it_is_pending(emulator):
    world = make_world(emulator)
    wait_for(lambda: version_state(world, "1") == "Active", what="version 1 Active")
    seen: dict[str, str | None] = {}
    watcher = watch(world.weights, lambda: seen.setdefault("state when weighted", version_state(world, "2")))

    execution = emulator.run(world.request(world.v2, alarms=[world.fn.alarm], **CANARY), timeout=60)

    assert execution.status == "SUCCEEDED", execution.cause
    watcher.join(5)
    assert seen == {"state when weighted": "Active"}
    waited = [v for v in execution.visits() if v.name == "WaitForVersion"]
    assert len(waited) == 1 and any("VersionNotReady" in e for e in waited[0].errors)
    assert world.settled_on() == "2"


def test_a_version_that_fails_instead_of_becoming_active_rolls_back_before_any_traffic_moves(emulator):
    world = make_world(emulator)
    emulator.readiness.set_state(world.fn.name, "2", "Failed", "the snapshot could not be taken")

    execution = emulator.run(world.request(world.v2, alarms=[world.fn.alarm], **CANARY), timeout=60)

    assert (execution.status, execution.error) == ("FAILED", "DeploymentRolledBack")
    assert "version 2 of orders-api is Failed" in execution.cause and "snapshot could not be taken" in execution.cause
    assert "ShiftTraffic" not in execution.states_entered()
    assert world.settled_on() == "1"


def provisioned(world) -> dict:
    return world.emulator.client("lambda").get_provisioned_concurrency_config(FunctionName=world.fn.name,
                                                                              Qualifier=world.fn.alias)


def test_the_bake_starts_only_once_the_provisioned_concurrency_is_ready_again(emulator):
    world = make_world(emulator)
    emulator.client("lambda").put_provisioned_concurrency_config(
        FunctionName=world.fn.name, Qualifier=world.fn.alias, ProvisionedConcurrentExecutions=10)
    wait_for(lambda: provisioned(world)["Status"] == "READY", timeout=10, what="the first allocation")
    emulator.readiness.version_pending_seconds = 0  # this test is about capacity alone
    ready: dict[str, datetime] = {}
    watcher = watch(world.weights, lambda: ready.setdefault("at", wait_for(
        lambda: provisioned(world)["Status"] == "READY" and datetime.now(UTC), timeout=20, what="re-allocation")))

    execution = emulator.run(world.request(world.v2, alarms=[world.fn.alarm], **CANARY), timeout=60)

    assert execution.status == "SUCCEEDED", execution.cause
    watcher.join(5)
    waited = next(v for v in execution.visits() if v.name == "WaitForCapacity")
    assert any("CapacityNotReady" in e for e in waited.errors)
    first_bake = next(v for v in execution.visits() if v.name == "Bake")
    assert first_bake.entered >= ready["at"] - timedelta(seconds=0.1)  # the poll sees READY within 20 ms
    assert len(execution.state_outputs("CheckHealth")) == 2  # the bake's checks, none spent waiting
    assert world.settled_on() == "2"


def test_a_failed_allocation_rolls_back(emulator):
    world = make_world(emulator)
    emulator.client("lambda").put_provisioned_concurrency_config(
        FunctionName=world.fn.name, Qualifier=world.fn.alias, ProvisionedConcurrentExecutions=10)
    emulator.readiness.version_pending_seconds = 0
    watch(world.weights, lambda: emulator.readiness.fail(world.fn.name, world.fn.alias, "insufficient capacity"))

    execution = emulator.run(world.request(world.v2, alarms=[world.fn.alarm], **CANARY), timeout=60)

    assert (execution.status, execution.error) == ("FAILED", "DeploymentRolledBack")
    assert "could not allocate the provisioned concurrency of alias live" in execution.cause
    assert "insufficient capacity" in execution.cause
    assert "CheckHealth" not in execution.states_entered()
    assert world.settled_on() == "1"


def test_a_rollback_request_to_an_inactive_version_is_refused_and_changes_nothing(emulator):
    world = make_world(emulator)
    wait_for(lambda: version_state(world, "1") == "Active", what="version 1 Active")
    emulator.readiness.version_pending_seconds = 0
    assert emulator.run(world.request(world.v2, analysis=False)).status == "SUCCEEDED"
    emulator.readiness.set_state(world.fn.name, "1", "Inactive", "idle for 14 days")

    execution = emulator.run({"action": "rollback", "function": world.fn.name, "toVersion": "1"})

    assert (execution.status, execution.error) == ("FAILED", "InvalidDeploymentRequest")
    assert ("version 1 of orders-api, which a rollback would return to, is Inactive (idle for 14 days)"
            in execution.cause)
    assert emulator.api.calls_of(execution.arn, mutating=True) == []
    assert world.settled_on() == "2"
