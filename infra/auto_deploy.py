"""Auto-deploy on ECR push, infrastructure side: EventBridge rules that start the state machine.

A push of a configured tag to a configured repository starts one execution whose input is the raw ECR
event; the state machine finds the functions that track that ``repository:tag`` (function tags) and
deploys each. The deployer's own retag pushes the tags ``<function-name>`` and
``<function-name>.previous`` into the same repository, so the triggers are explicit tag patterns
(exact, or EventBridge wildcards; a bare ``*`` is refused) and ``.previous`` tags are excluded.

EventBridge cannot AND two filters on one field: a field appears once per pattern, and a field repeated
inside ``$or`` replaces the outer one. "Matches a configured pattern" and "does not end with .previous"
are therefore two rules in a row: the first, on the default bus, forwards the configured repositories'
pushes except ``.previous`` tags to the deployer's own bus; the second, there, starts the state machine
for the configured tag patterns.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Mapping, Sequence

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from handlers.registry import previous_tag
from infra.errors import ConfigurationError

PREVIOUS_SUFFIX = previous_tag("")
"""The suffix of the tag that keeps the stable image tagged (``<function-name>.previous``)."""

MAX_PATTERN_LENGTH = 4096  # EventBridge PutRule: EventPattern length

_REPOSITORY = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")  # ECR names
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")  # ECR image tags
_TAG_WILDCARD = re.compile(r"^[A-Za-z0-9_.*-]{1,128}$")

Triggers = Mapping[str, tuple[str, ...]]
"""Per repository name, the tag patterns whose push starts a deployment."""


def check_triggers(raw: object, *, repositories: Sequence[str]) -> Triggers:
    """The auto-deploy configuration, validated and normalized; every problem is reported at once.

    ``repositories`` are the repository patterns the deployer may retag: a repository it cannot retag
    cannot auto-deploy.
    """
    example = 'e.g. {"orders": ["main", "release-*"]}'
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"autoDeploy must map ECR repository names to lists of tag patterns, {example}")
    problems: list[str] = []
    triggers: dict[str, tuple[str, ...]] = {}
    for repository, patterns in raw.items():
        if not isinstance(repository, str) or not _REPOSITORY.match(repository) or len(repository) > 256:
            problems.append(f"{repository!r} is not an ECR repository name")
            continue
        if not any(fnmatch.fnmatchcase(repository, allowed) for allowed in repositories):
            problems.append(f"repository {repository!r} is not among the repositories the deployer may retag "
                            f"({', '.join(repositories)}); add it to 'repositories'")
        if isinstance(patterns, str) or not isinstance(patterns, Sequence) or not patterns:
            problems.append(f"{repository}: give a non-empty list of tag patterns, {example}")
            continue
        problems += [f"{repository}: {problem}" for pattern in patterns if (problem := _pattern_problem(pattern))]
        triggers[repository] = tuple(dict.fromkeys(p for p in patterns if isinstance(p, str)))
    if not problems and triggers and len(json.dumps(trigger_pattern(triggers))) > MAX_PATTERN_LENGTH:
        problems.append(f"the patterns do not fit one EventBridge rule ({MAX_PATTERN_LENGTH} characters); "
                        "use fewer or broader tag patterns")
    if problems:
        raise ConfigurationError("invalid autoDeploy configuration: " + "; ".join(problems))
    return triggers


def _pattern_problem(pattern: object) -> str | None:
    if not isinstance(pattern, str):
        return f"{pattern!r} is not a tag pattern (a string)"
    if "*" not in pattern:
        if not _TAG.match(pattern):
            return f"{pattern!r} is not an ECR image tag"
        if pattern.endswith(PREVIOUS_SUFFIX):
            return (f"{pattern!r}: tags ending in {PREVIOUS_SUFFIX} are the deployer's own "
                    "(they keep the stable image tagged)")
        return None
    if not _TAG_WILDCARD.match(pattern) or "**" in pattern:
        return f"{pattern!r} is not a tag wildcard (tag characters and single '*')"
    if not pattern.strip("*"):
        return (f"{pattern!r} matches every tag, including the <function-name> tags the deployer pushes "
                "itself; name the tags that should deploy")
    return None


def forward_pattern(triggers: Triggers) -> dict:
    """First rule, default bus: successful pushes to the configured repositories, except ``.previous`` tags."""
    return _ecr_push({
        "repository-name": sorted(triggers),
        "image-tag": [{"anything-but": {"suffix": PREVIOUS_SUFFIX}}],
    })


def trigger_pattern(triggers: Triggers) -> dict:
    """Second rule, deployer bus: a configured tag pattern of the pushed repository."""
    by_patterns: dict[tuple[str, ...], list[str]] = {}
    for repository, patterns in sorted(triggers.items()):
        by_patterns.setdefault(patterns, []).append(repository)
    branches = [{"repository-name": repositories, "image-tag": [_tag_filter(p) for p in patterns]}
                for patterns, repositories in by_patterns.items()]
    return _ecr_push(branches[0] if len(branches) == 1 else {"$or": branches})  # "$or" needs two branches


def _tag_filter(pattern: str) -> str | dict:
    return {"wildcard": pattern} if "*" in pattern else pattern


def _ecr_push(detail: dict) -> dict:
    return {
        "source": ["aws.ecr"],
        "detail-type": ["ECR Image Action"],
        "detail": {"action-type": ["PUSH"], "result": ["SUCCESS"], **detail},
    }


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
