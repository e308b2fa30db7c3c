"""Fault injection: whatever fails, once or for good, a deployment ends in the invariant.

The invariant: when a deployment ends (succeeded, failed, rolled back), the alias serves exactly one
version with empty routing — the new one only on success —, the function-name tag and $LATEST agree with
it, and no lock is held. Each run deploys its own function in one shared emulator (waits at 1/500).
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import make_world, make_zip_world, wait_for

from deployer.local import sample
from deployer.local.emulator import Emulator
from deployer.local.faults import CONFLICT, PRECONDITION_FAILED, SERVER_ERROR, THROTTLE, Crash, Fault, Refusal
from handlers.aws import deployments
from handlers.domain import alarm_events

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


def label_of(point: Point, kind: str, persistent: bool) -> str:
    return f"{point} {kind} {'persistently' if persistent else 'once'}"


def broken_invariant(world, expected: str, after: str = "", what: str = "alias") -> list[str]:
    """What of the invariant does not hold (``world.settled_on``), with the live version expected."""
    try:
        version = world.settled_on()
    except AssertionError as exc:
        return [str(exc).splitlines()[0]]
    return [] if version == expected else [f"{what} on version {version}{' ' + after if after else ''}"]


def deploy_with(emulator: Emulator, run: str, injected: list, make=make_world,
                **extra) -> tuple[str, str | None, list[str]]:
    """Deploy v2 of a fresh function (``make``: an image world, or a zip world) with ``injected`` faults (and
    ``extra`` request keys); returns (status, error, broken invariants)."""
    world = make(emulator, run)
    emulator.api.inject(*injected)
    execution = emulator.run(world.request(world.v2, strategy=TWO_SHIFTS, checkIntervalSeconds=1,
                                           alarms=[world.fn.alarm], **extra), name=run, timeout=60)
    if execution.status == "SUCCEEDED" and deployments.holder(run):
        emulator.reconcile()  # a succeeded execution that could not release its lock: the schedule's job
    wait_for(lambda: deployments.holder(run) is None, timeout=20, what=f"{run}'s lock to be released")
    retire(emulator, world)
    broken = broken_invariant(world, "2" if execution.status == "SUCCEEDED" else "1", f"after {execution.status}")
    return execution.status, execution.error, broken


def retire(emulator: Emulator, world) -> None:
    """Delete a finished run's alarm: the emulator evaluates every alarm of the account at each tick (every
    0.12 s at this time scale), and the runs' would pile up into most of the sweep's work."""
    emulator.client("cloudwatch").delete_alarms(AlarmNames=[world.fn.alarm])


@pytest.mark.parametrize("point", POINTS, ids=str)
def test_every_fault_at_every_mutating_call_ends_in_the_invariant(emulator, point):
    matrix = list(itertools.product([point], KINDS, (False, True)))
    held, broken, never_fired = 0, [], []
    for index, (point, kind, persistent) in enumerate(matrix):
        run = f"sweep-{POINTS.index(point)}-{index}"
        fault = faults_for(point, kind, persistent, run)
        status, error, problems = deploy_with(emulator, run, [fault])
        label = label_of(point, kind, persistent)
        if not fault.fired:
            never_fired.append(label)
        if problems:
            broken.append(f"{label} → {status} {error}: {'; '.join(problems)}")
        else:
            held += 1
    print(f"\nfault sweep at {point}: {len(KINDS)} faults x once/persistently = {len(matrix)} runs; "
          f"the invariant held in {held}")
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


# Zip functions: the release is copied onto the function-named key (CopyObject) where images move a tag, and
# $LATEST is updated from S3; a rollback copies the stable package back and updates $LATEST from its version.
ZIP_POINTS = [
    Point("RetagImage", "CopyObject"),  # functions/<name>.zip
    Point("UpdateCode", "UpdateFunctionCode"),
    Point("PublishVersion", "PublishVersion"),
    Point("ShiftTraffic", "UpdateAlias"),
    Point("Promote", "UpdateAlias"),
]
ZIP_RESTORE_POINTS = [Point("Rollback", "UpdateAlias"), Point("Rollback", "CopyObject"),
                      Point("Rollback", "UpdateFunctionCode")]
ANALYSIS_OFF = {"analysis": False}  # no traffic in these runs: the alarm judges


@pytest.mark.parametrize("point", ZIP_POINTS, ids=str)
def test_every_fault_at_every_mutating_call_of_a_zip_deployment_ends_in_the_invariant(emulator, point):
    matrix = list(itertools.product([point], KINDS, (False, True)))
    broken, never_fired = [], []
    for index, (point, kind, persistent) in enumerate(matrix):
        run = f"zip-{ZIP_POINTS.index(point)}-{index}"
        fault = faults_for(point, kind, persistent, run)
        status, error, problems = deploy_with(emulator, run, [fault], make=make_zip_world, **ANALYSIS_OFF)
        label = label_of(point, kind, persistent)
        if not fault.fired:
            never_fired.append(label)
        if problems:
            broken.append(f"{label} → {status} {error}: {'; '.join(problems)}")
    assert not never_fired, f"faults that never hit their call: {never_fired}"
    assert not broken, "\n".join(broken)


def test_a_zip_rollback_ends_in_the_invariant_whatever_fails_once_on_its_way(emulator):
    """Promotion is refused for good, so the deployment rolls back from 50 %: alias, function-named key and
    $LATEST back on version 1's package, through one fault of each kind at each of the rollback's writes."""
    def promotion_refused(run: str) -> list:
        return [Fault((403, "AccessDeniedException"), task="Promote", operation="UpdateAlias", times=None,
                      execution=run)]

    outcomes = undone_through_each_fault(emulator, "zip-undo", ZIP_RESTORE_POINTS, promotion_refused,
                                         make=make_zip_world, **ANALYSIS_OFF)
    assert outcomes == {("FAILED", "DeploymentRolledBack")}


def undone_through_each_fault(emulator: Emulator, prefix: str, points: list[Point], also=lambda run: [],
                              run_with=None, **deploy) -> set[tuple]:
    """Deploy (``run_with``: ``deploy_with`` or ``preview_with``) once per (point, fault kind), the fault firing
    once beside ``also(run)``'s; every run must end in the invariant and every fault must hit its call. Returns
    the (status, error) outcomes seen."""
    outcomes, never_fired = set(), []
    for index, (point, kind) in enumerate(itertools.product(points, KINDS)):
        run = f"{prefix}-{index}"
        fault = faults_for(point, kind, False, run)
        status, error, problems = (run_with or deploy_with)(emulator, run, [*also(run), fault], **deploy)
        if not fault.fired:
            never_fired.append(f"{point} {kind}")
        assert not problems, f"{point} {kind} → {status} {error}: {problems}"
        outcomes.add((status, error))
    assert not never_fired, f"faults that never hit their call: {never_fired}"
    return outcomes


# Pre- and post-traffic checks: invocations are calls too (they run code), and a hook after promotion that fails
# takes the alias back from the new version, a path no deployment without checks has.

CHECKED_POINTS = [
    Point("RunChecks", "Invoke"),  # the synthetic invocation of version 2, before traffic
    Point("RunChecks", "Invoke", 1),  # the hook before traffic
    Point("RunChecks", "Invoke", 2),  # the hook after the first shift
    Point("Promote", "UpdateAlias"),  # promotion, entered as PromoteThenCheck
    Point("RunChecks", "Invoke", 4),  # the hook after promotion: failing for good, it undoes the promotion
]
RESTORE_POINTS = [Point("Rollback", "UpdateAlias"), Point("Rollback", "PutImage"),
                  Point("Rollback", "UpdateFunctionCode")]
PASSING_HOOK = "def handler(event, context):\n    return {'status': 'pass'}\n"
FAILING_AFTER_PROMOTION = ("def handler(event, context):\n"
                           "    return {'status': 'fail' if event['phase'] == 'afterPromote' else 'pass'}\n")


@pytest.fixture(scope="module")
def hooks(emulator) -> dict[str, str]:
    return {"passing": sample.create_python_function(emulator, "sweep-hook", PASSING_HOOK),
            "failing after promotion": sample.create_python_function(emulator, "sweep-late-hook",
                                                                     FAILING_AFTER_PROMOTION)}


def checks(hook: str) -> dict:
    return {"preTraffic": {}, "hooks": {"beforeTraffic": hook, "afterShift": hook, "afterPromote": hook}}


@pytest.mark.parametrize("point", CHECKED_POINTS, ids=str)
def test_every_fault_at_every_call_of_the_checks_ends_in_the_invariant(emulator, hooks, point):
    matrix = [(point, kind, persistent) for kind, persistent in itertools.product(KINDS, (False, True))
              if not (kind == "crash" and point.skip)]  # a crash hits the task's first run, whatever the point
    broken, never_fired = [], []
    for index, (point, kind, persistent) in enumerate(matrix):
        run = f"checked-{CHECKED_POINTS.index(point)}-{index}"
        fault = faults_for(point, kind, persistent, run)
        status, error, problems = deploy_with(emulator, run, [fault], **checks(hooks["passing"]))
        label = label_of(point, kind, persistent)
        if not fault.fired:
            never_fired.append(label)
        if problems:
            broken.append(f"{label} → {status} {error}: {'; '.join(problems)}")
    assert not never_fired, f"faults that never hit their call: {never_fired}"
    assert not broken, "\n".join(broken)


def test_undoing_a_promotion_ends_in_the_invariant_whatever_fails_once_on_the_way(emulator, hooks):
    """The hook after promotion fails: Rollback takes the alias, the tag and $LATEST back to version 1, through
    one fault of each kind at each of its writes (it is retried hard; a fault for good is RollbackFailed)."""
    outcomes = undone_through_each_fault(emulator, "undo", RESTORE_POINTS, **checks(hooks["failing after promotion"]))
    assert outcomes == {("FAILED", "DeploymentRolledBack")}

# The alarm's own event (AlarmFired, then the rollback request it starts): whatever fails there, the deployment
# still ends back on the stable version, rolled back by that request, by its check (the backstop, 2 s in) or
# by the rescue of the execution the request stopped.
ALARM_POINTS = [
    Point("AlarmFired", "StartExecution"),  # the rollback request
    Point("Lock", "StopExecution"),  # the deployment it interrupts
    Point("Lock", "PutItem"),  # the lock, taken over
    Point("Lock", "UpdateItem"),  # the stopped deployment's record
    Point("Lock", "UpdateItem", 1),  # the rollback's own record
    Point("Rollback", "UpdateAlias"),  # RestoreVersion
    Point("Rollback", "PutImage"),
    Point("Rollback", "UpdateFunctionCode"),
    Point("Finalize", "UpdateItem"),
    Point("Finalize", "DeleteItem"),
]
ALARM_KINDS = ("throttled", "server error", "crash")  # 412 and 409 are Lambda's and ECR's: swept above
LONG_BAKE = {"steps": [{"weight": 10, "bakeSeconds": 3000}]}  # 6 s, and the one check at its end: the alarm's
# event path gets all of it, where a check at 2 s could beat a loaded machine's event and the fault never fire


def rolled_back_on_alarm(emulator: Emulator, run: str, point: Point, kind: str, persistent: bool):
    """Fire the deployment's alarm mid-canary with one fault on the alarm's path; (fired, broken invariants). A
    fault on RestoreVersion's writes is on the rescue's too: whichever of them restores meets it."""
    world = make_world(emulator, run)
    arn = emulator.start_execution(world.request(world.v2, strategy=LONG_BAKE, checkIntervalSeconds=3000,
                                                 alarms=[world.fn.alarm]), name=run)
    wait_for(world.weights, what=f"{run}'s canary")
    rollback = alarm_events.rollback_name(run, arn)
    injected = [faults_for(point, kind, persistent, None if point.task == "AlarmFired" else rollback)]
    if point.task == "Rollback":  # the stopped deployment's rescue races RestoreVersion to the same restore
        injected.append(faults_for(Point("Rescue", point.operation, point.skip), kind, persistent, None))
    emulator.api.inject(*injected)
    try:
        breach(emulator, world.fn.alarm)
        emulator.wait(arn, timeout=60)
        rollback_arn = f"{arn.rsplit(':', 1)[0]}:{rollback}"
        with contextlib.suppress(ClientError):  # never started: the deployment's check rolled it back
            emulator.wait(rollback_arn, timeout=60)
        if deployments.holder(run):
            emulator.reconcile()  # a lock no execution releases any more: the schedule's job
        wait_for(lambda: deployments.holder(run) is None, timeout=20, what=f"{run}'s lock to be released")
        retire(emulator, world)
        broken = broken_invariant(world, "1")
        return any(fault.fired for fault in injected), broken
    finally:
        emulator.api.clear()


def breach(emulator: Emulator, name: str) -> None:
    """The alarm goes to ALARM at its next evaluation and stays there (missing data now breaches), so the check
    sees it too if the event's rollback fails (a SetAlarmState would last only until that evaluation)."""
    cloudwatch = emulator.client("cloudwatch")
    alarm = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    cloudwatch.put_metric_alarm(**{key: alarm[key] for key in (
        "AlarmName", "Namespace", "MetricName", "Statistic", "Period", "EvaluationPeriods", "Threshold",
        "ComparisonOperator", "Dimensions")}, TreatMissingData="breaching")


