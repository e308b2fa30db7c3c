"""EventBridge patterns the deployer reacts to, shared by the CDK stack and the local emulator.

Pure (no AWS calls, no CDK), so both places build exactly the same rules.

Auto-deploy on ECR push: a push of a configured tag to a configured repository starts one execution
whose input is the raw ECR event. The deployer's own retags push ``<function-name>`` and
``<function-name>.previous`` into the same repositories, so the triggers are explicit tag patterns
(exact, or EventBridge wildcards; a bare ``*`` is refused) and ``.previous`` tags are excluded.
EventBridge cannot AND two filters on one field (a field repeated inside ``$or`` replaces the outer one),
so "matches a configured pattern" and "does not end with .previous" are two rules in a row: the first, on
the default bus, forwards the configured repositories' pushes except ``.previous`` tags to the deployer's
own bus; the second, there, starts the state machine for the configured tag patterns.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Mapping, Sequence

from handlers.domain.tags import PREVIOUS_SUFFIX

ECR_SOURCE, ECR_DETAIL_TYPE = "aws.ecr", "ECR Image Action"
SFN_SOURCE, SFN_DETAIL_TYPE = "aws.states", "Step Functions Execution Status Change"
CLOUDWATCH_SOURCE, ALARM_DETAIL_TYPE = "aws.cloudwatch", "CloudWatch Alarm State Change"
ENDED_BADLY = ["ABORTED", "TIMED_OUT", "FAILED"]
RECONCILE_EVERY_MINUTES = 5  # the reconciler's schedule: often enough to repair what a lost event left


def reconcile_schedule() -> str:
    """The reconciler's EventBridge schedule expression."""
    return f"rate({RECONCILE_EVERY_MINUTES} minutes)"


class InvalidAutoDeploy(ValueError):
    """The auto-deploy configuration cannot be used; the message says what to change."""


MAX_PATTERN_LENGTH = 4096  # EventBridge PutRule: EventPattern length

_REPOSITORY = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")  # ECR names
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")  # ECR image tags
_TAG_WILDCARD = re.compile(r"^[A-Za-z0-9_.*-]{1,128}$")

Triggers = Mapping[str, tuple[str, ...]]
"""Per repository name, the tag patterns whose push starts a deployment."""


def check_triggers(raw: object, *, repositories: Sequence[str] = ("*",)) -> Triggers:
    """The auto-deploy configuration, validated and normalized; every problem is reported at once.

    ``repositories`` are the repository patterns the deployer may retag: a repository it cannot retag
    cannot auto-deploy.
    """
    example = 'e.g. {"orders": ["main", "release-*"]}'
    if not isinstance(raw, Mapping):
        raise InvalidAutoDeploy(f"autoDeploy must map ECR repository names to lists of tag patterns, {example}")
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
        raise InvalidAutoDeploy("invalid autoDeploy configuration: " + "; ".join(problems))
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
        "source": [ECR_SOURCE],
        "detail-type": [ECR_DETAIL_TYPE],
        "detail": {"action-type": ["PUSH"], "result": ["SUCCESS"], **detail},
    }


def execution_ended_pattern(state_machine_arn: str) -> dict:
    """This state machine's executions that ended without finishing their own cleanup for sure."""
    return {"source": [SFN_SOURCE], "detail-type": [SFN_DETAIL_TYPE],
            "detail": {"stateMachineArn": [state_machine_arn], "status": ENDED_BADLY}}


def alarm_fired_pattern(account: str, region: str) -> dict:
    """Every transition to ALARM of an alarm of this account and region, metric and composite alike.

    Not narrowed to the alarms deployments watch: those are named in each request, so no pattern written at
    synth can list them, and rewriting the rule per deployment would be a mutation outside the state machine
    that could fail or leak. Transitions to ALARM are rare, and the function drops one that no running
    deployment watches after one Query of the locks index. ``account`` and ``region`` keep out events that
    another account or region forwards to this bus: an alarm name means an alarm of this account and region.
    """
    return {"source": [CLOUDWATCH_SOURCE], "detail-type": [ALARM_DETAIL_TYPE], "account": [account],
            "region": [region], "detail": {"state": {"value": ["ALARM"]}}}
