"""The deployments table read by a client that is not a task handler (the CLI): explicit client and table."""

from __future__ import annotations

from handlers.aws import deployments


def test_history_and_holder_read_the_table_they_are_given(fast_world, monkeypatch):
    emulator = fast_world.emulator
    assert emulator.run(fast_world.request(fast_world.v2)).status == "SUCCEEDED"
    monkeypatch.delenv("DEPLOYMENTS_TABLE")  # as in the CLI: no handler environment
    ddb = emulator.client("dynamodb")

    records = deployments.history("orders-api", ddb=ddb, table=emulator.table_name)

    assert [(r["outcome"], r["fromVersion"], r["toVersion"]) for r in records] == [("deployed", "1", "2")]
    assert deployments.holder("orders-api", ddb=ddb, table=emulator.table_name) is None
    assert emulator.table_name == deployments.table_name_for(emulator.state_machine_name)