@pytest.mark.parametrize("point", ALARM_POINTS, ids=str)
def test_every_fault_on_the_alarms_rollback_path_ends_back_on_the_stable_version(emulator, point):
    matrix = list(itertools.product([point], ALARM_KINDS, (False, True)))
    broken, never_fired = [], []
    for index, (point, kind, persistent) in enumerate(matrix):
        label = label_of(point, kind, persistent)
        fired, problems = rolled_back_on_alarm(emulator, f"alarm-{ALARM_POINTS.index(point)}-{index}", point,
                                               kind, persistent)
        if not fired:
            never_fired.append(label)
        broken += [f"{label}: {problem}" for problem in problems]
    assert not never_fired, f"faults that never hit their call: {never_fired}"
    assert not broken, "\n".join(broken)

# Previews: whatever fails, production's alias, the function-name tag and $LATEST end as they were (version 1),
# and the lock is released; the preview alias is on the new version only when the preview succeeds, otherwise as
# it was: absent before the branch's first preview, on version 2 (the first preview's) before its next one.
BRANCH = "feature/sweep"
PREVIEW_POINTS = [
    Point("Lock", "PutItem"),
    Point("Lock", "UpdateItem"),
    Point("UpdateCode", "UpdateFunctionCode"),
    Point("PublishVersion", "PublishVersion"),
    Point("Rollback", "UpdateFunctionCode"),  # ReleaseLatest: $LATEST back on production's image
    Point("Promote", "CreateAlias"),  # PointPreview: the preview alias, on the branch's first preview
    Point("Promote", "PutEvents"),  # after the alias moved: a failure to notify changes nothing
    Point("Finalize", "UpdateItem"),
    Point("Finalize", "DeleteItem"),
]
NEXT_PREVIEW_POINTS = [  # the branch's alias exists: PointPreview moves it (UpdateAlias at Resolve's RevisionId)
    Point("UpdateCode", "UpdateFunctionCode"),
    Point("Rollback", "UpdateFunctionCode"),
    Point("Promote", "UpdateAlias"),
    Point("Promote", "PutEvents"),
    Point("Finalize", "UpdateItem"),
    Point("Finalize", "DeleteItem"),
]


