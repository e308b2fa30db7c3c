"""The ASL file itself: valid JSON, placeholders as quoted strings, Retry everywhere, Catch into Rollback."""

from __future__ import annotations

import json

import pytest

import statemachine
from handlers.domain.catalog import TASKS, placeholder

LAMBDA_SERVICE_ERRORS = {"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
                         "Lambda.ClientExecutionTimeoutException"}
MUTATING_TASKS = {"Lock", "RetagImage", "UpdateCode", "WaitForCodeUpdate", "PublishVersion", "ShiftTraffic",
                  "CheckHealth", "Promote"}
REFUSALS = ["InvalidDeploymentRequest", "DeploymentInProgress"]


@pytest.fixture(scope="module")
def definition() -> dict:
    return json.loads(statemachine.DEFINITION.read_text())


def all_states(states: dict) -> dict[str, dict]:
    """Every state, including those inside Map item processors."""
    found = {}
    for name, state in states.items():
        found[name] = state
        if processor := state.get("ItemProcessor"):
            found |= all_states(processor["States"])
    return found


def tasks(definition: dict) -> dict[str, dict]:
    return {name: s for name, s in all_states(definition["States"]).items() if s["Type"] == "Task"}


def integration(resource: str) -> str:
    """A service integration's ARN as the definition writes it, in whichever partition it runs."""
    return f"arn:${{{statemachine.PARTITION}}}:states:::{resource}"


def lambda_tasks(definition: dict) -> dict[str, dict]:
    return {name: s for name, s in tasks(definition).items() if s["Resource"] == integration("lambda:invoke")}


def test_each_lambda_task_names_a_catalog_function_and_each_function_is_used(definition):
    used = {s["Parameters"]["FunctionName"] for s in lambda_tasks(definition).values()}
    assert used == {f"${{{placeholder(task)}}}" for task in TASKS}
    assert statemachine.placeholders() == {placeholder(task) for task in TASKS} | {statemachine.PARTITION}


def test_every_integration_arn_takes_the_partition_it_runs_in(definition):
    assert {s["Resource"].split(":")[1] for s in tasks(definition).values()} == {f"${{{statemachine.PARTITION}}}"}
    rendered = json.loads(statemachine.render({placeholder(s): "fn" for s in TASKS}, partition="aws-cn"))
    assert {s["Resource"] for s in tasks(rendered).values()} == {
        "arn:aws-cn:states:::lambda:invoke", "arn:aws-cn:states:::states:startExecution.sync:2"}


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


def test_every_task_has_retry_and_lambda_tasks_retry_lambda_service_errors(definition):
    for name, state in tasks(definition).items():
        assert state.get("Retry"), f"{name} has no Retry"
    for name, state in lambda_tasks(definition).items():
        retried = {error for retrier in state["Retry"] for error in retrier["ErrorEquals"]}
        assert retried >= LAMBDA_SERVICE_ERRORS or "States.ALL" in retried, f"{name} lacks Lambda retries"


def test_every_step_after_the_first_mutation_is_caught_into_rollback(definition):
    for name in MUTATING_TASKS:
        catchers = definition["States"][name].get("Catch", [])
        assert any(c["ErrorEquals"] == ["States.ALL"] and c["Next"] == "Rollback" for c in catchers), name


def test_rollback_retries_everything_hard_and_reports_failure_by_contract_name(definition):
    for name in ("Rollback", "RestoreVersion"):
        state = definition["States"][name]
        assert state["Retry"][0]["ErrorEquals"] == ["States.ALL"] and state["Retry"][0]["MaxAttempts"] >= 5
        assert state["Catch"][0]["Next"] == "RollbackFailed"
    assert definition["States"]["RollbackFailed"] == {
        "Type": "Fail", "Error": "RollbackFailed", "CausePath": "$.rollbackFailure.Cause"}


def test_fail_states_carry_contract_error_names(definition):
    states = definition["States"]
    fails = {name for name, s in states.items() if s["Type"] == "Fail"}
    assert fails == {"Refused", "RolledBack", "RollbackFailed"}
    # Refused is reached only from refusals (nothing changed) and names the refusal's own error
    into_refused = [c for s in states.values() for c in s.get("Catch", []) if c["Next"] == "ExplainRefusal"]
    assert into_refused and all(set(c["ErrorEquals"]) <= set(REFUSALS) for c in into_refused)
    assert states["Refused"]["ErrorPath"] == "$.error"
    # the rolled-back outcome is named by Rollback: DeploymentRolledBack or ConcurrentModification
    assert states["RolledBack"]["ErrorPath"] == "$.outcome.error"


def test_nothing_waits_inside_a_task_but_code_updates_are_awaited_by_retry(definition):
    waiter = definition["States"]["WaitForCodeUpdate"]["Retry"][0]
    assert waiter["ErrorEquals"] == ["CodeUpdateInProgress"] and waiter["MaxAttempts"] >= 20
    assert definition["States"]["Bake"] == {"Type": "Wait", "SecondsPath": "$.traffic.waitSeconds",
                                            "Next": "CheckHealth"}


def test_pushes_fan_out_with_bounded_concurrency(definition):
    fan_out = definition["States"]["DeployEach"]
    assert fan_out["Type"] == "Map" and 1 <= fan_out["MaxConcurrency"] <= 10
    start = fan_out["ItemProcessor"]["States"]["StartDeployment"]
    assert start["Resource"] == integration("states:startExecution.sync:2")
    assert start["Parameters"]["StateMachineArn.$"] == "$$.StateMachine.Id"
