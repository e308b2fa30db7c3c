"""The deployer's own metrics as CloudWatch holds them: each name, and the tasks that count it.

The handlers write them as CloudWatch embedded metric format (handlers.aws.task) in the namespace
``METRICS_NAMESPACE``, every one with the dimensions ``service`` (``SERVICE``) and ``task``: the module of the
handler that counted it (``shift_traffic`` for ShiftTraffic, ``rollback`` for Rollback and RestoreVersion).
The stack's dashboard and alarms (infra.monitoring) read them from here;
tests/statemachine/test_own_metrics.py runs the deployer and shows each one counted as this says.
"""

from __future__ import annotations

from collections.abc import Mapping

from handlers.domain.catalog import EVENT_HANDLERS, TASKS

SERVICE_DIMENSION, TASK_DIMENSION = "service", "task"

NOTIFYING = ("Lock", "ShiftTraffic", "RequestApproval", "Promote", "Rollback", "Rescue", "Reconcile")
"""The tasks that send lifecycle notifications (and may, alone, PutEvents)."""

COUNTED_BY: Mapping[str, tuple[str, ...]] = {
    "DeploymentStarted": ("Resolve",),  # a request that passed validation (a no-op included)
    "PushDeployments": ("FindTrackingFunctions",),  # deployments an ECR push started
    "TrafficShifted": ("ShiftTraffic",),
    "DeploymentSucceeded": ("Finalize",),
    "RollbackRequestCompleted": ("Finalize",),
    "DeploymentRolledBack": ("Rollback",),  # after a failure: the causes are in the Rollback function's logs
    "HealthCheckFailed": ("CheckHealth", "WatchApproval"),  # a watched alarm in ALARM: one cause of a rollback
    "CanaryAnalysisFailed": ("CheckHealth",),  # the new version's metrics failed the canary analysis
    "SyntheticCheckFailed": ("RunChecks",),  # an invocation of the new version did not answer as expected
    "HookFailed": ("RunChecks",),  # a hook function said no
    "VersionsPruned": ("Prune",),  # versions a prune deleted
    "ApprovalRequested": ("RequestApproval",),  # a deployment began to wait at an approval gate
    "AlarmRollbacksStarted": ("AlarmFired",),  # rollbacks an alarm's own event started (0 when it judged none)
    "DeploymentRescued": ("Rescue", "Reconcile"),
    "RollbackFailed": ("Rescue",),  # an execution that ended RollbackFailed (heard by the rescue)
    "LocksFreed": ("Reconcile",),
    "AliasesRepaired": ("Reconcile",),
    "ReconcileProblems": ("Reconcile",),
    "OldestLockAgeSeconds": ("Reconcile",),  # seconds, not a count: the oldest lock still held after a run
    "NotificationSent": NOTIFYING,
    "NotificationFailed": NOTIFYING,
}
EVERY_TASK = ("TaskDuration", "TaskFailed", "TransientAwsError")
"""Counted by the task wrapper for every function (milliseconds for TaskDuration)."""


def functions() -> dict[str, str]:
    """Every deployer function (catalog key -> handler)."""
    return {**TASKS, **EVENT_HANDLERS}


def task_dimension(task: str) -> str:
    """The ``task`` dimension of what ``task`` (a catalog key) counts: its handler's module."""
    return functions()[task].rsplit(".", 2)[-2]