def broken_preview_invariant(world, status: str, before: str | None, image: str) -> list[str]:
    """The invariant of a preview run: production's (on version 1), and the preview alias on a version of ``image``
    (all of it) after success, else on ``before`` (None: absent)."""
    broken = broken_invariant(world, "1", what="production alias")
    found = world.preview_alias(BRANCH)
    if found and alias_weights(found):
        return [*broken, f"the preview alias is weighted: {alias_weights(found)}"]
    if status == "SUCCEEDED":
        if not found or world.version_digest(found["FunctionVersion"]) != image:
            broken.append("the preview alias does not serve the branch's image")
        return broken
    now = found["FunctionVersion"] if found else None
    if now != before:
        broken.append(f"the preview alias {'on version ' + now if now else 'absent'} after {status}, "
                      f"was {'on version ' + before if before else 'absent'}")
    return broken


def alias_weights(found: dict) -> dict:
    return (found.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}


def previewed(emulator: Emulator, run: str, *, again: bool) -> tuple:
    """A fresh function and what its preview starts from: (world, the preview alias' version, the image to preview).
    ``again``: the branch was previewed once already (version 2 behind its alias), this preview is v3."""
    world = make_world(emulator, run)
    if not again:
        return world, None, world.v2
    first = emulator.run(world.request(world.v2, preview=BRANCH), name=f"{run}-first", timeout=60)
    assert first.status == "SUCCEEDED", first.cause
    return world, "2", world.v3


