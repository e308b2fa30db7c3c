"""The ASL file itself: valid JSON, placeholders as quoted strings, Retry everywhere, Catch into Rollback."""

from __future__ import annotations

import json

import pytest

import statemachine
from handlers.catalog import TASKS, placeholder

LAMBDA_SERVICE_ERRORS = {"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
                         "Lambda.ClientExecutionTimeoutException"}
MUTATING_TASKS = {"RetagImage", "UpdateCode", "WaitForCodeUpdate", "PublishVersion", "ShiftTraffic",
                  "CheckHealth", "Promote"}
CONTRACT_ERRORS = {"InvalidDeploymentRequest", "DeploymentRolledBack", "RollbackFailed"}


@pytest.fixture(scope="module")
def definition() -> dict:
    return json.loads(statemachine.DEFINITION.read_text())


def tasks(definition: dict) -> dict[str, dict]:
    return {name: state for name, state in definition["States"].items() if state["Type"] == "Task"}


def test_placeholders_are_exactly_one_function_arn_per_task(definition):
    assert statemachine.placeholders() == {placeholder(state) for state in TASKS}
    assert set(tasks(definition)) == set(TASKS)


def test_every_placeholder_is_substituted():
    rendered = statemachine.render({placeholder(s): f"arn:aws:lambda:us-east-1:123456789012:function:{s}"
                                    for s in TASKS})
    assert "${" not in rendered
    json.loads(rendered)


def test_render_refuses_missing_or_unknown_values():
    with pytest.raises(KeyError, match="no value"):
        statemachine.render({})
    with pytest.raises(KeyError, match="no placeholder"):
        statemachine.render({placeholder(s): "x" for s in TASKS} | {"Typo": "x"})


def test_every_task_retries_lambda_service_errors(definition):
    for name, state in tasks(definition).items():
        retried = {error for retrier in state.get("Retry", []) for error in retrier["ErrorEquals"]}
        assert retried >= LAMBDA_SERVICE_ERRORS or "States.ALL" in retried, f"{name} lacks Lambda retries"


def test_every_step_after_the_first_mutation_is_caught_into_rollback(definition):
    for name in MUTATING_TASKS:
        catchers = definition["States"][name].get("Catch", [])
        assert any(c["ErrorEquals"] == ["States.ALL"] and c["Next"] == "Rollback" for c in catchers), name


def test_rollback_retries_everything_hard_and_reports_failure_by_contract_name(definition):
    rollback = definition["States"]["Rollback"]
    assert rollback["Retry"][0]["ErrorEquals"] == ["States.ALL"] and rollback["Retry"][0]["MaxAttempts"] >= 5
    assert definition["States"][rollback["Catch"][0]["Next"]] == {
        "Type": "Fail", "Error": "RollbackFailed", "CausePath": "$.rollbackFailure.Cause"}


def test_fail_states_carry_contract_error_names(definition):
    fails = {name: s for name, s in definition["States"].items() if s["Type"] == "Fail"}
    static = {s["Error"] for s in fails.values() if "Error" in s}
    assert static <= CONTRACT_ERRORS
    # the rolled-back outcome names its error at run time (DeploymentRolledBack, ConcurrentModification)
    assert all("Error" in s or s.get("ErrorPath") == "$.outcome.error" for s in fails.values())


def test_nothing_waits_inside_a_task_but_code_updates_are_awaited_by_retry(definition):
    waiter = definition["States"]["WaitForCodeUpdate"]["Retry"][0]
    assert waiter["ErrorEquals"] == ["CodeUpdateInProgress"] and waiter["MaxAttempts"] >= 20
    assert definition["States"]["Bake"] == {"Type": "Wait", "SecondsPath": "$.traffic.waitSeconds",
                                            "Next": "CheckHealth"}
