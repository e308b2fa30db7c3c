"""What a check reads: the window behind the metrics' lag, the one-period query, the answer back into stats."""

from datetime import UTC, datetime, timedelta

import pytest

from handlers.domain import canary_metrics
from handlers.domain.analysis import VersionStats
from handlers.domain.canary_metrics import lag_seconds, window

SHIFTED = datetime(2025, 3, 4, 12, 32, 34, 500_000, tzinfo=UTC)


def test_the_lag_is_the_functions_timeout_plus_the_emission_delay_and_the_minute():
    assert lag_seconds(3) == 123
    assert lag_seconds(900) == 1020
    assert lag_seconds(None) == 1020  # unknown timeout: Lambda's longest
    assert lag_seconds(30, delay=10) == 40


def test_a_check_sooner_than_the_lag_after_the_shift_has_nothing_to_read():
    assert window(SHIFTED, SHIFTED + timedelta(seconds=123), lag=123) is None
    assert window(SHIFTED, SHIFTED + timedelta(seconds=60), lag=123) is None


def test_the_window_ends_the_lag_before_the_check_and_starts_on_the_minute_cloudwatch_rounds_to():
    now = SHIFTED + timedelta(minutes=5, seconds=7)
    found = window(SHIFTED, now, lag=123)

    assert found.end == now - timedelta(seconds=123) == datetime(2025, 3, 4, 12, 35, 38, 500_000, tzinfo=UTC)
    assert found.start == datetime(2025, 3, 4, 12, 32, tzinfo=UTC)
    assert found.period == 240  # 12:32 to 12:35:38.5 is 3.6 minutes: four whole ones
    # one period, a whole number of minutes, from the start to at least the end (and less than a minute beyond)
    assert found.period % 60 == 0
    assert found.start + timedelta(seconds=found.period) >= found.end
    assert found.start + timedelta(seconds=found.period - 60) < found.end


@pytest.mark.parametrize(("age", "unit", "start", "period"), [
    # 14 days less 88.5 s, in whole minutes
    (timedelta(days=14), 60, datetime(2025, 3, 4, 12, 32, tzinfo=UTC), 1_209_540),
    # from 12:30 (5-minute periods) to 363 s before now: 20 days less 208.5 s, in whole 5 minutes
    (timedelta(days=20), 300, datetime(2025, 3, 4, 12, 30, tzinfo=UTC), 1_728_000),
    # from 12:00 (hours) to 3,663 s before now: 70 days less 1,708.5 s, in whole hours
    (timedelta(days=70), 3600, datetime(2025, 3, 4, 12, 0, tzinfo=UTC), 6_048_000),
])
def test_an_old_window_uses_the_coarser_periods_cloudwatch_keeps_and_ends_earlier_by_as_much(age, unit, start,
                                                                                             period):
    now = SHIFTED + age
    found = window(SHIFTED, now, lag=123)
    assert (found.start, found.period) == (start, period)

    assert found.period % unit == 0 and found.start.timestamp() % unit == 0
    assert found.end == now - timedelta(seconds=123 + unit - 60)
    assert found.start + timedelta(seconds=found.period) >= found.end > found.start


def test_one_query_per_metric_and_version_under_the_executed_version_dimensions():
    queries = canary_metrics.queries("orders", "live", {"new": "7", "stable": "6"}, "p99", 300)

    assert [(q["Id"], q["MetricStat"]["Metric"]["MetricName"], q["MetricStat"]["Stat"]) for q in queries] == [
        ("new_invocations", "Invocations", "Sum"), ("new_errors", "Errors", "Sum"),
        ("new_throttles", "Throttles", "Sum"), ("new_duration", "Duration", "p99"),
        ("stable_invocations", "Invocations", "Sum"), ("stable_errors", "Errors", "Sum"),
        ("stable_throttles", "Throttles", "Sum"), ("stable_duration", "Duration", "p99"),
    ]
    assert queries[0]["MetricStat"]["Metric"]["Dimensions"] == [
        {"Name": "FunctionName", "Value": "orders"}, {"Name": "Resource", "Value": "orders:live"},
        {"Name": "ExecutedVersion", "Value": "7"}]
    assert {q["MetricStat"]["Period"] for q in queries} == {300}
    assert {q["MetricStat"]["Metric"]["Namespace"] for q in queries} == {"AWS/Lambda"}


def test_without_a_latency_rule_no_duration_is_read():
    queries = canary_metrics.queries("orders", "live", {"new": "7", "stable": "6"}, None, 60)
    assert {q["MetricStat"]["Metric"]["MetricName"] for q in queries} == {"Invocations", "Errors", "Throttles"}


def test_the_answer_becomes_one_stats_per_version_missing_counts_none():
    results = [
        {"Id": "new_invocations", "Values": [220.0]}, {"Id": "new_errors", "Values": [40.0]},
        {"Id": "new_throttles", "Values": []}, {"Id": "new_duration", "Values": [812.2718]},
        {"Id": "stable_invocations", "Values": [1000.0, 980.0]}, {"Id": "stable_errors", "Values": [10.0]},
        {"Id": "stable_duration", "Values": [240.0, 260.0]},
    ]
    stats = canary_metrics.version_stats(results, {"new": "7", "stable": "6"})

    assert stats["new"] == VersionStats("7", invocations=220, errors=40, throttles=None, latency_ms=812.3)
    # split into periods after all: counts add up, the worst percentile stands
    assert stats["stable"] == VersionStats("6", invocations=1980, errors=10, throttles=None, latency_ms=260.0)


def test_times_round_trip_in_the_state_documents_form():
    text = canary_metrics.iso(SHIFTED)
    assert text == "2025-03-04T12:32:34.500Z"
    assert canary_metrics.parse_time(text) == SHIFTED