def preview_with(emulator: Emulator, run: str, injected: list, *, again: bool = False) -> tuple[str, str | None,
                                                                                                  list[str]]:
    world, before, image = previewed(emulator, run, again=again)
    emulator.api.inject(*injected)
    execution = emulator.run(world.request(image, preview=BRANCH), name=run, timeout=60)
    if deployments.holder(run):
        emulator.reconcile()
    wait_for(lambda: deployments.holder(run) is None, timeout=20, what=f"{run}'s lock to be released")
    return execution.status, execution.error, broken_preview_invariant(world, execution.status, before, image)


def preview_sweep(emulator: Emulator, prefix: str, point: Point, *, again: bool) -> None:
    matrix = list(itertools.product([point], KINDS, (False, True)))
    broken, never_fired, outcomes = [], [], set()
    for index, (point, kind, persistent) in enumerate(matrix):
        run = f"{prefix}-{index}"
        fault = faults_for(point, kind, persistent, run)
        status, error, problems = preview_with(emulator, run, [fault], again=again)
        label = label_of(point, kind, persistent)
        outcomes.add((status, error))
        if not fault.fired:
            never_fired.append(label)
        broken += [f"{label} → {status} {error}: {problem}" for problem in problems]
    print(f"\n{prefix} fault sweep: {len(matrix)} runs, outcomes {sorted(outcomes, key=str)}")
    assert not never_fired, f"faults that never hit their call: {never_fired}"
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("point", PREVIEW_POINTS, ids=str)
def test_every_fault_at_every_mutating_call_of_a_preview_leaves_production_and_the_branch_as_they_were(emulator,
                                                                                                       point):
    preview_sweep(emulator, f"preview-{PREVIEW_POINTS.index(point)}", point, again=False)


