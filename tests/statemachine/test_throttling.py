"""The deployer lives within the account's request quotas: throttled calls are retried (the clients' adaptive
retries inside a task, the state machine's Retry beyond them) and every deployment ends in the invariant."""

from __future__ import annotations

from support import World, make_world, wait_for

from deployer.local import sample
from deployer.local.emulator import Emulator
from deployer.local.quotas import LAMBDA_CONTROL_PLANE, Quota, Quotas, quota_for
from handlers.aws import deployments as deployments_table

FLEET = 20


def crowded(service: str, operation: str, region: str) -> Quota | None:
    """AWS's quotas, but a Lambda control plane with 2 requests/s left (AWS: 15/s), as when other tools of the
    account spend most of it: any two calls of a step within half a second meet throttling."""
    quota = quota_for(service, operation, region)
    return Quota(LAMBDA_CONTROL_PLANE, size=1, refill=2) if quota and quota.group == LAMBDA_CONTROL_PLANE else quota


def test_a_deployment_on_a_crowded_control_plane_retries_its_throttled_calls_and_succeeds():
    with Emulator(time_scale=0.05, quotas=Quotas(table=crowded)) as emulator:
        world = make_world(emulator)
        started = emulator.quotas.clock()

        execution = emulator.run(world.request(world.v2, strategy="Canary50Percent1Second", checkIntervalSeconds=1,
                                               alarms=[world.fn.alarm], analysis=False), timeout=120)

        assert execution.status == "SUCCEEDED", execution.cause
        assert world.settled_on() == "2" and world.versions() == ["1", "2"]
        throttled = [r for r in emulator.quotas.requests(LAMBDA_CONTROL_PLANE, since=started)
                     if not r.admitted and r.caller]
        assert throttled  # the deployment's tasks were throttled, and recovered


def test_one_push_deploys_a_fleet_of_twenty_and_every_function_ends_in_the_invariant():
    """The acceptance of issue 8: 20 functions tracking one tag, one push, AWS's quotas on."""
    with Emulator(auto_deploy={"shop": ["main"]}, time_scale=0.05, quotas=True) as emulator:
        fleet = sample.create_fleet(emulator, FLEET, repository="shop", track="main", analysis=False)
        digest = sample.push_image(emulator.client("ecr"), "shop", "shop:v2", tag="main")
        sfn = emulator.client("stepfunctions")
        listed = wait_for(lambda: sfn.list_executions(stateMachineArn=emulator.state_machine_arn)["executions"],
                          timeout=30, every=0.5, what="the push's execution")  # ListExecutions: 5 tokens/s

        push = emulator.wait(min(listed, key=lambda e: e["startDate"])["executionArn"], timeout=300)

        assert push.status == "SUCCEEDED", push.cause
        deployments = {d["function"]: d["status"] for d in push.output["deployments"]}
        assert deployments == {fn.name: "SUCCEEDED" for fn in fleet}
        for fn in fleet:
            world = World(emulator, fn, "", digest, "")
            assert world.settled_on() == "2" and world.version_digest("2") == digest, fn.name
            assert deployments_table.holder(fn.name) is None, fn.name  # and no lock left


def test_a_prune_faster_than_the_control_plane_allows_is_throttled_and_still_deletes_every_version():
    """Waits at 1/20 make the pause between batches 50 ms, so the prune asks for more than the 15 requests/s
    Lambda allows: its throttled deletions are tried again after the pause, and it ends with nothing left."""
    with Emulator(time_scale=0.05, quotas=True) as emulator:
        world = make_world(emulator)
        lam, ecr = emulator.client("lambda"), emulator.client("ecr")
        for index in range(59):
            digest = sample.push_image(ecr, world.fn.repository, f"orders-api:p{index}")
            lam.update_function_code(FunctionName=world.fn.name, ImageUri=world.fn.image(digest))
            lam.publish_version(FunctionName=world.fn.name)
        started = emulator.quotas.clock()

        execution = emulator.run({"action": "prune", "function": world.fn.name, "keep": 1}, timeout=300)

        assert execution.status == "SUCCEEDED", execution.cause
        assert len(execution.output["deleted"]) == 58 and sorted(world.versions(), key=int) == ["1", "60"]
        throttled = [r for r in emulator.quotas.requests(LAMBDA_CONTROL_PLANE, since=started)
                     if not r.admitted and r.caller == "Prune"]
        assert throttled, "the prune never met throttling: the test proves nothing"
