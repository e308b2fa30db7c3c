"""Reading executions of the deployer's state machine: full history, and following one live."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from deployer import timeline

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


def history(sfn, execution_arn: str) -> list[dict]:
    """All history events, oldest first (paginated: a long bake has thousands)."""
    pages = sfn.get_paginator("get_execution_history").paginate(
        executionArn=execution_arn, PaginationConfig={"PageSize": 1000})
    return [event for page in pages for event in page["events"]]


class HistoryReader:
    """The history of one execution, read incrementally: each ``read()`` fetches only the newest pages
    (newest first, until an event already seen), so following a long bake stays one call per poll."""

    def __init__(self, sfn, execution_arn: str) -> None:
        self._sfn, self._arn = sfn, execution_arn
        self.events: list[dict] = []

    def read(self) -> list[dict]:
        seen = self.events[-1]["id"] if self.events else 0
        new = {}
        pages = self._sfn.get_paginator("get_execution_history").paginate(
            executionArn=self._arn, reverseOrder=True, PaginationConfig={"PageSize": 1000})
        for page in pages:  # pages are fetched as they are read: stop at the first one reaching the known
            new.update((event["id"], event) for event in page["events"] if event["id"] > seen)
            if any(event["id"] <= seen for event in page["events"]):
                break
        self.events += [new[key] for key in sorted(new)]
        return self.events


def follow(sfn, execution_arn: str, on_line: Callable[[timeline.Line], None], *,
           poll_seconds: float = 0.25, timeout: float | None = None,
           on_poll: Callable[[list[dict]], None] | None = None, numbers: timeline.Numbers | None = None) -> dict:
    """Report each new timeline line as the execution progresses; return the final DescribeExecution.

    ``on_poll`` sees the whole history after every poll (a live status line is drawn from it); ``numbers``
    reads the per-version numbers of a check whose output has none (``timeline.lines``; it is asked again
    at every poll, so it should remember its answers).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    printed = 0
    pause = threading.Event()
    reader = HistoryReader(sfn, execution_arn)
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)  # first: a terminal status means
        events = reader.read()  # the history read after it is complete
        lines = timeline.lines(events, numbers)
        for line in lines[printed:]:
            on_line(line)
        printed = len(lines)
        if on_poll is not None:
            on_poll(events)
        if described["status"] in TERMINAL:
            return described
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"{execution_arn} still {described['status']} after {timeout} s")
        pause.wait(poll_seconds)