@pytest.mark.parametrize("point", NEXT_PREVIEW_POINTS, ids=str)
def test_every_fault_at_every_mutating_call_of_a_branchs_next_preview_leaves_its_alias_where_it_was(emulator, point):
    preview_sweep(emulator, f"next-preview-{NEXT_PREVIEW_POINTS.index(point)}", point, again=True)


def pointing_dies(run: str) -> list:
    """PointPreview's Lambda dies after each of its writes: retried, then caught, with the preview alias moved."""
    return [Crash("Promote", after=True, times=None, execution=run)]


@pytest.mark.parametrize(("again", "points"), [
    (False, [Point("Rollback", "DeleteAlias"), Point("Rollback", "UpdateItem"), Point("Rollback", "DeleteItem")]),
    (True, [Point("Rollback", "UpdateAlias"), Point("Rollback", "UpdateItem"), Point("Rollback", "DeleteItem")]),
], ids=["first preview", "next preview"])
def test_undoing_a_previews_alias_ends_as_it_was_whatever_fails_once_on_the_way(emulator, again, points):
    """PointPreview moved the alias and then failed for good: Rollback deletes the alias it created, or puts it back
    on version 2, through one fault of each kind at each of its writes (a crash hits ReleaseLatest, the same
    function, first)."""
    outcomes = undone_through_each_fault(emulator, "undo-next" if again else "undo-first", points, pointing_dies,
                                         run_with=preview_with, again=again)
    assert outcomes == {("FAILED", "DeploymentRolledBack")}


