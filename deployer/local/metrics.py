"""Lambda's own CloudWatch metrics for every invocation, and CloudWatch queries that answer as CloudWatch does.

Recording (``LambdaMetrics``): each invocation puts ``Invocations``, ``Errors``, ``Throttles`` (0) and
``Duration`` (ms) into ``AWS/Lambda``, straight into moto's CloudWatch backend (no API call, so none is
counted as the deployer's), under the dimension sets AWS documents ("Working with Lambda function metrics":
by function name, by resource — a version or an alias —, by executed version — "a combination of alias and
version", "only applies to alias invocations" — and across all functions, no dimension). An unqualified
invocation is neither a version nor an alias: it has no ``Resource``. Nothing is throttled: emulated invocations
take no time, so no function's concurrency is ever exceeded (``Throttles`` is always 0; MOTO_GAPS.md).
Each datum is stamped with the time of the invocation ("the timestamp on a metric reflects when the function
was invoked") and becomes visible ``delay_seconds`` later (Lambda's metrics arrive about a minute late).

Queries (``installed()``): moto 5.2.5 matches ``Dimensions`` as a subset (so ``FunctionName=f`` sums every
dimension set of f, three times over), matches nothing by namespace in ``GetMetricData`` once dimensions are
given, ignores ``ExtendedStatistics`` and has no percentile (``p99``) statistic, does not align periods,
and lists one metric per datum in ``ListMetrics``. AWS: "CloudWatch treats each unique combination of
dimensions as a separate metric ... You must specify the same dimensions that were used when the metrics
were created" (GetMetricStatistics); percentiles come from raw values ("CloudWatch needs raw data points to
calculate percentile statistics", a statistic set qualifies only with SampleCount 1 or Min = Max, and none
exists when a value is negative); StartTime "less than 15 days ago" is rounded down to the minute (5-minute
and 1-hour clock intervals for older ones; to the period for periods of 1, 5, 10, 20 or 30 s), and periods
run from there.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from moto.cloudwatch import models as cloudwatch
from moto.cloudwatch.exceptions import InvalidParameterCombination, InvalidParameterValue
from moto.cloudwatch.metric_data_expression_parser import parse_expression
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult
from moto.core.utils import utcnow

from deployer.local import patching
from deployer.local.patching import Patch

NAMESPACE = "AWS/Lambda"
SIMPLE_STATISTICS = ("SampleCount", "Sum", "Average", "Minimum", "Maximum")
_PERCENTILE = re.compile(r"^p(\d{1,2}(\.\d+)?|100(\.0+)?)$")


def dimension_sets(function: str, resource: str | None, executed_version: str | None) -> list[list[dict]]:
    """The dimension sets Lambda publishes an invocation under (see the module docstring)."""
    sets: list[list[dict]] = [[], [{"Name": "FunctionName", "Value": function}]]
    if resource:
        by_resource = [{"Name": "FunctionName", "Value": function}, {"Name": "Resource", "Value": resource}]
        sets.append(by_resource)
        if executed_version:
            sets.append([*by_resource, {"Name": "ExecutedVersion", "Value": executed_version}])
    return sets


class LambdaMetrics:
    """Puts Lambda's invocation metrics into moto's CloudWatch backend, ``delay_seconds`` (real seconds) late."""

    def __init__(self, *, delay_seconds: float = 0.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.delay_seconds = delay_seconds
        self._clock = clock
        self._pending: list[tuple[float, object, list]] = []  # (due on the monotonic clock, backend, datums)
        self._lock = threading.Lock()

    def record(self, account: str, region: str, function: str, *, resource: str | None = None,
               executed_version: str | None = None, error: bool = False, duration_ms: float = 0.0,
               at: datetime | None = None) -> None:
        """One invocation that ran (successfully or with a function error)."""
        values = (("Invocations", 1.0, "Count"), ("Errors", 1.0 if error else 0.0, "Count"),
                  ("Throttles", 0.0, "Count"), ("Duration", float(duration_ms), "Milliseconds"))
        self._put(account, region, function, resource, executed_version, values, at)

    def flush(self) -> None:
        """Deliver every datum whose arrival time has come (queries call this first)."""
        if not self._pending:
            return
        now = self._clock()
        with self._lock:
            due = [entry for entry in self._pending if entry[0] <= now]
            self._pending = [entry for entry in self._pending if entry[0] > now]
        for _, backend, datums in due:
            backend.metric_data.extend(datums)

    def pending(self) -> int:
        """How many datums are recorded but have not arrived yet."""
        with self._lock:
            return sum(len(datums) for _, _, datums in self._pending)

    def _put(self, account, region, function, resource, executed_version, values, at) -> None:
        at = at or utcnow()
        datums = [cloudwatch.MetricDatum(NAMESPACE, name, value, dimensions, at, unit)
                  for dimensions in dimension_sets(function, resource, executed_version)
                  for name, value, unit in values]
        backend = cloudwatch.cloudwatch_backends[account][region]
        if self.delay_seconds <= 0:
            backend.metric_data.extend(datums)
            return
        with self._lock:
            self._pending.append((self._clock() + self.delay_seconds, backend, datums))


@contextmanager
def installed(recorder: LambdaMetrics) -> Iterator[None]:
    """CloudWatch's metric queries as AWS answers them, over moto's datums and the recorder's (once arrived)."""
    with patching.installed(patches(recorder)):
        yield


