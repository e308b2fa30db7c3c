"""The outcome word a pipeline reads, for every way an execution can end."""

from __future__ import annotations

import pytest

from deployer.runs import outcome_of


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
