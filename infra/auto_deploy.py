"""Auto-deploy on ECR push, infrastructure side: two chained EventBridge rules that start the state machine.

Why two rules, and the patterns themselves, are in ``handlers.events`` (the emulator builds the same rules).
"""

from __future__ import annotations

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from handlers.domain.events import Triggers, forward_pattern, trigger_pattern


def _event_pattern(pattern: dict) -> events.EventPattern:
    return events.EventPattern(source=pattern["source"], detail_type=pattern["detail-type"],
                               detail=pattern["detail"])


class AutoDeploy(Construct):
    """Starts the state machine, with the raw event as input, when a configured tag is pushed."""

    def __init__(self, scope: Construct, id: str, *, triggers: Triggers, state_machine: sfn.IStateMachine) -> None:
        super().__init__(scope, id)
        self.bus = events.EventBus(self, "Bus", description="lambda-deployer: ECR pushes that may start a deployment")

        self.forward_role = iam.Role(self, "ForwardRole", assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
                                     description="EventBridge forwards ECR pushes to the lambda-deployer bus")
        self.bus.grant_put_events_to(self.forward_role)
        self.forward_rule = events.Rule(
            self, "ForwardPushes", event_pattern=_event_pattern(forward_pattern(triggers)),
            description="ECR pushes to auto-deploy repositories, except the deployer's own .previous tags",
            targets=[targets.EventBus(self.bus, role=self.forward_role)],
        )

        self.start_role = iam.Role(self, "StartRole", assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
                                   description="EventBridge starts lambda-deployer executions, nothing else")
        state_machine.grant_start_execution(self.start_role)
        self.start_rule = events.Rule(
            self, "StartDeployments", event_bus=self.bus, event_pattern=_event_pattern(trigger_pattern(triggers)),
            description="A configured tag was pushed: deploy the functions that track it",
            targets=[targets.SfnStateMachine(state_machine, role=self.start_role)],
        )
