"""``history``: a function's recent deployments and rollbacks, from the deployments table."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from deployer import timeline
from deployer.commands import connect, function_argument
from deployer.console import Console
from deployer.errors import EXIT_OK, NotStarted, UsageError
from handlers.aws import deployments
from handlers.domain import check_report
from handlers.domain.images import digest_of, short

_COLUMNS = ("STARTED (UTC)", "KIND", "FROM → TO", "IMAGE", "STRATEGY", "OUTCOME", "TOOK", "BY", "LAST CHECK")


def run(args, console: Console) -> int:
    if not 1 <= args.limit <= 100:
        raise UsageError(f"--limit {args.limit} must be from 1 to 100")
    conn = connect(args)
    function = function_argument(args.function)
    try:
        records = deployments.history(function, args.limit, ddb=conn.client("dynamodb"), table=conn.table)
    except (BotoCoreError, ClientError) as exc:
        raise NotStarted(f"cannot read the deployments table {conn.table} (is --state-machine "
                         f"{conn.state_machine_name} right?): {exc}") from None
    found = [record_json(record) for record in records]
    if not found:
        console.show(f"no deployments of {function} recorded in {conn.table}")
    else:
        for row in table([_COLUMNS, *(row_of(record) for record in found)]):
            console.show(row)
    console.emit({"function": function, "deployments": found})
    return EXIT_OK


RECORD_KEYS = ("execution", "name", "kind", "outcome", "startedAt", "finishedAt", "durationSeconds", "fromVersion",
               "toVersion", "image", "digest", "code", "strategy", "requestedBy", "cause", "lastCheck")


def record_json(record: dict) -> dict:
    """A table record as the JSON contract has it: every key present (null when unknown), numbers as numbers."""
    duration = record.get("durationSeconds")
    try:
        duration = float(duration) if duration is not None else None
    except ValueError:
        duration = None
    found = {key: record.get(key) for key in RECORD_KEYS}
    return found | {"name": (record.get("execution") or "").rsplit(":", 1)[-1] or None,
                    "kind": record.get("kind") or "deploy", "durationSeconds": duration,
                    "digest": digest_of(record.get("image")), "lastCheck": check_report.decode(record.get("lastCheck"))}


def row_of(record: dict) -> tuple[str, ...]:
    took = record.get("durationSeconds")
    return (
        record.get("startedAt", "")[:19].replace("T", " "),
        record.get("kind", "deploy"),
        f"{record.get('fromVersion') or '-'} → {record.get('toVersion') or '-'}",
        short(record.get("digest")) or (record.get("code") or "").split("?", 1)[0].rsplit("/", 1)[-1] or "-",
        record.get("strategy") or "-",
        record.get("outcome") or "-",
        f"{took:.1f} s" if isinstance(took, float) else "-",
        record.get("requestedBy") or "-",
        check_cell(record["lastCheck"]) if record.get("lastCheck") else "-",
    )


def check_line(check: dict) -> str:
    """A ``lastCheck`` in full: both versions' numbers, the verdict and its rule, the alarms; or why it failed."""
    return timeline.check_text(check) if check.get("passed") else f"failed: {check.get('reason')}"


def check_cell(check: dict) -> str:
    """A ``lastCheck`` for the table: the verdict and the new version's numbers, else the alarms; or why it failed."""
    if not check.get("passed"):
        return f"failed: {check.get('reason')}"
    parts = [f"{check['verdict']} ({check.get('rule')})"] if check.get("verdict") else []
    if check.get("new"):
        parts.append(timeline.versions_text({"new": check["new"], "latencyPercentile": check.get("latencyPercentile")}))
    return " · ".join(parts) or timeline.check_text(check)


def table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
