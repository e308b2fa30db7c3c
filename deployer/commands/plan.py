"""``plan``: a dry run of ``deploy``. The request goes through the state machine's own Resolve code (reads
only), and the plan says what would change, when health would be checked and which checks would run (synthetic
invocations, hooks). Nothing is started or changed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from deployer.commands import connect
from deployer.commands.deploy import request_from
from deployer.console import Console
from deployer.errors import EXIT_FAILED, EXIT_OK, NotStarted
from handlers.aws.context import Aws
from handlers.aws.resolution import resolve
from handlers.domain.catalog import SERVICE
from handlers.domain.errors import DeploymentInProgress, InvalidDeploymentRequest
from handlers.domain.images import short
from handlers.domain.model import Deployment, parse_request
from handlers.domain.strategy import MAX_HISTORY_EVENTS, check_schedule, history_events

PLAN_EXECUTION = "plan"  # Resolve compares it with the lock's holder: a running deployment is reported


@contextmanager
def quiet_handler_logs() -> Iterator[None]:
    """The handlers' JSON logs are for CloudWatch, not this terminal."""
    handler_logs = logging.getLogger(SERVICE)
    level = handler_logs.level
    handler_logs.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        handler_logs.setLevel(level)


def run(args, console: Console) -> int:
    request = request_from(args)
    conn = connect(args)
    try:
        with quiet_handler_logs():
            deployment, _revision = resolve(parse_request(request), PLAN_EXECUTION,
                                            Aws(region=conn.region, table=conn.table, client=conn.client))
    except (InvalidDeploymentRequest, DeploymentInProgress) as exc:
        console.show(f"the state machine would refuse this deployment ({type(exc).__name__}): {exc}", "bad")
        console.emit({"function": request["function"], "wouldDeploy": False,
                      "refused": {"error": type(exc).__name__, "message": str(exc)}})
        return EXIT_FAILED
    except (BotoCoreError, ClientError) as exc:
        raise NotStarted(f"could not check the request against AWS: {exc}") from None
    document = describe(deployment)
    for text in render(document):
        console.show(text)
    console.emit(document)
    return EXIT_OK


def describe(deployment: Deployment) -> dict:
    """The plan as data (the ``plan`` JSON contract, docs/cli.md)."""
    interval, stable, analysis = deployment.check_interval_seconds, deployment.stable, deployment.analysis
    steps = [{"weight": step.weight, "bakeSeconds": step.bake_seconds,
              "checks": len(check_schedule(step, interval))} for step in deployment.plan.steps]
    return {
        "function": deployment.function_name,
        "alias": deployment.alias,
        "aliasExists": deployment.alias_exists,
        "wouldDeploy": not deployment.noop,
        "refused": None,
        "stable": stable.to_json() if stable else None,
        "target": {"image": deployment.target.uri, "digest": deployment.target.digest},
        "latestImage": deployment.latest_image,
        "strategy": deployment.plan.name,
        "checkIntervalSeconds": interval,
        "steps": steps,
        "bakeSeconds": deployment.plan.bake_seconds,
        "alarms": list(deployment.alarms),
        "ignoredAlarms": list(deployment.ignored_alarms),
        "analysis": analysis.to_json(),
        "checks": deployment.checks.to_json(),
        "historyEvents": history_events(deployment.plan, interval, analysis.max_extensions,
                                        deployment.checks.checkpoints(len(deployment.plan.steps))),
        "changes": changes(deployment),
    }


def changes(deployment: Deployment) -> list[str]:
    if deployment.noop:
        return []
    stable = deployment.stable
    if deployment.zip:
        found = [f"key {deployment.function_key} in {deployment.target.bucket} ← a copy of {deployment.target.uri}",
                 f"$LATEST → {deployment.target.uri}, published as a new version"]
    else:
        new, tag = short(deployment.target.digest), deployment.tag
        found = [f"tag {tag} → {new}" + (f" ({short(stable.digest)} stays tagged {tag}.previous)" if stable else ""),
                 f"$LATEST → {new}, published as a new version"]
    if not deployment.alias_exists:
        found.append(f"alias {deployment.alias} created on the new version (first deployment: all at once)")
    elif deployment.plan.steps:
        weights = ", ".join(f"{s.weight:g}%" for s in deployment.plan.steps)
        found.append(f"alias {deployment.alias}: {weights} to the new version, then all traffic "
                     f"(version {stable.version} keeps the rest until then)")
    else:
        found.append(f"alias {deployment.alias}: all traffic to the new version at once "
                     f"(from version {stable.version})")
    return found


