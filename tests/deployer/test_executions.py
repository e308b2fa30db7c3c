"""Following an execution reads only the history it has not seen yet."""

from __future__ import annotations

from deployer.executions import HistoryReader


class PagedHistory:
    """GetExecutionHistory as AWS pages it: ``reverseOrder`` newest first, ``maxResults`` per page; and its
    boto3 paginator, which fetches a page only when the one before has been read."""

    def __init__(self, count: int, *, honours_order: bool = True) -> None:
        self.events = [{"id": n} for n in range(1, count + 1)]
        self.honours_order = honours_order
        self.calls = 0

    def get_execution_history(self, executionArn, maxResults, reverseOrder=False, nextToken=None):
        self.calls += 1
        ordered = self.events[::-1] if reverseOrder and self.honours_order else self.events
        start = int(nextToken or 0)
        page = {"events": ordered[start:start + maxResults]}
        if start + maxResults < len(ordered):
            page["nextToken"] = str(start + maxResults)
        return page

    def get_paginator(self, operation: str):
        assert operation == "get_execution_history"
        return self

    def paginate(self, PaginationConfig, **params):
        token = None
        while True:
            page = self.get_execution_history(maxResults=PaginationConfig["PageSize"], nextToken=token, **params)
            yield page
            if not (token := page.get("nextToken")):
                return


def test_a_long_history_is_read_whole_once_then_one_page_per_poll():
    sfn = PagedHistory(2_500)
    reader = HistoryReader(sfn, "arn")

    assert [e["id"] for e in reader.read()] == list(range(1, 2_501))
    sfn.events += [{"id": n} for n in range(2_501, 2_504)]
    sfn.calls = 0
    assert [e["id"] for e in reader.read()] == list(range(1, 2_504))
    assert sfn.calls == 1


def test_an_endpoint_that_ignores_reverse_order_still_reads_right():
    sfn = PagedHistory(30, honours_order=False)  # moto returns the history oldest first
    reader = HistoryReader(sfn, "arn")
    reader.read()
    sfn.events += [{"id": 31}]
    assert [e["id"] for e in reader.read()] == list(range(1, 32))
