"""Least privilege, proved on the emulator (which enforces infra.permissions as IAM would on AWS).

Every permission the table grants a function is used by one of the scenarios below (happy paths, the
412 glitches each task tells from a real change, pre-traffic checks, rollbacks, rescue, reconciler, an alarm's
own event, an approval gate, ECR push, a preview, a failed and a stopped one, a prune with its image tags and a
preview's deletion), and
is needed (an action granted on several scopes, on each of them):
with it taken away, that scenario's call is refused with AccessDeniedException and the run ends otherwise
(for a notification, which never changes a deployment's end, what a subscriber heard is part of the end).
With the table intact, every scenario ends as it should and nothing is refused. Runs share one emulator
(waits at 1/500); each deploys its own function, which is untagged afterwards so later runs leave it alone.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from botocore.exceptions import ClientError
from support import Inbox, make_world, make_zip_world, notifications_inbox, notified, wait_for

from deployer.local import sample
from deployer.local.emulator import Emulator
from deployer.local.faults import PRECONDITION_FAILED, Crash, Fault
from handlers.aws import deployments
from handlers.domain import alarm_events, previews, tags
from infra import permissions
from infra.permissions import Allow

# The scenarios about the flow say "analysis": false (alarms alone judge); "canary analysis" reads metrics.
ONE_SHIFT = {"steps": [{"weight": 10, "bakeSeconds": 1}]}  # one health check (interval 1 s)
LONG_CANARY = {"steps": [{"weight": 10, "bakeSeconds": 3000}]}  # 6 s at 1/500: time to stop it mid-way
# Two checks, 0.3 s apart at 1/500: both later than the window's lag (120 s, 0.24 s here), so each reads metrics.
ANALYSED = {"steps": [{"weight": 10, "bakeSeconds": 300}]}
ACCESS_DENIED = (403, "AccessDeniedException")
PUSHED = "pushed"  # the repository whose pushes of "main" deploy (auto-deploy)


@dataclass
class Run:
    """One scenario run: its own function(s), the executions it started, what it ended with."""

    emulator: Emulator
    name: str
    inbox: Inbox
    executions: set[str] = field(default_factory=set)
    functions: list[str] = field(default_factory=list)
    guards: list = field(default_factory=list)

    def world(self, suffix: str = "", **options):
        name = self.name + suffix
        self.functions.append(name)
        return sample.create_function(self.emulator, name, **options) if options else make_world(self.emulator, name)

    def zip_world(self, suffix: str = ""):
        name = self.name + suffix
        self.functions.append(name)
        return make_zip_world(self.emulator, name)

    def start(self, request: dict, suffix: str = "") -> str:
        arn = self.emulator.start_execution(request, name=self.name + suffix)
        self.executions.add(arn)
        return arn

    def run(self, request: dict, suffix: str = ""):
        return self.emulator.wait(self.start(request, suffix), timeout=60)

    def heard(self, function: str) -> list[str]:
        """The notifications a subscriber heard about ``function`` (each detail-type once, in order)."""
        return list(dict.fromkeys(detail_type for detail_type, _ in notified(self.inbox, function)))

    def guard(self, task: str, operation: str, change: Callable[[], None]) -> None:
        """Let ``change`` happen (as another client) just before ``task`` of this run calls ``operation``."""
        done, run = threading.Event(), self

        def guard(scope, call, context):
            mine = (scope.execution or "").rsplit(":", 1)[-1].startswith(run.name)
            if mine and scope.task == task and call.operation == operation and not done.is_set():
                done.set()
                other = threading.Thread(target=change)
                other.start()
                other.join()
            return None

        self.guards.append(guard)
        self.emulator.api.guards.append(guard)


def settled(world) -> str:
    try:
        return f"on {world.settled_on()}"
    except AssertionError as exc:
        return str(exc).splitlines()[0]


def ended(execution) -> tuple:
    return execution.status, execution.error


# scenarios: each returns what the run ended with -----------------------------------------------------

def deploy_with_glitches(run: Run) -> tuple:
    """A canary with alarms; every mutating task meets one 412 that its target still meets (a glitch)."""
    world = run.world()
    run.emulator.api.inject(*[Fault(PRECONDITION_FAILED, task=task, operation=operation, execution=run.name)
                              for task, operation in (("UpdateCode", "UpdateFunctionCode"),
                                                      ("PublishVersion", "PublishVersion"),
                                                      ("ShiftTraffic", "UpdateAlias"), ("Promote", "UpdateAlias"))])
    execution = run.run(world.request(world.v2, strategy=ONE_SHIFT, checkIntervalSeconds=1, alarms=[world.fn.alarm],
                                      analysis=False))
    return ended(execution), settled(world), recorded(world.fn.name), run.heard(world.fn.name)


def checked_deploy(run: Run) -> tuple:
    """Synthetic invocations of the new version and a hook before traffic moves (both pass), then a canary."""
    world = run.world()
    hook = sample.create_python_function(run.emulator, f"{run.name}-hook",
                                         "def handler(event, context):\n    return {'status': 'pass'}\n")
    execution = run.run(world.request(world.v2, strategy=ONE_SHIFT, checkIntervalSeconds=1, analysis=False,
                                      preTraffic={"invocations": 2}, hooks={"beforeTraffic": hook}))
    return ended(execution), settled(world), [check["phase"] for check in (execution.output or {}).get("checks", [])]


def canary_analysis(run: Run) -> tuple:
    """A canary judged by its metrics; with no traffic it stays Inconclusive, which this request promotes."""
    world = run.world()
    execution = run.run(world.request(world.v2, strategy=ANALYSED, checkIntervalSeconds=150,
                                      analysis={"inconclusive": "promote", "maxExtensions": 0}))
    windows = [visit.output["analysis"]["window"]["to"] is not None for visit in execution.visits()
               if visit.name == "CheckHealth" and not visit.failure]
    return ended(execution), settled(world), windows


def recorded(function: str) -> tuple:
    """The deployment's record and lock: closed and released when the deployment ended cleanly."""
    record = deployments.history(function, limit=1)
    return record[0].get("outcome") if record else None, deployments.holder(function) is None