def patches(recorder: LambdaMetrics) -> list[Patch]:
    """The query fixes of the module docstring (fidelity patches of moto's CloudWatch)."""
    original_all = patching.original(cloudwatch.CloudWatchBackend, "get_all_metrics")
    original_data = patching.original(cloudwatch.CloudWatchBackend, "get_metric_data")

    def get_all_metrics(self):
        recorder.flush()
        return original_all(self)

    def get_metric_data(self, queries, start_time, end_time, scan_by="TimestampAscending"):
        return metric_data(self, queries, start_time, end_time, scan_by, original_data)

    backend, response = cloudwatch.CloudWatchBackend, CloudWatchResponse
    return [
        Patch(backend, "get_all_metrics", get_all_metrics, ("self",),
              why="Lambda's metrics arrive late (the recorder's pending datums, once due)"),
        Patch(backend, "get_metric_data", get_metric_data, ("self", "queries", "start_time", "end_time", "scan_by"),
              why="exact dimension sets, the namespace, percentiles, aligned periods"),
        Patch(backend, "get_metric_statistics", metric_statistics,
              ("self", "namespace", "metric_name", "start_time", "end_time", "period", "stats", "dimensions", "unit"),
              why="exact dimension sets, ExtendedStatistics (percentiles), aligned periods"),
        Patch(backend, "get_filtered_metrics", filtered_metrics, ("self", "metric_name", "namespace", "dimensions"),
              why="ListMetrics lists each metric once"),
        Patch(response, "get_metric_statistics", _respond_metric_statistics, ("self",), uses=("cloudwatch_backend",),
              why="ExtendedStatistics passed on and answered; Statistics or ExtendedStatistics, not both"),
    ]


# --- statistics ------------------------------------------------------------------------------------------

def statistic(datums: list, stat: str) -> float | None:
    """``stat`` (a simple statistic or ``pNN``) over moto datums (raw values and statistic sets); None when
    CloudWatch would have no value for it."""
    if not datums:
        return None
    if stat in SIMPLE_STATISTICS:
        count = sum(_count(datum) for datum in datums)
        total = sum(_sum(datum) for datum in datums)
        if stat == "SampleCount":
            return float(count)
        if stat == "Sum":
            return total
        if stat == "Average":
            return total / count if count else None
        if stat == "Minimum":
            return min(_min(datum) for datum in datums)
        return max(_max(datum) for datum in datums)
    if _PERCENTILE.match(stat):
        return _percentile(datums, float(stat[1:]))
    raise InvalidParameterValue(f"The emulator does not compute the statistic {stat!r} (it knows "
                                f"{', '.join(SIMPLE_STATISTICS)} and percentiles pNN)")


