"""What keeps the invariant when an execution cannot: the rescue on abnormal ends, the periodic reconciler.

Step Functions runs no Catch on StopExecution or an execution timeout, and EventBridge delivers its
status-change events best effort; so the rescue reacts to each ABORTED/TIMED_OUT/FAILED end of this state
machine's executions, and the reconciler repeats the repair on a schedule (handlers/rescue.py, reconcile.py).

Two reconciler runs must never overlap (both would repair the same alias). EventBridge invokes it
asynchronously, so a run starts at most its event ages after its slot (EventBridge's retries of a failed
delivery, then Lambda's queue), and ends at most its timeout later: the sum stays below the schedule.
Lambda's own retry of a failed run is off (the next run is the retry). Reserved concurrency 1 would also
prevent overlap, but a reservation must leave the account 100 unreserved (AWS Lambda, "Configuring reserved
concurrency"), which fails the deploy in accounts with the low concurrency quota new accounts get, and a
throttled async event only waits in Lambda's queue (up to its event age) for the run before it to end.

Nothing these functions are asked to do is dropped silently: an event EventBridge could not deliver (the
target's dead-letter queue) and an invocation that failed all its attempts or outlived its event age (Lambda's
on-failure destination, "Capturing records of Lambda asynchronous invocations"), for these two and for the
alarm rollback (infra/alarm_rollback.py), land in one encrypted SQS
queue, ``dead_letters``, which the stack alarms on. A rescue that fails is retried twice by Lambda (the
default); what is left is also the reconciler's to repair.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from handlers.domain.events import RECONCILE_EVERY_MINUTES, execution_ended_pattern
from infra.errors import ConfigurationError
from infra.nag import DEAD_LETTER_QUEUE, acknowledge

RECONCILE_EVERY = Duration.minutes(RECONCILE_EVERY_MINUTES)
RECONCILE_EVENT_AGE = Duration.minutes(1)  # the least EventBridge and Lambda accept; a later run catches up
RESCUE_EVENT_AGE = Duration.hours(1)  # a rescue later than that is the reconciler's (it runs every 5 minutes)
RESCUE_RETRIES = 2  # Lambda's default, made explicit: a rescue is idempotent


class SafetyNet(Construct):
    def __init__(self, scope: Construct, id: str, *, state_machine: sfn.IStateMachine, rescue: lambda_.IFunction,
                 reconcile: lambda_.Function, reconcile_every: Duration = RECONCILE_EVERY) -> None:
        super().__init__(scope, id)
        if latest_end(reconcile) >= reconcile_every.to_seconds():
            raise ConfigurationError(
                f"the reconciler could still run {latest_end(reconcile)} s after its slot, which is not less "
                f"than its schedule ({reconcile_every.to_seconds()} s): two runs would overlap"
            )
        self.dead_letters = sqs.Queue(
            self, "DeadLetters", encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
            retention_period=Duration.days(14),  # SQS's longest: time to look at each and act
        )
        acknowledge(self.dead_letters, {DEAD_LETTER_QUEUE: [
            "This queue is itself the dead-letter queue: of EventBridge's deliveries to the rescue, the "
            "reconciler and the alarm rollback, and Lambda's on-failure destination of all three, which "
            "cdk-nag cannot see (it looks only for SQS redrive policies). What lands here is alarmed on and kept "
            "14 days."]})
        pattern = execution_ended_pattern(state_machine.state_machine_arn)
        self.guard(rescue, retry_attempts=RESCUE_RETRIES, max_event_age=RESCUE_EVENT_AGE)
        self.rescue_rule = events.Rule(
            self, "RescueAbandonedDeployments",
            description="An execution of lambda-deployer ended ABORTED, TIMED_OUT or FAILED: restore what it left",
            event_pattern=events.EventPattern(source=pattern["source"], detail_type=pattern["detail-type"],
                                              detail=pattern["detail"]),
            targets=[targets.LambdaFunction(rescue, retry_attempts=8, max_event_age=RESCUE_EVENT_AGE,
                                            dead_letter_queue=self.dead_letters)],
        )
        self.guard(reconcile, retry_attempts=0, max_event_age=RECONCILE_EVENT_AGE)
        self.reconcile_rule = events.Rule(
            self, "Reconcile", description="Repair stale locks and weighted aliases no deployment is responsible for",
            schedule=events.Schedule.rate(reconcile_every),
            targets=[targets.LambdaFunction(reconcile, retry_attempts=2, max_event_age=RECONCILE_EVENT_AGE,
                                            dead_letter_queue=self.dead_letters)],
        )

    def guard(self, function: lambda_.IFunction, *, retry_attempts: int, max_event_age: Duration) -> None:
        """An event-driven function's asynchronous invocations: retried ``retry_attempts`` times, kept at most
        ``max_event_age``, and then sent to ``dead_letters`` rather than dropped. For every EventBridge target
        of the deployer (give its rule target ``dead_letter_queue=self.dead_letters`` as well)."""
        function.configure_async_invoke(retry_attempts=retry_attempts, max_event_age=max_event_age,
                                        on_failure=destinations.SqsDestination(self.dead_letters))


def latest_end(reconcile: lambda_.Function) -> float:
    """Seconds after its scheduled slot by which a reconciler run has surely ended."""
    return 2 * RECONCILE_EVENT_AGE.to_seconds() + reconcile.timeout.to_seconds()