def first_deployment(run: Run) -> tuple:
    fn = run.world(alias=None)
    v2 = sample.push_image(run.emulator.client("ecr"), fn.name, f"{fn.name}:v2", tag="v2")
    execution = run.run({"function": fn.name, "image": fn.image(v2)})
    return ended(execution), run.emulator.client("lambda").get_alias(FunctionName=fn.name, Name="live")[
        "FunctionVersion"] if execution.status == "SUCCEEDED" else None


def lock_taken_meanwhile(run: Run) -> tuple:
    """Another deployment takes the lock between Resolve and Lock: this one stops and names it."""
    world = run.world()
    other = f"arn:aws:states:us-east-1:123456789012:execution:lambda-deployer:{run.name}-other"
    run.guard("Lock", "PutItem", lambda: deployments.acquire(world.fn.name, other, deployments.now(), {}))
    execution = run.run(world.request(world.v2))
    return ended(execution), f"{run.name}-other" in (execution.cause or "")


def rollback_after_a_failure(run: Run) -> tuple:
    world = run.world()
    run.emulator.api.inject(Fault(ACCESS_DENIED, task="Promote", operation="UpdateAlias", times=None,
                                  execution=run.name))
    execution = run.run(world.request(world.v2, strategy=ONE_SHIFT, checkIntervalSeconds=1, analysis=False))
    return ended(execution), settled(world), deployments.holder(world.fn.name) is None, run.heard(world.fn.name)


def stopped_then_rescued(run: Run) -> tuple:
    """StopExecution runs no Catch; the rescue (invoked as its EventBridge rule would) restores."""
    world = run.world()
    arn = run.start(world.request(world.v2, strategy=LONG_CANARY, checkIntervalSeconds=60, analysis=False))
    wait_for(world.weights, what="the canary")
    run.emulator.client("stepfunctions").stop_execution(executionArn=arn)
    stopped = run.emulator.wait(arn)
    answer = rescue(run, stopped)
    result = json.loads(answer["Payload"].read())
    return (answer.get("FunctionError"), result.get("rescued"), settled(world), deployments.holder(world.fn.name),
            run.heard(world.fn.name))


