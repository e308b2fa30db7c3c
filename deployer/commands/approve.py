"""``approve``: let a deployment waiting at an approval gate go on (SendTaskSuccess on the gate's task token).

The token is on the function's lock (handlers.aws.deployments); the answer carries who gave it, and the lock
records it too. Needs the approver policy (infra/approver_access.py), not CI's. ``reject`` (deployer.commands.
reject) is the other answer.
"""

from __future__ import annotations

import contextlib
import json
import os

from botocore.exceptions import ClientError

from deployer import naming
from deployer.commands import connect, function_argument
from deployer.connection import Connection
from deployer.console import Console
from deployer.errors import EXIT_OK, CommandError
from handlers.aws import deployments
from handlers.aws.clients import error_code

CLOSED = ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken")


def waiting(conn: Connection, function: str) -> deployments.Lock:
    """The deployment of ``function`` that waits for an answer, or a clear error why there is none."""
    lock = deployments.holder(function, ddb=conn.client("dynamodb"), table=conn.table)
    if not lock:
        raise CommandError(f"no deployment of {function} is running")
    approval = lock.approval or {}
    if not approval.get("taskToken") or approval.get("answer"):
        raise CommandError(f"deployment {lock.execution_name} of {function} is not waiting for approval"
                           + (f" (already answered by {approval['answer']['by']})" if approval.get("answer") else ""))
    return lock


def answer(args, console: Console, *, verdict: str, reason: str | None = None) -> int:
    """Answer the token, then note who answered on the lock; ``verdict`` is ``approved`` or ``rejected``."""
    function = function_argument(args.function)
    conn = connect(args)
    lock = waiting(conn, function)
    by = naming.requested_by(os.environ)
    given = {"verdict": verdict, "by": by, "at": deployments.now(), **({"reason": reason} if reason else {})}
    sfn, token = conn.client("stepfunctions"), lock.approval["taskToken"]
    try:
        if verdict == "approved":
            sfn.send_task_success(taskToken=token, output=json.dumps({"approvedBy": by, "at": given["at"]}))
        else:
            sfn.send_task_failure(taskToken=token, error="ApprovalRejected",
                                  cause=f"rejected by {by}" + (f": {reason}" if reason else ""))
    except ClientError as exc:
        if error_code(exc) in CLOSED:
            raise CommandError(f"the approval wait of {lock.execution_name} had already ended "
                               f"({error_code(exc)}): timed out, or the deployment stopped") from None
        raise
    # Who answered is in the answer itself (the task's output, or the rollback's cause); the lock says it too
    # while the deployment still holds it, so a second approve is told who answered (not if it moved on).
    with contextlib.suppress(ClientError):  # the answer is given: a note that could not be written changes nothing
        deployments.answer_approval(lock, given, ddb=conn.client("dynamodb"), table=conn.table)
    console.say(f"{verdict} {function}: deployment {lock.execution_name} "
                + ("goes on" if verdict == "approved" else "rolls back") + f" ({conn.where(lock.execution)})")
    console.emit({"function": function, "execution": lock.execution, "verdict": verdict, "by": by,
                  "gate": lock.approval.get("gate"), **({"reason": reason} if reason else {})})
    return EXIT_OK


def run(args, console: Console) -> int:
    return answer(args, console, verdict="approved")
