"""Reading the new and the stable version's Lambda metrics for a check: one GetMetricData call, or none.

``handlers.domain.canary_metrics`` says what is read and over which window; this only makes the call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from handlers.aws.context import Aws
from handlers.domain import canary_metrics
from handlers.domain.analysis import AnalysisSettings, VersionStats
from handlers.domain.canary_metrics import Window


@dataclass(frozen=True)
class Reading:
    new: VersionStats
    stable: VersionStats
    window: Window | None  # None: nothing old enough to count yet, and no call was made
    lag: float


def read(aws: Aws, *, function: str, alias: str, new: str, stable: str, settings: AnalysisSettings,
         since: datetime, now: datetime, lag: float) -> Reading:
    """Both versions' counts and latency percentile over the window of a check at ``now``."""
    window = canary_metrics.window(since, now, lag)
    if window is None:
        return Reading(VersionStats(new), VersionStats(stable), None, lag)
    versions = {"new": new, "stable": stable}
    percentile = settings.latency.percentile if settings.latency else None
    answer = aws.client("cloudwatch").get_metric_data(
        MetricDataQueries=canary_metrics.queries(function, alias, versions, percentile, window.period),
        StartTime=window.start, EndTime=window.end, ScanBy="TimestampAscending",
    )
    stats = canary_metrics.version_stats(answer.get("MetricDataResults", []), versions)
    return Reading(stats["new"], stats["stable"], window, lag)