def rescue(run: Run, stopped) -> dict:
    """Invoke the rescue with the status-change event its EventBridge rule would deliver for ``stopped``."""
    return run.emulator.client("lambda").invoke(FunctionName=run.emulator.function_arns["Rescue"], Payload=json.dumps(
        {"detail": {"status": stopped.status, "executionArn": stopped.arn, "input": json.dumps(stopped.input)}}))


def locks_freed(run: Run) -> int | str:
    """How many locks a reconciler run freed, or why it failed."""
    try:
        return len(run.emulator.reconcile()["freedLocks"])
    except RuntimeError as exc:
        return str(exc)


def reconciled(run: Run) -> tuple:
    """A lock left by a stopped execution whose rescue was lost, and an alias left weighted by hand."""
    stale = run.world()
    arn = run.start(stale.request(stale.v2, strategy=LONG_CANARY, checkIntervalSeconds=60, analysis=False))
    wait_for(stale.weights, what="the canary")
    run.emulator.client("stepfunctions").stop_execution(executionArn=arn)
    run.emulator.wait(arn)
    weighted = run.world("-weighted")
    lam = run.emulator.client("lambda")
    lam.update_function_code(FunctionName=weighted.fn.name, ImageUri=weighted.fn.image(weighted.v2))
    lam.publish_version(FunctionName=weighted.fn.name)
    lam.update_alias(FunctionName=weighted.fn.name, Name="live", RoutingConfig={"AdditionalVersionWeights": {"2": .4}})
    try:
        report = run.emulator.reconcile()
    except RuntimeError as exc:
        report = {"failed": str(exc)}
    return (json.dumps(report, sort_keys=True), settled(stale), settled(weighted), run.heard(stale.fn.name),
            run.heard(weighted.fn.name))


def rollback_requests(run: Run) -> tuple:
    """A rollback to the version before (found in the history), then one mid-canary (stopping the deployment)."""
    world = run.world()
    first = run.run(world.request(world.v2), "-a")
    to_previous = run.run({"action": "rollback", "function": world.fn.name}, "-b")
    canary = run.start(world.request(world.v3, strategy=LONG_CANARY, checkIntervalSeconds=60, analysis=False), "-c")
    wait_for(world.weights, what="the canary")
    mid_canary = run.run({"action": "rollback", "function": world.fn.name}, "-d")
    return ended(first), ended(to_previous), ended(mid_canary), run.emulator.wait(canary).status, settled(world)


def alarm_fired(run: Run) -> tuple:
    """A watched alarm goes to ALARM mid-canary: its own event starts the rollback that stops the deployment
    (the first check would come only at the end of the bake)."""
    world = run.world()
    arn = run.start(world.request(world.v2, strategy=LONG_CANARY, checkIntervalSeconds=3000, alarms=[world.fn.alarm]))
    wait_for(world.weights, what="the canary")
    rollback = f"{arn.rsplit(':', 1)[0]}:{alarm_events.rollback_name(world.fn.name, arn)}"
    world.set_alarm("ALARM")
    deployment = run.emulator.wait(arn, timeout=60)
    try:
        rolled_back = ended(run.emulator.wait(rollback, timeout=60))
        run.executions.add(rollback)  # its calls are this run's
    except ClientError:  # never started
        rolled_back = None
    return ended(deployment), rolled_back, settled(world)


def image_tags(execution) -> tuple:
    """Which versions' image tags a prune added, removed, or could not add or remove."""
    report = (execution.output or {}).get("imageTags") or {}
    return tuple(sorted(report.get(key) or {}) for key in ("tagged", "untagged", "left"))


