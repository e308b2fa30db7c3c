"""``lambda-deployer history`` and ``status`` after deployments made with the CLI."""

from __future__ import annotations

from support import deploy_args as deploy
from support import fire_alarm_once_weighted

from deployer.cli import EXIT_OK
from deployer.commands.history import RECORD_KEYS


def test_status_and_history_show_what_the_deploys_did(fast_world, cli):
    assert cli(*deploy(fast_world, fast_world.v2)).code == EXIT_OK
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
    assert all(list(d) == list(RECORD_KEYS) for d in history)  # the same keys every time: a stable contract
    assert table[0].split()[:3] == ["STARTED", "(UTC)", "KIND"]
    assert "2 → -" in table[1] and "DeploymentRolledBack" in table[1] and "Canary10Percent30Seconds" in table[1]
    assert "1 → 2" in table[2] and "deployed" in table[2] and "AllAtOnce" in table[2]
    assert "version 2         100%  sha256:ab0cfd94025f" in status and "settled" in status
    assert "last deployment: DeploymentRolledBack 2 → -" in status


def test_history_shows_text_read_from_the_table_without_its_control_characters(world, cli):
    world.emulator.client("dynamodb").put_item(TableName=world.emulator.table_name, Item={
        "pk": {"S": "orders-api"}, "sk": {"S": "deployment#2025-01-01T00:00:00.000+00:00#run-1"},
        "execution": {"S": "arn:aws:states:us-east-1:123456789012:execution:lambda-deployer:run-1"},
        "startedAt": {"S": "2025-01-01T00:00:00.000+00:00"}, "outcome": {"S": "deployed"},
        "requestedBy": {"S": "an old record\x1b[2J\n::error::forged"},  # written before requests were checked
    })

    text = cli("history", "orders-api").out

    assert "\x1b" not in text and "\n::error::" not in text
    assert text.splitlines()[1].endswith("an old record\\x1b[2J\\n::error::forged")