def _raw(datum) -> bool:
    return isinstance(datum, cloudwatch.MetricDatum)


def _count(datum) -> float:
    return 1.0 if _raw(datum) else datum.sample_count


def _sum(datum) -> float:
    return datum.value if _raw(datum) else datum.sum


def _min(datum) -> float:
    return datum.value if _raw(datum) else datum.min


def _max(datum) -> float:
    return datum.value if _raw(datum) else datum.max


def _percentile(datums: list, p: float) -> float | None:
    """Nearest rank over the raw values: the smallest value with at least p % of the values at or below it."""
    values: list[float] = []
    for datum in datums:
        if _raw(datum):
            values.append(datum.value)
        elif datum.sample_count == 1 or datum.min == datum.max:
            values.extend([datum.min] * int(datum.sample_count))
        else:
            return None
    if not values or min(values) < 0:
        return None
    values.sort()
    rank = max(1, math.ceil(p / 100 * len(values)))
    return values[rank - 1]


# --- selecting datums --------------------------------------------------------------------------------------

def _dimensions_key(dimensions) -> frozenset:
    return frozenset((d["Name"], d["Value"]) if isinstance(d, dict) else (d.name, d.value) for d in dimensions)


def _key_of(datum) -> frozenset:
    key = getattr(datum, "_emulator_dimensions", None)
    if key is None:
        key = datum._emulator_dimensions = _dimensions_key(datum.dimensions)
    return key


def _select(backend, namespace: str, name: str, dimensions, start: datetime, end: datetime,
            unit: str | None = None) -> list:
    """The datums of exactly one metric (namespace, name and the whole dimension set) in [start, end)."""
    wanted = _dimensions_key(dimensions or [])
    return [datum for datum in backend.get_all_metrics()
            if datum.name == name and datum.namespace == namespace and start <= datum.timestamp < end
            and _key_of(datum) == wanted and (unit is None or datum.unit == unit)]


def aligned_start(start: datetime, period: int, now: datetime | None = None) -> datetime:
    """StartTime as CloudWatch rounds it (module docstring)."""
    start = start.replace(microsecond=0)
    if period in (1, 5, 10, 20, 30):
        return start - timedelta(seconds=start.second % period)
    age = (now or utcnow()) - start
    if age < timedelta(days=15):
        return start.replace(second=0)
    if age < timedelta(days=63):
        return start.replace(second=0, minute=start.minute - start.minute % 5)
    return start.replace(second=0, minute=0)


