"""Preview deployments on the emulator: a branch's version behind its own alias, production untouched."""

from __future__ import annotations

import threading

import pytest
from support import notifications_inbox, notified, wait_for

from deployer.local.faults import Crash, Fault
from handlers.aws import deployments
from handlers.domain import previews


def preview(world, digest: str, branch: str = "feature/login", **extra):
    return world.emulator.run(world.request(digest, preview=branch, **extra))


def production(world) -> tuple[str, dict, str | None, str | None]:
    alias = world.alias()
    return alias["FunctionVersion"], world.weights(), world.tag_digest(), world.latest_digest()


def preview_alias(world, branch: str = "feature/login") -> dict | None:
    return world.preview_alias(branch)


def meanwhile(world, task: str, operation: str, change) -> None:
    """``change`` (as another client) just before ``task`` first calls ``operation``."""
    done = threading.Event()

    def guard(scope, call, context):
        if scope.task == task and call.operation == operation and not done.is_set():
            done.set()
            other = threading.Thread(target=change)
            other.start()
            other.join()
        return None

    world.emulator.api.guards.append(guard)


def test_a_preview_publishes_behind_the_branchs_alias_and_production_stays_as_it_was(world):
    before = production(world)

    execution = preview(world, world.v2)

    assert execution.status == "SUCCEEDED", execution.cause
    alias = previews.alias_for("feature/login")
    found = world.emulator.client("lambda").get_alias(FunctionName=world.fn.name, Name=alias)
    assert found["FunctionVersion"] == "2" and world.version_digest("2") == world.v2
    assert previews.branch_of(found) == "feature/login"
    assert production(world) == before == ("1", {}, world.v1, world.v1)
    assert execution.output["outcome"] == "previewed" and execution.output["preview"] == "feature/login"
    assert (execution.output["alias"], execution.output["version"]) == (alias, "2")
    assert deployments.holder(world.fn.name) is None
    assert deployments.history(world.fn.name)[0]["outcome"] == "previewed"
    # production's alias is never written, nor the function-name tag moved
    writes = [(c.operation, c.params.get("Name")) for c in world.emulator.api.calls_of(execution.arn, mutating=True)
              if c.service in ("lambda", "ecr")]
    assert ("UpdateAlias", world.fn.alias) not in writes and ("PutImage", None) not in writes
    assert [op for op, _ in writes] == ["UpdateFunctionCode", "PublishVersion", "UpdateFunctionCode", "CreateAlias"]


def test_a_successful_preview_announces_its_start_and_its_alias_and_no_rollback(world):
    """ReleaseLatest is the Rollback function handing $LATEST back: on the way to success it announces nothing."""
    inbox = notifications_inbox(world.emulator)
    execution = preview(world, world.v2)
    assert execution.status == "SUCCEEDED", execution.cause
    heard = wait_for(lambda: [kind for kind, _ in notified(inbox, world.fn.name)] or None, what="the notifications")
    assert heard == ["Deployment Started", "Deployment Promoted"]
    assert [c.operation for c in world.emulator.api.calls_of(execution.arn) if c.task == "Rollback"] == [
        "BatchGetImage", "GetFunction", "UpdateFunctionCode"]


def test_the_next_preview_of_the_branch_moves_its_alias_and_a_production_deploy_follows_unhindered(world):
    assert preview(world, world.v2).status == "SUCCEEDED"

    again = preview(world, world.v3)
    assert again.status == "SUCCEEDED", again.cause
    assert (again.output["version"], again.output["previousVersion"]) == ("3", "2")
    assert production(world) == ("1", {}, world.v1, world.v1)

    deployed = world.emulator.run(world.request(world.v3))
    assert deployed.status == "SUCCEEDED", deployed.cause
    assert world.settled_on() == deployed.output["version"]
    assert world.tag_digest() == world.v3


def test_previewing_what_the_branch_already_serves_changes_nothing(world):
    preview(world, world.v2)
    execution = preview(world, world.v2)
    assert execution.output["outcome"] == "unchanged" and execution.output["version"] == "2"
    assert world.writes(execution) == []


@pytest.mark.parametrize("branch", ["release/2.4.1", "dependabot/npm_and_yarn/lodash-4.17.21", "UPPER.case"])
def test_branch_names_with_slashes_and_dots_give_valid_aliases_that_lambda_accepts(world, branch):
    execution = preview(world, world.v2, branch)
    assert execution.status == "SUCCEEDED", execution.cause
    names = [a["Name"] for a in world.emulator.client("lambda").list_aliases(FunctionName=world.fn.name)["Aliases"]]
    assert previews.alias_for(branch) in names


def test_a_preview_that_fails_after_publishing_hands_latest_back_to_production(world):
    """The preview alias cannot be written: Rollback puts $LATEST back on version 1's image; the production alias
    and the tag were never touched."""
    world.emulator.api.inject(Fault((403, "AccessDeniedException"), task="Promote", operation="CreateAlias",
                                    times=None))
    execution = preview(world, world.v2)

    assert (execution.status, execution.error) == ("FAILED", "DeploymentRolledBack")
    assert world.settled_on() == "1"
    assert deployments.holder(world.fn.name) is None


# PointPreview's Lambda dies after each of its writes (retried, then caught): the preview fails with its alias moved.
DIES_AFTER_POINTING = Crash("Promote", after=True, times=None)


