"""A check's per-version numbers read from CloudWatch, for a timeline whose checks carry none (``timeline.Numbers``).

CheckHealth's own numbers are preferred (what the check judged); this is for a check without them: analysis
off, or a CheckHealth from before analysis. Lambda publishes the metrics of each version serving a weighted
alias in ``AWS/Lambda`` under ``FunctionName``, ``Resource=<function>:<alias>`` and ``ExecutedVersion=<n>``
(Lambda developer guide, "Types of metrics for Lambda functions"). One ``GetMetricData`` call per check reads
``Invocations``, ``Errors`` and ``Throttles`` (Sum) and ``Duration`` (a percentile) of both versions from the
moment traffic moved to the check. Lambda "sends metric data to CloudWatch in 1-minute intervals", so
CloudWatch rounds the start down to its minute: the stable version's numbers include its calls of that minute
before traffic moved (the new version had none), and the newest minute of calls may not have arrived yet.
"""

from __future__ import annotations

import math
from datetime import datetime

from botocore.exceptions import BotoCoreError, ClientError

from deployer.timeline import CheckContext

NAMESPACE = "AWS/Lambda"
_SUMS = (("invocations", "Invocations"), ("errors", "Errors"), ("throttles", "Throttles"))


class CloudWatchNumbers:
    """Reads each check's numbers once (``follow`` asks at every poll) with ``cloudwatch:GetMetricData``."""

    def __init__(self, cloudwatch, percentile: str = "p99") -> None:
        self._cloudwatch, self.percentile = cloudwatch, percentile
        self._read: dict[CheckContext, dict | None] = {}

    def __call__(self, context: CheckContext) -> dict | None:
        if context not in self._read:
            try:
                self._read[context] = self._numbers(context)
            except (BotoCoreError, ClientError):
                self._read[context] = None  # the line shows the alarms, as without a reader
        return self._read[context]

    def _numbers(self, context: CheckContext) -> dict | None:
        if context.at <= context.since:
            return None
        versions = {"new": context.new, **({"stable": context.stable} if context.stable else {})}
        period = _period(context.since, context.at)
        queries = [self._query(f"{role}_{key}", context, version, metric, "Sum", period)
                   for role, version in versions.items() for key, metric in _SUMS]
        queries += [self._query(f"{role}_latency", context, version, "Duration", self.percentile, period)
                    for role, version in versions.items()]
        results = self._cloudwatch.get_metric_data(MetricDataQueries=queries, StartTime=context.since,
                                                   EndTime=context.at)["MetricDataResults"]
        values = {result["Id"]: result.get("Values") or [] for result in results}
        numbers: dict = {"latencyPercentile": self.percentile}
        for role, version in versions.items():
            counts = {key: int(sum(values.get(f"{role}_{key}", []))) for key, _ in _SUMS}
            calls, latency = counts["invocations"], values.get(f"{role}_latency") or []
            numbers[role] = {
                "version": version, **counts,
                "errorRate": round(counts["errors"] * 100 / calls, 4) if calls else None,
                "latencyMs": max(latency) if latency else None,  # one period covers the window: one value
            }
        return numbers

    @staticmethod
    def _query(query_id: str, context: CheckContext, version: str, metric: str, stat: str, period: int) -> dict:
        dimensions = [{"Name": "FunctionName", "Value": context.function},
                      {"Name": "Resource", "Value": f"{context.function}:{context.alias}"},
                      {"Name": "ExecutedVersion", "Value": version}]
        return {"Id": query_id, "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": NAMESPACE, "MetricName": metric, "Dimensions": dimensions},
            "Period": period, "Stat": stat}}


def _period(start: datetime, end: datetime) -> int:
    """One period from the start's minute to the end: a multiple of 60 s, as regular-resolution metrics need."""
    minute = start.replace(second=0, microsecond=0)
    return max(60, 60 * math.ceil((end - minute).total_seconds() / 60))
