"""``status``: what a function's alias serves now (versions, weights, images), and the deployment running."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from deployer import timeline
from deployer.commands import connect, function_argument
from deployer.commands.history import check_line, record_json
from deployer.connection import Connection
from deployer.console import Console
from deployer.errors import EXIT_OK, CommandError, NotStarted
from deployer.executions import history
from deployer.inspect import LiveState, live_state
from handlers.aws import deployments
from handlers.aws.clients import error_code
from handlers.domain.images import digest_of, short
from handlers.domain.model import DEFAULT_ALIAS


def run(args, console: Console) -> int:
    function = function_argument(args.function)
    conn = connect(args)
    alias = args.alias or DEFAULT_ALIAS
    try:
        state = live_state(conn.client("lambda"), conn.client("ecr"), function, alias, conn.client("s3"))
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            raise CommandError(f"{function}: no alias {alias} (nothing deployed yet, or another --alias?): "
                               f"{exc.response['Error'].get('Message', '')}") from None
        raise NotStarted(f"cannot read {function}: {exc}") from None
    except BotoCoreError as exc:
        raise NotStarted(f"cannot read {function}: {exc}") from None
    running, last = deployment_records(conn, state.function)
    document = {**state.to_json(), "running": running, "lastDeployment": last}
    for text, style in render(state, running, last):
        console.show(text, style)
    console.emit(document)
    return EXIT_OK


def deployment_records(conn: Connection, function: str) -> tuple[dict | None, dict | None]:
    """The deployment holding the function's lock (with where it is now), and the latest record."""
    ddb = conn.client("dynamodb")
    try:
        lock = deployments.holder(function, ddb=ddb, table=conn.table)
        records = deployments.history(function, 1, ddb=ddb, table=conn.table)
    except ClientError as exc:
        raise NotStarted(f"cannot read the deployments table {conn.table} (is --state-machine "
                         f"{conn.state_machine_name} right?): {exc}") from None
    running = None
    if lock:
        running = {"execution": lock.execution, "name": lock.execution_name, "startedAt": lock.started_at,
                   "kind": lock.deployment.get("kind", "deploy"), "requestedBy": lock.deployment.get("requestedBy"),
                   "now": None, "lastStep": None, "weight": None, "newVersion": None, "lastCheck": None}
        try:
            events = history(conn.client("stepfunctions"), lock.execution)
        except ClientError:
            events = []  # the lock is enough to say a deployment runs; its progress is a bonus
        visits = timeline.visits(events)
        now, lines = timeline.snapshot(visits), timeline.lines(events)
        running.update(now=now.describe() if visits else None, lastStep=lines[-1].render().strip() if lines else None,
                       weight=now.weight, newVersion=now.version, lastCheck=timeline.last_check(visits))
    return running, (record_json(records[0]) if records else None)


def render(state: LiveState, running: dict | None, last: dict | None) -> list[tuple[str, str | None]]:
    lines: list[tuple[str, str | None]] = [(f"{state.function}, alias {state.alias}", "bold")]
    for version, weight in state.versions.items():
        lines.append((f"  version {version:<6} {weight * 100:>6g}%  {short(state.digests.get(version))}", None))
    lines.append((f"  $LATEST               {short(state.digests.get('$LATEST'))}", None))
    lines.append((f"  {state.reference} → {short(state.tag_digest)}", None))
    if state.settled:
        lines.append(("  settled: one version serves all traffic; the tag and $LATEST run its image", "ok"))
    elif not running:
        lines.append(("  not settled: traffic is split, or the tag or $LATEST differ from the live version, "
                      "and no deployment runs (a rollback or the reconciler repairs it)", "warn"))
    if running:
        lines.append((f"running: {running['kind']} {running['name']} since {running['startedAt']}"
                      + (f" by {running['requestedBy']}" if running.get("requestedBy") else ""), "warn"))
        if running["now"]:
            lines.append((f"  now:  {running['now']}", None))
        if running["lastStep"]:
            lines.append((f"  last: {running['lastStep']}", None))
        if (check := running.get("lastCheck")) and running["lastStep"] and "CheckHealth" not in running["lastStep"]:
            lines.append((f"  last check: {check_line(check)}", None))
    if last:
        moved = f"{last.get('fromVersion') or '-'} → {last.get('toVersion') or '-'}"
        by = f" by {last['requestedBy']}" if last.get("requestedBy") else ""
        what = short(digest_of(last.get("image"))) or last.get("code") or ""
        lines.append((f"last deployment: {last['outcome']} {moved} ({what}) "
                      f"started {last['startedAt']}{by}", None))
        if last.get("lastCheck"):
            lines.append((f"  its last check: {check_line(last['lastCheck'])}", None))
    return lines
