"""Pruning on a schedule (optional): one EventBridge rule per configured function starts a prune of it, daily.

Not created unless configured (context ``pruneSchedule``): which functions to prune and how many versions to keep
are a team's choice. The rules start five minutes apart from ``hour`` (UTC), so two prunes rarely share the
account's Lambda control-plane rate (about 15 requests/s) with each other; each prune also leaves most of that
rate to deployments (handlers.domain.pruning.BATCH) and backs off when throttled. Each rule's role may start
this state machine only, and trusts EventBridge only on behalf of that rule (``aws:SourceArn``).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import ArnFormat, Aws, Names, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from handlers.domain import pruning
from handlers.domain.errors import InvalidDeploymentRequest
from handlers.domain.model import PRUNE
from infra.errors import ConfigurationError

STAGGER_MINUTES = 5
RULE_NAME_LENGTH = 64


@dataclass(frozen=True, kw_only=True)
class PruneSchedule:
    functions: tuple[str, ...]
    keep: int = pruning.DEFAULT_KEEP
    hour: int = 3

    def __post_init__(self) -> None:
        functions = (self.functions,) if isinstance(self.functions, str) else tuple(self.functions)
        if not functions or not all(isinstance(f, str) and f for f in functions):
            raise ConfigurationError("pruneSchedule.functions: the names of the functions to prune")
        try:
            pruning.parse_keep(self.keep)
        except InvalidDeploymentRequest as exc:
            raise ConfigurationError(f"pruneSchedule.keep: {exc}") from None
        if isinstance(self.hour, bool) or not isinstance(self.hour, int) or not 0 <= self.hour <= 23:
            raise ConfigurationError(f"pruneSchedule.hour {self.hour!r}: an hour of the day, 0 to 23 (UTC)")
        if len(functions) * STAGGER_MINUTES > 24 * 60:
            raise ConfigurationError(f"pruneSchedule: at most {24 * 60 // STAGGER_MINUTES} functions a day")
        object.__setattr__(self, "functions", functions)

    @classmethod
    def from_json(cls, value: object) -> PruneSchedule:
        if not isinstance(value, dict) or set(value) - {"functions", "keep", "hour"}:
            raise ConfigurationError('pruneSchedule: {"functions": [...], "keep": N, "hour": H}')
        return cls(functions=value.get("functions") or (), keep=value.get("keep", pruning.DEFAULT_KEEP),
                   hour=value.get("hour", 3))

    def start(self, index: int) -> tuple[int, int]:
        """(hour, minute) UTC at which the ``index``-th function's prune starts."""
        minutes = self.hour * 60 + index * STAGGER_MINUTES
        return (minutes // 60) % 24, minutes % 60


class ScheduledPrunes(Construct):
    def __init__(self, scope: Construct, id: str, *, schedule: PruneSchedule, state_machine: sfn.IStateMachine) -> None:
        super().__init__(scope, id)
        unique = Names.unique_resource_name(self, max_length=RULE_NAME_LENGTH - 5, separator="-")
        self.rules: list[events.Rule] = []
        for index, function in enumerate(schedule.functions):
            name = f"{unique}-{index:04d}"
            role = iam.Role(self, f"StartRole{index}", assumed_by=self._eventbridge_for(name),
                            description=f"EventBridge starts the scheduled prune of {function}, nothing else")
            state_machine.grant_start_execution(role)
            hour, minute = schedule.start(index)
            self.rules.append(events.Rule(
                self, f"Prune{index}", rule_name=name,
                description=f"Daily: delete the versions of {function} nothing uses but the newest {schedule.keep}",
                schedule=events.Schedule.cron(minute=str(minute), hour=str(hour)),
                targets=[targets.SfnStateMachine(state_machine, role=role, input=events.RuleTargetInput.from_object(
                    {"action": PRUNE, "function": function, "keep": schedule.keep, "requestedBy": "schedule"}))],
            ))

    def _eventbridge_for(self, rule: str) -> iam.ServicePrincipal:
        arn = Stack.of(self).format_arn(service="events", resource="rule", resource_name=rule,
                                        arn_format=ArnFormat.SLASH_RESOURCE_NAME)
        return iam.ServicePrincipal("events.amazonaws.com", conditions={
            "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}, "ArnEquals": {"aws:SourceArn": arn}})
