"""``lambda-deployer deploy`` on the emulator: exit codes a pipeline acts on, output for people and for CI."""

from __future__ import annotations

import threading

from support import deploy_args as deploy
from support import fire_alarm_once_weighted

from deployer.cli import EXIT_FAILED, EXIT_NOT_STARTED, EXIT_OK, EXIT_USAGE
from deployer.local.faults import Crash, TaskScope, task_scope
from deployer.local.iam import CI_ROLE

CANARY = ("--strategy", "Canary50Percent2Seconds", "--check-interval", "1", "--no-analysis")


def executions(world) -> list[dict]:
    sfn = world.emulator.client("stepfunctions")
    return sfn.list_executions(stateMachineArn=world.emulator.state_machine_arn)["executions"]


def test_a_deploy_that_succeeds_exits_0_with_the_timeline_and_the_console_link(fast_world, cli):
    done = cli(*deploy(fast_world, fast_world.v2, *CANARY))

    assert done.code == EXIT_OK, done.out + done.err
    assert "\x1b" not in done.out + done.err and "\r" not in done.out + done.err  # not a terminal: plain lines
    assert fast_world.settled_on() == "2"
    [execution] = executions(fast_world)
    assert execution["name"].startswith(f"orders-api-{fast_world.v2[7:19]}-")
    assert (f"https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/"
            f"{execution['executionArn']}") in done.out
    assert "ShiftTraffic       50% → version 2, 50% → version 1" in done.out
    assert any(line.endswith("orders-api-errors OK") for line in done.out.splitlines() if "CheckHealth" in line)
    assert "=> SUCCEEDED" in done.out and "version 2 of orders-api" in done.out


def test_a_deploy_whose_alarm_fires_exits_1_and_names_the_failing_step(fast_world, cli):
    """The backstop (the alarm's own event failing to roll back): the next check does."""
    fast_world.emulator.api.inject(Crash("AlarmFired", times=None))
    firing = fire_alarm_once_weighted(fast_world)

    done = cli("--output", "json", *deploy(fast_world, fast_world.v2, "--strategy", "Canary10Percent30Seconds",
                                           "--check-interval", "1", "--no-analysis"))
    firing.join()

    assert done.code == EXIT_FAILED
    assert "=> FAILED DeploymentRolledBack" in done.err and "failing step CheckHealth" in done.err
    assert "\x1b" not in done.err  # the failure is told in words, not only in red
    result = done.json()
    assert (result["status"], result["outcome"], result["error"]) == ("FAILED", "rolledBack", "DeploymentRolledBack")
    assert result["failedState"] == "CheckHealth" and "orders-api-errors in ALARM" in result["cause"]
    assert result["lastCheck"] | {"at": None} == {
        "at": None, "passed": False, "alarms": {}, "verdict": None, "rule": None, "new": None, "stable": None,
        "latencyPercentile": None, "reason": "DeploymentUnhealthy: alarm orders-api-errors in ALARM with 10% of "
                                             "traffic on the new version (step 1 of 1)"}
    assert (result["version"], result["previousVersion"], result["liveVersion"]) == ("2", "1", "1")
    assert fast_world.settled_on() == "1"


def test_a_deploy_stopped_by_its_alarms_rollback_follows_that_rollback_and_says_where_traffic_is(fast_world, cli):
    firing = fire_alarm_once_weighted(fast_world)

    done = cli("--output", "json", *deploy(fast_world, fast_world.v2, "--strategy", "Canary10Percent30Seconds",
                                           "--check-interval", "300"))  # 15 s here: the alarm's event is first
    firing.join()

    assert done.code == EXIT_FAILED
    result = done.json()
    rollback = result["rolledBackBy"]
    assert (result["status"], result["error"], result["outcome"]) == ("ABORTED", "RollbackRequested", "rolledBack")
    assert result["cause"] == f"stopped by rollback request {rollback['name']}, requested by alarm orders-api-errors"
    assert (result["version"], result["previousVersion"], result["liveVersion"]) == ("2", "1", "1")
    assert (rollback["status"], rollback["outcome"], rollback["version"]) == ("SUCCEEDED", "rolledBack", "1")
    assert rollback["requestedBy"] == "alarm orders-api-errors"
    assert {e["name"] for e in executions(fast_world)} == {result["name"], rollback["name"]}
    assert f"was stopped by rollback request {rollback['name']}; following it" in done.err
    assert "RestoreVersion" in done.err and "alias live → version 1" in done.err  # the rollback's own timeline
    assert "=> ABORTED RollbackRequested" in done.err and "requested by alarm orders-api-errors" in done.err
    assert "live: version 1 serves all traffic on alias live" in done.err
    assert fast_world.settled_on() == "1"


