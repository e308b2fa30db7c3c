"""``reject``: a deployment waiting at an approval gate rolls back (SendTaskFailure, error ApprovalRejected)."""

from __future__ import annotations

from deployer.commands.approve import answer
from deployer.console import Console


def run(args, console: Console) -> int:
    return answer(args, console, verdict="rejected", reason=args.reason)
