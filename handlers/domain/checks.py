"""Pre- and post-traffic checks: synthetic invocations of the new version and the user's hook functions.

No AWS calls: this module parses the request's ``preTraffic`` and ``hooks``, says where a deployment stops to
check (a :class:`Checkpoint`), builds what a hook is told and judges every answer. docs/checks.md is the guide.

- ``preTraffic`` invokes the new version itself, by its version number (never the alias: no client's traffic
  goes through it), ``invocations`` times with ``payload``, before any traffic moves; with ``afterEachShift``
  also after every shift. Each answer must be free of a function error and meet ``expect``.
- ``hooks`` name the user's own functions, invoked synchronously with the deployment's context at
  ``beforeTraffic``, ``afterShift`` (every shift) and ``afterPromote``. A function error, or an answer
  ``{"status": "fail", "reason": …}``, fails the check.

A failed check rolls the deployment back; after promotion that puts the alias back on the stable version too.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from handlers.domain import tags
from handlers.domain.errors import InvalidDeploymentRequest
from handlers.domain.text import printable, unsafe_characters

if TYPE_CHECKING:
    from handlers.domain.model import Deployment

BEFORE_TRAFFIC, AFTER_SHIFT, AFTER_PROMOTE = "beforeTraffic", "afterShift", "afterPromote"
PHASES = (BEFORE_TRAFFIC, AFTER_SHIFT, AFTER_PROMOTE)

HOOK_TAG = tags.HOOK
"""A function may be a hook only if tagged ``lambda-deployer:hook=true`` (the deployer's IAM policies check it)."""

MAX_INVOCATIONS = 10
MAX_PAYLOAD_BYTES = 32 * 1024  # the payload rides in every state of the execution (256 KB at most)
MAX_FIELDS = 20
MAX_PATH = 256
MAX_SHOWN = 300  # characters of an answer or reason quoted in a failure
CHECK_SECONDS = 840
"""The longest one checkpoint may take: its synthetic invocations and its hook run in one RunChecks task,
whose function may run 900 s (Lambda's maximum; infra.task_functions), less room for everything else."""

_PRE_TRAFFIC_KEYS = ("invocations", "payload", "expect", "afterEachShift")
_EXPECT_KEYS = ("statusCode", "fields")
_NAME = r"[A-Za-z0-9_-]{1,64}"
_QUALIFIER = r"(?:\$LATEST|[A-Za-z0-9_-]{1,128})"
_HOOK_FUNCTION = re.compile(
    rf"^(?:arn:aws[a-z-]*:lambda:(?P<region>[a-z]{{2}}(?:-[a-z]+)+-\d):\d{{12}}:function:)?"
    rf"(?P<name>{_NAME})(?::(?P<qualifier>{_QUALIFIER}))?$"
)


@dataclass(frozen=True)
class Expectation:
    """What every synthetic answer must be, beyond free of a function error (always required).

    ``status_code``: the answer's ``statusCode`` field (the API Gateway or function URL response shape), not
    the Invoke API's HTTP status, which is 200 for every synchronous invocation that ran. ``fields``: dotted
    paths into the answer and the JSON value each must equal (see :func:`lookup`).
    """

    status_code: int | None = None
    fields: tuple[tuple[str, Any], ...] = ()

    def to_json(self) -> dict:
        found: dict = {}
        if self.status_code is not None:
            found["statusCode"] = self.status_code
        if self.fields:
            found["fields"] = dict(self.fields)
        return found

    def unmet(self, answer: Any) -> str | None:
        """Why ``answer`` (the parsed payload of an invocation without a function error) fails; None if it meets
        every expectation."""
        if self.status_code is not None:
            found, code = lookup(answer, "statusCode")
            if not found:
                return f"answered no statusCode (expected {self.status_code}): {_shown(answer)}"
            if not same(code, self.status_code):
                return f"answered statusCode {_shown(code)}, expected {self.status_code}"
        for path, wanted in self.fields:
            found, value = lookup(answer, path)
            if not found:
                return f"answered no field {path!r} (expected {_shown(wanted)}): {_shown(answer)}"
            if not same(value, wanted):
                return f"answered {path} = {_shown(value)}, expected {_shown(wanted)}"
        return None


@dataclass(frozen=True)
class Synthetic:
    """The request's ``preTraffic``."""

    invocations: int = 1
    payload: Any = field(default_factory=dict)
    expect: Expectation = field(default_factory=Expectation)
    after_each_shift: bool = False

    def to_json(self) -> dict:
        return {"invocations": self.invocations, "payload": self.payload, "expect": self.expect.to_json(),
                "afterEachShift": self.after_each_shift}


@dataclass(frozen=True)
class Checks:
    """Every check of a deployment. In a request, ``hooks`` are as given; in a resolved deployment, the hook
    functions' ARNs (qualified when the request named a version or alias)."""

    synthetic: Synthetic | None = None
    hooks: tuple[tuple[str, str], ...] = ()  # (phase, function), in PHASES order
    notes: tuple[str, ...] = ()  # checks Resolve left out, and why

    def hook(self, phase: str) -> str | None:
        return dict(self.hooks).get(phase)

    def synthetic_at(self, phase: str) -> bool:
        if self.synthetic is None:
            return False
        return phase == BEFORE_TRAFFIC or (phase == AFTER_SHIFT and self.synthetic.after_each_shift)

    def runs_at(self, phase: str) -> bool:
        return self.synthetic_at(phase) or self.hook(phase) is not None

    def checkpoints(self, steps: int) -> int:
        """How many times a deployment of ``steps`` shifts stops to check."""
        return sum(steps if phase == AFTER_SHIFT else 1 for phase in PHASES if self.runs_at(phase))

    def with_hooks(self, hooks: dict[str, str], notes: tuple[str, ...] = ()) -> Checks:
        return replace(self, hooks=tuple((p, hooks[p]) for p in PHASES if p in hooks), notes=self.notes + notes)

    def to_json(self) -> dict:
        """Only what is configured: the state machine routes on ``checks.hooks.afterPromote`` being present."""
        found: dict = {}
        if self.synthetic:
            found["preTraffic"] = self.synthetic.to_json()
        if self.hooks:
            found["hooks"] = dict(self.hooks)
        if self.notes:
            found["notes"] = list(self.notes)
        return found

    @classmethod
    def from_json(cls, data: dict | None) -> Checks:
        data = data or {}
        synthetic = parse_pre_traffic(data["preTraffic"]) if data.get("preTraffic") else None
        hooks = data.get("hooks") or {}
        return cls(synthetic, tuple((p, hooks[p]) for p in PHASES if p in hooks), tuple(data.get("notes", ())))


NO_CHECKS = Checks()


@dataclass(frozen=True)
class Checkpoint:
    """Where a deployment stops to check: ``step`` is how many plan steps have been served (0 before traffic,
    k after the k-th shift, all of them after promotion)."""

    phase: str
    step: int = 0

    def to_json(self) -> dict:
        return {"phase": self.phase, "step": self.step}

    @classmethod
    def from_json(cls, data: dict | None) -> Checkpoint | None:
        return cls(data["phase"], data.get("step", 0)) if data else None

    def describe(self, weight: float, steps: int) -> str:
        if self.phase == BEFORE_TRAFFIC:
            return "before any traffic moved"
        if self.phase == AFTER_SHIFT:
            return f"after shifting {weight:g}% of traffic (step {self.step} of {steps})"
        return "after promotion"


# parsing the request ---------------------------------------------------------------------------------------

def parse_pre_traffic(value: object) -> Synthetic:
    """``{"invocations": 3, "payload": {…}, "expect": {"statusCode": 200, "fields": {…}}, "afterEachShift": …}``;
    every key is optional (one invocation with ``{}``, no function error expected). All problems at once."""
    if not isinstance(value, dict):
        raise InvalidDeploymentRequest(f"'preTraffic' must be an object with any of {', '.join(_PRE_TRAFFIC_KEYS)}")
    problems: list[str] = []
    if unknown := sorted(set(value) - set(_PRE_TRAFFIC_KEYS)):
        problems.append(f"unknown key(s) {', '.join(unknown)} in 'preTraffic'; allowed: {', '.join(_PRE_TRAFFIC_KEYS)}")
    invocations = value.get("invocations", 1)
    if isinstance(invocations, bool) or not isinstance(invocations, int) or not 1 <= invocations <= MAX_INVOCATIONS:
        problems.append(f"'preTraffic.invocations' {invocations!r} must be an integer from 1 to {MAX_INVOCATIONS}")
    payload = value.get("payload", {})
    if not _finite(payload):
        problems.append("'preTraffic.payload' must be JSON (NaN and Infinity are not)")
    elif (size := len(json.dumps(payload, separators=(",", ":")).encode())) > MAX_PAYLOAD_BYTES:
        problems.append(f"'preTraffic.payload' is {size} bytes as JSON; at most {MAX_PAYLOAD_BYTES}")
    after_each_shift = value.get("afterEachShift", False)
    if not isinstance(after_each_shift, bool):
        problems.append("'preTraffic.afterEachShift' must be true or false")
    expect = Expectation()
    try:
        expect = _parse_expect(value.get("expect", {}))
    except InvalidDeploymentRequest as exc:
        problems.append(str(exc))
    if problems:
        raise InvalidDeploymentRequest("; ".join(problems))
    return Synthetic(invocations, payload, expect, after_each_shift)


def _parse_expect(value: object) -> Expectation:
    if not isinstance(value, dict):
        raise InvalidDeploymentRequest(f"'preTraffic.expect' must be an object with any of {', '.join(_EXPECT_KEYS)} "
                                       "(no function error is always expected)")
    problems: list[str] = []
    if unknown := sorted(set(value) - set(_EXPECT_KEYS)):
        problems.append(f"unknown key(s) {', '.join(unknown)} in 'preTraffic.expect'; allowed: "
                        f"{', '.join(_EXPECT_KEYS)} (no function error is always expected)")
    status = value.get("statusCode")
    if status is not None and (isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599):
        problems.append(f"'preTraffic.expect.statusCode' {status!r} must be an HTTP status code (100 to 599)")
    fields = value.get("fields", {})
    pairs: tuple[tuple[str, Any], ...] = ()
    if not isinstance(fields, dict):
        problems.append("'preTraffic.expect.fields' must be an object of {\"dotted.path\": expected JSON value}")
    elif len(fields) > MAX_FIELDS:
        problems.append(f"'preTraffic.expect.fields' has {len(fields)} paths; at most {MAX_FIELDS}")
    else:
        problems += [problem for path in fields if (problem := _path_problem(path))]
        problems += [f"'preTraffic.expect.fields.{printable(path)}': {value!r} is not a finite JSON value"
                     for path, value in fields.items() if not _finite(value)]
        pairs = tuple(fields.items())
    if problems:
        raise InvalidDeploymentRequest("; ".join(problems))
    return Expectation(status, pairs)


def _path_problem(path: str) -> str | None:
    where = f"'preTraffic.expect.fields' path {printable(path)!r}"
    if not path or len(path) > MAX_PATH:
        return f"{where} must have 1 to {MAX_PATH} characters"
    if any(not segment for segment in path.split(".")):
        return f"{where} has an empty segment (write a.b.c)"
    if unsafe := unsafe_characters(path):
        return f"{where} must not contain control characters ({', '.join(unsafe)})"
    return None


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def parse_hooks(value: object) -> dict[str, str]:
    """``{"beforeTraffic": fn, "afterShift": fn, "afterPromote": fn}``, each optional: a function name, or
    ``name:qualifier``, or its ARN (a version or alias qualifier allowed)."""
    if not isinstance(value, dict):
        raise InvalidDeploymentRequest(f"'hooks' must be an object with any of {', '.join(PHASES)}, each naming a "
                                       "Lambda function")
    problems: list[str] = []
    if unknown := sorted(set(value) - set(PHASES)):
        problems.append(f"unknown key(s) {', '.join(unknown)} in 'hooks'; allowed: {', '.join(PHASES)}")
    for phase in PHASES:
        if phase in value and not (isinstance(value[phase], str) and _HOOK_FUNCTION.match(value[phase])):
            problems.append(f"'hooks.{phase}' {value[phase]!r} is not a Lambda function name or ARN "
                            "(optionally with :version or :alias)")
    if problems:
        raise InvalidDeploymentRequest("; ".join(problems))
    return {phase: value[phase] for phase in PHASES if phase in value}


def split_function(reference: str) -> tuple[str, str | None, str | None]:
    """A hook's ``(function, qualifier, region)``: the name or unqualified ARN, the version or alias if named,
    the region if given as an ARN."""
    match = _HOOK_FUNCTION.match(reference)
    if match is None:
        raise InvalidDeploymentRequest(f"{reference!r} is not a Lambda function name or ARN")
    qualifier = match["qualifier"]
    unqualified = reference[: -len(qualifier) - 1] if qualifier else reference
    return unqualified, qualifier, match["region"]


# what a hook is told, and judging answers ---------------------------------------------------------------

def hook_event(deployment: Deployment, version: str, checkpoint: Checkpoint, weight: float,
               execution: str) -> dict:
    """The deployment's context, as a hook receives it (docs/checks.md documents every key)."""
    return {
        "phase": checkpoint.phase,
        "function": deployment.function_name,
        "functionArn": deployment.function_arn,
        "alias": deployment.alias,
        "newVersion": version,
        "stableVersion": deployment.stable.version if deployment.stable else None,
        "step": checkpoint.step,
        "steps": len(deployment.plan.steps),
        "weight": weight,
        "image": deployment.target.uri,
        "execution": execution,
    }


def function_error(payload: bytes) -> str:
    """``errorType: errorMessage`` of the runtime's error document (the answer to an invocation that failed)."""
    document = _parsed(payload)
    if isinstance(document, dict) and ("errorType" in document or "errorMessage" in document):
        kind, message = document.get("errorType", "Error"), document.get("errorMessage", "")
        return _clipped(f"{kind}: {message}")
    return _shown(document)


def invocation_problem(expect: Expectation, failed: bool, payload: bytes) -> str | None:
    """Why one synthetic answer fails (``failed``: the Invoke answer carried ``FunctionError``); None if it passes."""
    if failed:
        return f"failed ({function_error(payload)})"
    return expect.unmet(_parsed(payload))


def hook_problem(failed: bool, payload: bytes) -> str | None:
    """Why a hook's answer fails the check; None if it passes.

    A function error fails, and so does ``{"status": "fail", "reason": …}``. An answer with any other
    ``status`` than ``pass`` fails too, so that a hook answering ``"FAILED"`` or ``"error"`` is not taken for a
    pass; an answer without ``status`` (``null``, ``{}``, anything else) passes.
    """
    if failed:
        return f"failed ({function_error(payload)})"
    answer = _parsed(payload)
    if not isinstance(answer, dict) or "status" not in answer or answer["status"] == "pass":
        return None
    reason = answer.get("reason")
    because = f": {_clipped(str(reason))}" if reason not in (None, "") else " (no reason given)"
    if answer["status"] == "fail":
        return f"answered fail{because}"
    return (f"answered status {_shown(answer['status'])}{because}; a hook answers {{\"status\": \"pass\"}} or "
            "{\"status\": \"fail\", \"reason\": …}")


def lookup(document: Any, path: str) -> tuple[bool, Any]:
    """The value at a dotted ``path``: each segment an object key, or a list index (digits). A string holding
    JSON (a proxy response's ``body``) is parsed on the way, so ``body.status`` reads into it. (found, value)."""
    current = document
    for segment in path.split("."):
        if isinstance(current, str):
            try:
                current = json.loads(current)
            except ValueError:
                return False, None
        if isinstance(current, dict) and segment in current:
            current = current[segment]
        elif isinstance(current, list) and segment.isdigit() and int(segment) < len(current):
            current = current[int(segment)]
        else:
            return False, None
    return True, current


def same(found: Any, wanted: Any) -> bool:
    """JSON equality: ``true`` is not ``1`` (as Python's ``==`` would have it), ``1`` is ``1.0``."""
    if isinstance(found, bool) or isinstance(wanted, bool):
        return isinstance(found, bool) and isinstance(wanted, bool) and found == wanted
    if isinstance(found, int | float) and isinstance(wanted, int | float):
        return found == wanted
    if isinstance(found, dict) and isinstance(wanted, dict):
        return found.keys() == wanted.keys() and all(same(found[k], wanted[k]) for k in found)
    if isinstance(found, list) and isinstance(wanted, list):
        return len(found) == len(wanted) and all(same(a, b) for a, b in zip(found, wanted, strict=True))
    return type(found) is type(wanted) and found == wanted


def _parsed(payload: bytes) -> Any:
    """The JSON an answer carries; its text if it is not JSON."""
    try:
        return json.loads(payload)
    except ValueError:
        return payload.decode(errors="replace")


def _shown(value: Any) -> str:
    """A value as JSON, shortened and escaped for a person to read in a failure."""
    return _clipped(json.dumps(value, ensure_ascii=False))


def _clipped(text: str) -> str:
    """At most ``MAX_SHOWN`` characters, an ellipsis saying some were left out; escaped for a terminal."""
    return printable(text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…")
