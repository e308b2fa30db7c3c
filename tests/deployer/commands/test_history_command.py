"""``lambda-deployer history`` and ``status`` after deployments made with the CLI."""

from __future__ import annotations

from support import deploy_args as deploy
from support import fire_alarm_once_weighted

from deployer.cli import EXIT_OK
from deployer.commands.history import check_line
from deployer.local.faults import Crash
from handlers.domain import check_report
from handlers.domain.analysis import AnalysisSettings, VersionStats, analyse


def test_status_and_history_show_what_the_deploys_did(fast_world, cli):
    assert cli(*deploy(fast_world, fast_world.v2, "--strategy", "Canary50Percent2Seconds", "--no-analysis")).code \
        == EXIT_OK  # no traffic here: alarms alone judge
    fast_world.emulator.api.inject(Crash("AlarmFired", times=None))  # rolled back by its check, not the event
    firing = fire_alarm_once_weighted(fast_world)
    cli(*deploy(fast_world, fast_world.v3, "--strategy", "Canary10Percent30Seconds", "--check-interval", "1",
                "--no-analysis"))
    firing.join()

    history = cli("--output", "json", "history", "orders-api").json()["deployments"]
    table = cli("history", "orders-api").out.splitlines()
    status = cli("status", "orders-api").out

    assert [(d["outcome"], d["fromVersion"], d.get("toVersion"), d["digest"]) for d in history] == [
        ("DeploymentRolledBack", "2", None, fast_world.v3), ("deployed", "1", "2", fast_world.v2)]
    assert all(d["durationSeconds"] > 0 and d["kind"] == "deploy" for d in history)
    assert all(list(d) == ["execution", "name", "kind", "outcome", "startedAt", "finishedAt", "durationSeconds",
                           "fromVersion", "toVersion", "image", "digest", "code", "strategy", "requestedBy", "cause",
                           "lastCheck"] for d in history)  # the same keys every time: a stable contract
    assert table[0].split()[:3] == ["STARTED", "(UTC)", "KIND"]
    assert "2 → -" in table[1] and "DeploymentRolledBack" in table[1] and "Canary10Percent30Seconds" in table[1]
    assert "1 → 2" in table[2] and "deployed" in table[2] and "Canary50Percent2Seconds" in table[2]
    assert "version 2         100%  sha256:ab0cfd94025f" in status and "settled" in status
    assert "last deployment: DeploymentRolledBack 2 → -" in status
    # Each record keeps its last check: the one that stopped v3 (why), the last that let v2 through (its alarms).
    stopped, passed = (d["lastCheck"] for d in history)
    assert stopped["passed"] is False and "alarm orders-api-errors in ALARM" in stopped["reason"]
    assert passed["passed"] is True and passed["alarms"] == {"orders-api-errors": "OK"}
    assert table[1].endswith("failed: DeploymentUnhealthy: alarm orders-api-errors in ALARM with 10% of traffic on "
                             "the new version (step 1 of 1)")
    assert table[2].endswith("orders-api-errors OK")
    assert "  its last check: failed: DeploymentUnhealthy: alarm orders-api-errors in ALARM" in status


def test_history_says_which_alarm_rolled_a_deployment_back(fast_world, cli):
    assert cli(*deploy(fast_world, fast_world.v2)).code == EXIT_OK
    firing = fire_alarm_once_weighted(fast_world)
    cli(*deploy(fast_world, fast_world.v3, "--strategy", "Canary10Percent30Seconds", "--check-interval", "300"))
    firing.join()

    history = cli("--output", "json", "history", "orders-api").json()["deployments"]
    table = cli("history", "orders-api").out.splitlines()
    status = cli("status", "orders-api").out

    rollback, stopped, first = history
    assert (rollback["kind"], rollback["outcome"], rollback["fromVersion"], rollback["toVersion"]) == (
        "rollback", "rolledBack", "3", "2")
    assert rollback["requestedBy"] == "alarm orders-api-errors" and rollback["digest"] == fast_world.v2
    assert (stopped["kind"], stopped["outcome"], stopped["fromVersion"]) == ("deploy", "aborted", "2")
    # The rollback's Lock closes the stopped deployment's record, unless the Rescue of that stopped execution
    # got there first (they race on AWS too; both restore version 2).
    assert stopped["cause"] in (f"stopped by rollback request {rollback['name']}, requested by alarm "
                                "orders-api-errors; it returns alias live to version 2",) \
        or stopped["cause"].startswith("execution ended ABORTED; restored by the deployer: alias live → version 2")
    assert first["outcome"] == "deployed"
    assert "3 → 2" in table[1] and "rolledBack" in table[1] and "alarm orders-api-errors" in table[1]
    assert "aborted" in table[2]
    assert "last deployment: rolledBack 3 → 2" in status and "by alarm orders-api-errors" in status


def test_history_shows_text_read_from_the_table_without_its_control_characters(world, cli):
    world.emulator.client("dynamodb").put_item(TableName=world.emulator.table_name, Item={
        "pk": {"S": "orders-api"}, "sk": {"S": "deployment#2025-01-01T00:00:00.000+00:00#run-1"},
        "execution": {"S": "arn:aws:states:us-east-1:123456789012:execution:lambda-deployer:run-1"},
        "startedAt": {"S": "2025-01-01T00:00:00.000+00:00"}, "outcome": {"S": "deployed"},
        "requestedBy": {"S": "an old record\x1b[2J\n::error::forged"},  # written before requests were checked
    })

    text = cli("history", "orders-api").out

    assert "\x1b" not in text and "\n::error::" not in text
    assert text.splitlines()[1].endswith("an old record\\x1b[2J\\n::error::forged  -")  # no check recorded


def test_a_recorded_verdict_shows_its_rule_and_numbers(fast_world, cli):
    verdict = analyse(AnalysisSettings(), VersionStats("2", 200, 0, 0, None), VersionStats("1", 1800, 0, 0, None))
    check = check_report.summary({"alarms": {"orders-api-errors": "OK"}, "analysis": verdict.to_json()})
    fast_world.emulator.client("dynamodb").put_item(TableName=fast_world.emulator.table_name, Item={
        "pk": {"S": "orders-api"}, "sk": {"S": "deployment#2025-01-01T00:00:00.000+00:00#run-1"},
        "execution": {"S": "arn:aws:states:us-east-1:123456789012:execution:lambda-deployer:run-1"},
        "startedAt": {"S": "2025-01-01T00:00:00.000+00:00"}, "outcome": {"S": "deployed"},
        "lastCheck": {"S": check_report.encode(check)},
    })

    [record] = cli("--output", "json", "history", "orders-api").json()["deployments"]
    row = cli("history", "orders-api").out.splitlines()[1]

    assert record["lastCheck"] == check
    assert row.endswith("Pass (withinTolerances) · v2 0% errors (0 of 200)")
    assert check_line(check) == ("v2 0% errors (0 of 200) · v1 0% errors (0 of 1,800) · Pass (withinTolerances) · "
                                 "orders-api-errors OK")
