"""The deployer's settings: typed for Python callers, read from CDK context for the app, checked at synth."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aws_cdk import App, Stack
from aws_cdk import aws_logs as logs
from constructs import Node

from handlers.domain.events import Triggers, check_triggers
from infra.ci_access import GithubOidc
from infra.errors import ConfigurationError
from infra.prune_schedule import PruneSchedule
from infra.task_functions import POWERTOOLS_LAYER_VERSION

DEFAULT_STATE_MACHINE_NAME = "lambda-deployer"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
PROJECT_CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"

_STATE_MACHINE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_FUNCTION_NAME_PREFIX = re.compile(r"^[A-Za-z0-9_-]{0,63}$")
_REPOSITORY_PATTERN = re.compile(r"^[a-z0-9._/*-]{1,256}$")
_BUCKET_PATTERN = re.compile(r"^[a-z0-9.*-]{1,63}$")
_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")


@dataclass(frozen=True, kw_only=True)
class DeployerSettings:
    """Everything a ``LambdaDeployer`` can be told; besides ``repositories`` the defaults deploy a working deployer."""

    state_machine_name: str = DEFAULT_STATE_MACHINE_NAME
    function_name_prefix: str = ""
    """Narrows the deployable functions to names with this prefix, on top of the managed tag."""
    repositories: tuple[str, ...] = ()
    """ECR repositories (names, or patterns with ``*``) in this account and region the deployer may read and
    retag. Required: no default, so that every repository of the account (``*``) is a choice, never an accident."""
    artifact_buckets: tuple[str, ...] = ()
    """S3 buckets (names, or patterns with ``*``) holding zip packages the deployer may read, and whose
    ``functions/<function-name>.zip`` keys it may write (docs/zip-functions.md). Empty: zip functions cannot
    be deployed (no S3 permission at all)."""
    auto_deploy: Triggers = field(default_factory=dict)
    """Per repository, the tag patterns whose push starts a deployment (exact or EventBridge wildcard)."""
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    history_retention_days: int = 365
    """Days a deployment record is kept after its last write (DynamoDB TTL); 0 keeps records for ever."""
    log_level: str = "INFO"
    powertools_layer_version: int = POWERTOOLS_LAYER_VERSION
    github: GithubOidc | None = None
    prune_schedule: PruneSchedule | None = None
    """Daily prunes of these functions (infra.prune_schedule); none unless configured."""
    notifications_topic: bool = False
    """An SNS topic that turns the deployer's events into short messages (and receives its alarms)."""
    notification_emails: tuple[str, ...] = ()
    """Addresses subscribed to that topic (giving any creates the topic); each confirms by email."""
    lock_alarm_minutes: int = 720
    """Alarm when a deployment's lock has been held this long: longer than any plan here should take."""

    @property
    def wants_topic(self) -> bool:
        return self.notifications_topic or bool(self.notification_emails)

    def __post_init__(self) -> None:
        if not _STATE_MACHINE_NAME.match(self.state_machine_name):
            raise ConfigurationError(f"stateMachineName {self.state_machine_name!r}: 1 to 80 letters, digits, - or _")
        if not _FUNCTION_NAME_PREFIX.match(self.function_name_prefix):
            raise ConfigurationError(
                f"functionNamePrefix {self.function_name_prefix!r}: letters, digits, - or _ (a function name's start)"
            )
        repositories = (self.repositories,) if isinstance(self.repositories, str) else tuple(self.repositories)
        if not repositories:
            raise ConfigurationError(
                "repositories is required: the ECR repositories (names, or patterns such as 'team/*') this deployer "
                "may read and retag, e.g. -c repositories=orders,payments; '*' allows every repository of the "
                "account and region and must be given explicitly"
            )
        if not all(isinstance(r, str) and _REPOSITORY_PATTERN.match(r) for r in repositories):
            raise ConfigurationError(
                f"repositories {self.repositories!r}: a list of ECR repository names or patterns such as 'team/*'"
            )
        if self.log_level not in LOG_LEVELS:
            raise ConfigurationError(f"logLevel {self.log_level!r}: one of {', '.join(LOG_LEVELS)}")
        days = self.history_retention_days
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            raise ConfigurationError(f"historyRetentionDays {days!r}: a number of days, or 0 to keep records for ever")
        version = self.powertools_layer_version
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ConfigurationError(f"powertoolsLayerVersion {version!r}: a layer version number")
        object.__setattr__(self, "repositories", repositories)
        buckets = (self.artifact_buckets,) if isinstance(self.artifact_buckets, str) else tuple(self.artifact_buckets)
        if not all(isinstance(b, str) and _BUCKET_PATTERN.match(b) for b in buckets):
            raise ConfigurationError(
                f"artifactBuckets {self.artifact_buckets!r}: a list of S3 bucket names or patterns such as 'builds-*'"
            )
        object.__setattr__(self, "artifact_buckets", buckets)
        emails = (self.notification_emails,) if isinstance(self.notification_emails, str) else \
            tuple(self.notification_emails)
        if bad := [e for e in emails if not isinstance(e, str) or not _EMAIL.match(e)]:
            raise ConfigurationError(f"notificationEmails: {', '.join(map(repr, bad))} is not an email address")
        object.__setattr__(self, "notification_emails", emails)
        minutes = self.lock_alarm_minutes
        if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 10:
            raise ConfigurationError(f"lockAlarmMinutes {minutes!r}: a whole number of minutes, at least 10 (the "
                                     "reconciler measures lock ages every 5)")
        try:
            triggers = check_triggers(self.auto_deploy, repositories=repositories)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        object.__setattr__(self, "auto_deploy", triggers)

    @classmethod
    def from_context(cls, node: Node) -> DeployerSettings:
        """The settings given as CDK context (cdk.json or ``-c key=value``); unset keys keep their defaults."""
        context = _Context(node)
        settings = {
            "state_machine_name": context.text("stateMachineName"),
            "function_name_prefix": context.text("functionNamePrefix"),
            "repositories": context.names("repositories"),
            "artifact_buckets": context.names("artifactBuckets"),
            "auto_deploy": context.json("autoDeploy"),
            "log_retention": context.retention("logRetentionDays"),
            "history_retention_days": context.number("historyRetentionDays"),
            "log_level": context.text("logLevel"),
            "powertools_layer_version": context.number("powertoolsLayerVersion"),
            "github": context.github(),
            "prune_schedule": PruneSchedule.from_json(schedule) if (schedule := context.json("pruneSchedule"))
            is not None else None,
            "notifications_topic": context.flag("notificationsTopic") or None,
            "notification_emails": context.names("notificationEmails"),
            "lock_alarm_minutes": context.number("lockAlarmMinutes"),
        }
        return cls(**{key: value for key, value in settings.items() if value is not None})


