"""Fault injection: whatever fails, once or for good, a deployment ends in the invariant.

The invariant: when a deployment ends (succeeded, failed, rolled back), the alias serves exactly one
version with empty routing — the new one only on success —, the function-name tag and $LATEST agree with
it, and no lock is held. Each run deploys its own function in one shared emulator (waits at 1/500).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import make_world, wait_for

from deployer.local.emulator import Emulator
from deployer.local.faults import CONFLICT, PRECONDITION_FAILED, SERVER_ERROR, THROTTLE, Crash, Fault
from handlers.aws import deployments

TWO_SHIFTS = {"steps": [{"weight": 10, "bakeSeconds": 0}, {"weight": 50, "bakeSeconds": 0}]}  # checks mutate nothing


@dataclass(frozen=True)
class Point:
    """A mutating AWS call of the flow: the ``skip``-th (0-based) ``operation`` made by ``task``."""

    task: str
    operation: str
    skip: int = 0

    def __str__(self) -> str:
        return f"{self.task}:{self.operation}" + (f"#{self.skip + 1}" if self.skip else "")


POINTS = [
    Point("Lock", "PutItem"),  # the lock
    Point("Lock", "UpdateItem"),  # the deployment's record
    Point("RetagImage", "PutImage"),  # the function-name tag
    Point("RetagImage", "PutImage", 1),  # <function>.previous
    Point("UpdateCode", "UpdateFunctionCode"),
    Point("PublishVersion", "PublishVersion"),
    Point("ShiftTraffic", "UpdateAlias"),
    Point("ShiftTraffic", "UpdateAlias", 1),
    Point("Promote", "UpdateAlias"),
    Point("Finalize", "UpdateItem"),
    Point("Finalize", "DeleteItem"),  # the lock's release
    Point("Lock", "PutEvents"),  # the first notification: a failure to notify changes nothing
    Point("Promote", "PutEvents"),  # the last one
]
KINDS = {  # status, error code (the code each service uses for it)
    "throttled": THROTTLE,
    "server error": SERVER_ERROR,
    "precondition failed": PRECONDITION_FAILED,
    "conflict": CONFLICT,
    "crash": None,  # the task's Lambda dies after doing its work (Lambda.Unknown); it is retried
}


@pytest.fixture(scope="module")
def emulator():
    with Emulator(time_scale=0.002) as emu:
        yield emu


def faults_for(point: Point, kind: str, persistent: bool, execution: str):
    times = None if persistent else 1
    if KINDS[kind] is None:
        return Crash(point.task, after=True, times=times, execution=execution)
    return Fault(KINDS[kind], task=point.task, operation=point.operation, skip=point.skip, times=times,
                 execution=execution)


def deploy_with(emulator: Emulator, run: str, injected: list) -> tuple[str, str | None, list[str]]:
    """Deploy v2 of a fresh function with ``injected`` faults; returns (status, error, broken invariants)."""
    world = make_world(emulator, run)
    emulator.api.inject(*injected)
    execution = emulator.run(world.request(world.v2, strategy=TWO_SHIFTS, checkIntervalSeconds=1,
                                           alarms=[world.fn.alarm]), name=run, timeout=60)
    if execution.status == "SUCCEEDED" and deployments.holder(run):
        emulator.reconcile()  # a succeeded execution that could not release its lock: the schedule's job
    wait_for(lambda: deployments.holder(run) is None, timeout=20, what=f"{run}'s lock to be released")
    expected = "2" if execution.status == "SUCCEEDED" else "1"
    broken = []
    try:
        if (version := world.settled_on()) != expected:
            broken.append(f"alias on version {version} after {execution.status}")
    except AssertionError as exc:
        broken.append(str(exc).splitlines()[0])
    return execution.status, execution.error, broken


def test_every_fault_at_every_mutating_call_ends_in_the_invariant(emulator):
    matrix = list(itertools.product(POINTS, KINDS, (False, True)))
    held, broken, never_fired = 0, [], []
    for index, (point, kind, persistent) in enumerate(matrix):
        run = f"sweep-{index}"
        fault = faults_for(point, kind, persistent, run)
        status, error, problems = deploy_with(emulator, run, [fault])
        label = f"{point} {kind} {'persistently' if persistent else 'once'}"
        if not fault.fired:
            never_fired.append(label)
        if problems:
            broken.append(f"{label} → {status} {error}: {'; '.join(problems)}")
        else:
            held += 1
    print(f"\nfault sweep: {len(POINTS)} mutating calls x {len(KINDS)} faults x once/persistently = "
          f"{len(matrix)} runs; the invariant held in {held}")
    assert not never_fired, f"faults that never hit their call: {never_fired}"
    assert not broken, "\n".join(broken)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(faults=st.lists(st.tuples(st.sampled_from(POINTS), st.sampled_from(sorted(KINDS)), st.booleans()),
                       min_size=1, max_size=3))
def test_random_combinations_of_faults_end_in_the_invariant(emulator, faults):
    run = f"random-{next(_runs)}"
    status, error, problems = deploy_with(emulator, run, [faults_for(p, k, persistent, run)
                                                          for p, k, persistent in faults])
    assert not problems, f"{faults} → {status} {error}: {problems}"


_runs = itertools.count()