def preview_then_prune(run: Run) -> tuple:
    """A preview of a branch, a dry run of a prune, the prune (which tags the kept versions' images), then the
    preview's deletion (alias and version, whose tag goes: its image keeps the tag it was pushed with)."""
    world = run.world()
    lam = run.emulator.client("lambda")
    lam.update_function_code(FunctionName=world.fn.name, ImageUri=world.fn.image(world.v3))
    lam.publish_version(FunctionName=world.fn.name)  # version 2: unused once $LATEST is back on version 1
    previewed = run.run(world.request(world.v2, preview="feature/x"), "-a")  # version 3
    prune = {"action": "prune", "function": world.fn.name, "keep": 1}
    dry = run.run({**prune, "dryRun": True}, "-b")
    pruned = run.run(prune, "-c")
    deleted = run.run({"action": "deletePreview", "function": world.fn.name, "preview": "feature/x"}, "-d")
    return (ended(previewed), ended(dry), ended(pruned), (pruned.output or {}).get("deleted"), image_tags(pruned),
            ended(deleted), image_tags(deleted), sorted(world.versions()), settled(world))


def preview_alias_exists(world, branch: str) -> bool:
    aliases = world.emulator.client("lambda").list_aliases(FunctionName=world.fn.name)["Aliases"]
    return any(found["Name"] == previews.alias_for(branch) for found in aliases)


def failed_preview(run: Run) -> tuple:
    """PointPreview's Lambda dies after creating the branch's alias, every time: Rollback deletes the alias."""
    world = run.world()
    run.emulator.api.inject(Crash("Promote", after=True, times=None, execution=run.name))
    execution = run.run(world.request(world.v2, preview="feature/x"))
    return ended(execution), settled(world), preview_alias_exists(world, "feature/x")


def stop_after_pointing(run: Run) -> None:
    """Stop each of this run's previews once PointPreview has created its alias (at its notification)."""
    stopped, sfn = set(), run.emulator.client("stepfunctions")

    def guard(scope, call, context):
        mine = (scope.execution or "").rsplit(":", 1)[-1].startswith(run.name)
        if mine and (scope.task, call.operation) == ("Promote", "PutEvents") and scope.execution not in stopped:
            stopped.add(scope.execution)
            other = threading.Thread(target=lambda: sfn.stop_execution(executionArn=scope.execution))
            other.start()
            other.join()
        return None

    run.guards.append(guard)
    run.emulator.api.guards.append(guard)


def preview_stopped_then_rescued_and_reconciled(run: Run) -> tuple:
    """Two previews stopped after creating their alias: one rescued (as its EventBridge rule would), the other's
    lock left for the reconciler; both delete the alias the stopped preview created."""
    rescued, reconciled = run.world("-r"), run.world("-s")
    stop_after_pointing(run)
    outcomes = []
    for world, suffix in ((rescued, "-r"), (reconciled, "-s")):
        stopped = run.emulator.wait(run.start(world.request(world.v2, preview="feature/x"), suffix))
        if world is rescued:
            outcomes.append(rescue(run, stopped).get("FunctionError"))
    outcomes.append(locks_freed(run))
    return (*outcomes, settled(rescued), settled(reconciled), preview_alias_exists(rescued, "feature/x"),
            preview_alias_exists(reconciled, "feature/x"))


GATED = {"steps": [{"weight": 10, "bakeSeconds": 0}, {"approval": True}, {"weight": 50, "bakeSeconds": 0}]}


def approved(run: Run) -> tuple:
    """A gate between two steps: its token on the lock, Approval Needed, the watch's check and heartbeat, then a
    person's approval (the token answered as the CLI does)."""
    world = run.world()
    arn = run.start(world.request(world.v2, strategy=GATED, checkIntervalSeconds=500, alarms=[world.fn.alarm],
                                  approvalTimeoutSeconds=1000))
    sfn = run.emulator.client("stepfunctions")

    def watched_or_ended() -> bool:
        execution = run.emulator.describe(arn)
        return execution.status != "RUNNING" or any(v.name == "WatchApproval" for v in execution.visits())

    wait_for(watched_or_ended, timeout=30, what="a check while waiting")
    lock = deployments.holder(world.fn.name)
    token = ((lock.approval if lock else None) or {}).get("taskToken")
    if token and run.emulator.describe(arn).status == "RUNNING":
        with contextlib.suppress(ClientError):
            sfn.send_task_success(taskToken=token, output="{}")
    return ended(run.emulator.wait(arn, timeout=60)), settled(world), run.heard(world.fn.name)