def test_json_output_parses_and_carries_outcome_versions_and_digest(fast_world, cli):
    done = cli("--output", "json", *deploy(fast_world, fast_world.v2))

    assert done.code == EXIT_OK
    result = done.json()  # stdout is the document alone; the progress went to stderr
    assert "Resolve" in done.err and "=> SUCCEEDED" in done.err
    [execution] = executions(fast_world)
    assert result | {"startedAt": None, "durationSeconds": None, "requestedBy": None} == {
        "execution": execution["executionArn"], "name": execution["name"], "kind": "deploy",
        "status": "SUCCEEDED", "outcome": "deployed", "function": "orders-api", "alias": "live",
        "version": "2", "previousVersion": "1", "liveVersion": "2",
        "image": fast_world.fn.image(fast_world.v2), "digest": fast_world.v2, "strategy": "AllAtOnce",
        "error": None, "cause": None, "failedState": None, "lastCheck": None, "startedAt": None,
        "durationSeconds": None, "requestedBy": None, "consoleUrl": result["consoleUrl"],
    }
    assert result["consoleUrl"].endswith(execution["executionArn"]) and "@" in result["requestedBy"]


def test_bad_arguments_exit_2_naming_the_argument_and_start_nothing(fast_world, cli):
    image = fast_world.fn.image(fast_world.v2)
    cases = {
        ("--image", "orders-api:latest"): "--image 'orders-api:latest' is not an ECR image URI",
        ("--image", image, "--strategy", "Canary150Percent5Minutes"): "strategy 'Canary150Percent5Minutes'",
        ("--image", image, "--check-interval", "0"): "--check-interval 0 must be an integer from 1 to 3600",
        ("--image", image, "--check-interval", "soon"): "argument --check-interval: invalid int value: 'soon'",
        ("--image", image, "--alias", "42"): "--alias '42' is not a valid alias name",
        ("--image", image, "--strategy", "{\"steps\": []}"): "an explicit strategy is",
        (): "one of the arguments --image --code is required",
        ("--image", image, "--code", "s3://artifacts/orders-api/2.zip"):
            "argument --code: not allowed with argument --image",
    }
    for args, message in cases.items():
        done = cli("deploy", "--function", "orders-api", *args)
        assert done.code == EXIT_USAGE, args
        assert message in done.err, done.err
    done = cli("deploy", "--function", "orders-api", "--image", image, "--region", "eu-west-1")
    assert done.code == EXIT_USAGE and "--region go before the command" in done.err
    assert executions(fast_world) == []


def test_exit_3_when_the_state_machine_does_not_exist(fast_world, cli):
    done = cli("--state-machine", "no-such-deployer", *deploy(fast_world, fast_world.v2))
    assert done.code == EXIT_NOT_STARTED
    assert "could not be started" in done.err and "no-such-deployer" in done.err
    assert executions(fast_world) == []


def test_the_same_deploy_while_it_runs_follows_that_execution_instead_of_starting_another(fast_world, cli):
    """The first execution is held before its traffic shift until the second command has looked it up (it
    describes the execution its name would start): otherwise a loaded machine could finish the 0.5 s canary in
    between, and the second command would start a redeploy."""
    following = threading.Event()
    polls = ("DescribeExecution", "GetExecutionHistory")

    def hold_until_followed(scope, call, context):
        if scope.execution == "again" and call.operation in polls:
            following.set()
        elif scope.task == "ShiftTraffic":
            following.wait(timeout=30)

    fast_world.emulator.api.guards.append(hold_until_followed)
    command = deploy(fast_world, fast_world.v2, "--strategy", "Canary10Percent10Seconds", "--check-interval", "1",
                     "--no-analysis")
    first = cli("--output", "json", *command[:1], "--no-wait", *command[1:])
    assert first.code == EXIT_OK and first.json()["status"] == "RUNNING"

    with task_scope(TaskScope("again", CI_ROLE)):
        again = cli("--output", "json", *command)
    calls = fast_world.emulator.api.calls_of()
    followed = next(i for i, c in enumerate(calls) if c.execution == "again" and c.operation in polls)
    assert followed < next(i for i, c in enumerate(calls) if c.task == "ShiftTraffic")  # looked up while still running

    assert again.code == EXIT_OK, again.err
    assert "is already running: following it" in again.err
    assert again.json()["execution"] == first.json()["execution"]
    assert [e["executionArn"] for e in executions(fast_world)] == [first.json()["execution"]]


def test_the_same_deploy_again_is_a_retry_inside_one_ci_run_and_a_redeploy_outside(fast_world, cli, monkeypatch):
    monkeypatch.setenv("GITHUB_RUN_ID", "4242")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/orders")
    first = cli("--output", "json", *deploy(fast_world, fast_world.v2))
    monkeypatch.setenv("GITHUB_RUN_ATTEMPT", "2")  # "re-run failed jobs": the same run

    retried = cli("--output", "json", *deploy(fast_world, fast_world.v2))

    assert retried.code == EXIT_OK and "already ran in this GitHub Actions run" in retried.err
    assert retried.json()["execution"] == first.json()["execution"]
    assert retried.json()["requestedBy"].endswith("via GitHub Actions run 4242 (acme/orders)")
    assert len(executions(fast_world)) == 1

    monkeypatch.delenv("GITHUB_RUN_ID")
    outside = cli("--output", "json", *deploy(fast_world, fast_world.v2))
    later = cli("--output", "json", *deploy(fast_world, fast_world.v2))
    assert later.json()["name"] == f"{outside.json()['name']}-" + later.json()["name"].rsplit("-", 1)[-1]
    assert later.json()["outcome"] == "unchanged" and len(executions(fast_world)) == 3
