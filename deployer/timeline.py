"""A deployment's execution history as lines a person can read: step, weights, each check's numbers, timing.

Pure functions over ``GetExecutionHistory`` events; the CLI follows a live execution with them and the
demo prints them. A check's line shows what CheckHealth's output carries (``handlers.domain.check_report``): per
version the invocations, errors, error rate and latency percentile, the verdict and the rule that decided, and
the alarms' states. A check without numbers (analysis off, or a CheckHealth without it) shows its alarms,
unless the caller passes ``numbers``, which reads them elsewhere (the demo: from CloudWatch).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from handlers.domain import check_report
from handlers.domain.images import short

# States that only route or wait: their visit says nothing a person needs (the next line does).
QUIET_STATES = {"Route", "AlreadyLive", "DeployOrRollBack", "NextStep", "Bake", "ExplainRefusal", "VersionReady",
                "CapacityReady",
                # the approval gate's inner workings: its answer is RequestApproval's line
                "HoldTraffic", "WatchApproval", "WaitEnded", "WatchEnded", "OnApprovalTimeout", "Approved"}


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
        """The error a Catch attached to the output when this state failed (not one it was handed).

        Catches with ``ResultPath: $.failure`` (or ``$.rollbackFailure``) add it under that key; the ones
        with ``ResultPath: $`` (Resolve, ResolveRollback, Lock) replace the output with ``{Error, Cause}``.
        """
        output, given = self.output if isinstance(self.output, dict) else {}, self.input or {}
        for key in ("failure", "rollbackFailure"):
            if (found := output.get(key)) and found != given.get(key):
                return found
        if "Error" in output and "Error" not in given:
            return {"Error": output["Error"], "Cause": output.get("Cause", "")}
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


@dataclass(frozen=True)
class CheckContext:
    """What a reader of per-version numbers needs to know about one check (``numbers``)."""

    function: str
    alias: str
    new: str  # the new version
    stable: str | None
    since: datetime  # when traffic first moved to the new version
    at: datetime  # when the check ran


# Reads a check's per-version numbers elsewhere: {"new": {...}, "stable": {...}, "latencyPercentile": ...} or None.
Numbers = Callable[[CheckContext], dict | None]


def describe(visit: Visit, started: datetime, extra: dict | None = None) -> Line | None:
    """The line for one visit, or None for states that only route (choices, waits). ``extra``: a check's
    numbers read elsewhere, for a check whose output has none."""
    if visit.name in QUIET_STATES or visit.exited is None:
        return None
    output = visit.output if isinstance(visit.output, dict) else {}
    at = (visit.entered - started).total_seconds()
    if failure := visit.failure:
        numbers = f" · {versions_text(extra)}" if extra and versions_text(extra) else ""
        return Line(at, visit.name, f"failed: {failure_message(failure)}{numbers}")
    if visit.name == "CheckHealth":
        text = check_text(check_report.summary(output), extra)
    else:
        text = _TEXT.get(visit.name, lambda _o: "")(output)
    retried = len(visit.errors)  # a failure caught here would have returned above: each error was retried
    if retried:
        kinds = ", ".join(sorted(set(visit.errors)))
        text = f"{text} (after {retried} retr{'y' if retried == 1 else 'ies'}: {kinds})".strip()
    return Line(at, visit.name, text)


def check_text(found: dict | None, extra: dict | None = None) -> str:
    """A check as one line: each version's numbers, the verdict and its rule, the alarms' states. The check's
    own numbers win over ``extra`` (one source: what the check judged)."""
    found = found or {}
    numbers = found if found.get("new") else (extra or {})
    parts = [text for text in [versions_text(numbers)] if text]
    if found.get("verdict"):
        parts.append(f"{found['verdict']} ({found['rule']})" if found.get("rule") else found["verdict"])
    alarms = found.get("alarms") or {}
    parts.append(", ".join(f"{name} {state}" for name, state in alarms.items()) if alarms else "no alarms watched")
    return " · ".join(parts)


def versions_text(numbers: dict) -> str:
    """``v3 25% errors (9 of 36), p99 68 ms · v2 0% errors (0 of 144), p99 69 ms``: new version first."""
    percentile = numbers.get("latencyPercentile") or "p99"
    found = [numbers.get("new"), numbers.get("stable")]
    return " · ".join(_version_text(stats, percentile) for stats in found if isinstance(stats, dict))


def _version_text(stats: dict, percentile: str) -> str:
    calls, errors = stats.get("invocations") or 0, stats.get("errors") or 0
    if not calls:
        text = f"v{stats.get('version')} no invocations"
    else:
        rate = stats.get("errorRate")
        rate = rate if rate is not None else errors * 100 / calls
        text = f"v{stats.get('version')} {_percent(rate)} errors ({errors:,} of {calls:,})"
    if throttles := stats.get("throttles"):
        text += f", {throttles:,} throttled"
    if stats.get("latencyMs") is not None:
        text += f", {percentile} {stats['latencyMs']:,.0f} ms"
    return text


def _percent(value: float) -> str:
    """26.8%, 0.5%, 0%; two significant digits below 0.1% (as the verdict's reasons write rates)."""
    if value == 0 or value >= 0.1:
        return f"{value:.1f}".rstrip("0").rstrip(".") + "%"
    return f"{value:.2g}%"


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


def _checks_passed(output: dict) -> str:
    """What the last checkpoint ran (handlers.run_checks appends one entry per checkpoint)."""
    ran = (output.get("checks") or [{}])[-1]
    parts = [f"{ran['invocations']} synthetic invocation(s)"] if ran.get("invocations") else []
    parts += [f"hook {ran['hook'].rsplit(':function:', 1)[-1]}"] if ran.get("hook") else []
    return f"{ran.get('phase', 'checks')}: {' and '.join(parts) or 'nothing'} passed"


def _locked(output: dict) -> str:
    stopped = output.get("interrupt")
    return f"stopped {stopped.rsplit(':', 1)[-1]}, took its lock" if stopped else "lock taken"


def _resolved_rollback(output: dict) -> str:
    deployment = _deployment(output)
    stable = deployment.get("stable") or {}
    back = f"version {stable.get('version')} ({short(stable.get('digest'))})"
    if deployment.get("noop"):
        return f"alias {deployment.get('alias')} already serves only {back}: nothing to do"
    return f"back from version {deployment.get('fromVersion')} to {back}"


def _routed(output: dict) -> str:
    push, found = output.get("push") or {}, [d.get("function") for d in output.get("deployments") or []]
    pushed = f"push of {push.get('repository')}:{push.get('tag')}"
    return f"{pushed}: deploy {', '.join(found)}" if found else f"{pushed}: no function tracks it"


_TEXT = {
    "Resolve": _resolved,
    "ResolveRollback": _resolved_rollback,
    "Lock": _locked,
    "RestoreVersion": lambda o: ", ".join(o.get("restored") or []) or "nothing needed restoring",
    "FindTrackingFunctions": _routed,
    "DeployEach": lambda o: f"{len(o.get('deployments') or [])} deployment(s) finished",
    "FinishedWithoutRecord": lambda o: o.get("note", ""),
    "RetagImage": lambda o: (f"key functions/{_deployment(o).get('functionName')}.zip ← {_deployment(o)['target']}"
                             if _zip(o) else f"tag {_deployment(o).get('functionName')} → {short(_target_digest(o))}"),
    "UpdateCode": lambda o: f"$LATEST → {_deployment(o)['target'] if _zip(o) else short(_target_digest(o))}",
    "WaitForVersion": lambda o: f"version {o.get('release', {}).get('version')} Active",
    "WaitForCapacity": lambda o: "provisioned concurrency READY",
    "WaitForCodeUpdate": lambda o: "LastUpdateStatus Successful",
    "PublishVersion": lambda o: f"version {o.get('release', {}).get('version')}",
    "ShiftTraffic": _shifted,
    "RunChecks": _checks_passed,
    "RequestApproval": lambda o: f"approved by {o.get('approvedBy') or 'someone'}",  # the answer to its token
    "ApprovedByTimeout": lambda o: "nobody answered in time: goes on (onApprovalTimeout promote)",
    "AwaitApproval": lambda o: "gate passed",
    "Promote": lambda o: f"100% → version {o.get('release', {}).get('version')}",
    "PromoteThenCheck": lambda o: f"100% → version {o.get('release', {}).get('version')}",
    "Rollback": lambda o: (o.get("outcome") or {}).get("cause", "").split("Rolled back: ", 1)[-1],
    "Finalize": lambda o: f"{o.get('outcome', 'done')}: version {o.get('version')}" if "outcome" in o else "done",
    "ReleaseLatest": lambda o: ", ".join(o.get("restored") or []) or "$LATEST already on production's image",
    "PointPreview": lambda o: f"alias {_deployment(o).get('alias')} → version {o.get('release', {}).get('version')}",
    "ResolvePrune": lambda o: _pruning(o.get("prune") or {}),
    "Prune": lambda o: _pruning(o.get("prune") or {}),
}


def _pruning(state: dict) -> str:
    if "deleted" not in state:
        return ""
    if state.get("dryRun"):
        return f"would delete {len(state.get('toDelete') or [])} of {state.get('versionsFound')} versions"
    tagged = len((state.get("imageTags") or {}).get("tagged") or {})
    return (f"deleted {len(state['deleted'])}, {len(state.get('toDelete') or [])} to go, "
            f"{len(state.get('kept') or {})} kept" + (f", {tagged} image(s) tagged" if tagged else ""))
def _zip(output: dict) -> bool:
    return str(_deployment(output).get("target") or "").startswith("s3://")


def _target_digest(output: dict) -> str | None:
    target = _deployment(output).get("target") or ""
    return target.rsplit("@", 1)[-1] if "@" in target else None


def lines(history: list[dict], numbers: Numbers | None = None) -> list[Line]:
    """Every line of the history; ``numbers`` reads the per-version numbers of a check whose output has none."""
    found = visits(history)
    if not found:
        return []
    started = history[0]["timestamp"]
    moved = next((v.exited for v in found if v.name == "ShiftTraffic" and v.exited and not v.failure), None)
    result = []
    for visit in found:
        extra = None
        if numbers and moved and visit.name == "CheckHealth" and visit.exited and not _has_numbers(visit):
            context = check_context(visit, moved)
            extra = numbers(context) if context else None
        if line := describe(visit, started, extra):
            result.append(line)
    return result


def _has_numbers(visit: Visit) -> bool:
    return bool((check_report.summary(visit.output or {}) or {}).get("new"))


def check_context(visit: Visit, moved: datetime) -> CheckContext | None:
    """What a check judged: its function, alias, both versions, since when and when (None before a release)."""
    document = visit.input or {}
    deployment, release = _deployment(document), document.get("release") or {}
    if not deployment.get("functionName") or not release.get("version"):
        return None
    stable = (deployment.get("stable") or {}).get("version")
    return CheckContext(deployment["functionName"], deployment.get("alias") or "live", str(release["version"]),
                        str(stable) if stable else None, moved, visit.entered)


def last_check(found: list[Visit]) -> dict | None:
    """The last health check (docs/cli.md ``lastCheck``): its numbers, verdict, rule and alarms, or, for one
    that stopped the deployment, ``passed: false`` and why; ``at`` is when it ran. None before any check."""
    for visit in reversed(found):
        if visit.name != "CheckHealth" or visit.exited is None:
            continue
        failure = visit.failure
        check = check_report.failed(failure_message(failure)) if failure else check_report.summary(visit.output or {})
        return {"at": visit.entered.isoformat(), **check} if check else None
    return None


def failed_state(found: list[Visit]) -> str | None:
    """The state where a deployment went wrong: the first whose Catch recorded a failure, else the one
    that routed to Rollback or to the refusal."""
    for visit in found:
        if visit.failure:
            return visit.name
    for before, after in itertools.pairwise(found):
        if after.name in ("Rollback", "ExplainRefusal"):
            return before.name
    return None


@dataclass(frozen=True)
class Snapshot:
    """Where an execution is now: the live status line of a deployment being followed."""

    state: str | None = None  # the state entered last
    weight: float | None = None  # percent of traffic on the new version
    version: str | None = None  # the new version, once published
    step: int | None = None  # 1-based plan step being served
    steps: int | None = None
    alarms: dict[str, str] = field(default_factory=dict)  # as last checked
    verdict: str | None = None  # the last check's canary verdict, if it analysed

    def describe(self) -> str:
        parts = [self.state or "starting"]
        if self.weight is not None and self.version:
            where = f" (step {self.step} of {self.steps})" if self.steps else ""
            parts.append(f"{self.weight:g}% on version {self.version}{where}")
        if self.verdict:
            parts.append(self.verdict)
        if self.alarms:
            parts.append(", ".join(f"{name} {state}" for name, state in self.alarms.items()))
        return " · ".join(parts)


def state_document(found: list[Visit]) -> dict:
    """The latest state document the tasks passed along (``deployment``, ``traffic``, ``release``, …)."""
    document: dict = {}
    for visit in found:
        for candidate in (visit.input, visit.output):
            if isinstance(candidate, dict) and "deployment" in candidate:
                document = candidate
    return document


def snapshot(found: list[Visit]) -> Snapshot:
    if not found:
        return Snapshot()
    document = state_document(found)
    outputs = [v.output for v in found if v.name == "CheckHealth" and "alarms" in (v.output or {})]
    alarms = dict(outputs[-1]["alarms"] or {}) if outputs else {}
    verdict = (check_report.verdict_of(outputs[-1]) or {}).get("verdict") if outputs else None
    traffic, release = document.get("traffic") or {}, document.get("release") or {}
    steps = len((_deployment(document).get("plan") or {}).get("steps") or []) or None
    weight = traffic.get("weight") if release.get("version") else None
    step = min(traffic.get("step", 0) + 1, steps) if steps and weight else None
    return Snapshot(found[-1].name, weight, release.get("version"), step, steps if step else None, alarms, verdict)
