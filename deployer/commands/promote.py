"""``promote``: move a running deployment on now — to its next step, or (``--full``) straight to promotion.

The request waits on the function's lock (who asked, how, when) until CheckHealth's next check reads it: the
deployment notices at the end of its current Wait, and only after a check that passes (a person never
overrides an alarm). ``--full`` skips every remaining step, check and approval gate, and the record lists the
skipped steps. ``rollback`` stays the abort. Needs the approver policy, as approving does.
"""

from __future__ import annotations

import os

from deployer import naming
from deployer.commands import connect, function_argument
from deployer.console import Console
from deployer.errors import EXIT_OK, CommandError
from handlers.aws import deployments
from handlers.domain.approval import FULL, NEXT, PromoteRequest


def run(args, console: Console) -> int:
    function = function_argument(args.function)
    conn = connect(args)
    ddb = conn.client("dynamodb")
    lock = deployments.holder(function, ddb=ddb, table=conn.table)
    if not lock or lock.deployment.get("kind", "deploy") != "deploy":
        raise CommandError(f"no deployment of {function} is running")
    if (lock.approval or {}).get("taskToken") and not lock.approval.get("answer"):
        raise CommandError(f"deployment {lock.execution_name} of {function} waits for approval: "
                           f"lambda-deployer approve {function} (or reject it)")
    request = PromoteRequest(FULL if args.full else NEXT, naming.requested_by(os.environ), deployments.now())
    if not deployments.request_promote(lock, request.to_json(), ddb=ddb, table=conn.table):
        raise CommandError(f"deployment {lock.execution_name} of {function} ended meanwhile; nothing requested")
    what = "straight to promotion, skipping the remaining steps" if args.full else "to its next step"
    console.say(f"asked deployment {lock.execution_name} of {function} to move on {what}, at its next check "
                f"({conn.where(lock.execution)})")
    console.emit({"function": function, "execution": lock.execution, **request.to_json()})
    return EXIT_OK
