"""``preview-delete``: a branch's preview alias, and its version when nothing else uses it, through the state
machine (the same rules as ``prune``, docs/pruning.md)."""

from __future__ import annotations

from deployer.commands.prune import follow, validated
from deployer.console import Console
from handlers.domain import previews
from handlers.domain.model import DELETE_PREVIEW


def run(args, console: Console) -> int:
    request = validated({"action": DELETE_PREVIEW, "function": args.function, "preview": args.branch,
                         "dryRun": args.dry_run})
    console.say(f"delete the preview of branch {args.branch} on {args.function} (alias "
                f"{previews.alias_for(args.branch)})" + (": dry run" if args.dry_run else ""))
    return follow(args, console, request, what="preview-delete")
