"""The deployer watching itself: a CloudWatch dashboard, and alarms on its own failures.

The dashboard shows what the deployer did (deployments started, succeeded, rolled back, rescued; their
outcomes over the chosen range; how long executions and tasks take; each rollback's cause, from the Rollback
function's logs) and how it is doing (task failures, throttles and transient AWS errors, Step Functions'
failed, timed-out and aborted executions, the safety net, notifications, the alarms).

The alarms fire on what needs a person: a rescue or reconcile run that fails (AWS/Lambda Errors), repairs
the reconciler could not make, an execution that ended ``RollbackFailed``, a lock held longer than any
deployment should take, and anything in the dead-letter queue. Their metric names and dimensions are those
of handlers.domain.telemetry, which tests/statemachine/test_own_metrics.py shows the handlers really emit.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from handlers.domain import telemetry
from handlers.domain.catalog import METRICS_NAMESPACE, SERVICE

PERIOD = Duration.minutes(5)  # the reconciler's schedule: each period holds one of its runs
WIDE, HALF, THIRD = 24, 12, 8
ROLLBACK_CAUSES = (  # the line handlers/rollback.py logs for each rollback after a failure
    "fields @timestamp, function, error, reason | filter message = 'rolled back' | sort @timestamp desc | limit 20")
ROLLBACKS_BY_CAUSE = "filter message = 'rolled back' | stats count(*) as rollbacks by error | sort rollbacks desc"


def own(metric: str, task: str, *, statistic: str = "Sum", label: str | None = None,
        period: Duration = PERIOD) -> cloudwatch.Metric:
    """A metric the handlers count (handlers.domain.telemetry), as ``task`` counts it."""
    if task not in telemetry.COUNTED_BY.get(metric, telemetry.functions()) or metric not in (
            *telemetry.COUNTED_BY, *telemetry.EVERY_TASK):
        raise ValueError(f"{task} does not count {metric} (handlers.domain.telemetry)")
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE, metric_name=metric, statistic=statistic, period=period, label=label,
        dimensions_map={telemetry.SERVICE_DIMENSION: SERVICE, telemetry.TASK_DIMENSION: telemetry.task_dimension(task)},
    )


class Monitoring(Construct):
    """``dashboard`` and ``alarms`` (by purpose); each alarm notifies ``topic`` when there is one."""

    def __init__(self, scope: Construct, id: str, *, name: str, state_machine: sfn.IStateMachine,
                 functions: Mapping[str, lambda_.IFunction], log_groups: Mapping[str, logs.ILogGroup],
                 dead_letters: sqs.IQueue, lock_alarm_after: Duration, topic: sns.ITopic | None = None) -> None:
        """``name`` names the dashboard and prefixes every alarm; ``functions``/``log_groups``: by catalog key."""
        super().__init__(scope, id)
        self.alarms = self._alarms(name, functions, dead_letters, lock_alarm_after)
        if topic:
            for alarm in self.alarms.values():
                alarm.add_alarm_action(actions.SnsAction(topic))
                alarm.add_ok_action(actions.SnsAction(topic))
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=name,
                                              default_interval=Duration.days(7))
        for row in self._widgets(state_machine, functions, log_groups, dead_letters):
            self.dashboard.add_widgets(*row)

    def _alarms(self, name: str, functions: Mapping[str, lambda_.IFunction], dead_letters: sqs.IQueue,
                lock_alarm_after: Duration) -> dict[str, cloudwatch.Alarm]:
        at_least_once = {"threshold": 1, "evaluation_periods": 1,
                         "comparison_operator": cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                         "treat_missing_data": cloudwatch.TreatMissingData.NOT_BREACHING}
        alarms = {
            "rescue-errors": (functions["Rescue"].metric_errors(period=PERIOD, statistic="Sum"), at_least_once,
                              "The rescue failed (after Lambda's retries the event is in the dead-letter queue): "
                              "an aborted, timed-out or failed deployment may have left its function split or "
                              "locked. Read the Rescue function's logs; the reconciler retries every 5 minutes."),
            "reconcile-errors": (functions["Reconcile"].metric_errors(period=PERIOD, statistic="Sum"), at_least_once,
                                 "A reconciler run failed as a whole: stale locks and weighted aliases are not being "
                                 "repaired. Read the Reconcile function's logs."),
            "reconcile-problems": (own("ReconcileProblems", "Reconcile"), at_least_once,
                                   "The reconciler could not repair a lock or an alias (it says which in its log "
                                   "line 'reconciled', key problems) and will try again every 5 minutes."),
            "rollback-failed": (own("RollbackFailed", "Rescue"), at_least_once,
                                "A deployment ended RollbackFailed: its rollback could not restore everything. The "
                                "execution's cause lists what is left; the rescue tries once more."),
            "lock-held-too-long": (
                own("OldestLockAgeSeconds", "Reconcile", statistic="Maximum"),
                {**at_least_once, "threshold": lock_alarm_after.to_seconds(),
                 "comparison_operator": cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD},
                f"A function's deployment lock has been held more than {lock_alarm_after.to_minutes()} minutes: a "
                "deployment running far longer than planned, or a lock nobody could free. lambda-deployer status "
                "names its execution; stop it or roll back (the rescue then restores)."),
            "dead-letters": (dead_letters.metric_approximate_number_of_messages_visible(period=PERIOD,
                                                                                        statistic="Maximum"),
                             at_least_once,
                             "An event the rescue or the reconciler never handled is in the dead-letter queue "
                             "(the message says which and why). Act on it, then delete the message."),
        }
        return {purpose: cloudwatch.Alarm(self, purpose.title().replace("-", ""), alarm_name=f"{name}-{purpose}",
                                          metric=metric, alarm_description=description, **settings)
                for purpose, (metric, settings, description) in alarms.items()}

    def _widgets(self, state_machine: sfn.IStateMachine, functions: Mapping[str, lambda_.IFunction],
                 log_groups: Mapping[str, logs.ILogGroup], dead_letters: sqs.IQueue) -> list[list[cloudwatch.IWidget]]:
        tasks = list(functions)
        outcomes = [own("DeploymentStarted", "Resolve", label="started"),
                    own("DeploymentSucceeded", "Finalize", label="succeeded"),
                    own("DeploymentRolledBack", "Rollback", label="rolled back"),
                    own("RollbackRequestCompleted", "Finalize", label="rollback requests"),
                    own("DeploymentRescued", "Rescue", label="rescued"),
                    own("DeploymentRescued", "Reconcile", label="repaired by the reconciler"),
                    own("RollbackFailed", "Rescue", label="rollback failed")]
        return [
            [cloudwatch.GraphWidget(title="Deployments", left=outcomes, width=HALF, stacked=True),
             cloudwatch.SingleValueWidget(title="Outcomes in the time range", metrics=outcomes, width=HALF, height=6,
                                          set_period_to_time_range=True)],
            [cloudwatch.GraphWidget(title="Execution duration (ms)", width=HALF, left=[
                state_machine.metric_time(statistic=stat, label=stat, period=PERIOD)
                for stat in ("p50", "p90", "Maximum")]),
             cloudwatch.GraphWidget(title="Task duration, p90 (ms)", width=HALF, left=[
                 own("TaskDuration", task, statistic="p90", label=task) for task in tasks])],
            [cloudwatch.GraphWidget(title="Rollbacks and the checks that failed", width=THIRD, left=[
                own("DeploymentRolledBack", "Rollback", label="rolled back"),
                own("HealthCheckFailed", "CheckHealth", label="a watched alarm in ALARM"),
                own("CanaryAnalysisFailed", "CheckHealth", label="canary analysis failed"),
                own("SyntheticCheckFailed", "RunChecks", label="a synthetic invocation failed"),
                own("HookFailed", "RunChecks", label="a hook said no"),
                own("HealthCheckFailed", "WatchApproval", label="an alarm while waiting for approval"),
                own("ApprovalRequested", "RequestApproval", label="approvals asked for"),
                own("AlarmRollbacksStarted", "AlarmFired", label="rolled back by the alarm's own event")]),
             cloudwatch.LogQueryWidget(title="Rollbacks by cause", width=THIRD, query_string=ROLLBACKS_BY_CAUSE,
                                       log_group_names=[log_groups["Rollback"].log_group_name],
                                       view=cloudwatch.LogQueryVisualizationType.TABLE),
             cloudwatch.LogQueryWidget(title="Latest rollbacks", width=THIRD, query_string=ROLLBACK_CAUSES,
                                       log_group_names=[log_groups["Rollback"].log_group_name],
                                       view=cloudwatch.LogQueryVisualizationType.TABLE)],
            [cloudwatch.GraphWidget(title="Task failures", width=THIRD, left=[
                own("TaskFailed", task, label=task) for task in tasks]),
             cloudwatch.GraphWidget(title="Throttles of the deployer's functions", width=THIRD, left=[
                 function.metric_throttles(period=PERIOD, statistic="Sum", label=task)
                 for task, function in functions.items()]),
             cloudwatch.GraphWidget(title="Transient AWS errors (throttling, 5xx; retried)", width=THIRD, left=[
                 own("TransientAwsError", task, label=task) for task in tasks])],
            [cloudwatch.GraphWidget(title="Step Functions executions", width=THIRD, left=[
                state_machine.metric_started(period=PERIOD, label="started"),
                state_machine.metric_succeeded(period=PERIOD, label="succeeded"),
                state_machine.metric_failed(period=PERIOD, label="failed"),
                state_machine.metric_timed_out(period=PERIOD, label="timed out"),
                state_machine.metric_aborted(period=PERIOD, label="aborted"),
                state_machine.metric_throttled(period=PERIOD, label="throttled")]),
             cloudwatch.GraphWidget(title="Safety net", width=THIRD, left=[
                 own("LocksFreed", "Reconcile", label="stale locks freed"),
                 own("AliasesRepaired", "Reconcile", label="weighted aliases repaired"),
                 own("ReconcileProblems", "Reconcile", label="repairs that failed"),
                 dead_letters.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum",
                                                                            label="dead letters")],
                 right=[own("OldestLockAgeSeconds", "Reconcile", statistic="Maximum", label="oldest lock (s)")]),
             cloudwatch.GraphWidget(title="Notifications", width=THIRD, left=[
                 own(metric, task, label=f"{word} by {task}") for metric, word in (
                     ("NotificationSent", "sent"), ("NotificationFailed", "not sent"))
                 for task in telemetry.NOTIFYING if task in functions])],
            [cloudwatch.AlarmStatusWidget(title="The deployer's alarms", width=WIDE,
                                          alarms=list(self.alarms.values()))],
        ]
