"""The deploy request contract and the deployment state the tasks pass along, no AWS calls.

JSON keys are camelCase (they are what people read in the Step Functions console); the Python
side is snake_case dataclasses with explicit ``to_json``/``from_json``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace

from handlers.errors import InvalidDeploymentRequest
from handlers.images import ImageRef, parse_image_uri
from handlers.strategy import Plan, check_history_budget, parse_strategy

DEFAULT_ALIAS = "live"
DEFAULT_CHECK_INTERVAL = 60
MAX_CHECK_INTERVAL = 3600
MAX_ALARMS = 100  # one DescribeAlarms call

REQUEST_KEYS = frozenset(
    {"function", "image", "alias", "strategy", "alarms", "checkIntervalSeconds", "allowFiringAlarms",
     "requestedBy"}
)

_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_FUNCTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:lambda:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d):(?P<account>\d{12}):function:"
    r"(?P<name>[A-Za-z0-9_-]{1,64})(?::(?P<qualifier>[^:]+))?$"
)
_ALIAS = re.compile(r"^(?!\d+$)[A-Za-z0-9_-]{1,128}$")


@dataclass(frozen=True)
class FunctionRef:
    name: str
    region: str | None = None  # known when given as an ARN
    account: str | None = None


@dataclass(frozen=True)
class DeployRequest:
    function: FunctionRef
    image: ImageRef
    alias: str = DEFAULT_ALIAS
    plan: Plan = field(default_factory=lambda: parse_strategy(None))
    alarms: tuple[str, ...] = ()
    check_interval_seconds: int = DEFAULT_CHECK_INTERVAL
    allow_firing_alarms: bool = False
    requested_by: str | None = None


def parse_function(value: object) -> FunctionRef:
    if isinstance(value, str) and _FUNCTION_NAME.match(value):
        return FunctionRef(value)
    if isinstance(value, str) and (match := _FUNCTION_ARN.match(value)):
        if match["qualifier"]:
            raise InvalidDeploymentRequest(
                f"'function' {value!r} names a version or alias; give the unqualified function "
                "and put the alias in 'alias'"
            )
        return FunctionRef(match["name"], match["region"], match["account"])
    raise InvalidDeploymentRequest(f"'function' {value!r} is not a Lambda function name or ARN")


def parse_request(raw: object) -> DeployRequest:
    """Validate a deploy request; every problem is reported at once, as one readable message."""
    if not isinstance(raw, dict):
        raise InvalidDeploymentRequest("the request must be a JSON object")
    problems: list[str] = []

    def check(fn, *args):
        try:
            return fn(*args)
        except InvalidDeploymentRequest as exc:
            problems.append(str(exc))
            return None

    unknown = sorted(set(raw) - REQUEST_KEYS)
    if unknown:
        problems.append(f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(REQUEST_KEYS))}")
    for key in ("function", "image"):
        if key not in raw:
            problems.append(f"'{key}' is required")
    function = check(parse_function, raw["function"]) if "function" in raw else None
    image = check(parse_image_uri, raw["image"]) if "image" in raw else None
    alias = check(_parse_alias, raw.get("alias", DEFAULT_ALIAS))
    plan = check(_parse_strategy, raw.get("strategy"))
    alarms = check(_parse_alarms, raw.get("alarms", []))
    interval = check(_parse_interval, raw.get("checkIntervalSeconds", DEFAULT_CHECK_INTERVAL))
    allow_firing = raw.get("allowFiringAlarms", False)
    if not isinstance(allow_firing, bool):
        problems.append("'allowFiringAlarms' must be true or false")
    requested_by = raw.get("requestedBy")
    if requested_by is not None and (not isinstance(requested_by, str) or len(requested_by) > 256):
        problems.append("'requestedBy' must be a string of at most 256 characters")
    if plan is not None and interval is not None:
        check(check_history_budget, plan, interval)
    if problems:
        raise InvalidDeploymentRequest("; ".join(problems))
    return DeployRequest(function, image, alias, plan, alarms, interval, allow_firing, requested_by)


def _parse_alias(value: object) -> str:
    if not isinstance(value, str) or not _ALIAS.match(value):
        raise InvalidDeploymentRequest(f"'alias' {value!r} is not a valid alias name "
                                       "(letters, digits, '-' or '_', not only digits)")
    return value


def _parse_strategy(value: object) -> Plan:
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise InvalidDeploymentRequest(f"'strategy' looks like JSON but does not parse: {exc}") from None
    return parse_strategy(value)


def _parse_alarms(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and 0 < len(v) <= 255 for v in value):
        raise InvalidDeploymentRequest("'alarms' must be a list of CloudWatch alarm names")
    if len(value) > MAX_ALARMS:
        raise InvalidDeploymentRequest(f"at most {MAX_ALARMS} alarms may be watched")
    return tuple(dict.fromkeys(value))


def _parse_interval(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CHECK_INTERVAL:
        raise InvalidDeploymentRequest(
            f"'checkIntervalSeconds' {value!r} must be an integer from 1 to {MAX_CHECK_INTERVAL}"
        )
    return value


@dataclass(frozen=True)
class Release:
    """A published version and the image it runs."""

    version: str
    image: str
    digest: str | None

    def to_json(self) -> dict:
        return {"version": self.version, "image": self.image, "digest": self.digest}

    @classmethod
    def from_json(cls, data: dict | None) -> Release | None:
        return cls(data["version"], data["image"], data.get("digest")) if data else None


@dataclass(frozen=True)
class Deployment:
    """What Resolve established; the later tasks only read it."""

    function_name: str
    function_arn: str
    alias: str
    alias_exists: bool
    target: ImageRef  # pinned by digest
    stable: Release | None  # what the alias served when the deployment started
    latest_image: str | None  # $LATEST's image before the deployment, restored on rollback
    plan: Plan
    check_interval_seconds: int
    alarms: tuple[str, ...] = ()
    ignored_alarms: tuple[str, ...] = ()  # already firing at start of a hotfix; not judged
    noop: bool = False
    requested_by: str | None = None

    @property
    def tag(self) -> str:
        """The function-name tag the function's IaC refers to (``repo:<function-name>``)."""
        return self.function_name

    def to_json(self) -> dict:
        return {
            "functionName": self.function_name,
            "functionArn": self.function_arn,
            "alias": self.alias,
            "aliasExists": self.alias_exists,
            "target": self.target.uri,
            "stable": self.stable.to_json() if self.stable else None,
            "latestImage": self.latest_image,
            "plan": self.plan.to_json(),
            "checkIntervalSeconds": self.check_interval_seconds,
            "alarms": list(self.alarms),
            "ignoredAlarms": list(self.ignored_alarms),
            "noop": self.noop,
            "requestedBy": self.requested_by,
        }

    @classmethod
    def from_json(cls, data: dict) -> Deployment:
        return cls(
            function_name=data["functionName"],
            function_arn=data["functionArn"],
            alias=data["alias"],
            alias_exists=data["aliasExists"],
            target=parse_image_uri(data["target"]),
            stable=Release.from_json(data.get("stable")),
            latest_image=data.get("latestImage"),
            plan=Plan.from_json(data["plan"]),
            check_interval_seconds=data["checkIntervalSeconds"],
            alarms=tuple(data.get("alarms", ())),
            ignored_alarms=tuple(data.get("ignoredAlarms", ())),
            noop=data.get("noop", False),
            requested_by=data.get("requestedBy"),
        )


@dataclass(frozen=True)
class NewVersion:
    """The code uploaded to $LATEST and, once published, its version number."""

    code_sha256: str
    revision_id: str | None = None
    version: str | None = None

    def to_json(self) -> dict:
        return {"codeSha256": self.code_sha256, "revisionId": self.revision_id, "version": self.version}

    @classmethod
    def from_json(cls, data: dict) -> NewVersion:
        return cls(data["codeSha256"], data.get("revisionId"), data.get("version"))

    def published(self, version: str) -> NewVersion:
        return replace(self, version=version)