class _Context:
    """Context values as the CLI passes them: ``-c`` values arrive as strings, cdk.json values as JSON."""

    def __init__(self, node: Node) -> None:
        self._node = node

    def get(self, key: str) -> object:
        return self._node.try_get_context(key)

    def text(self, key: str) -> str | None:
        value = self.get(key)
        if value is not None and not isinstance(value, str):
            raise ConfigurationError(f"context {key}: expected a string, got {value!r}")
        return value

    def json(self, key: str) -> object:
        value = self.get(key)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise ConfigurationError(f"context {key}: not valid JSON ({exc})") from None
        return value

    def names(self, key: str) -> tuple[str, ...] | None:
        """A JSON list, or a comma-separated string."""
        value = self.get(key)
        if isinstance(value, str) and not value.lstrip().startswith("["):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        value = self.json(key)
        if value is not None and not isinstance(value, list):
            raise ConfigurationError(f"context {key}: expected a list of names, got {value!r}")
        return None if value is None else tuple(value)

    def number(self, key: str) -> int | None:
        value = self.get(key)
        if value is None:
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigurationError(f"context {key}: expected a whole number, got {value!r}") from None

    def flag(self, key: str) -> bool:
        value = self.get(key)
        if value in (None, False, "false", "False"):
            return False
        if value in (True, "true", "True"):
            return True
        raise ConfigurationError(f"context {key}: expected true or false, got {value!r}")

    def retention(self, key: str) -> logs.RetentionDays | None:
        days = self.number(key)
        if days is None:
            return None
        if days not in retention_by_days():
            raise ConfigurationError(f"context {key}: CloudWatch Logs keeps logs for one of "
                                     f"{', '.join(map(str, sorted(retention_by_days())))} days, not {days}")
        return retention_by_days()[days]

    def github(self) -> GithubOidc | None:
        repository = self.text("githubRepository")
        others = ("githubSubject", "githubOidcProviderArn", "createGithubOidcProvider")
        if repository is None:
            if given := [key for key in others if self.get(key) is not None]:
                raise ConfigurationError(f"context {', '.join(given)} need githubRepository (org/repo)")
            return None
        return GithubOidc(repository=repository, subject=self.text("githubSubject") or "",
                          provider_arn=self.text("githubOidcProviderArn") or "",
                          create_provider=self.flag("createGithubOidcProvider"))


@functools.cache
def retention_by_days() -> Mapping[int, logs.RetentionDays]:
    """CDK's log retention choices by number of days (CloudWatch Logs accepts only these)."""
    stack = Stack(App(), "Scratch")
    by_days = {}
    for choice in logs.RetentionDays:
        if choice is not logs.RetentionDays.INFINITE:
            group = logs.LogGroup(stack, choice.name, retention=choice)
            by_days[stack.resolve(group.node.default_child.retention_in_days)] = choice
    return by_days


def cdk_json_context(path: Path = PROJECT_CDK_JSON) -> dict:
    """The context of the project's cdk.json, for ``python app.py`` (the CDK CLI passes it by itself)."""
    return json.loads(path.read_text()).get("context", {}) if path.exists() else {}