def test_a_first_preview_that_fails_after_creating_its_alias_deletes_it(fast_world):
    fast_world.emulator.api.inject(DIES_AFTER_POINTING)
    execution = preview(fast_world, fast_world.v2)

    assert (execution.status, execution.error) == ("FAILED", "DeploymentRolledBack"), execution.cause
    assert DIES_AFTER_POINTING.fired and preview_alias(fast_world) is None
    assert f"preview alias {previews.alias_for('feature/login')} deleted" in execution.cause
    assert production(fast_world) == ("1", {}, fast_world.v1, fast_world.v1)
    assert deployments.holder(fast_world.fn.name) is None


def test_a_preview_that_fails_after_moving_its_alias_puts_it_back_on_the_version_before(fast_world):
    assert preview(fast_world, fast_world.v2).status == "SUCCEEDED"
    crash = Crash("Promote", after=True, times=None)
    fast_world.emulator.api.inject(crash)
    execution = preview(fast_world, fast_world.v3)

    assert (execution.status, execution.error) == ("FAILED", "DeploymentRolledBack"), execution.cause
    assert crash.fired and preview_alias(fast_world)["FunctionVersion"] == "2"
    assert fast_world.version_digest("3") == fast_world.v3  # version 3 was published, and is not behind the alias
    assert production(fast_world) == ("1", {}, fast_world.v1, fast_world.v1)
    assert deployments.holder(fast_world.fn.name) is None


@pytest.mark.parametrize("operation", ["GetAlias", "UpdateAlias"])
def test_a_change_a_person_makes_to_the_preview_alias_meanwhile_is_kept(fast_world, operation):
    """Someone points the branch's alias at version 1 just before Rollback reads it, or between its read and its
    write (that UpdateAlias carries the RevisionId read, so Lambda refuses it): the person's version stays."""
    assert preview(fast_world, fast_world.v2).status == "SUCCEEDED"
    name = previews.alias_for("feature/login")
    lam = fast_world.emulator.client("lambda")
    meanwhile(fast_world, "Rollback", operation,
              lambda: lam.update_alias(FunctionName=fast_world.fn.name, Name=name, FunctionVersion="1"))
    fast_world.emulator.api.inject(Crash("Promote", after=True, times=None))
    execution = preview(fast_world, fast_world.v3)

    assert (execution.status, execution.error) == ("FAILED", "DeploymentRolledBack"), execution.cause
    assert preview_alias(fast_world)["FunctionVersion"] == "1"
    assert "as changed outside this preview" in execution.cause
    assert production(fast_world) == ("1", {}, fast_world.v1, fast_world.v1)


@pytest.mark.parametrize("rescue_lost", [False, True], ids=["rescued", "reconciled"])
def test_a_preview_stopped_after_pointing_its_alias_is_undone_by_the_rescue_or_the_reconciler(fast_world,
                                                                                                rescue_lost):
    """StopExecution runs no Catch: the rescue (the execution's end event), or the reconciler for the lock it left
    when the rescue is lost, deletes the alias the stopped preview created."""
    emulator, arn = fast_world.emulator, []
    sfn = emulator.client("stepfunctions")
    meanwhile(fast_world, "Promote", "PutEvents", lambda: sfn.stop_execution(executionArn=arn[0]))  # after CreateAlias
    lost = Crash("Rescue", times=None)
    if rescue_lost:
        emulator.api.inject(lost)
    arn.append(emulator.start_execution(fast_world.request(fast_world.v2, preview="feature/login")))

    assert emulator.wait(arn[0]).status == "ABORTED"
    assert [c.fault for c in emulator.api.calls_of(arn[0]) if c.operation == "CreateAlias"] == [None]  # it landed
    if rescue_lost:
        wait_for(lambda: lost.fired, what="the rescue to be lost")
        report = emulator.reconcile()
        assert report["freedLocks"] == [fast_world.fn.name], report
    wait_for(lambda: deployments.holder(fast_world.fn.name) is None, what="the lock to be released")
    assert preview_alias(fast_world) is None
    deleted_by = [c.task for c in emulator.api.calls_of() if c.operation == "DeleteAlias" and c.fault is None]
    assert deleted_by == ["Reconcile" if rescue_lost else "Rescue"]
    assert production(fast_world) == ("1", {}, fast_world.v1, fast_world.v1)
    assert deployments.history(fast_world.fn.name)[0]["outcome"] == "aborted"


def test_a_preview_request_is_validated_before_any_mutation(world):
    refused = [
        world.emulator.run(world.request(world.v2, preview="feature/x", strategy="Canary10Percent5Minutes")),
        world.emulator.run(world.request(world.v2, preview="", alarms=[world.fn.alarm])),
        world.emulator.run(world.request(world.v2, preview="x" * 300)),
    ]
    for execution in refused:
        assert execution.error == "InvalidDeploymentRequest", execution.cause
        assert world.writes(execution) == [] and not world.emulator.api.calls_of(execution.arn, mutating=True)
    assert "strategy" in refused[0].cause and "alarms" in refused[1].cause


def test_a_preview_holds_the_functions_lock_while_it_runs(world):
    """A production deployment started while the preview points its alias is refused, naming the preview."""
    blocked = []

    def deploy_meanwhile(scope, call, context):
        if scope.task == "Promote" and call.operation == "CreateAlias" and not blocked:
            blocked.append(None)
            thread = threading.Thread(target=lambda: blocked.append(world.emulator.run(world.request(world.v3))))
            thread.start()
            thread.join()
        return None

    world.emulator.api.guards.append(deploy_meanwhile)
    execution = preview(world, world.v2, "feature/slow")

    assert execution.status == "SUCCEEDED", execution.cause
    assert blocked[1].error == "DeploymentInProgress" and execution.name in blocked[1].cause
    assert world.settled_on() == "1"
