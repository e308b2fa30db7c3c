"""The Lambda functions of the deployer and the handler behind each.

``TASKS`` are invoked by the state machine: the ASL names each as ``${<Key>FunctionArn}`` (one function may
serve several states: Rollback also serves RestoreVersion). ``EVENT_HANDLERS`` are EventBridge targets.
The CDK construct and the local emulator both create one function per entry.
"""

SERVICE = "lambda-deployer"
"""The Powertools service of every function: its logger's name, the ``service`` key of logs and metrics."""
METRICS_NAMESPACE = "LambdaDeployer"
"""The CloudWatch namespace of the deployer's own metrics (TaskDuration, TaskFailed, ...)."""
FUNCTION_NAME_PREFIX = "FUNCTION_NAME_PREFIX"
"""The environment variable naming the deployer's ``functionNamePrefix`` (empty: every managed function)."""
STATE_MACHINE_ARN = "STATE_MACHINE_ARN"
"""The environment variable naming the deployer's own state machine (the alarm handler starts rollbacks there)."""

METRICS_LAG_SECONDS = "METRICS_LAG_SECONDS"
"""The environment variable that, when set, replaces how far behind a check its analysis window ends (by default
the function's timeout + 120 s, ``canary_metrics.lag_seconds``): the emulator's invocations take no time."""

TASKS: dict[str, str] = {
    "Resolve": "handlers.resolve.handler",
    "ResolveRollback": "handlers.resolve_rollback.handler",
    "FindTrackingFunctions": "handlers.find_tracking_functions.handler",
    "Lock": "handlers.lock.handler",
    "RetagImage": "handlers.retag_image.handler",  # the tag, or (zip) the functions/<name>.zip key
    "UpdateCode": "handlers.update_code.handler",
    "WaitForCodeUpdate": "handlers.wait_for_code_update.handler",  # also WaitForVersion and WaitForCapacity
    "PublishVersion": "handlers.publish_version.handler",
    "ShiftTraffic": "handlers.shift_traffic.handler",
    "CheckHealth": "handlers.check_health.handler",
    "RunChecks": "handlers.run_checks.handler",  # synthetic invocations and hooks (also after Promote)
    "RequestApproval": "handlers.request_approval.handler",  # an approval gate's token on the lock
    "WatchApproval": "handlers.watch_approval.handler",  # health and heartbeat while the gate waits
    "Promote": "handlers.promote.handler",
    "Finalize": "handlers.finalize.handler",
    "Rollback": "handlers.rollback.handler",  # also ReleaseLatest: a preview hands $LATEST back to production
    "ResolvePrune": "handlers.resolve_prune.handler",  # prune and deletePreview requests: what goes, what stays
    "Prune": "handlers.prune.handler",  # one batch of deletions
}

EVENT_HANDLERS: dict[str, str] = {
    "Rescue": "handlers.rescue.handler",  # this state machine's executions ending ABORTED/TIMED_OUT/FAILED
    "Reconcile": "handlers.reconcile.handler",  # on a schedule
    "AlarmFired": "handlers.alarm_fired.handler",  # a CloudWatch alarm went to ALARM
}


def placeholder(task: str) -> str:
    return f"{task}FunctionArn"
