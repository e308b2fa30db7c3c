"""The deploy request contract and the deployment state the tasks pass along, no AWS calls.

JSON keys are camelCase (they are what people read in the Step Functions console); the Python
side is snake_case dataclasses with explicit ``to_json``/``from_json``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace

from handlers.domain import approval
from handlers.domain.analysis import DISABLED, AnalysisSettings, parse_analysis
from handlers.domain.approval import ApprovalSettings
from handlers.domain.checks import NO_CHECKS, Checks, parse_hooks, parse_pre_traffic
from handlers.domain.code import CodeRef, function_key, is_code_uri, parse_code_uri
from handlers.domain.errors import InvalidDeploymentRequest
from handlers.domain.images import ImageRef, parse_image_uri
from handlers.domain.previews import check_branch
from handlers.domain.pruning import parse_keep
from handlers.domain.strategy import Plan, check_history_budget, parse_strategy
from handlers.domain.text import printable, unsafe_characters

DEFAULT_ALIAS = "live"
DEFAULT_CHECK_INTERVAL = 60
MAX_CHECK_INTERVAL = 3600
MAX_ALARMS = 100  # one DescribeAlarms call

# Step Functions adds this key to a child execution's input to link it to its parent in the console.
STARTED_BY = "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"
REQUEST_KEYS = frozenset(
    {"action", "function", "image", "code", "alias", "strategy", "alarms", "checkIntervalSeconds", "allowFiringAlarms",
     "analysis", "preTraffic", "hooks", "requestedBy", "preview", "approval", "approvalTimeoutSeconds",
     "onApprovalTimeout", STARTED_BY}
)
ROLLBACK_KEYS = frozenset({"action", "function", "alias", "toVersion", "requestedBy", STARTED_BY})
PRUNE_KEYS = frozenset({"action", "function", "keep", "dryRun", "requestedBy", STARTED_BY})
DELETE_PREVIEW_KEYS = frozenset({"action", "function", "preview", "dryRun", "requestedBy", STARTED_BY})
DEPLOY, ROLLBACK, PREVIEW = "deploy", "rollback", "preview"
PRUNE, DELETE_PREVIEW = "prune", "deletePreview"
NOT_FOR_PREVIEWS = ("strategy", "alarms", "checkIntervalSeconds", "allowFiringAlarms", "preTraffic", "hooks",
                    "approval", "approvalTimeoutSeconds", "onApprovalTimeout")
"""A preview goes all at once and takes no production traffic: nothing to bake, shift or judge."""
ACTIVE = "Active"  # the version State in which Lambda invokes a version (Lambda guide, "Lambda function states")

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
    image: ImageRef | None  # exactly one of image and code
    alias: str = DEFAULT_ALIAS
    plan: Plan = field(default_factory=lambda: parse_strategy(None))
    alarms: tuple[str, ...] = ()
    check_interval_seconds: int = DEFAULT_CHECK_INTERVAL
    allow_firing_alarms: bool = False
    requested_by: str | None = None
    analysis: AnalysisSettings = field(default_factory=AnalysisSettings)  # on unless the request says false
    checks: Checks = NO_CHECKS  # preTraffic and hooks (handlers.domain.checks); hooks as the request names them
    preview: str | None = None  # a branch name: publish behind its preview alias, production untouched
    code: CodeRef | None = None  # a zip package in S3 (handlers.domain.code), for zip functions
    approval: ApprovalSettings = field(default_factory=ApprovalSettings)  # how approval gates time out

    @property
    def artifact(self) -> ImageRef | CodeRef:
        return self.code or self.image


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


class _Problems(list):
    """Collects every problem of a request, so one message lists them all."""

    def check(self, parse, *args):
        try:
            return parse(*args)
        except InvalidDeploymentRequest as exc:
            self.append(str(exc))
            return None

    def unknown_keys(self, raw: dict, allowed: frozenset[str], what: str) -> None:
        if unknown := sorted(set(raw) - allowed):
            self.append(f"unknown key(s) {', '.join(unknown)} in {what}; allowed: "
                        f"{', '.join(sorted(allowed - {STARTED_BY}))}")

    def required(self, raw: dict, *keys: str) -> None:
        self.extend(f"'{key}' is required" for key in keys if key not in raw)

    def raise_any(self) -> None:
        if self:
            raise InvalidDeploymentRequest("; ".join(self))


def parse_request(raw: object) -> DeployRequest:
    """Validate a deploy request; every problem is reported at once, as one readable message."""
    if not isinstance(raw, dict):
        raise InvalidDeploymentRequest("the request must be a JSON object")
    problems = _Problems()
    problems.unknown_keys(raw, REQUEST_KEYS, "a deploy request")
    problems.required(raw, "function")
    if ("image" in raw) == ("code" in raw):
        problems.append("exactly one of 'image' (an image function) and 'code' (a zip function's package in S3) "
                        "is required")
    if raw.get("action", DEPLOY) != DEPLOY:
        problems.append(f"'action' must be {DEPLOY!r}, {ROLLBACK!r}, {PRUNE!r} or {DELETE_PREVIEW!r}")
    preview = problems.check(check_branch, raw["preview"]) if "preview" in raw else None
    if "preview" in raw:
        if given := [key for key in NOT_FOR_PREVIEWS if key in raw]:
            problems.append(f"a preview goes all at once and takes no production traffic: {', '.join(given)} "
                            f"{'does' if len(given) == 1 else 'do'} not apply to it")
        if raw.get("analysis", False) is not False:
            problems.append("a preview takes no production traffic: there is no canary to analyse ('analysis')")
        if "code" in raw:  # its key copy would move the key production's IaC refers to
            problems.append("previews are for image functions: a zip function ('code') has no preview yet")
    function = problems.check(parse_function, raw["function"]) if "function" in raw else None
    image = problems.check(parse_image_uri, raw["image"]) if "image" in raw else None
    code = problems.check(parse_code_uri, raw["code"]) if "code" in raw else None
    alias = problems.check(_parse_alias, raw.get("alias", DEFAULT_ALIAS))
    plan = problems.check(_parse_strategy, raw.get("strategy"))
    alarms = problems.check(_parse_alarms, raw.get("alarms", []))
    interval = problems.check(_parse_interval, raw.get("checkIntervalSeconds", DEFAULT_CHECK_INTERVAL))
    allow_firing = raw.get("allowFiringAlarms", False)
    if not isinstance(allow_firing, bool):
        problems.append("'allowFiringAlarms' must be true or false")
    requested_by = problems.check(_parse_requested_by, raw.get("requestedBy"))
    analysis = problems.check(parse_analysis, raw.get("analysis", "preview" not in raw))
    synthetic = problems.check(parse_pre_traffic, raw["preTraffic"]) if "preTraffic" in raw else None
    hooks = problems.check(parse_hooks, raw["hooks"]) if "hooks" in raw else {}
    checks = Checks(synthetic).with_hooks(hooks or {})
    if plan is not None and problems.check(approval.parse_gate, raw.get("approval")):
        plan = plan.gated(len(plan.steps))
    settings = problems.check(approval.parse_settings,
                              raw.get("approvalTimeoutSeconds", approval.DEFAULT_TIMEOUT_SECONDS),
                              raw.get("onApprovalTimeout", approval.ROLLBACK), interval)
    if plan is not None and interval is not None and analysis is not None and settings is not None:
        problems.check(check_history_budget, plan, interval, analysis.max_extensions,
                       checks.checkpoints(len(plan.steps)),
                       approval.watch_checks(len(plan.approvals), settings, interval))
    problems.raise_any()
    return DeployRequest(function, image, alias, plan, alarms, interval, allow_firing, requested_by, analysis,
                         checks, preview, code, settings)


@dataclass(frozen=True)
class RollbackRequest:
    """``{"action": "rollback", "function": …}``: all traffic back on the previous stable version, or on
    ``toVersion``."""

    function: FunctionRef
    alias: str = DEFAULT_ALIAS
    to_version: str | None = None
    requested_by: str | None = None


def parse_rollback_request(raw: dict) -> RollbackRequest:
    problems = _Problems()
    problems.unknown_keys(raw, ROLLBACK_KEYS, "a rollback request")
    problems.required(raw, "function")
    function = problems.check(parse_function, raw["function"]) if "function" in raw else None
    alias = problems.check(_parse_alias, raw.get("alias", DEFAULT_ALIAS))
    to_version = raw.get("toVersion")
    if isinstance(to_version, int) and not isinstance(to_version, bool):
        to_version = str(to_version)
    if to_version is not None and not (isinstance(to_version, str) and to_version.isdigit() and to_version != "0"):
        problems.append(f"'toVersion' {raw.get('toVersion')!r} must be a published version number")
    requested_by = problems.check(_parse_requested_by, raw.get("requestedBy"))
    problems.raise_any()
    return RollbackRequest(function, alias, to_version, requested_by)


@dataclass(frozen=True)
class PruneRequest:
    """``{"action": "prune", "function": …, "keep": N}``: delete the versions nothing uses but the newest N; or
    ``{"action": "deletePreview", "function": …, "preview": BRANCH}``: a preview's alias, and its version when
    nothing else uses it. ``dryRun``: report what would go, delete nothing."""

    action: str
    function: FunctionRef
    keep: int | None = None
    preview: str | None = None
    dry_run: bool = False
    requested_by: str | None = None


def parse_prune_request(raw: dict) -> PruneRequest:
    problems = _Problems()
    action = raw.get("action")
    problems.unknown_keys(raw, PRUNE_KEYS if action == PRUNE else DELETE_PREVIEW_KEYS, f"a {action} request")
    problems.required(raw, "function", *(("preview",) if action == DELETE_PREVIEW else ()))
    function = problems.check(parse_function, raw["function"]) if "function" in raw else None
    keep = problems.check(parse_keep, raw.get("keep")) if action == PRUNE else None
    preview = problems.check(check_branch, raw["preview"]) if "preview" in raw else None
    dry_run = raw.get("dryRun", False)
    if not isinstance(dry_run, bool):
        problems.append("'dryRun' must be true or false")
    requested_by = problems.check(_parse_requested_by, raw.get("requestedBy"))
    problems.raise_any()
    return PruneRequest(action, function, keep, preview, dry_run, requested_by)


ROLLBACK_REQUESTED = "RollbackRequested"
"""The error a deployment ends with (ABORTED) when a rollback request stopped it."""
_STOPPED_BY = re.compile(r"^stopped by rollback request ([^\s,;]+)")  # names hold no space, comma, semicolon


def stop_cause(rollback_execution: str, requested_by: str | None) -> str:
    """The cause of a deployment a rollback request stopped: which rollback execution, and who asked for it
    (an alarm's name when its event asked), so the stopped execution itself tells where traffic went."""
    return f"stopped by rollback request {rollback_execution}" + (f", requested by {requested_by}"
                                                                  if requested_by else "")


def stopped_by(error: str | None, cause: str | None) -> str | None:
    """The name of the rollback execution that stopped a deployment, read back from its error and cause."""
    found = _STOPPED_BY.match(cause or "") if error == ROLLBACK_REQUESTED else None
    return found[1] if found else None


def _parse_requested_by(value: object) -> str | None:
    if value is not None and (not isinstance(value, str) or len(value) > 256):
        raise InvalidDeploymentRequest("'requestedBy' must be a string of at most 256 characters")
    if value and (unsafe := unsafe_characters(value)):  # the CLI and the console show it to people
        raise InvalidDeploymentRequest(f"'requestedBy' must not contain control characters ({', '.join(unsafe)})")
    return value


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
    if unsafe := [printable(v) for v in value if unsafe_characters(v)]:  # CloudWatch refuses them in names too
        raise InvalidDeploymentRequest(f"alarm names must not contain control characters: {', '.join(unsafe)}")
    return tuple(dict.fromkeys(value))


def _parse_interval(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CHECK_INTERVAL:
        raise InvalidDeploymentRequest(
            f"'checkIntervalSeconds' {value!r} must be an integer from 1 to {MAX_CHECK_INTERVAL}"
        )
    return value


@dataclass(frozen=True)
class Stable:
    """The state document's ``stable``: the version the alias serves when all is done or undone. A published
    version and what it runs: an image (``image`` pinned by ``digest``), or a zip package
    (``image`` is the ``s3://`` source it was deployed from, ``digest`` its CodeSha256)."""

    version: str
    image: str
    digest: str | None

    def to_json(self) -> dict:
        return {"version": self.version, "image": self.image, "digest": self.digest}

    @classmethod
    def from_json(cls, data: dict | None) -> Stable | None:
        return cls(data["version"], data["image"], data.get("digest")) if data else None


@dataclass(frozen=True)
class Deployment:
    """What Resolve (or ResolveRollback) established; the later tasks only read it.

    ``stable`` is what the alias serves when all is done or undone: the version live at the start of a
    deploy, or the version a rollback request returns to. ``target`` is the image moving in (deploy) or
    out (rollback).
    """

    function_name: str
    function_arn: str
    alias: str
    alias_exists: bool
    target: ImageRef | CodeRef  # an image pinned by digest, or a zip package pinned by object version
    stable: Stable | None  # what the alias served when the deployment started
    latest_image: str | None  # $LATEST's image before the deployment, restored on rollback
    plan: Plan
    check_interval_seconds: int
    alarms: tuple[str, ...] = ()
    ignored_alarms: tuple[str, ...] = ()  # already firing at start of a hotfix; not judged
    noop: bool = False
    requested_by: str | None = None
    kind: str = DEPLOY
    latest_revision_id: str | None = None  # $LATEST's RevisionId when resolved: UpdateCode's precondition
    current_version: str | None = None  # the version a rollback request moves traffic away from
    analysis: AnalysisSettings = DISABLED  # how checks judge the canary; a rollback request has none
    checks: Checks = NO_CHECKS  # synthetic invocations and hooks, the hooks resolved to their ARNs
    # The longest Timeout of the new and the stable version: a call's metrics are emitted when it ends but
    # stamped when it started, so the analysis window ends at least this long before a check (canary_metrics).
    function_timeout_seconds: int | None = None
    preview: str | None = None  # kind preview: the branch; ``alias`` is its preview alias, ``stable`` production's
    latest_digest: str | None = None  # $LATEST's CodeSha256 before the deployment (zip functions)
    wait_for_capacity: bool = False  # the alias has provisioned concurrency: each shift waits for it to be READY
    approval: ApprovalSettings = approval.DEFAULTS  # how the plan's approval gates time out

    @property
    def zip(self) -> bool:
        """A zip function deployed from S3 (else an image function)."""
        return isinstance(self.target, CodeRef)

    @property
    def function_key(self) -> str:
        """The key the function's IaC refers to in the artifact bucket (zip functions)."""
        return function_key(self.function_name)

    @property
    def from_version(self) -> str | None:
        """The version traffic was on when this started: the stable one for a deploy, the current one for a
        rollback request, the preview alias' own for a preview (None: the alias did not exist)."""
        if self.kind in (ROLLBACK, PREVIEW):
            return self.current_version
        return self.stable.version if self.stable else None

    @property
    def to_version(self) -> str | None:
        """The version traffic ends on: the stable one for a rollback request, the one already live for a no-op;
        a deploy's or a preview's is the version PublishVersion made, not known here (None)."""
        if self.noop and self.kind == PREVIEW:
            return self.current_version
        if self.kind == ROLLBACK or self.noop:
            return self.stable.version if self.stable else None
        return None

    @property
    def to_image(self) -> tuple[str, str | None]:
        """What the alias serves when this succeeds: the image (URI, digest), or for a zip function the package
        (its s3:// URI, CodeSha256)."""
        if self.kind == ROLLBACK:
            return self.stable.image, self.stable.digest
        return self.target.uri, self.target.digest

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
            **({"targetCodeSha256": self.target.digest} if self.zip else {}),
            "stable": self.stable.to_json() if self.stable else None,
            "latestImage": self.latest_image,
            "plan": self.plan.to_json(),
            "checkIntervalSeconds": self.check_interval_seconds,
            "alarms": list(self.alarms),
            "ignoredAlarms": list(self.ignored_alarms),
            "noop": self.noop,
            "requestedBy": self.requested_by,
            "kind": self.kind,
            "latestRevisionId": self.latest_revision_id,
            "currentVersion": self.current_version,
            "analysis": self.analysis.to_json(),
            "checks": self.checks.to_json(),
            "functionTimeoutSeconds": self.function_timeout_seconds,
            "preview": self.preview,
            # Derived, for readers of the state document (the CLI, the console): what moves where.
            "fromVersion": self.from_version,
            "toVersion": self.to_version,
            "toImage": self.to_image[0],
            "latestDigest": self.latest_digest,
            "waitForCapacity": self.wait_for_capacity,
            # read by AwaitApproval's TimeoutSecondsPath and HeartbeatSecondsPath
            "approval": self.approval.to_json(self.check_interval_seconds),
        }

    @classmethod
    def from_json(cls, data: dict) -> Deployment:
        return cls(
            function_name=data["functionName"],
            function_arn=data["functionArn"],
            alias=data["alias"],
            alias_exists=data["aliasExists"],
            target=(parse_code_uri(data["target"], data.get("targetCodeSha256")) if is_code_uri(data["target"])
                    else parse_image_uri(data["target"])),
            stable=Stable.from_json(data.get("stable")),
            latest_image=data.get("latestImage"),
            plan=Plan.from_json(data["plan"]),
            check_interval_seconds=data["checkIntervalSeconds"],
            alarms=tuple(data.get("alarms", ())),
            ignored_alarms=tuple(data.get("ignoredAlarms", ())),
            noop=data.get("noop", False),
            requested_by=data.get("requestedBy"),
            kind=data.get("kind", DEPLOY),
            latest_revision_id=data.get("latestRevisionId"),
            current_version=data.get("currentVersion"),
            # Started before analysis existed: judged by alarms alone, as it was then.
            analysis=AnalysisSettings.from_json(data.get("analysis", False)),
            checks=Checks.from_json(data.get("checks")),
            function_timeout_seconds=data.get("functionTimeoutSeconds"),
            preview=data.get("preview"),
            latest_digest=data.get("latestDigest"),
            wait_for_capacity=data.get("waitForCapacity", False),
            approval=ApprovalSettings.from_json(data.get("approval")),
        )


@dataclass(frozen=True)
class Release:
    """The state document's ``release``: the code uploaded to $LATEST and, once published, its version number."""

    code_sha256: str
    revision_id: str | None = None
    version: str | None = None
    state: str | None = None  # the published version's State: traffic moves only once it is Active

    def to_json(self) -> dict:
        found = {"codeSha256": self.code_sha256, "revisionId": self.revision_id, "version": self.version}
        if self.state:  # absent until published: the VersionReady choice routes on it
            found["state"] = self.state
        return found

    @classmethod
    def from_json(cls, data: dict) -> Release:
        return cls(data["codeSha256"], data.get("revisionId"), data.get("version"), data.get("state"))

    def published(self, version: str, state: str = ACTIVE) -> Release:
        return replace(self, version=version, state=state)
