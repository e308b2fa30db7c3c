"""The outcome word a pipeline reads, for every way an execution can end."""

from __future__ import annotations

import pytest

from deployer.runs import aborted_with, outcome_of, stopped_by_rollback


@pytest.mark.parametrize(("status", "error", "output", "outcome"), [
    ("SUCCEEDED", None, {"outcome": "deployed"}, "deployed"),
    ("SUCCEEDED", None, {"outcome": "unchanged"}, "unchanged"),
    ("SUCCEEDED", None, {"outcome": "rolledBack"}, "rolledBack"),
    ("FAILED", "DeploymentRolledBack", {}, "rolledBack"),
    ("FAILED", "ConcurrentModification", {}, "rolledBack"),
    ("FAILED", "InvalidDeploymentRequest", {}, "refused"),
    ("FAILED", "DeploymentInProgress", {}, "refused"),
    ("FAILED", "RollbackFailed", {}, "rollbackFailed"),
    ("FAILED", "States.Runtime", {}, "failed"),
    ("ABORTED", "RollbackRequested", {}, "aborted"),
    ("TIMED_OUT", None, {}, "timedOut"),
    ("RUNNING", None, {}, "running"),
])
def test_every_ending_has_an_outcome_word(status, error, output, outcome):
    assert outcome_of(status, error, output) == outcome


def test_a_stopped_executions_error_and_cause_come_from_its_aborted_event():
    events = [{"type": "ExecutionStarted"}, {"type": "ExecutionAborted", "executionAbortedEventDetails": {
        "error": "RollbackRequested", "cause": "stopped by rollback request r-1"}}]
    assert aborted_with(events) == ("RollbackRequested", "stopped by rollback request r-1")
    assert aborted_with([{"type": "ExecutionAborted", "executionAbortedEventDetails": {"error": "", "cause": ""}}]) \
        == (None, None)  # stopped without saying why
    assert aborted_with([{"type": "ExecutionStarted"}]) == (None, None)


@pytest.mark.parametrize(("rollback", "outcome", "live"), [
    ({"status": "SUCCEEDED", "outcome": "rolledBack", "version": "1"}, "rolledBack", "1"),
    ({"status": "FAILED", "outcome": "rollbackFailed", "version": "1"}, "aborted", None),
])
def test_a_deployment_stopped_by_a_rollback_is_where_that_rollback_left_traffic(rollback, outcome, live):
    stopped = {"status": "ABORTED", "outcome": "aborted", "liveVersion": None, "version": "2"}
    found = stopped_by_rollback(stopped, rollback | {"name": "r-1", "execution": "arn:…:r-1"})
    assert (found["outcome"], found["liveVersion"], found["version"]) == (outcome, live, "2")
    assert found["rolledBackBy"]["name"] == "r-1" and found["rolledBackBy"]["status"] == rollback["status"]
