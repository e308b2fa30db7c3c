"""The ASL file itself: valid JSON, placeholders as quoted strings, Retry and a timeout everywhere, Catch into
Rollback, and every path into Rollback carrying what Rollback and the Fail states after it read."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

import statemachine
from handlers.domain.catalog import TASKS, placeholder
from handlers.domain.model import MAX_CHECK_INTERVAL
from handlers.domain.strategy import EVENTS_FIXED, EVENTS_PER_CHECK, EVENTS_RESERVED, MAX_HISTORY_EVENTS

LAMBDA_SERVICE_ERRORS = {"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
                         "Lambda.ClientExecutionTimeoutException"}
MUTATING_TASKS = {"Lock", "RetagImage", "UpdateCode", "WaitForCodeUpdate", "WaitForVersion", "WaitForCapacity",
                  "PublishVersion", "ShiftTraffic", "CheckHealth", "RunChecks", "Promote", "PromoteThenCheck",
                  "ReleaseLatest", "PointPreview"}
REFUSALS = ["InvalidDeploymentRequest", "DeploymentInProgress"]


@pytest.fixture(scope="module")
def definition() -> dict:
    return json.loads(statemachine.DEFINITION.read_text())


def all_states(states: dict) -> dict[str, dict]:
    """Every state, including those inside Map item processors and Parallel branches."""
    found = {}
    for name, state in states.items():
        found[name] = state
        if processor := state.get("ItemProcessor"):
            found |= all_states(processor["States"])
        for branch in state.get("Branches", ()):
            found |= all_states(branch["States"])
    return found


def tasks(definition: dict) -> dict[str, dict]:
    return {name: s for name, s in all_states(definition["States"]).items() if s["Type"] == "Task"}


def integration(resource: str) -> str:
    """A service integration's ARN as the definition writes it, in whichever partition it runs."""
    return f"arn:${{{statemachine.PARTITION}}}:states:::{resource}"


def lambda_tasks(definition: dict) -> dict[str, dict]:
    return {name: s for name, s in tasks(definition).items()
            if s["Resource"] in (integration("lambda:invoke"), integration("lambda:invoke.waitForTaskToken"))}


def test_each_lambda_task_names_a_catalog_function_and_each_function_is_used(definition):
    used = {s["Parameters"]["FunctionName"] for s in lambda_tasks(definition).values()}
    assert used == {f"${{{placeholder(task)}}}" for task in TASKS}
    assert statemachine.placeholders() == {placeholder(task) for task in TASKS} | {statemachine.PARTITION}


def test_every_integration_arn_takes_the_partition_it_runs_in(definition):
    assert {s["Resource"].split(":")[1] for s in tasks(definition).values()} == {f"${{{statemachine.PARTITION}}}"}
    rendered = json.loads(statemachine.render({placeholder(s): "fn" for s in TASKS}, partition="aws-cn"))
    assert {s["Resource"] for s in tasks(rendered).values()} == {
        "arn:aws-cn:states:::lambda:invoke", "arn:aws-cn:states:::lambda:invoke.waitForTaskToken",
        "arn:aws-cn:states:::states:startExecution.sync:2"}


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
    assert fails == {"Refused", "RolledBack", "RollbackFailed", "DeploymentsFailed"}
    assert states["DeploymentsFailed"]["Error"] == "DeploymentsFailed"  # a push whose deployments did not all succeed
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


def test_a_fan_out_fails_when_any_deployment_did_not_and_only_after_all_of_them_ended(definition):
    states = definition["States"]
    iteration = states["DeployEach"]["ItemProcessor"]["States"]
    # no iteration can fail the Map (that would stop the other children mid-deployment): every error is caught
    # and every end reports whether its deployment failed
    assert [c["ErrorEquals"] for c in iteration["StartDeployment"]["Catch"]] == [["States.ALL"]]
    ends = {name: s for name, s in iteration.items() if s.get("End")}
    assert ends and all(s["Type"] == "Pass" and isinstance(s["Parameters"]["failed"], bool) for s in ends.values())
    assert not [s for s in iteration.values() if s["Type"] == "Fail"]
    assert "DeploymentsFailed" in reachable(states, "DeployEach") and "PushDeployed" in reachable(states, "DeployEach")