STOP = (403, "StoppedByTheSweep")  # the stopped task's own call, refused: it does nothing after the stop


def stopped_before(emulator: Emulator, run: str, point: Point) -> tuple[Callable, list]:
    """A guard that stops ``run`` just before ``point``'s call, which is then refused, as if the stop had come
    between two calls; and the list it appends to when it fired."""
    fired, sfn, seen = [], emulator.client("stepfunctions"), itertools.count()

    def guard(scope, call, context):
        if (scope.execution or "").rsplit(":", 1)[-1] != run or (scope.task, call.operation) != (point.task,
                                                                                                   point.operation):
            return None
        if next(seen) != point.skip or fired:
            return Refusal(*STOP, "stopped") if fired else None
        fired.append(scope.execution)
        other = threading.Thread(target=lambda: sfn.stop_execution(executionArn=scope.execution))
        other.start()
        other.join()
        return Refusal(*STOP, "the execution was stopped just before this call")

    return guard, fired


def stopped_preview(emulator: Emulator, run: str, point: Point, *, rescue_lost: bool, again: bool) -> tuple:
    """Preview with a stop just before ``point``'s call, the rescue delivered or lost (then the reconciler runs);
    (stopped, status, broken invariants)."""
    world, before, image = previewed(emulator, run, again=again)
    guard, fired = stopped_before(emulator, run, point)
    emulator.api.guards.append(guard)
    lost = Crash("Rescue", times=None)
    if rescue_lost:
        emulator.api.inject(lost)
    try:
        execution = emulator.run(world.request(image, preview=BRANCH), name=run, timeout=60)
        if rescue_lost:
            wait_for(lambda: lost.fired, what=f"{run}'s rescue to be lost")
            emulator.reconcile()
        wait_for(lambda: deployments.holder(run) is None, timeout=20, what=f"{run}'s lock to be released")
    finally:
        emulator.api.guards.remove(guard)
        emulator.api.clear()
    return bool(fired), execution.status, broken_preview_invariant(world, execution.status, before, image)


@pytest.mark.parametrize(("again", "point"), [*((False, point) for point in PREVIEW_POINTS),
                                               *((True, point) for point in NEXT_PREVIEW_POINTS)],
                         ids=lambda value: str(value) if isinstance(value, Point) else "next" if value else "first")
def test_a_preview_stopped_before_any_of_its_mutating_calls_ends_as_it_was(emulator, again, point):
    """StopExecution runs no Catch: the rescue (on the execution's end event), or, when the rescue is lost, the
    reconciler (for the lock left behind) puts production and the preview alias back."""
    broken, never_fired = [], []
    number = (NEXT_PREVIEW_POINTS if again else PREVIEW_POINTS).index(point)
    for index, lost in enumerate((False, True)):
        run = f"stop-{'next' if again else 'first'}-{number}-{index}"
        label = f"stopped before {point}{', rescue lost' if lost else ''}"
        fired, status, problems = stopped_preview(emulator, run, point, rescue_lost=lost, again=again)
        if not fired:
            never_fired.append(label)
        elif status != "ABORTED":
            broken.append(f"{label}: ended {status}")
        broken += [f"{label}: {problem}" for problem in problems]
    assert not never_fired, f"stops that never came: {never_fired}"
    assert not broken, "\n".join(broken)


