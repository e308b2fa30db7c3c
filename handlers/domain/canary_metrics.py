"""What a health check reads from CloudWatch for the canary verdict, as plain data: no AWS calls.

One ``GetMetricData`` request per check reads, for the new and the stable version on the alias, ``Invocations``,
``Errors`` and ``Throttles`` (Sum) and ``Duration`` (the configured percentile) under the dimensions Lambda
publishes per executed version of an alias (``FunctionName``, ``Resource=<fn>:<alias>``,
``ExecutedVersion=<n>``), each as ONE period spanning the whole window since traffic first moved.

Lambda's metrics arrive late: "Lambda sends metric data to CloudWatch in 1-minute intervals", and "the
timestamp on a metric reflects when the function was invoked. Depending on the duration of the invocation, this
can be several minutes before the metric is emitted ... if your function has a 10-minute timeout, look more than
10 minutes in the past for accurate metrics" (Lambda developer guide, "Using CloudWatch metrics with Lambda").
So the window ends ``lag`` before now: the function's timeout plus :data:`DEFAULT_DELAY_SECONDS`, one minute for
the metric to be emitted and one for the minute the window's single period may run past its ``EndTime`` (a
period aggregates every datapoint whose timestamp falls in it; CloudWatch stores Lambda's metrics per minute).
Calls newer than that are not counted as "no errors": they are not counted at all, until a later check.

CloudWatch rounds ``StartTime`` down to the minute when it is less than 15 days ago, to 5 minutes up to 63 days
and to the hour beyond, and a Period must then be a multiple of 60, 300 or 3,600 seconds "or no data points in
that time range is returned" (GetMetricData and MetricStat API reference): the window starts on that boundary
and its period is a multiple of that unit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from handlers.domain.analysis import VersionStats

NAMESPACE = "AWS/Lambda"
DEFAULT_DELAY_SECONDS = 120  # a minute for Lambda to emit a minute's metrics, a minute the period may run over
MAX_FUNCTION_TIMEOUT = 900  # Lambda's limit: assumed when a deployment does not know its function's timeout
COUNTS = ("Invocations", "Errors", "Throttles")
ROLES = ("new", "stable")
_MINUTE = 60
_UNITS = ((timedelta(days=15), 60), (timedelta(days=63), 300))  # then hours


def lag_seconds(function_timeout: int | None, delay: float = DEFAULT_DELAY_SECONDS) -> float:
    """How far behind now a window must end for every call in it to be counted (module docstring)."""
    timeout = MAX_FUNCTION_TIMEOUT if function_timeout is None else function_timeout
    return float(timeout + delay)


@dataclass(frozen=True)
class Window:
    """``[start, end)`` read as one period of ``period`` seconds (starting at ``start``, which is aligned)."""

    start: datetime
    end: datetime
    period: int
    lag_seconds: float

    def to_json(self) -> dict:
        return {"from": iso(self.start), "to": iso(self.end), "lagSeconds": round(self.lag_seconds, 3)}


def window(since: datetime, now: datetime, lag: float) -> Window | None:
    """The window of a check at ``now`` for traffic that moved at ``since``; None when no call in it can be
    counted yet (the check then has nothing to read and makes no call)."""
    unit = next((seconds for age, seconds in _UNITS if now - since < age), 3600)
    end = now - timedelta(seconds=lag + unit - _MINUTE)  # a coarser unit may run over by more than a minute
    if end <= since:
        return None
    start = _floor(since, unit)
    period = math.ceil((end - start).total_seconds() / unit) * unit
    return Window(start, end, period, lag)


def queries(function: str, alias: str, versions: dict[str, str], percentile: str | None, period: int) -> list[dict]:
    """The MetricDataQueries of one check: each metric of each version (``{"new": "7", "stable": "6"}``)."""
    stats = [(name, "Sum") for name in COUNTS] + ([("Duration", percentile)] if percentile else [])
    return [
        {
            "Id": _id(role, name),
            "MetricStat": {
                "Metric": {"Namespace": NAMESPACE, "MetricName": name, "Dimensions": [
                    {"Name": "FunctionName", "Value": function},
                    {"Name": "Resource", "Value": f"{function}:{alias}"},
                    {"Name": "ExecutedVersion", "Value": version},
                ]},
                "Period": period,
                "Stat": stat,
            },
            "ReturnData": True,
        }
        for role, version in versions.items() for name, stat in stats
    ]


def version_stats(results: list[dict], versions: dict[str, str]) -> dict[str, VersionStats]:
    """``MetricDataResults`` back into one ``VersionStats`` per role. A count without a datapoint is None (the
    verdict reads it as 0); a percentile without one is unknown (milliseconds, to a tenth). A window is one
    period, so one value each; should CloudWatch split it, counts add up and the worst percentile stands."""
    values = {result["Id"]: result.get("Values") or [] for result in results}

    def count(role: str, name: str) -> int | None:
        found = values.get(_id(role, name))
        return round(sum(found)) if found else None

    def latency(role: str) -> float | None:
        found = values.get(_id(role, "Duration"))
        return round(float(max(found)), 1) if found else None  # tenths of a millisecond say all there is

    return {role: VersionStats(version, count(role, "Invocations"), count(role, "Errors"), count(role, "Throttles"),
                               latency(role))
            for role, version in versions.items()}


def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso(moment: datetime) -> str:
    """The form the state document keeps times in (``2025-01-31T12:00:00.000Z``)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _id(role: str, metric: str) -> str:
    return f"{role}_{metric.lower()}"  # GetMetricData ids start with a lower-case letter


def _floor(moment: datetime, unit: int) -> datetime:
    epoch = moment.timestamp()
    return datetime.fromtimestamp(epoch - epoch % unit, UTC)