def test_every_task_has_a_timeout(definition):
    """A Task without TimeoutSeconds waits forever for an answer that may never come. The approval wait's timeout
    is the request's (validated by Resolve: approvalTimeoutSeconds), and so is its heartbeat."""
    for name, state in tasks(definition).items():
        if state["Resource"].endswith(".waitForTaskToken"):
            assert (state["TimeoutSecondsPath"], state["HeartbeatSecondsPath"]) == (
                "$.deployment.approval.timeoutSeconds", "$.deployment.approval.heartbeatSeconds"), name
            continue
        assert isinstance(state.get("TimeoutSeconds"), int) and state["TimeoutSeconds"] > 0, name


def test_a_fan_out_waits_for_the_longest_deployment_resolve_accepts(definition):
    """Resolve refuses a plan whose health checks would overflow the execution history; each check waits at
    most MAX_CHECK_INTERVAL. So that bounds a child's bake, and the parent must not give up before it."""
    checks = (MAX_HISTORY_EVENTS - EVENTS_FIXED - EVENTS_RESERVED) // EVENTS_PER_CHECK
    start = definition["States"]["DeployEach"]["ItemProcessor"]["States"]["StartDeployment"]
    assert start["TimeoutSeconds"] > checks * MAX_CHECK_INTERVAL


def test_a_timed_out_task_is_retried_then_handled_like_any_other_failure(definition):
    for name, state in lambda_tasks(definition).items():
        retried = {error for retrier in state["Retry"] for error in retrier["ErrorEquals"]}
        if state["Resource"].endswith(".waitForTaskToken"):  # its timeout is nobody answering: not retried
            assert not retried & {"States.Timeout", "States.ALL", "States.HeartbeatTimeout"}, name
            continue
        assert retried & {"States.Timeout", "States.ALL"}, f"{name} does not retry a timeout"
    for name in MUTATING_TASKS:  # caught into Rollback by States.ALL, which matches States.Timeout
        assert "States.ALL" in definition["States"][name]["Catch"][-1]["ErrorEquals"], name


# What the rollback path reads, and a walk of the graph that proves each read is there on every path.

ROLLBACK_READS = {"deployment", "failure", "executionId", "startedAt"}
"""handlers/rollback.py after a failure: what to restore, why, and which execution's record and lock."""

ADDED_BY_TASK = {"Resolve": {"deployment", "traffic"}, "ResolveRollback": {"deployment", "traffic"},
                 "ResolvePrune": {"prune"}}
"""A Lambda task answers with its input and what it adds (handlers.aws.task merges); what the ASL cannot show:
the two Resolves add the deployment they resolved and where its traffic starts."""

_READ = re.compile(r"(?<![$\w])\$\.(\w+)")


def successors(state: dict) -> Iterator[tuple[str, dict | None]]:
    """``(next state, the transition's own rule or catcher)``: None for Next and Default."""
    for key in ("Next", "Default"):
        if key in state:
            yield state[key], None
    for rule in state.get("Choices", []):
        yield rule["Next"], rule
    for catcher in state.get("Catch", []):
        yield catcher["Next"], catcher


