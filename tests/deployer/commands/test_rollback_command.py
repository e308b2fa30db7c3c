"""``lambda-deployer rollback``: all traffic back in seconds, through the state machine (audited)."""

from __future__ import annotations

import threading
import time

from support import deploy_args, wait_for

from deployer.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from deployer.local.faults import TaskScope, task_scope
from deployer.local.iam import CI_ROLE


def test_rollback_restores_alias_tag_and_latest_and_says_how_long_it_took(fast_world, cli):
    assert fast_world.emulator.run(fast_world.request(fast_world.v2)).status == "SUCCEEDED"
    assert fast_world.settled_on() == "2"
    done: list = []
    began = time.monotonic()
    command = threading.Thread(target=lambda: done.append(cli("--output", "json", "rollback", "orders-api")))
    command.start()
    wait_for(lambda: fast_world.alias()["FunctionVersion"] == "1" and not fast_world.weights(), timeout=30,
             what="the alias back on version 1")  # measured and printed, not asserted: it depends on the load
    restored = time.monotonic() - began
    command.join(timeout=60)
    assert not command.is_alive(), "the rollback command did not finish"

    [result] = done
    print(f"\nrollback: {restored:.2f} s from command to alias restored "
          f"(the CLI saw it after {result.json()['restoredAfterSeconds']} s)")
    assert result.code == EXIT_OK, result.err
    assert fast_world.settled_on() == "1"  # alias, function-name tag and $LATEST
    assert fast_world.tag_digest() == fast_world.latest_digest() == fast_world.v1
    document = result.json()
    assert (document["kind"], document["outcome"], document["version"], document["previousVersion"]) == (
        "rollback", "rolledBack", "1", "2")
    assert document["name"].startswith("orders-api-rollback-") and "traffic was back on version 1" in result.err


def test_rollback_to_a_given_version(fast_world, cli):
    fast_world.emulator.run(fast_world.request(fast_world.v2))
    fast_world.emulator.run(fast_world.request(fast_world.v3))

    done = cli("rollback", "orders-api", "--to-version", "2")

    assert done.code == EXIT_OK and "back on version 2" in done.out
    assert fast_world.settled_on() == "2"


def test_a_rollback_with_nothing_to_return_to_exits_1_and_a_bad_version_exits_2(fast_world, cli):
    refused = cli("rollback", "orders-api")
    assert refused.code == EXIT_FAILED and "say which with toVersion" in refused.out
    assert "failing step ResolveRollback" in refused.out

    bad = cli("rollback", "orders-api", "--to-version", "latest")
    assert bad.code == EXIT_USAGE and "--to-version 'latest' must be a published version number" in bad.err


def test_deploy_and_rollback_need_only_what_the_ci_policy_allows(fast_world, cli):
    """The CLI runs as CI here: the emulator refuses whatever CI_PERMISSIONS (CDK's CI policy) does not allow."""
    with task_scope(TaskScope("cli", CI_ROLE)):
        assert cli(*deploy_args(fast_world, fast_world.v2)).code == EXIT_OK
        assert cli("rollback", "orders-api").code == EXIT_OK

    checked = {decision.need.action for decision in fast_world.emulator.iam.decisions if decision.task == CI_ROLE}
    assert {"states:StartExecution", "states:DescribeExecution"} <= checked  # the CLI's calls were checked
    assert fast_world.emulator.iam.denials() == []