def render(plan: dict) -> list[str]:
    stable = plan["stable"]
    live = f"version {stable['version']} ({short(stable['digest'])})" if stable else "no version yet"
    lines = [f"plan for {plan['function']}, alias {plan['alias']} (checked by the state machine's Resolve; "
             "nothing was changed)",
             f"  live now:  {live}",
             f"  deploy:    {plan['target']['image']}"]
    if not plan["wouldDeploy"]:
        return [*lines, "  nothing to do: the alias already serves this image"]
    lines.append("  would change:")
    lines += [f"    - {change}" for change in plan["changes"]]
    watched = ", ".join(plan["alarms"]) or "no alarms"
    lines.append(f"  schedule: {plan['strategy']}, health checked every {plan['checkIntervalSeconds']} s "
                 f"({watched})")
    for number, step in enumerate(plan["steps"], start=1):
        lines.append(f"    step {number:<3} {step['weight']:>5g}%  for {step['bakeSeconds']:>6} s  "
                     f"{step['checks']} check(s)")
    lines.append(f"    then     {100:>5}%  promote")
    lines += analysis_lines(plan["analysis"])
    lines += check_lines(plan["checks"])
    if plan["ignoredAlarms"]:
        lines.append(f"  already in ALARM, ignored (--allow-firing-alarms): {', '.join(plan['ignoredAlarms'])}")
    lines.append(f"  bake {plan['bakeSeconds']} s in all; about {plan['historyEvents']:,} of "
                 f"{MAX_HISTORY_EVENTS:,} history events")
    return lines


def analysis_lines(analysis: dict | bool) -> list[str]:
    """The ``analysis`` setting (docs/canary-analysis.md) as ``plan`` prints it."""
    if not analysis:
        return ["  analysis: off (alarms alone judge; an alarm without data counts as healthy)"]
    errors, latency = analysis["errorRate"], analysis["latency"]
    judged = f"errors above {errors['ceiling']:g}% or {errors['ratio']:g}x stable + {errors['difference']:g} point(s)"
    if latency:
        judged += f", {latency['percentile']} above {latency['ratio']:g}x stable + {latency['ms']:g} ms"
    throttles = {"compare": ", throttled more than stable", "any": ", any throttle", "ignore": ""}
    judged += throttles[analysis["throttles"]]
    extend = (f"extended up to {analysis['maxExtensions']} interval(s), then {analysis['inconclusive']}"
              if analysis["maxExtensions"] else analysis["inconclusive"])
    return [f"  analysis: the new version fails on {judged}; a pass needs {analysis['minInvocations']} calls "
            f"({analysis['confidence'] * 100:g}% confidence)",
            f"    a step ending inconclusive is {extend}; an alarm without data counts as "
            f"{analysis['insufficientData']}"]


CHECKPOINTS = (("beforeTraffic", "before traffic"), ("afterShift", "after each shift"),
               ("afterPromote", "after promotion"))


def check_lines(checks: dict) -> list[str]:
    """The pre- and post-traffic checks (docs/checks.md) as ``plan`` prints them."""
    synthetic, hooks = checks.get("preTraffic"), checks.get("hooks", {})
    notes = [f"    note: {note}" for note in checks.get("notes", [])]
    if not synthetic and not hooks:
        return ["  checks: none (no preTraffic, no hooks)", *notes]
    lines = ["  checks (any that fails rolls the deployment back):"]
    for phase, label in CHECKPOINTS:
        parts = []
        if synthetic and (phase == "beforeTraffic" or (phase == "afterShift" and synthetic["afterEachShift"])):
            parts.append(f"{synthetic['invocations']} invocation(s) of the new version expecting "
                         f"{expectation(synthetic['expect'])}")
        if phase in hooks:
            parts.append(f"hook {hooks[phase]}")
        if parts:
            lines.append(f"    {label:<17} {'; then '.join(parts)}")
    return lines + notes


def expectation(expect: dict) -> str:
    wanted = ["no function error"]
    if "statusCode" in expect:
        wanted.append(f"statusCode {expect['statusCode']}")
    wanted += [f"{path} = {json.dumps(value)}" for path, value in expect.get("fields", {}).items()]
    return ", ".join(wanted)