def reachable(states: dict, start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        if (name := todo.pop()) not in seen:
            seen.add(name)
            todo.extend(target for target, _ in successors(states[name]))
    return seen


def top_key(path: str) -> str | None:
    return match[1] if (match := _READ.match(path)) else None


def present(rule: dict) -> set[str]:
    """Keys a Choice rule proves are there when it matches (``IsPresent: true``, alone or in an And)."""
    if rule.get("IsPresent") is True:
        return {top_key(rule["Variable"])}
    return set().union(*(present(r) for r in rule.get("And", [])))


def output(name: str, state: dict, given: frozenset) -> frozenset:
    """The keys a state's output surely has, given the keys its input surely has."""
    kind = state["Type"]
    if kind == "Task":
        parameters = state["Parameters"]
        payload = given if parameters.get("Payload.$") == "$" else {
            key.removesuffix(".$") for key in parameters.get("Payload", {})}
        if state.get("OutputPath") != "$.Payload":  # only the whole answer is the merged document
            return frozenset()
        adds = ADDED_BY_TASK.get(name, set()) | ({"outcome"} if name == "Rollback" and "failure" in given else set())
        return frozenset(payload) | adds
    if kind == "Pass" and ("Result" in state or "Parameters" in state):
        value = set(state.get("Result", state.get("Parameters")))
        value = {key.removesuffix(".$") for key in value}
        path = state.get("ResultPath", "$")
        return frozenset(value) if path == "$" else given | {top_key(path)}
    if kind == "Map":
        return given | {top_key(state["ResultPath"])}
    return given


def transition(name: str, state: dict, given: frozenset, via: dict | None) -> frozenset:
    if via is None:
        return output(name, state, given)
    if "ErrorEquals" in via:  # a catcher: the error output, at ResultPath of the state's input
        path = via.get("ResultPath", "$")
        return frozenset({"Error", "Cause"}) if path == "$" else given | {top_key(path)}
    return given | present(via)


def guaranteed_inputs(definition: dict) -> dict[str, frozenset]:
    """For each state, the top-level keys its input has on every path to it (execution input: none known)."""
    states = definition["States"]
    inputs: dict[str, frozenset] = {definition["StartAt"]: frozenset()}
    todo = [definition["StartAt"]]
    while todo:
        name = todo.pop()
        for target, via in successors(states[name]):
            keys = transition(name, states[name], inputs[name], via)
            if target not in inputs or not inputs[target] <= keys:
                inputs[target] = keys if target not in inputs else inputs[target] & keys
                todo.append(target)
    return inputs


def reads(state: dict) -> set[str]:
    """Top-level keys a state reads from its input: paths in Parameters and Fail's ErrorPath/CausePath."""
    texts = [value for key, value in state.get("Parameters", {}).items() if key.endswith(".$")]
    texts += [state[key] for key in ("ErrorPath", "CausePath", "SecondsPath") if key in state]
    return {match for text in texts if isinstance(text, str) for match in _READ.findall(text)}


def test_every_path_into_rollback_carries_the_failure_and_what_rollback_restores(definition):
    inputs = guaranteed_inputs(definition)
    states = definition["States"]
    into_rollback = [(name, via) for name, state in states.items() for target, via in successors(state)
                     if target == "Rollback"]
    assert len(into_rollback) >= len(MUTATING_TASKS)
    for name, via in into_rollback:
        carried = transition(name, states[name], inputs[name], via)
        assert carried >= ROLLBACK_READS, f"{name} reaches Rollback without {sorted(ROLLBACK_READS - carried)}"


def test_every_state_reads_only_what_every_path_to_it_provides(definition):
    """RolledBack reads the outcome Rollback writes after a failure; Refused what ExplainRefusal wrote; ..."""
    inputs = guaranteed_inputs(definition)
    for name, state in definition["States"].items():
        missing = reads(state) - inputs.get(name, frozenset())
        assert not missing, f"{name} reads {sorted(missing)}, which some path to it does not provide"
    assert reads(definition["States"]["RolledBack"]) == {"outcome"}  # the walk does see these reads


def test_the_walk_finds_a_path_into_rollback_without_a_failure():
    """The check itself: NextStep's default branch going straight to Rollback (the reviewed defect) is found."""
    broken = json.loads(statemachine.DEFINITION.read_text())
    broken["States"]["NextStep"]["Default"] = "Rollback"
    inputs = guaranteed_inputs(broken)
    carried = transition("NextStep", broken["States"]["NextStep"], inputs["NextStep"], None)
    assert "failure" not in carried and "failure" not in inputs["Rollback"]
    assert "outcome" not in inputs["RolledBack"]  # so RolledBack's ErrorPath would be a States.Runtime


def test_the_approval_wait_rolls_back_on_a_lost_watch_before_it_asks_what_a_timeout_means(definition):
    """A missed heartbeat matches a Catch on States.Timeout too (aws-cdk#16084), so it is caught first: a lost
    health watch must never promote, whatever onApprovalTimeout says."""
    gate = all_states(definition["States"])["RequestApproval"]
    assert [c["ErrorEquals"] for c in gate["Catch"]] == [["States.HeartbeatTimeout"], ["States.Timeout"]]
    branch = definition["States"]["AwaitApproval"]["Branches"][0]["States"]
    assert branch[gate["Catch"][0]["Next"]]["Type"] == "Fail"
    assert definition["States"]["AwaitApproval"]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "Rollback"}]