# Approval gates: the gate's own writes (its token on the lock, Approval Needed) and the watch's heartbeat, each
# failing once or for good, on a deployment a person approves as soon as its token is on the lock.
GATE_POINTS = [
    Point("RequestApproval", "UpdateItem"),  # the token on the lock
    Point("RequestApproval", "PutEvents"),  # Approval Needed: a failure to notify changes nothing
    Point("WatchApproval", "SendTaskHeartbeat"),
]
GATED = {"steps": [{"weight": 10, "bakeSeconds": 0}, {"approval": True}, {"weight": 50, "bakeSeconds": 0}]}


def approved_when_asked(emulator: Emulator, run: str, point: Point, kind: str, persistent: bool):
    """Deploy through a gate with one fault on its path, approving whatever token the lock holds; (fired, ended,
    broken invariants)."""
    world = make_world(emulator, run)
    fault = faults_for(point, kind, persistent, run)
    emulator.api.inject(fault)
    arn = emulator.start_execution(world.request(world.v2, strategy=GATED, checkIntervalSeconds=500,
                                                 alarms=[world.fn.alarm], approvalTimeoutSeconds=1000), name=run)
    sfn, answered = emulator.client("stepfunctions"), set()

    def approve_or_ended() -> bool:
        lock = deployments.holder(run)
        asked = (lock.approval if lock else None) or {}
        token = asked.get("taskToken")
        if token and (token, asked["requestedAt"]) not in answered:
            answered.add((token, asked["requestedAt"]))  # a retried RequestApproval asks again
            with contextlib.suppress(ClientError):
                sfn.send_task_success(taskToken=token, output="{}")
        return emulator.describe(arn).status != "RUNNING"

    wait_for(approve_or_ended, timeout=60, what=f"{run} to end", every=0.05)
    execution = emulator.wait(arn, timeout=10)
    wait_for(lambda: deployments.holder(run) is None, timeout=20, what=f"{run}'s lock to be released")
    broken = broken_invariant(world, "2" if execution.status == "SUCCEEDED" else "1", f"after {execution.status}")
    emulator.api.clear()
    return bool(fault.fired), (execution.status, execution.error), broken


@pytest.mark.parametrize("point", GATE_POINTS, ids=str)
def test_every_fault_at_an_approval_gate_ends_in_the_invariant(emulator, point):
    matrix = [(point, kind, persistent) for point, kind, persistent in
              itertools.product([point], ("throttled", "server error", "crash"), (False, True))
              if not (kind == "crash" and point.operation == "PutEvents")]  # a crash is the task's: swept once
    broken, never_fired, outcomes = [], [], {}
    for index, (point, kind, persistent) in enumerate(matrix):
        label = label_of(point, kind, persistent)
        run = f"gate-{GATE_POINTS.index(point)}-{index}"
        fired, outcome, problems = approved_when_asked(emulator, run, point, kind, persistent)
        outcomes[label] = outcome
        if not fired:
            never_fired.append(label)
        broken += [f"{label} → {outcome}: {problem}" for problem in problems]
    assert not never_fired, f"faults that never hit their call: {never_fired}"
    assert not broken, "\n".join(broken)
    # a failure once is retried and approved; a notification never changes the outcome
    assert {label: o for label, o in outcomes.items() if "once" in label or "PutEvents" in label} == {
        label: ("SUCCEEDED", None) for label in outcomes if "once" in label or "PutEvents" in label}