def _periods(datums: list, start: datetime, period: int) -> dict[datetime, list]:
    """Datums grouped by the period they fall in; periods run from the aligned start."""
    first, step = aligned_start(start, period), timedelta(seconds=period)
    grouped: dict[datetime, list] = {}
    for datum in datums:
        bucket = first + step * ((datum.timestamp - first) // step)
        grouped.setdefault(bucket, []).append(datum)
    return grouped


# --- the API operations --------------------------------------------------------------------------------

def metric_statistics(self, namespace, metric_name, start_time, end_time, period, stats, dimensions,
                      unit=None, extended_statistics=()):
    """GetMetricStatistics: one datapoint per period with data, for exactly the dimensions asked."""
    if start_time >= end_time:
        raise InvalidParameterValue("The parameter StartTime must be less than the parameter EndTime.")
    for stat in extended_statistics:
        if not _PERCENTILE.match(stat):
            raise InvalidParameterValue(f"The value {stat} for parameter ExtendedStatistics is not supported.")
    start = aligned_start(start_time, period)
    datums = _select(self, namespace, metric_name, dimensions, start, end_time, unit)
    datapoints = []
    for bucket, grouped in sorted(_periods(datums, start, period).items()):
        point: dict = {"Timestamp": bucket, "Unit": unit or grouped[-1].unit or "None"}
        for stat in stats:
            point[stat] = statistic(grouped, stat)
        if extended_statistics:
            point["ExtendedStatistics"] = {
                stat: value for stat in extended_statistics if (value := statistic(grouped, stat)) is not None}
        datapoints.append(point)
    return datapoints


def _respond_metric_statistics(self) -> ActionResult:
    """moto's response drops ExtendedStatistics; AWS wants Statistics or ExtendedStatistics, "not both"."""
    statistics = self._get_param("Statistics", [])
    extended = self._get_param("ExtendedStatistics", [])
    if bool(statistics) == bool(extended):
        raise InvalidParameterCombination("Must specify either Statistics or ExtendedStatistics, but not both")
    datapoints = self.cloudwatch_backend.get_metric_statistics(
        self._get_param("Namespace"), self._get_param("MetricName"), self._get_param("StartTime"),
        self._get_param("EndTime"), self._get_int_param("Period"), statistics,
        self._get_param("Dimensions", []), unit=self._get_param("Unit"), extended_statistics=extended)
    return ActionResult({"Label": self._get_param("MetricName"), "Datapoints": datapoints})


def metric_data(self, queries, start_time, end_time, scan_by, original):
    """GetMetricData: MetricStat queries computed as CloudWatch does; math over them and Metrics Insights
    queries left to moto; results in the order of the queries."""
    if start_time >= end_time:
        raise InvalidParameterValue("The parameter StartTime must be less than the parameter EndTime.")
    computed: dict[str, dict] = {}
    for query in queries:
        if "MetricStat" in query:
            computed[query["Id"]] = _stat_query(self, query, start_time, end_time, scan_by)
    for query in queries:
        expression = query.get("Expression")
        if expression and not expression.startswith("SELECT"):
            values, timestamps = parse_expression(expression, list(computed.values()))
            computed[query["Id"]] = _result(query["Id"], query.get("Label") or query["Id"], values, timestamps)
    insights = [query for query in queries if (query.get("Expression") or "").startswith("SELECT")]
    if insights:
        computed.update((r["id"], r) for r in original(self, insights, start_time, end_time, scan_by))
    return [computed[query["Id"]] for query in queries if query.get("ReturnData", True)]


def _stat_query(backend, query: dict, start_time: datetime, end_time: datetime, scan_by: str) -> dict:
    stat_query = query["MetricStat"]
    metric, stat, period = stat_query["Metric"], stat_query["Stat"], int(stat_query["Period"])
    start = aligned_start(start_time, period)
    datums = _select(backend, metric.get("Namespace"), metric.get("MetricName"), metric.get("Dimensions"),
                     start, end_time, stat_query.get("Unit"))
    points = [(bucket, value) for bucket, grouped in sorted(_periods(datums, start, period).items())
              if (value := statistic(grouped, stat)) is not None]
    if scan_by != "TimestampAscending":
        points.reverse()
    label = query.get("Label") or f"{metric.get('MetricName')} {stat}"
    return _result(query["Id"], label, [value for _, value in points], [bucket for bucket, _ in points])


def _result(query_id: str, label: str, values: list, timestamps: list) -> dict:
    return {"id": query_id, "label": label, "values": values, "timestamps": timestamps, "status_code": "Complete"}


def filtered_metrics(self, metric_name, namespace, dimensions):
    """ListMetrics: each metric (namespace, name, dimension set) once, however many datums it has."""
    seen: dict[tuple, object] = {}
    for datum in self.get_all_metrics():
        if datum.filter(namespace=namespace, name=metric_name, dimensions=dimensions):
            seen.setdefault((datum.namespace, datum.name, _key_of(datum)), datum)
    return list(seen.values())
