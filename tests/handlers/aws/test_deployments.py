"""The deployments table: read by a client that is not a task handler (the CLI), and records that expire."""

from __future__ import annotations

import time

from handlers.aws import deployments


def test_history_and_holder_read_the_table_they_are_given(fast_world, monkeypatch):
    emulator = fast_world.emulator
    assert emulator.run(fast_world.request(fast_world.v2)).status == "SUCCEEDED"
    monkeypatch.delenv("DEPLOYMENTS_TABLE")  # as in the CLI: no handler environment
    ddb = emulator.client("dynamodb")

    records = deployments.history("orders-api", ddb=ddb, table=emulator.table_name)

    assert [(r["outcome"], r["fromVersion"], r["toVersion"]) for r in records] == [("deployed", "1", "2")]
    assert deployments.holder("orders-api", ddb=ddb, table=emulator.table_name) is None
    assert emulator.state_machine_name == "lambda-deployer"  # the CLI finds the table from the machine's name
    assert emulator.table_name == deployments.table_name_for("lambda-deployer") == "lambda-deployer-deployments"


def test_records_expire_after_the_retention_and_locks_never_do(fast_world, monkeypatch):
    emulator = fast_world.emulator
    monkeypatch.setenv(deployments.RETENTION_ENV, "30")
    execution = "arn:aws:states:us-east-1:123456789012:execution:lambda-deployer:run-1"
    deployments.acquire("orders-api", execution, deployments.now(), {})
    before = time.time()
    deployments.record("orders-api", execution, "2026-01-01T00:00:00.000+00:00", outcome="running")

    items = emulator.client("dynamodb").query(
        TableName=emulator.table_name, KeyConditionExpression="pk = :fn",
        ExpressionAttributeValues={":fn": {"S": "orders-api"}})["Items"]
    lock, record = sorted(items, key=lambda item: item["sk"]["S"] != deployments.LOCK)

    assert deployments.EXPIRES_AT not in lock
    expires = int(record[deployments.EXPIRES_AT]["N"])  # a Number in epoch seconds: what TTL reads
    assert before + 30 * 86400 - 1 <= expires <= time.time() + 30 * 86400
    assert deployments.history("orders-api") == [
        {"execution": execution, "startedAt": "2026-01-01T00:00:00.000+00:00", "outcome": "running"}]


def test_without_a_retention_records_are_kept(fast_world, monkeypatch):
    monkeypatch.setenv(deployments.RETENTION_ENV, "0")
    deployments.record("orders-api", "arn:aws:states:us-east-1:1:execution:d:run-2", deployments.now(), outcome="x")

    (item,) = fast_world.emulator.client("dynamodb").scan(TableName=fast_world.emulator.table_name)["Items"]
    assert deployments.EXPIRES_AT not in item


def test_closing_a_stopped_deployments_record_leaves_one_that_ended_by_itself_as_it_was(fast_world):
    started = "2026-01-01T00:00:00.000+00:00"
    running, ended = (f"arn:aws:states:us-east-1:123456789012:execution:lambda-deployer:{n}" for n in ("a", "b"))
    deployments.record("orders-api", running, started, outcome=deployments.RUNNING)
    deployments.record("orders-api", ended, started, outcome="DeploymentRolledBack", cause="its own check")

    closed = [deployments.record("orders-api", arn, started, only_if_running=True, outcome="aborted",
                                 cause="stopped") for arn in (running, ended, f"{running}-never-recorded")]

    assert closed == [True, False, False]
    records = {r["execution"]: (r["outcome"], r["cause"]) for r in deployments.history("orders-api")}
    assert records == {running: ("aborted", "stopped"), ended: ("DeploymentRolledBack", "its own check")}