def push(run: Run) -> tuple:
    """A push of ``main`` deploys the function that tracks it (FindTrackingFunctions, then a child)."""
    fn = run.world(repository=PUSHED, tags={tags.TRACK: f"{PUSHED}:main"})
    before = set(executions(run.emulator))
    sample.push_image(run.emulator.client("ecr"), PUSHED, f"{run.name}:v2", tag="main")

    def router():
        started = [run.emulator.describe(arn) for arn in executions(run.emulator) - before]
        return next((e.arn for e in started if e.input.get("source") == "aws.ecr"), None)

    arn = wait_for(router, what="the push's execution")
    run.executions.add(arn)
    execution = run.emulator.wait(arn)
    children = (execution.output or {}).get("deployments", [])
    return ended(execution), [(c["function"], c["status"]) for c in children] == [(fn.name, "SUCCEEDED")]


def zip_deploy(run: Run) -> tuple:
    """A zip canary from a pinned object version, on an alias with provisioned concurrency (each shift waits for
    it): S3 reads in Resolve, the copy onto the function-named key, the update from S3."""
    world = run.zip_world()
    run.emulator.client("lambda").put_provisioned_concurrency_config(
        FunctionName=world.fn.name, Qualifier="live", ProvisionedConcurrentExecutions=2)
    version = run.emulator.client("s3").head_object(Bucket=world.fn.bucket, Key=world.fn.release("v2"))["VersionId"]
    execution = run.run(world.request(f"{world.v2}?versionId={version}", strategy=ONE_SHIFT, checkIntervalSeconds=1,
                                      analysis=False))
    return ended(execution), settled(world)


def zip_rollback_after_a_failure(run: Run) -> tuple:
    """Promotion refused: the rollback copies the stable package back onto the key and updates $LATEST from it."""
    world = run.zip_world()
    run.emulator.api.inject(Fault(ACCESS_DENIED, task="Promote", operation="UpdateAlias", times=None,
                                  execution=run.name))
    execution = run.run(world.request(world.v2, strategy=ONE_SHIFT, checkIntervalSeconds=1, analysis=False))
    return ended(execution), settled(world)


def zip_rollback_request(run: Run) -> tuple:
    """Back to the IaC's package after a deployment: ResolveRollback checks it is still in S3."""
    world = run.zip_world()
    first = run.run(world.request(world.v2, analysis=False), "-a")
    back = run.run({"action": "rollback", "function": world.fn.name}, "-b")
    return ended(first), ended(back), settled(world)


def zip_stopped_then_rescued_and_reconciled(run: Run) -> tuple:
    """Two zip canaries stopped mid-way: one rescued (as its EventBridge rule would), the other's lock left for
    the reconciler; both restore the key and $LATEST from S3."""
    rescued, reconciled = run.zip_world("-r"), run.zip_world("-s")
    outcomes = []
    for world, suffix in ((rescued, "-r"), (reconciled, "-s")):
        arn = run.start(world.request(world.v2, strategy=LONG_CANARY, checkIntervalSeconds=60, analysis=False), suffix)
        wait_for(world.weights, what="the canary")
        run.emulator.client("stepfunctions").stop_execution(executionArn=arn)
        stopped = run.emulator.wait(arn)
        if world is rescued:
            outcomes.append(rescue(run, stopped).get("FunctionError"))
    outcomes.append(locks_freed(run))
    return *outcomes, settled(rescued), settled(reconciled)


def executions(emulator: Emulator) -> set[str]:
    pages = emulator.client("stepfunctions").get_paginator("list_executions").paginate(
        stateMachineArn=emulator.state_machine_arn)
    return {e["executionArn"] for page in pages for e in page["executions"]}


