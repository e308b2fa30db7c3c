"""CloudWatch answers metric queries as AWS does, and Lambda's metrics arrive late (deployer/local/metrics.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from deployer.local import metrics

NOW = datetime.now(UTC).replace(second=30, microsecond=0) - timedelta(minutes=10)
WINDOW = {"StartTime": NOW - timedelta(minutes=5), "EndTime": NOW + timedelta(minutes=5)}
FN = [{"Name": "FunctionName", "Value": "orders"}]
FN_ALIAS = [*FN, {"Name": "Resource", "Value": "orders:live"}]


@pytest.fixture
def cloudwatch(emulator):
    return emulator.client("cloudwatch")


def put(cloudwatch, name: str, values: list[float], dimensions: list[dict], at: datetime = NOW, **extra) -> None:
    cloudwatch.put_metric_data(Namespace="Shop", MetricData=[
        {"MetricName": name, "Values": values, "Dimensions": dimensions, "Timestamp": at, **extra}])


def statistics(cloudwatch, name: str, dimensions: list[dict], period: int = 3600, **stats) -> list[dict]:
    return cloudwatch.get_metric_statistics(Namespace="Shop", MetricName=name, Dimensions=dimensions,
                                            Period=period, **WINDOW, **stats)["Datapoints"]


def metric_data(cloudwatch, name: str, dimensions: list[dict], stat: str, period: int = 3600,
                start: datetime = WINDOW["StartTime"], **extra) -> dict:
    return cloudwatch.get_metric_data(MetricDataQueries=[{"Id": "q", "MetricStat": {
        "Metric": {"Namespace": "Shop", "MetricName": name, "Dimensions": dimensions}, "Period": period,
        "Stat": stat}}], StartTime=start, EndTime=WINDOW["EndTime"], **extra)["MetricDataResults"][0]


def naive(moment: datetime) -> datetime:
    """moto answers in UTC without a zone (botocore reads it as local time, which is UTC here)."""
    return moment.replace(tzinfo=None)


def test_a_query_reads_exactly_the_dimension_set_it_names(cloudwatch):
    put(cloudwatch, "Errors", [1, 1], FN)
    put(cloudwatch, "Errors", [1, 1, 1], FN_ALIAS)
    put(cloudwatch, "Errors", [1], [])

    assert [p["Sum"] for p in statistics(cloudwatch, "Errors", FN, Statistics=["Sum"])] == [2]
    assert [p["Sum"] for p in statistics(cloudwatch, "Errors", FN_ALIAS, Statistics=["Sum"])] == [3]
    assert [p["Sum"] for p in statistics(cloudwatch, "Errors", [], Statistics=["Sum"])] == [1]
    assert metric_data(cloudwatch, "Errors", list(reversed(FN_ALIAS)), "Sum")["Values"] == [3]  # order is no part
    assert statistics(cloudwatch, "Errors", [{"Name": "Resource", "Value": "orders:live"}], Statistics=["Sum"]) == []


def test_percentiles_and_the_simple_statistics_come_from_the_raw_values(cloudwatch):
    put(cloudwatch, "Latency", [float(v) for v in range(1, 101)], FN, Unit="Milliseconds")

    [point] = statistics(cloudwatch, "Latency", FN, ExtendedStatistics=["p50", "p99", "p99.9", "p100"])
    assert point["ExtendedStatistics"] == {"p50": 50.0, "p99": 99.0, "p99.9": 100.0, "p100": 100.0}
    assert point["Unit"] == "Milliseconds"
    [point] = statistics(cloudwatch, "Latency", FN, Statistics=["SampleCount", "Sum", "Average", "Minimum",
                                                                "Maximum"])
    assert (point["SampleCount"], point["Sum"], point["Average"], point["Minimum"], point["Maximum"]) == \
        (100, 5050, 50.5, 1, 100)
    assert metric_data(cloudwatch, "Latency", FN, "p90")["Values"] == [90.0]
    assert metric_data(cloudwatch, "Latency", FN, "Average")["Values"] == [50.5]


def test_no_percentile_from_a_statistic_set_or_from_negative_values(cloudwatch):
    cloudwatch.put_metric_data(Namespace="Shop", MetricData=[{
        "MetricName": "Batch", "Dimensions": FN, "Timestamp": NOW,
        "StatisticValues": {"SampleCount": 4, "Sum": 10, "Minimum": 1, "Maximum": 4}}])
    cloudwatch.put_metric_data(Namespace="Shop", MetricData=[{
        "MetricName": "Flat", "Dimensions": FN, "Timestamp": NOW,
        "StatisticValues": {"SampleCount": 3, "Sum": 6, "Minimum": 2, "Maximum": 2}}])
    put(cloudwatch, "Delta", [-1.0, 5.0], FN)

    [batch] = statistics(cloudwatch, "Batch", FN, ExtendedStatistics=["p99"])
    assert batch["ExtendedStatistics"] == {}
    assert metric_data(cloudwatch, "Batch", FN, "p99")["Values"] == []
    assert metric_data(cloudwatch, "Batch", FN, "Average")["Values"] == [2.5]
    [flat] = statistics(cloudwatch, "Flat", FN, ExtendedStatistics=["p99"])
    assert flat["ExtendedStatistics"] == {"p99": 2.0}  # Min = Max: every value is known
    assert metric_data(cloudwatch, "Delta", FN, "p50")["Values"] == []


def test_periods_start_at_the_start_time_rounded_down_to_the_minute(cloudwatch):
    put(cloudwatch, "Orders", [1], FN, at=NOW)                            # hh:mm:30
    put(cloudwatch, "Orders", [2], FN, at=NOW + timedelta(seconds=40))    # the next minute, hh:mm+1:10
    put(cloudwatch, "Orders", [4], FN, at=NOW + timedelta(seconds=150))   # hh:mm+3:00

    points = statistics(cloudwatch, "Orders", FN, period=60, Statistics=["Sum"])
    minute = naive(NOW.replace(second=0))
    assert sorted((naive(p["Timestamp"]), p["Sum"]) for p in points) == [
        (minute, 1), (minute + timedelta(minutes=1), 2), (minute + timedelta(minutes=3), 4)]
    # from hh:mm:30, two-minute periods start at hh:mm:00; ScanBy is descending unless asked otherwise
    newest_first = metric_data(cloudwatch, "Orders", FN, "Sum", period=120, start=NOW)
    assert [(naive(t), v) for t, v in zip(newest_first["Timestamps"], newest_first["Values"], strict=True)] == [
        (minute + timedelta(minutes=2), 4), (minute, 3)]
    oldest_first = metric_data(cloudwatch, "Orders", FN, "Sum", period=120, start=NOW, ScanBy="TimestampAscending")
    assert oldest_first["Values"] == [3, 4]


def test_statistics_and_extended_statistics_are_asked_for_one_at_a_time(cloudwatch):
    put(cloudwatch, "Latency", [1.0], FN)
    with pytest.raises(ClientError) as raised:
        statistics(cloudwatch, "Latency", FN, Statistics=["Sum"], ExtendedStatistics=["p99"])
    assert raised.value.response["Error"]["Code"] == "InvalidParameterCombination"


def test_list_metrics_names_each_metric_once(cloudwatch):
    for _ in range(3):
        put(cloudwatch, "Errors", [0, 1], FN)
        put(cloudwatch, "Errors", [1], FN_ALIAS)
        put(cloudwatch, "Errors", [1], [])
    listed = cloudwatch.list_metrics(Namespace="Shop")["Metrics"]
    assert sorted(len(metric["Dimensions"]) for metric in listed) == [0, 1, 2]


def test_metric_math_still_reads_the_queries_it_names(cloudwatch):
    put(cloudwatch, "Errors", [1, 1, 0], FN)
    answer = cloudwatch.get_metric_data(MetricDataQueries=[
        {"Id": "errors", "ReturnData": False, "MetricStat": {
            "Metric": {"Namespace": "Shop", "MetricName": "Errors", "Dimensions": FN}, "Period": 3600,
            "Stat": "Sum"}},
        {"Id": "shown", "Expression": "errors"}], **WINDOW)["MetricDataResults"]
    assert [(result["Id"], result["Values"]) for result in answer] == [("shown", [2])]


def test_lambda_metrics_arrive_late_but_stamped_with_the_invocation_time():
    clock = [1000.0]
    recorder = metrics.LambdaMetrics(delay_seconds=60, clock=lambda: clock[0])
    with mock_aws(), metrics.installed(recorder):
        cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
        invoked = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=5)
        recorder.record("123456789012", "us-east-1", "orders", resource="orders:live", executed_version="2",
                        error=True, duration_ms=12.5, at=invoked)
        query = {"Namespace": "AWS/Lambda", "MetricName": "Errors", "Period": 60, "Statistics": ["Sum"],
                 "Dimensions": [*FN_ALIAS, {"Name": "ExecutedVersion", "Value": "2"}],
                 "StartTime": invoked - timedelta(minutes=1), "EndTime": invoked + timedelta(minutes=5)}

        clock[0] += 59.9
        assert cloudwatch.get_metric_statistics(**query)["Datapoints"] == []
        assert recorder.pending() > 0
        clock[0] += 0.1
        [point] = cloudwatch.get_metric_statistics(**query)["Datapoints"]
        assert point["Sum"] == 1
        assert naive(point["Timestamp"]) == invoked.replace(second=0, microsecond=0)
        assert recorder.pending() == 0
