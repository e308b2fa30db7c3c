"""Rollback on the alarm's own event: the rule that hands every transition to ALARM to the AlarmFired function.

The pattern (``handlers.domain.events.alarm_fired_pattern``) matches every alarm of this account and region
going to ALARM, not only the alarms deployments watch: those are named per request, so no pattern written
at synth can list them, and keeping the rule in step with each deployment would be a mutation outside the
state machine that could fail or be left behind. The function drops an alarm no running deployment watches
after one Query of the locks index, and alarms go to ALARM rarely.

Delivery: CloudWatch delivers these events to EventBridge durably. EventBridge invokes the function
asynchronously; a failed invocation call is retried for up to ``ALARM_EVENT_AGE`` and then kept in the safety
net's ``dead_letters`` (one SQS queue for every event-driven function of the deployer: an event there is a
rollback that did not start from its event, and that the deployment's own next check did instead). Lambda
retries a failed run twice (its default, set explicitly) and then sends it to the same queue.
A late event is harmless: the function skips deployments that started after the transition, and a
rollback's execution name is derived from the deployment it stops. EventBridge may invoke the function on
behalf of this rule only: the permission CDK adds to the function names the rule's ARN (``aws:SourceArn``),
and so does the queue's policy for the dead letters.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from handlers.domain.events import alarm_fired_pattern
from infra.safety_net import SafetyNet

ALARM_EVENT_AGE = Duration.hours(1)  # MAX_CHECK_INTERVAL: later than that, any deployment's check got there first
ASYNC_RETRIES = 2


class AlarmRollback(Construct):
    """The rule, its Lambda target (retries, dead letters) and the function's own async retry settings."""

    def __init__(self, scope: Construct, id: str, *, function: lambda_.Function, safety_net: SafetyNet) -> None:
        super().__init__(scope, id)
        pattern = alarm_fired_pattern(Aws.ACCOUNT_ID, Aws.REGION)
        self.dead_letters = safety_net.dead_letters
        safety_net.guard(function, retry_attempts=ASYNC_RETRIES, max_event_age=ALARM_EVENT_AGE)
        self.rule = events.Rule(
            self, "RollBackOnAlarm",
            description="A CloudWatch alarm went to ALARM: roll back the running deployments that watch it",
            event_pattern=events.EventPattern(source=pattern["source"], detail_type=pattern["detail-type"],
                                              account=pattern["account"], region=pattern["region"],
                                              detail=pattern["detail"]),
            targets=[targets.LambdaFunction(function, retry_attempts=8, max_event_age=ALARM_EVENT_AGE,
                                            dead_letter_queue=self.dead_letters)],
        )