SCENARIOS: dict[str, Callable[[Run], tuple]] = {  # cheapest first: a permission is tried in the first that uses it
    "deploy": deploy_with_glitches,
    "checks": checked_deploy,
    "canary analysis": canary_analysis,
    "first deployment": first_deployment,
    "lock taken meanwhile": lock_taken_meanwhile,
    "rollback after a failure": rollback_after_a_failure,
    "stopped, then rescued": stopped_then_rescued,
    "reconciler": reconciled,
    "rollback requests": rollback_requests,
    "alarm fired": alarm_fired,
    "preview, then prune": preview_then_prune,
    "failed preview": failed_preview,
    "preview stopped, rescued and reconciled": preview_stopped_then_rescued_and_reconciled,
    "approval": approved,
    "push": push,
    "zip deploy": zip_deploy,
    "zip rollback after a failure": zip_rollback_after_a_failure,
    "zip rollback request": zip_rollback_request,
    "zip, stopped, rescued and reconciled": zip_stopped_then_rescued_and_reconciled,
}
STARTED, SHIFTED, PROMOTED = "Deployment Started", "Traffic Shifted", "Deployment Promoted"
ROLLED_BACK, RESCUED = "Deployment Rolled Back", "Deployment Rescued"
EXPECTED = {  # what each scenario ends with when every permission is there
    "deploy": (("SUCCEEDED", None), "on 2", ("deployed", True), [STARTED, SHIFTED, PROMOTED]),
    "checks": (("SUCCEEDED", None), "on 2", ["beforeTraffic"]),
    "canary analysis": (("SUCCEEDED", None), "on 2", [True, True]),
    "first deployment": (("SUCCEEDED", None), "2"),  # version 1 was published with the function, unaliased
    "lock taken meanwhile": (("FAILED", "DeploymentInProgress"), True),
    "rollback after a failure": (("FAILED", "DeploymentRolledBack"), "on 1", True, [STARTED, SHIFTED, ROLLED_BACK]),
    "stopped, then rescued": (None, True, "on 1", None, [STARTED, SHIFTED, RESCUED]),
    "reconciler": ("on 1", "on 1", [STARTED, SHIFTED, RESCUED], [RESCUED]),  # after the report, checked below
    "rollback requests": (("SUCCEEDED", None), ("SUCCEEDED", None), ("SUCCEEDED", None), "ABORTED", "on 1"),
    "alarm fired": (("ABORTED", None), ("SUCCEEDED", None), "on 1"),
    "preview, then prune": (("SUCCEEDED", None), ("SUCCEEDED", None), ("SUCCEEDED", None), ["2"],
                            (["1", "3"], [], []), ("SUCCEEDED", None), ([], ["3"], []), ["1"], "on 1"),
    "failed preview": (("FAILED", "DeploymentRolledBack"), "on 1", False),
    "preview stopped, rescued and reconciled": (None, 1, "on 1", "on 1", False, False),
    "approval": (("SUCCEEDED", None), "on 2", [STARTED, SHIFTED, "Approval Needed", PROMOTED]),
    "push": (("SUCCEEDED", None), True),
    "zip deploy": (("SUCCEEDED", None), "on 2"),
    "zip rollback after a failure": (("FAILED", "DeploymentRolledBack"), "on 1"),
    "zip rollback request": (("SUCCEEDED", None), ("SUCCEEDED", None), "on 1"),
    "zip, stopped, rescued and reconciled": (None, 1, "on 1", "on 1"),
}


@dataclass
class Result:
    ended: tuple  # what the scenario returned
    outcome: str  # the same, with the run's own names taken out: comparable between runs
    used: set[tuple[str, str]]  # (task, action) allowed in the run
    denied: set[tuple[str, str]]


class Sweep:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.inbox = notifications_inbox(emulator)
        self._runs = itertools.count()

    def run(self, scenario: str) -> Result:
        run = Run(self.emulator, f"{scenario.split(',')[0].replace(' ', '-')}-{next(self._runs)}", self.inbox)
        start = len(self.emulator.iam.decisions)
        try:
            ended = SCENARIOS[scenario](run)
        finally:
            self._clean_up(run)
        mine = [d for d in self.emulator.iam.decisions[start:] if d.execution is None or d.execution in run.executions]
        return Result(ended, json.dumps(ended, default=str).replace(run.name, "<run>"),
                      {(d.task, d.need.action) for d in mine if d.allowed},
                      {(d.task, d.need.action) for d in mine if not d.allowed})

    def _clean_up(self, run: Run) -> None:
        """Nothing of this run may touch the next: stop its executions, free its locks, untag its functions."""
        for guard in run.guards:
            self.emulator.api.guards.remove(guard)
        sfn, lam = self.emulator.client("stepfunctions"), self.emulator.client("lambda")
        for arn in run.executions:
            if sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
                sfn.stop_execution(executionArn=arn)
        for name in run.functions:
            if (lock := deployments.holder(name)) is not None:
                deployments.release(name, lock.execution)
            arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
            lam.untag_resource(Resource=arn, TagKeys=[tags.MANAGED, tags.TRACK, tags.HOOK])

    @functools.cached_property
    def baseline(self) -> dict[str, Result]:
        return {scenario: self.run(scenario) for scenario in SCENARIOS}

    def scenario_using(self, task: str, action: str) -> str | None:
        return next((name for name, result in self.baseline.items() if (task, action) in result.used), None)


