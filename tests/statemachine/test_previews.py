"""Preview deployments on the emulator: a branch's version behind its own alias, production untouched."""

from __future__ import annotations

import threading

import pytest
from support import notifications_inbox, notified, wait_for

from deployer.local.faults import Fault
from handlers.aws import deployments
from handlers.domain import previews


def preview(world, digest: str, branch: str = "feature/login", **extra):
    return world.emulator.run(world.request(digest, preview=branch, **extra))


def production(world) -> tuple[str, dict, str | None, str | None]:
    alias = world.alias()
    return alias["FunctionVersion"], world.weights(), world.tag_digest(), world.latest_digest()


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
