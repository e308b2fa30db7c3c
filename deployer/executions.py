"""Reading executions of the deployer's state machine: full history, and following one live."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from deployer import timeline

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


def history(sfn, execution_arn: str) -> list[dict]:
    """All history events, oldest first (paginated: a long bake has thousands)."""
    events, token = [], None
    while True:
        page = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000,
                                         **({"nextToken": token} if token else {}))
        events += page["events"]
        if not (token := page.get("nextToken")):
            return events


def follow(sfn, execution_arn: str, on_line: Callable[[timeline.Line], None], *,
           poll_seconds: float = 0.25, timeout: float | None = None) -> dict:
    """Report each new timeline line as the execution progresses; return the final DescribeExecution."""
    deadline = None if timeout is None else time.monotonic() + timeout
    printed = 0
    pause = threading.Event()
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        lines = timeline.lines(history(sfn, execution_arn))
        for line in lines[printed:]:
            on_line(line)
        printed = len(lines)
        if described["status"] in TERMINAL:
            return described
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"{execution_arn} still {described['status']} after {timeout} s")
        pause.wait(poll_seconds)
