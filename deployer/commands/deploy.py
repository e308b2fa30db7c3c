"""``deploy``: start a deployment (exactly once), follow it live, exit with a code a pipeline can act on.

``rollback`` runs through :func:`execute` as well: both are executions of the state machine.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime

from botocore.exceptions import BotoCoreError, ClientError

from deployer import naming, runs, timeline
from deployer.commands import connect, invalid_request
from deployer.console import Console
from deployer.errors import EXIT_FAILED, EXIT_OK, CommandError, UsageError
from deployer.executions import follow
from handlers.domain import previews
from handlers.domain.errors import InvalidDeploymentRequest
from handlers.domain.images import digest_of, short
from handlers.domain.model import parse_function, parse_request, stopped_by

EXIT_INTERRUPTED = 130  # Ctrl-C while following: the execution goes on in AWS


def request_from(args) -> dict:
    """The deploy request the arguments describe, validated by the code the state machine runs."""
    request: dict = {"function": args.function}
    if getattr(args, "code", None):
        request["code"] = args.code
    else:
        request["image"] = args.image
    if args.alias is not None:
        request["alias"] = args.alias
    if args.strategy is not None:
        request["strategy"] = _strategy(args.strategy)
    if args.alarms:
        request["alarms"] = args.alarms
    if args.check_interval is not None:
        request["checkIntervalSeconds"] = args.check_interval
    if args.allow_firing_alarms:
        request["allowFiringAlarms"] = True
    if args.no_analysis:
        request["analysis"] = False
    elif args.analysis is not None:
        request["analysis"] = _json("--analysis", args.analysis)
    if args.pre_traffic is not None:
        request["preTraffic"] = _json("--pre-traffic", args.pre_traffic)
    if args.hooks is not None:
        request["hooks"] = _json("--hooks", args.hooks)
    if getattr(args, "preview", None) is not None:
        request["preview"] = args.preview
    request["requestedBy"] = naming.requested_by(os.environ)
    try:
        parse_request(request)
    except InvalidDeploymentRequest as exc:
        raise invalid_request(exc) from None
    return request


def _strategy(value: str):
    """An explicit ``{"steps": …}`` strategy goes into the request as JSON, so the console shows it as such."""
    if value.lstrip().startswith("{"):
        try:
            return json.loads(value)
        except ValueError:
            pass  # the request validation says what is wrong with it
    return value


def _json(flag: str, value: str):
    """``--analysis '{"minInvocations": 20}'``, ``--pre-traffic …``, ``--hooks …``: JSON, as the request carries it."""
    try:
        return json.loads(value)
    except ValueError as exc:
        raise UsageError(f"{flag} {value!r} is not JSON: {exc}") from None


def run(args, console: Console) -> int:
    request = request_from(args)
    alarms = f", watching {', '.join(request['alarms'])}" if request.get("alarms") else ""
    if "code" in request:
        what, shown = naming.code_part(request["code"]), f"code {request['code']}"
    else:
        image = short(digest) if (digest := digest_of(request["image"])) else request["image"].rsplit("/", 1)[-1]
        what, shown = naming.image_part(request["image"]), f"image {image}"
    if "preview" in request:
        console.say(f"preview {request['function']}: {shown}, branch {request['preview']}, alias "
                    f"{previews.alias_for(request['preview'])} (production alias {request.get('alias', 'live')} "
                    "untouched)")
        what = f"preview-{what}"
    else:
        console.say(f"deploy {request['function']}: {shown}, strategy {runs.strategy_name(request)}, "
                    f"alias {request.get('alias', 'live')}{alarms}")
    code, document = execute(args, console, request, what=what)
    if document:
        console.emit(document)
    return code


def execute(args, console: Console, request: dict, *, what: str,
            on_line: Callable[[timeline.Line], None] | None = None) -> tuple[int, dict | None]:
    """Start (or find) the execution for ``request`` and follow it unless ``--no-wait``: the exit code and
    the result document (for the caller to emit: it may add to it)."""
    conn = connect(args)
    ci_run = naming.ci_run(os.environ)
    function = parse_function(request["function"]).name
    key = naming.request_key(request, ci_run)
    names = [naming.execution_name(function, what, key),
             naming.execution_name(function, what, key, naming.redeploy_suffix(datetime.now(UTC)))]
    sfn = conn.client("stepfunctions")
    started = runs.start(sfn, conn.state_machine_arn, names, request, in_ci_run=ci_run is not None)
    _announce(console, started, ci_run, conn.where(started.arn))
    try:
        if args.no_wait and started.how != runs.FINISHED:
            described, events = sfn.describe_execution(executionArn=started.arn), []
        else:
            described, events = _follow(console, sfn, started.arn, args.poll_interval, on_line)
    except KeyboardInterrupt:
        console.error(f"stopped following; {started.name} goes on: {conn.where(started.arn)} "
                      "(run the same command again to follow it)")
        return EXIT_INTERRUPTED, None
    except (BotoCoreError, ClientError) as exc:
        raise CommandError(f"lost track of {started.name} ({exc}); it goes on: {conn.where(started.arn)}. "
                           "Run the same command again to follow it") from None
    document = runs.result(described, events, conn.console_url(started.arn))
    if rollback := stopped_by(document["error"], document["cause"]):
        document = _follow_rollback(args, console, conn, document, rollback)
    if described["status"] != "RUNNING":
        for text, style in verdict(document):
            console.say(text, style)
    return (EXIT_OK if document["status"] in ("SUCCEEDED", "RUNNING") else EXIT_FAILED), document


def _follow_rollback(args, console: Console, conn, stopped: dict, name: str) -> dict:
    """A rollback request stopped this execution (a person's, or an alarm's event): what counts is where that
    rollback left traffic, so follow it to its end too."""
    arn = conn.state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"
    console.say(f"{stopped['name']} was stopped by rollback request {name}; following it")
    sfn = conn.client("stepfunctions")
    try:
        described, events = _follow(console, sfn, arn, args.poll_interval, None)
    except KeyboardInterrupt:
        console.error(f"stopped following; {name} goes on: {conn.where(arn)}")
        return stopped
    except (BotoCoreError, ClientError) as exc:
        console.error(f"cannot follow {name} ({exc}): {conn.where(arn)}")
        return stopped
    return runs.stopped_by_rollback(stopped, runs.result(described, events, conn.console_url(arn)))


def _announce(console: Console, started: runs.Started, run: naming.CiRun | None, where: str) -> None:
    if started.how == runs.STARTED:
        console.say(f"started {started.name}")
    elif started.how == runs.RUNNING:
        console.say(f"{started.name} is already running: following it instead of starting another")
    else:
        console.say(f"{started.name} already ran in this {run.system if run else 'CI'} run (this is a retry): "
                    "reporting its outcome, not deploying again")
    console.say(f"  {where}")


def _follow(console: Console, sfn, arn: str, poll_seconds: float, on_line) -> tuple[dict, list[dict]]:
    seen: list[dict] = []
    started = time.monotonic()

    def line(found: timeline.Line) -> None:
        console.say(found.render(), _style(found))
        if on_line:
            on_line(found)

    def poll(events: list[dict]) -> None:
        seen[:] = events
        elapsed = time.monotonic() - started
        if events:  # time since the execution started, as the console counts it
            elapsed = max(elapsed, (datetime.now(UTC) - events[0]["timestamp"]).total_seconds())
        console.status(f"  {timeline.snapshot(timeline.visits(events)).describe()} · {elapsed:.0f} s")

    described = follow(sfn, arn, line, poll_seconds=poll_seconds, on_poll=poll)
    console.clear_status()
    return described, seen


def _style(line: timeline.Line) -> str | None:
    if line.text.startswith("failed:"):
        return "bad"
    return "warn" if line.state in ("Rollback", "RestoreVersion") else None


def verdict(document: dict) -> list[tuple[str, str | None]]:
    """The closing lines of a followed execution, for people (the JSON document carries the same)."""
    took = f" in {document['durationSeconds']:.1f} s" if document.get("durationSeconds") is not None else ""
    function, alias, version = document["function"], document["alias"], document.get("version")
    image = short(document.get("digest")) or document.get("image") or document.get("code")
    if document["kind"] in ("prune", "deletePreview"):  # the command shows its report
        return [(f"  => {document['status']}{took}", "ok" if document["status"] == "SUCCEEDED" else "bad")] + (
            [(f"     {document['error']}: {document.get('cause') or ''}", None)] if document.get("error") else [])
    if document["status"] == "SUCCEEDED":
        if document["kind"] == "preview":
            verb = "already serves" if document["outcome"] == "unchanged" else "now serves"
            text = (f"preview alias {alias} of {function} {verb} version {version} ({image}) for branch "
                    f"{document.get('preview')}; production is untouched")
            return [(f"  => SUCCEEDED{took}: {text}", "ok")]
        if document["outcome"] == "unchanged":
            text = f"{function} already runs {image} as version {version} on alias {alias}: nothing changed"
        elif document["kind"] == "rollback":
            text = (f"alias {alias} of {function} is back on version {version} ({image}), "
                    f"from version {document.get('previousVersion')}")
        else:
            was = document.get("previousVersion")
            text = (f"version {version} of {function} ({image}) serves all traffic on alias {alias}"
                    + (f" (was version {was})" if was else ""))
        return [(f"  => SUCCEEDED{took}: {text}", "ok")]
    failing = f", failing step {document['failedState']}" if document.get("failedState") else ""
    lines = [(f"  => {document['status']} {document.get('error') or ''}".rstrip() + f"{took}{failing}", "bad")]
    if document.get("cause"):
        lines.append((f"     cause: {document['cause']}", None))
    if document.get("liveVersion"):
        lines.append((f"     live: version {document['liveVersion']} serves all traffic on alias {alias}", None))
    return lines
