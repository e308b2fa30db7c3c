"""``lambda-deployer plan``: the state machine's own validation and the schedule, with reads only."""

from __future__ import annotations

from deployer.cli import EXIT_FAILED, EXIT_OK
from deployer.local import sample
from deployer.local.faults import TaskScope, task_scope
from handlers.domain.strategy import EVENTS_PER_CHECK, EVENTS_PER_CHECKPOINT

PLAN = ("plan", "--function", "orders-api", "--strategy", "Linear25PercentEvery10Seconds", "--check-interval", "4")


def everything(world) -> dict:
    """What a deployment would change: alias, $LATEST, tags, versions, the table, executions."""
    emulator = world.emulator
    return {
        "alias": world.alias()["RevisionId"],
        "latest": emulator.client("lambda").get_function(FunctionName="orders-api")["Configuration"]["RevisionId"],
        "versions": world.versions(),
        "tags": emulator.client("ecr").describe_images(repositoryName="orders-api")["imageDetails"],
        "table": emulator.client("dynamodb").scan(TableName=emulator.table_name)["Items"],
        "executions": emulator.client("stepfunctions").list_executions(
            stateMachineArn=emulator.state_machine_arn)["executions"],
    }


def test_plan_prints_what_would_change_and_the_schedule_and_changes_nothing(fast_world, cli):
    before = everything(fast_world)
    with task_scope(TaskScope("plan", "Resolve")):  # plan runs Resolve's code: it may do what Resolve's role may
        done = cli(*PLAN, "--image", fast_world.fn.image(fast_world.v2), "--alarm", fast_world.fn.alarm)

    assert done.code == EXIT_OK, done.err
    assert "live now:  version 1" in done.out
    assert "tag orders-api → sha256:ab0cfd94025f" in done.out
    assert "alias live: 25%, 50%, 75% to the new version, then all traffic" in done.out
    assert [line.split() for line in done.out.splitlines() if line.strip().startswith("step")] == [
        ["step", str(n), f"{25 * n}%", "for", "10", "s", "3", "check(s)"] for n in (1, 2, 3)]
    calls = fast_world.emulator.api.calls_of("plan")
    assert calls and [c.operation for c in calls if c.mutating] == []
    assert everything(fast_world) == before


def test_plan_in_json(fast_world, cli):
    done = cli("--output", "json", *PLAN, "--image", fast_world.fn.image(fast_world.v2))
    plan = done.json()
    assert (plan["wouldDeploy"], plan["stable"]["version"], plan["target"]["digest"]) == (True, "1", fast_world.v2)
    assert plan["steps"] == [{"weight": w, "bakeSeconds": 10, "checks": 3} for w in (25.0, 50.0, 75.0)]


def test_plan_says_the_state_machine_would_refuse_and_exits_1(fast_world, cli):
    done = cli(*PLAN, "--image", fast_world.fn.image(fast_world.v2), "--alarm", "no-such-alarm")
    assert done.code == EXIT_FAILED
    assert "would refuse this deployment (InvalidDeploymentRequest): unknown alarm(s): no-such-alarm" in done.out


class _Untouchable(dict):
    """An environment that fails the test on any write."""

    def __setitem__(self, key, value):
        raise AssertionError(f"plan wrote the environment: {key}={value}")

    def __delitem__(self, key):
        raise AssertionError(f"plan deleted {key} from the environment")

    def update(self, *args, **kwargs):
        raise AssertionError("plan rewrote the environment")

    pop = update


class _NoDefaultSession:
    def __getattr__(self, name):
        raise AssertionError(f"plan used boto3's default session ({name})")


def test_plan_runs_resolve_with_its_own_clients_not_the_environment_or_default_session(fast_world, cli,
                                                                                         monkeypatch):
    import os

    import boto3

    with monkeypatch.context() as patched:
        patched.setattr(os, "environ", _Untouchable(os.environ))
        patched.setattr(boto3, "DEFAULT_SESSION", _NoDefaultSession())
        done = cli(*PLAN, "--image", fast_world.fn.image(fast_world.v2))
        assert isinstance(boto3.DEFAULT_SESSION, _NoDefaultSession)
    assert done.code == EXIT_OK, done.err
    assert "live now:  version 1" in done.out


def test_plan_shows_the_analysis_and_counts_its_extensions_in_the_history(fast_world, cli):
    image = fast_world.fn.image(fast_world.v2)
    default = cli("--output", "json", *PLAN, "--image", image).json()
    assert default["analysis"]["minInvocations"] == 100 and default["analysis"]["maxExtensions"] == 3
    without = cli("--output", "json", *PLAN, "--image", image, "--no-analysis").json()
    assert without["analysis"] is False
    assert default["historyEvents"] - without["historyEvents"] == 3 * 3 * EVENTS_PER_CHECK  # 3 steps, 3 each
    text = cli(*PLAN, "--image", image, "--analysis", '{"maxExtensions": 1, "inconclusive": "promote"}').out
    assert "a step ending inconclusive is extended up to 1 interval(s), then promote" in text


def test_plan_shows_the_checks_that_will_run_and_counts_their_checkpoints(fast_world, cli):
    image = fast_world.fn.image(fast_world.v2)
    smoke = sample.create_python_function(fast_world.emulator, "orders-smoke", "def handler(e, c):\n    return None\n")
    checks = ("--pre-traffic", '{"invocations": 3, "expect": {"statusCode": 200, "fields": {"body.status": "ok"}}}',
              "--hooks", '{"afterShift": "orders-smoke", "afterPromote": "orders-smoke"}')

    plain = cli("--output", "json", *PLAN, "--image", image).json()
    checked = cli("--output", "json", *PLAN, "--image", image, *checks).json()
    text = cli(*PLAN, "--image", image, *checks).out

    assert plain["checks"] == {}
    assert checked["checks"]["hooks"] == {"afterShift": smoke, "afterPromote": smoke}
    assert checked["historyEvents"] - plain["historyEvents"] == (1 + 3 + 1) * EVENTS_PER_CHECKPOINT  # 3 shifts
    assert "  checks: none (no preTraffic, no hooks)" in cli(*PLAN, "--image", image).out
    assert ('    before traffic    3 invocation(s) of the new version expecting no function error, statusCode 200, '
            'body.status = "ok"') in text
    assert f"    after each shift  hook {smoke}" in text and f"    after promotion   hook {smoke}" in text


def test_plan_refuses_a_hook_that_is_not_opted_in_as_the_state_machine_would(fast_world, cli):
    sample.create_python_function(fast_world.emulator, "not-a-hook", "def handler(e, c):\n    return None\n",
                                  hook=False)
    with task_scope(TaskScope("plan", "Resolve")):
        done = cli(*PLAN, "--image", fast_world.fn.image(fast_world.v2), "--hooks", '{"beforeTraffic": "not-a-hook"}')
    assert done.code == EXIT_FAILED
    assert "function not-a-hook was not found, or is not opted in as a hook" in done.out
