"""A function's environment variables never leave the function: not into the execution's data (which the state
machine logs with ALL and includeExecutionData), not into the deployment records, not into the handlers' logs."""

from __future__ import annotations

import io
import json
import logging

import pytest
from support import fire_alarm_once_weighted

from handlers.aws import task as task_module
from handlers.domain.catalog import SERVICE

SECRET = "s3cr3t-Pa55w0rd-7f1e9c2a"  # looks like what a function's environment holds


@pytest.fixture
def handler_logs(monkeypatch):
    """Every line the handlers log, at every level (the emulator keeps them quiet otherwise)."""
    stream = io.StringIO()
    monkeypatch.setattr(task_module.logger.registered_handler, "stream", stream)
    handlers_logger = logging.getLogger(SERVICE)
    level = handlers_logger.level
    handlers_logger.setLevel(logging.DEBUG)
    yield stream
    handlers_logger.setLevel(level)


def test_no_environment_variable_of_the_function_reaches_history_records_or_logs(fast_world, handler_logs):
    world, emulator = fast_world, fast_world.emulator
    lam = emulator.client("lambda")
    lam.update_function_configuration(FunctionName=world.fn.name, Environment={"Variables": {
        "DB_PASSWORD": SECRET, "API_TOKEN": f"token-{SECRET}"}})
    assert SECRET in json.dumps(lam.get_function(FunctionName=world.fn.name), default=str)  # what handlers read

    deployed = emulator.run(world.request(world.v2, strategy="Canary50Percent2Seconds", checkIntervalSeconds=1,
                                          analysis=False))
    firing = fire_alarm_once_weighted(world)
    stopped = emulator.run(world.request(world.v3, alarms=[world.fn.alarm], strategy="Canary10Percent30Seconds",
                                         checkIntervalSeconds=300, analysis=False))  # rolled back by the alarm's event
    firing.join()
    listed = emulator.client("stepfunctions").list_executions(stateMachineArn=emulator.state_machine_arn)
    rollback = emulator.wait(next(e["executionArn"] for e in listed["executions"]
                                  if e["executionArn"] not in (deployed.arn, stopped.arn)))

    assert (deployed.status, stopped.status, rollback.status) == ("SUCCEEDED", "ABORTED", "SUCCEEDED")
    for execution in (deployed, stopped, rollback):
        assert SECRET not in json.dumps(execution.history, default=str)  # every event's input, output, error and cause
        assert SECRET not in json.dumps([execution.input, execution.output, execution.cause])
    records = emulator.client("dynamodb").scan(TableName=emulator.table_name)["Items"]
    assert len(records) == 3 and SECRET not in json.dumps(records)
    logged = handler_logs.getvalue()
    assert '"correlation_id"' in logged and SECRET not in logged  # the logs were captured, and hold no secret
