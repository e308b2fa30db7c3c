"""Auto-deploy on ECR push, infrastructure side: two chained EventBridge rules that start the state machine.

Why two rules, and the patterns themselves, are in ``handlers.events`` (the emulator builds the same rules).
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Aws, Names, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from handlers.domain.events import Triggers, forward_pattern, trigger_pattern

RULE_NAME_LENGTH = 64


def _event_pattern(pattern: dict) -> events.EventPattern:
    return events.EventPattern(source=pattern["source"], detail_type=pattern["detail-type"],
                               detail=pattern["detail"])


class AutoDeploy(Construct):
    """Starts the state machine, with the raw event as input, when a configured tag is pushed.

    Each rule's role trusts EventBridge only on behalf of that rule (``aws:SourceArn`` is the rule's ARN for
    rule targets, EventBridge "Cross-service confused deputy prevention"). The rules are named here, so the
    trust can name their ARNs without referring to the rules, which refer to the roles.
    """

    def __init__(self, scope: Construct, id: str, *, triggers: Triggers, state_machine: sfn.IStateMachine) -> None:
        super().__init__(scope, id)
        self.bus = events.EventBus(self, "Bus", description="lambda-deployer: ECR pushes that may start a deployment")
        unique = Names.unique_resource_name(self, max_length=RULE_NAME_LENGTH - len("-Forward"), separator="-")
        forward_name, start_name = f"{unique}-Forward", f"{unique}-Start"

        self.forward_role = iam.Role(self, "ForwardRole", assumed_by=self._eventbridge_for(forward_name),
                                     description="EventBridge forwards ECR pushes to the lambda-deployer bus")
        self.bus.grant_put_events_to(self.forward_role)
        self.forward_rule = events.Rule(
            self, "ForwardPushes", rule_name=forward_name, event_pattern=_event_pattern(forward_pattern(triggers)),
            description="ECR pushes to auto-deploy repositories, except the deployer's own .previous tags",
            targets=[targets.EventBus(self.bus, role=self.forward_role)],
        )

        self.start_role = iam.Role(self, "StartRole",
                                   assumed_by=self._eventbridge_for(f"{self.bus.event_bus_name}/{start_name}"),
                                   description="EventBridge starts lambda-deployer executions, nothing else")
        state_machine.grant_start_execution(self.start_role)
        self.start_rule = events.Rule(
            self, "StartDeployments", rule_name=start_name, event_bus=self.bus,
            event_pattern=_event_pattern(trigger_pattern(triggers)),
            description="A configured tag was pushed: deploy the functions that track it",
            targets=[targets.SfnStateMachine(state_machine, role=self.start_role)],
        )

    def _eventbridge_for(self, rule: str) -> iam.ServicePrincipal:
        """EventBridge acting for the rule ``rule`` (``name``, or ``bus/name`` on a bus other than the default)."""
        arn = Stack.of(self).format_arn(service="events", resource="rule", resource_name=rule,
                                        arn_format=ArnFormat.SLASH_RESOURCE_NAME)
        return iam.ServicePrincipal("events.amazonaws.com", conditions={
            "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
            "ArnEquals": {"aws:SourceArn": arn},
        })
