"""A deployment's execution history as lines a person can read: step, weights, alarm states, timing.

Pure functions over ``GetExecutionHistory`` events; the CLI follows a live execution with them and the
demo prints them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from handlers.images import short

QUIET_STATES = {"AlreadyLive", "NextStep", "Bake", "ExplainInvalidRequest"}


@dataclass
class Visit:
    """One pass through a state: when it was entered and left, its output, the errors on the way."""

    name: str
    entered: datetime
    input: dict | None = None
    exited: datetime | None = None
    output: dict | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def failure(self) -> dict | None:
        """The error a Catch attached to the output when this state failed (not one it was handed)."""
        for key in ("failure", "rollbackFailure"):
            found = self.output.get(key) if isinstance(self.output, dict) else None
            if found and found != (self.input or {}).get(key):
                return found
        return None


def visits(history: list[dict]) -> list[Visit]:
    """Every state an execution went through, in order (history events in ascending order)."""
    found: list[Visit] = []
    for event in history:
        if details := event.get("stateEnteredEventDetails"):
            found.append(Visit(details["name"], event["timestamp"], _json(details.get("input"))))
        elif not found:
            continue
        elif (details := event.get("stateExitedEventDetails")) and found[-1].name == details["name"]:
            found[-1].exited = event["timestamp"]
            found[-1].output = _json(details.get("output"))
        elif details := event.get("taskFailedEventDetails"):
            found[-1].errors.append(details.get("error", "error"))
    return found


def _json(text: str | None):
    try:
        value = json.loads(text) if text else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@dataclass(frozen=True)
class Line:
    seconds: float
    state: str
    text: str

    def render(self) -> str:
        return f"  +{self.seconds:6.1f}s  {self.state:<18} {self.text}".rstrip()


def describe(visit: Visit, started: datetime) -> Line | None:
    """The line for one visit, or None for states that only route (choices, waits)."""
    if visit.name in QUIET_STATES or visit.exited is None:
        return None
    output = visit.output if isinstance(visit.output, dict) else {}
    at = (visit.entered - started).total_seconds()
    if failure := visit.failure:
        return Line(at, visit.name, f"failed: {failure_message(failure)}")
    text = _TEXT.get(visit.name, lambda _o: "")(output)
    retried = len(visit.errors)
    if retried:
        kinds = ", ".join(sorted(set(visit.errors)))
        text = f"{text} (after {retried} retr{'y' if retried == 1 else 'ies'}: {kinds})".strip()
    return Line(at, visit.name, text)


def failure_message(failure: dict) -> str:
    error, cause = failure.get("Error", "Error"), failure.get("Cause", "")
    message = (_json(cause) or {}).get("errorMessage", cause) if cause.startswith("{") else cause
    return f"{error}: {message}" if message else error


def _deployment(output: dict) -> dict:
    return output.get("deployment") or {}


def _resolved(output: dict) -> str:
    deployment = _deployment(output)
    stable = deployment.get("stable")
    plan = deployment.get("plan", {})
    steps = plan.get("steps", [])
    schedule = ", ".join(f"{s['weight']:g}% for {s['bakeSeconds']} s" for s in steps)
    live = f"version {stable['version']} ({short(stable.get('digest'))})" if stable else "no live version yet"
    if deployment.get("noop"):
        return f"{live} already runs this image: nothing to do"
    return f"live: {live}; plan {plan.get('name')}: {schedule + ', then ' if schedule else ''}100%"


def _shifted(output: dict) -> str:
    traffic, release, deployment = output.get("traffic", {}), output.get("release", {}), _deployment(output)
    stable = (deployment.get("stable") or {}).get("version")
    weight = traffic.get("weight", 0)
    return f"{weight:g}% → version {release.get('version')}, {100 - weight:g}% → version {stable}"


def _checked(output: dict) -> str:
    alarms = output.get("alarms") or {}
    if not alarms:
        return "no alarms watched"
    return ", ".join(f"{name} {state}" for name, state in alarms.items())


_TEXT = {
    "Resolve": _resolved,
    "RetagImage": lambda o: f"tag {_deployment(o).get('functionName')} → {short(_target_digest(o))}",
    "UpdateCode": lambda o: f"$LATEST → {short(_target_digest(o))}",
    "WaitForCodeUpdate": lambda o: "LastUpdateStatus Successful",
    "PublishVersion": lambda o: f"version {o.get('release', {}).get('version')}",
    "ShiftTraffic": _shifted,
    "CheckHealth": _checked,
    "Promote": lambda o: f"100% → version {o.get('release', {}).get('version')}",
    "Rollback": lambda o: (o.get("outcome") or {}).get("cause", "").split("Rolled back: ", 1)[-1],
    "Finalize": lambda o: f"{o.get('outcome', 'done')}: version {o.get('version')}" if "outcome" in o else "done",
}


def _target_digest(output: dict) -> str | None:
    target = _deployment(output).get("target") or ""
    return target.rsplit("@", 1)[-1] if "@" in target else None


def lines(history: list[dict]) -> list[Line]:
    found = visits(history)
    if not found:
        return []
    started = history[0]["timestamp"]
    return [line for visit in found if (line := describe(visit, started))]
