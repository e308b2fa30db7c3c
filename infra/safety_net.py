"""What keeps the invariant when an execution cannot: the rescue on abnormal ends, the periodic reconciler.

Step Functions runs no Catch on StopExecution or an execution timeout, and EventBridge delivers its
status-change events best effort; so the rescue reacts to each ABORTED/TIMED_OUT/FAILED end of this state
machine's executions, and the reconciler repeats the repair on a schedule (handlers/rescue.py, reconcile.py).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from handlers.domain.events import RECONCILE_EVERY_MINUTES, execution_ended_pattern

RECONCILE_EVERY = Duration.minutes(RECONCILE_EVERY_MINUTES)


class SafetyNet(Construct):
    def __init__(self, scope: Construct, id: str, *, state_machine: sfn.IStateMachine, rescue: lambda_.IFunction,
                 reconcile: lambda_.IFunction, reconcile_every: Duration = RECONCILE_EVERY) -> None:
        super().__init__(scope, id)
        pattern = execution_ended_pattern(state_machine.state_machine_arn)
        self.rescue_rule = events.Rule(
            self, "RescueAbandonedDeployments",
            description="An execution of lambda-deployer ended ABORTED, TIMED_OUT or FAILED: restore what it left",
            event_pattern=events.EventPattern(source=pattern["source"], detail_type=pattern["detail-type"],
                                              detail=pattern["detail"]),
            targets=[targets.LambdaFunction(rescue, retry_attempts=8, max_event_age=Duration.hours(1))],
        )
        self.reconcile_rule = events.Rule(
            self, "Reconcile", description="Repair stale locks and weighted aliases no deployment is responsible for",
            schedule=events.Schedule.rate(reconcile_every),
            targets=[targets.LambdaFunction(reconcile, retry_attempts=2)],
        )
