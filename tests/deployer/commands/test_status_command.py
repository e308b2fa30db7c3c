"""``lambda-deployer status``: what the alias serves, and the deployment running now."""

from __future__ import annotations

from support import wait_for

from deployer.cli import EXIT_FAILED, EXIT_OK


def test_status_shows_the_split_and_the_running_deployment(fast_world, cli):
    world = fast_world  # waits at 1/20: the 30-minute canary bakes for 90 s, checked every 3 s; the rollback ends it
    running = world.emulator.start_execution(world.request(world.v2, strategy="Canary10Percent30Minutes",
                                                           analysis=False, checkIntervalSeconds=60,
                                                           alarms=[world.fn.alarm]))
    wait_for(lambda: "CheckHealth" in world.emulator.describe(running).states_entered(), what="the canary's bake")

    done = cli("--output", "json", "status", "orders-api")
    text = cli("status", "orders-api")
    world.emulator.run({"action": "rollback", "function": "orders-api"})  # ends the canary now

    assert done.code == EXIT_OK, done.err
    status = done.json()
    assert status["versions"] == [{"version": "1", "percent": 90.0, "digest": world.v1},
                                  {"version": "2", "percent": 10.0, "digest": world.v2}]
    assert (status["latestDigest"], status["tagDigest"], status["settled"]) == (world.v2, world.v2, False)
    assert status["running"]["execution"] == running and status["running"]["weight"] == 10
    assert status["running"]["now"].startswith(("CheckHealth", "NextStep", "Bake"))
    assert "running: deploy" in text.out and "10% on version 2 (step 1 of 1)" in text.out


def test_status_of_a_function_without_the_alias_exits_1(fast_world, cli):
    done = cli("status", "orders-api", "--alias", "canary")
    assert done.code == EXIT_FAILED and "no alias canary" in done.err