@pytest.fixture(scope="module")
def sweep():
    with Emulator(time_scale=0.002, auto_deploy={PUSHED: ["main"]}) as emulator:
        # The rescue is invoked by the scenario that needs it, not by EventBridge behind every run's back.
        emulator.client("events").remove_targets(Rule=f"{emulator.state_machine_name}-execution-ended",
                                                 Ids=["deployer"])
        emulator.client("ecr").create_repository(repositoryName=PUSHED)
        yield Sweep(emulator)


GRANTED = sorted({(task, action) for task, allows in permissions.TASK_PERMISSIONS.items()
                  for allow in allows for action in allow.actions})


def test_with_the_table_as_it_is_every_scenario_ends_as_it_should_and_nothing_is_refused(sweep):
    for scenario, result in sweep.baseline.items():
        ended = result.ended[1:] if scenario == "reconciler" else result.ended
        assert ended == EXPECTED[scenario], f"{scenario}: {result.ended}"
        assert result.denied == set(), f"{scenario}: refused {result.denied}"
    report = json.loads(sweep.baseline["reconciler"].ended[0])
    assert len(report["freedLocks"]) == 1 and len(report["repairedAliases"]) == 1 and report["problems"] == []


def without(allows: tuple[Allow, ...], action: str) -> tuple[Allow, ...]:
    return tuple(Allow(allow.scope, *(a for a in allow.actions if a != action)) for allow in allows)


@pytest.mark.parametrize(("task", "action"), GRANTED, ids=[f"{task}-{action}" for task, action in GRANTED])
def test_each_permission_is_needed(sweep, monkeypatch, task, action):
    scenario = sweep.scenario_using(task, action)
    assert scenario, f"{task} is granted {action} but no scenario uses it: drop it, or add the scenario that needs it"
    monkeypatch.setitem(permissions.TASK_PERMISSIONS, task, without(permissions.TASK_PERMISSIONS[task], action))

    result = sweep.run(scenario)

    assert (task, action) in result.denied, f"{scenario} ran without {task} calling {action}"
    assert result.outcome != sweep.baseline[scenario].outcome, f"{scenario} ended as usual without {action}"


ON_SEVERAL_SCOPES = sorted({(task, allow.scope.name, action) for task, allows in permissions.TASK_PERMISSIONS.items()
                            for allow in allows for action in allow.actions
                            if sum(action in other.actions for other in allows) > 1})


@pytest.mark.parametrize(("task", "scope", "action"), ON_SEVERAL_SCOPES,
                         ids=[f"{task}-{action}-{scope}" for task, scope, action in ON_SEVERAL_SCOPES])
def test_an_action_granted_on_several_scopes_is_needed_on_each(sweep, monkeypatch, task, scope, action):
    """RunChecks invokes the managed function's new version and the request's hook: two statements, one action."""
    scenario = sweep.scenario_using(task, action)
    narrowed = tuple(Allow(allow.scope, *(a for a in allow.actions if a != action or allow.scope.name != scope))
                     for allow in permissions.TASK_PERMISSIONS[task])
    monkeypatch.setitem(permissions.TASK_PERMISSIONS, task, narrowed)

    result = sweep.run(scenario)

    assert (task, action) in result.denied, f"{scenario} ran without {task} calling {action} on {scope}"
    assert result.outcome != sweep.baseline[scenario].outcome, f"{scenario} ended as usual without {action} on {scope}"
