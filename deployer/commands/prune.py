"""``prune``: delete the versions nothing uses but the newest N, through the state machine (a dry run unless
``--apply``), and show what went, what stayed and why, and the code storage freed (docs/pruning.md)."""

from __future__ import annotations

import os

from deployer import naming
from deployer.commands import invalid_request
from deployer.commands.deploy import execute
from deployer.console import Console
from handlers.domain.errors import InvalidDeploymentRequest
from handlers.domain.model import DELETE_PREVIEW, PRUNE, parse_prune_request


def request_from(args) -> dict:
    request: dict = {"action": PRUNE, "function": args.function, "dryRun": not args.apply}
    if args.keep is not None:
        request["keep"] = args.keep
    return validated(request)


def validated(request: dict) -> dict:
    request["requestedBy"] = naming.requested_by(os.environ)
    try:
        parse_prune_request(request)
    except InvalidDeploymentRequest as exc:
        raise invalid_request(exc) from None
    return request


def run(args, console: Console) -> int:
    request = request_from(args)
    how = "dry run: nothing is deleted (--apply deletes)" if request["dryRun"] else "deleting"
    console.say(f"prune {request['function']}: keep the newest {request.get('keep', 10)} and every version in use; "
                f"{how}")
    return follow(args, console, request, what="prune-dry-run" if request["dryRun"] else "prune")


def follow(args, console: Console, request: dict, *, what: str) -> int:
    code, document = execute(args, console, request, what=what)
    if document is None:
        return code
    if report := document.get("report"):
        for text, style in render(report):
            console.say(text, style)
    console.emit(document)
    return code


def render(report: dict) -> list[tuple[str, str | None]]:
    dry = report.get("dryRun")
    gone = report["toDelete"] if dry else report["deleted"]
    verb = "would delete" if dry else "deleted"
    lines: list[tuple[str, str | None]] = []
    if report.get("action") == DELETE_PREVIEW:
        aliases = report["deleteAliases"] if dry else report["deletedAliases"]
        lines.append((f"  {verb} alias(es): {', '.join(aliases) or 'none'}", None))
    lines.append((f"  {verb} {len(gone)} of {report['versionsFound']} versions: {_ranges(gone) or 'none'}",
                  "warn" if gone and not dry else None))
    for version, reasons in sorted(report["kept"].items(), key=lambda item: int(item[0])):
        lines.append((f"  kept {version:>6}: {'; '.join(reasons)}", None))
    for version, reason in sorted(report["notDeleted"].items(), key=lambda item: int(item[0])):
        lines.append((f"  not deleted {version}: {reason}", "warn"))
    lines += _image_tags(report)
    freed = report["wouldFreeBytes"] if dry else report["freedBytes"]
    lines.append((f"  code storage {'it would free' if dry else 'freed'}: {_size(freed)} (.zip versions; image "
                  "versions take none: their images are in ECR)", None))
    if storage := report.get("codeStorage"):
        lines.append((f"  code storage in use: {_size(storage['usedBytes'])} of {_size(storage['quotaBytes'])} "
                      f"({storage['usedPercent']}%)", None))
    if report.get("more"):
        lines.append((f"  {report['more']} more could go: run prune again", "warn"))
    return lines


def _image_tags(report: dict) -> list[tuple[str, str | None]]:
    """Kept versions' images keep the tag <function>.v<N>.previous; deleted ones lose it where the image has
    another tag (docs/pruning.md). Nothing for a zip function."""
    image_tags = report.get("imageTags")
    if image_tags is None:
        return []
    if report.get("dryRun"):
        would = report.get("toTag") or []
        return [(f"  image tags: would tag {len(would)} kept version(s)' images in {image_tags['repository']}: "
                 f"{_ranges(would) or 'none (all tagged)'}", None)]
    tagged, untagged = image_tags.get("tagged") or {}, image_tags.get("untagged") or {}
    lines: list[tuple[str, str | None]] = [(
        f"  image tags: tagged {len(tagged)} ({_ranges(list(tagged)) or 'none'}), removed {len(untagged)} "
        f"({_ranges(list(untagged)) or 'none'}); tag <function>.v<N>.previous in {image_tags['repository']}", None)]
    for version, reason in sorted((image_tags.get("left") or {}).items(), key=lambda item: int(item[0])):
        lines.append((f"  image tag of {version} left: {reason}", "warn"))
    return lines


def _ranges(versions: list[str]) -> str:
    """``1-4, 7, 9-12``: thousands of versions in one line."""
    numbers, parts = sorted(int(v) for v in versions), []
    for number in numbers:
        if parts and parts[-1][1] == number - 1:
            parts[-1][1] = number
        else:
            parts.append([number, number])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in parts)


def _size(count: int | None) -> str:
    if count is None:
        return "unknown"
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count} B"
