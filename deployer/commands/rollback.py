"""``rollback``: all traffic back on the previous stable version (or ``--to-version``), in seconds.

A rollback request runs through the state machine like a deployment: audited in the console, allowed by the
same CI permission, and it restores the function-name tag and ``$LATEST`` too. A deployment still running
is stopped first.
"""

from __future__ import annotations

import os
import time

from deployer import naming, timeline
from deployer.commands import invalid_request
from deployer.commands.deploy import execute
from deployer.console import Console
from handlers.domain.errors import InvalidDeploymentRequest
from handlers.domain.model import ROLLBACK, parse_rollback_request


def request_from(args) -> dict:
    request: dict = {"action": ROLLBACK, "function": args.function}
    if args.alias is not None:
        request["alias"] = args.alias
    if args.to_version is not None:
        request["toVersion"] = args.to_version
    request["requestedBy"] = naming.requested_by(os.environ)
    try:
        parse_rollback_request(request)
    except InvalidDeploymentRequest as exc:
        raise invalid_request(exc) from None
    return request


def run(args, console: Console) -> int:
    began = time.monotonic()
    request = request_from(args)
    target = f"version {request['toVersion']}" if "toVersion" in request else "the previous stable version"
    console.say(f"roll back {request['function']} (alias {request.get('alias', 'live')}) to {target}")
    restored: list[float] = []

    def on_line(line: timeline.Line) -> None:
        if line.state == "RestoreVersion" and not line.text.startswith("failed:"):
            restored.append(time.monotonic() - began)

    what = f"rollback-to-{request['toVersion']}" if "toVersion" in request else "rollback"
    code, document = execute(args, console, request, what=what, on_line=on_line)
    if document is None:
        return code
    if restored:
        console.say(f"     traffic was back on version {document['version']} {restored[0]:.1f} s after the command "
                    "started")
    document["restoredAfterSeconds"] = round(restored[0], 1) if restored else None
    console.emit(document)
    return code
