"""CloudWatch's documented alarm evaluation rules (deployer/local/alarm_evaluation.py), row by row.

The tables are those of the CloudWatch User Guide, "How alarm state is evaluated when data is missing"
(3 of 3 and 2 of 3, evaluation range 5, most recent datapoint on the right; 0 = not breaching,
X = breaching, - = missing). Rows marked *earlier* come from the previous revision of the same page and
agree with the current text on premature transitions ("- - - - X" does not go to ALARM).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest

from deployer.local.alarm_evaluation import (
    ALARM,
    INSUFFICIENT_DATA,
    OK,
    Datapoint,
    MetricAlarm,
    Samples,
    StatisticSet,
    UnsupportedAlarm,
    aggregate,
    evaluate,
    java_double,
    math_datapoints,
    rule_holds,
    rule_references,
    too_few_samples,
)

NOW = datetime(2019, 10, 2, 17, 4, 40, 985000, tzinfo=UTC)
RETAIN = "retain current state"
TREATMENTS = ("missing", "ignore", "breaching", "notBreaching")


def alarm(m: int = 3, n: int = 3, treat: str = "missing", **settings) -> MetricAlarm:
    return MetricAlarm(period=300, evaluation_periods=n, datapoints_to_alarm=m, threshold=1.0,
                       comparison="GreaterThanThreshold", statistic="Sum", treat_missing_data=treat,
                       **settings)


def periods(pattern: str, period: int = 300) -> list[Datapoint]:
    """``"0 - X"`` as datapoints ending at NOW: 0 is below the threshold of 1, X above it."""
    marks = pattern.split()
    start = NOW - timedelta(seconds=period * len(marks))
    return [Datapoint(start + timedelta(seconds=period * i), {"0": 0.0, "X": 5.0, "-": None}[mark], 1.0)
            for i, mark in enumerate(marks)]


def outcome(settings: MetricAlarm, pattern: str, current: str) -> str:
    verdict = evaluate(settings, periods(pattern), current, NOW)
    return RETAIN if verdict is None else verdict.state


THREE_OF_THREE = [
    ("0 - X - X", OK, OK, OK, OK),
    ("0 - - - -", OK, OK, OK, OK),
    ("- - - - -", INSUFFICIENT_DATA, RETAIN, ALARM, OK),
    ("0 X X - X", ALARM, ALARM, ALARM, ALARM),
    ("- - X - -", ALARM, RETAIN, ALARM, OK),
    ("- - - - X", INSUFFICIENT_DATA, RETAIN, ALARM, OK),  # earlier revision
    ("X - - - -", ALARM, RETAIN, ALARM, OK),  # earlier revision
]
TWO_OF_THREE = [
    ("0 - X - X", ALARM, ALARM, ALARM, ALARM),
    ("0 0 X 0 X", ALARM, ALARM, ALARM, ALARM),
    ("0 - X - -", OK, OK, ALARM, OK),
    ("- - - - 0", OK, OK, ALARM, OK),
    ("- - - X -", ALARM, RETAIN, ALARM, OK),
    ("- - - - X", INSUFFICIENT_DATA, RETAIN, ALARM, OK),  # earlier revision
]


@pytest.mark.parametrize("row", THREE_OF_THREE, ids=[row[0] for row in THREE_OF_THREE])
def test_three_of_three_follows_the_documented_table(row):
    pattern, *expected = row
    for treat, state in zip(TREATMENTS, expected, strict=True):
        for current in (OK, ALARM, INSUFFICIENT_DATA):
            assert outcome(alarm(3, 3, treat), pattern, current) == state, (pattern, treat, current)


@pytest.mark.parametrize("row", TWO_OF_THREE, ids=[row[0] for row in TWO_OF_THREE])
def test_two_of_three_follows_the_documented_table(row):
    pattern, *expected = row
    for treat, state in zip(TREATMENTS, expected, strict=True):
        for current in (OK, ALARM, INSUFFICIENT_DATA):
            assert outcome(alarm(2, 3, treat), pattern, current) == state, (pattern, treat, current)


def test_breaching_datapoints_need_not_be_consecutive_and_older_ones_do_not_count():
    assert outcome(alarm(2, 3), "- - X 0 X", OK) == ALARM
    assert outcome(alarm(2, 3), "X X 0 0 X", OK) == OK  # only the three most recent real datapoints are judged


def test_a_non_breaching_datapoint_leaving_the_range_lets_breaching_missing_data_alarm():
    """The guide on row 2: "The next time this alarm is evaluated, if the data is still missing it will go to
    ALARM, as that non-breaching data point will no longer be in the evaluation range"."""
    settings = alarm(3, 3, "breaching")
    assert outcome(settings, "0 - - - -", OK) == OK
    assert outcome(settings, "- - - - -", OK) == ALARM


def test_the_reason_of_an_alarm_is_worded_as_cloudwatch_words_it():
    """The single-metric example of "Alarm events and EventBridge": Average over 300 s above 50."""
    settings = MetricAlarm(period=300, evaluation_periods=1, threshold=50.0, comparison="GreaterThanThreshold",
                           statistic="Average")
    datapoint = Datapoint(datetime(2019, 10, 2, 16, 59, tzinfo=UTC), 99.50160229693434, 3.0)
    verdict = evaluate(settings, [Datapoint(datapoint.timestamp - timedelta(minutes=10)),
                                  Datapoint(datapoint.timestamp - timedelta(minutes=5)), datapoint], OK, NOW)

    assert verdict.state == ALARM
    assert verdict.reason == ("Threshold Crossed: 1 out of the last 1 datapoints [99.50160229693434 (02/10/19 "
                              "16:59:00)] was greater than the threshold (50.0) (minimum 1 datapoint for OK -> ALARM "
                              "transition).")
    documented = {"version": "1.0", "queryDate": "2019-10-02T17:04:40.985+0000",
                  "startDate": "2019-10-02T16:59:00.000+0000", "statistic": "Average", "period": 300,
                  "recentDatapoints": [99.50160229693434], "threshold": 50.0}
    data = json.loads(verdict.reason_data)
    assert {key: data[key] for key in documented} == documented
    assert data["evaluatedDatapoints"] == [{"timestamp": "2019-10-02T16:59:00.000+0000", "sampleCount": 3.0,
                                            "value": 99.50160229693434}]


def test_the_reason_of_a_return_to_ok_names_the_datapoints_within_the_threshold():
    settings = MetricAlarm(period=300, evaluation_periods=1, threshold=50.0, comparison="GreaterThanThreshold",
                           statistic="Average")
    verdict = evaluate(settings, [Datapoint(datetime(2019, 10, 1, 13, 46, tzinfo=UTC), 0.0666851903306472, 1.0)],
                       ALARM, NOW)
    assert (verdict.state, verdict.reason) == (OK, (
        "Threshold Crossed: 1 out of the last 1 datapoints [0.0666851903306472 (01/10/19 13:46:00)] was not greater "
        "than the threshold (50.0) (minimum 1 datapoint for ALARM -> OK transition)."))


def test_m_of_n_reasons_count_the_datapoints_that_decided():
    verdict = evaluate(alarm(2, 3), periods("- - X 0 X"), OK, NOW)
    assert verdict.reason.startswith("Threshold Crossed: 2 out of the last 3 datapoints [5.0 (")
    assert "were greater than the threshold (1.0) (minimum 2 datapoints for OK -> ALARM transition)." in verdict.reason
    back = evaluate(alarm(2, 3), periods("- - X 0 0"), ALARM, NOW)
    assert back.state == OK and "2 out of the last 3 datapoints" in back.reason
    assert back.reason.endswith("were not greater than the threshold (1.0) (minimum 2 datapoints for ALARM -> OK "
                                "transition).")


def test_missing_data_filled_in_is_reported_as_cloudwatch_reports_it():
    """Real StateReasons of alarms on metrics that report only errors (Lambda Errors)."""
    quiet = evaluate(alarm(1, 1, "notBreaching"), periods("- - -"), INSUFFICIENT_DATA, NOW)
    assert (quiet.state, quiet.reason) == (OK, "Threshold Crossed: no datapoints were received for 1 period and 1 "
                                               "missing datapoint was treated as [NonBreaching].")
    assert json.loads(quiet.reason_data)["recentDatapoints"] == []
    silent = evaluate(alarm(1, 1, "breaching"), periods("- - -"), OK, NOW)
    assert silent.reason.endswith("1 missing datapoint was treated as [Breaching].")
    unknown = evaluate(alarm(5, 5), periods("- - - - - - -"), OK, NOW)
    assert (unknown.state, unknown.reason) == (INSUFFICIENT_DATA, "Insufficient Data: 5 datapoints were unknown.")
    assert len(json.loads(unknown.reason_data)["evaluatedDatapoints"]) == 5


def test_comparisons_of_every_operator():
    def state(comparison: str, value: float) -> str:
        settings = MetricAlarm(period=60, evaluation_periods=1, threshold=10.0, comparison=comparison,
                               statistic="Maximum")
        return evaluate(settings, [Datapoint(NOW, value, 1.0)], OK, NOW).state

    assert [state("GreaterThanThreshold", v) for v in (9, 10, 11)] == [OK, OK, ALARM]
    assert [state("GreaterThanOrEqualToThreshold", v) for v in (9, 10, 11)] == [OK, ALARM, ALARM]
    assert [state("LessThanThreshold", v) for v in (9, 10, 11)] == [ALARM, OK, OK]
    assert [state("LessThanOrEqualToThreshold", v) for v in (9, 10, 11)] == [ALARM, ALARM, OK]


def test_statistics_of_a_period_mix_raw_values_and_statistic_sets():
    samples = Samples(values=(1.0, 5.0), sets=(StatisticSet(sum=12.0, minimum=2.0, maximum=7.0, sample_count=3),))
    assert aggregate("Sum", samples) == (18.0, 5.0)
    assert aggregate("SampleCount", samples) == (5.0, 5.0)
    assert aggregate("Average", samples) == (3.6, 5.0)
    assert aggregate("Minimum", samples) == (1.0, 5.0)
    assert aggregate("Maximum", samples) == (7.0, 5.0)
    assert aggregate("Sum", Samples()) is None


def test_percentiles_are_observed_values_by_nearest_rank():
    hundred = Samples(values=tuple(float(v) for v in range(100, 0, -1)))
    assert aggregate("p99", hundred) == (99.0, 100.0)
    assert aggregate("p99.5", hundred) == (100.0, 100.0)
    assert aggregate("p50", Samples(values=(4.0, 1.0, 3.0, 2.0))) == (2.0, 4.0)
    assert aggregate("p100", hundred)[0] == 100.0 and aggregate("p0", hundred)[0] == 1.0


def test_percentiles_need_raw_values_and_no_negative_ones():
    """GetMetricStatistics: a statistic set serves a percentile only if its SampleCount is 1 or its Minimum
    equals its Maximum; a negative value leaves no percentile at all."""
    assert aggregate("p90", Samples(sets=(StatisticSet(20.0, 5.0, 5.0, 4),))) == (5.0, 4.0)
    assert aggregate("p90", Samples(values=(1.0,), sets=(StatisticSet(9.0, 9.0, 9.0, 1),))) == (9.0, 2.0)
    assert aggregate("p90", Samples(values=(1.0,), sets=(StatisticSet(20.0, 2.0, 8.0, 4),))) is None
    assert aggregate("p90", Samples(values=(3.0, -1.0))) is None
    assert aggregate("Sum", Samples(values=(3.0, -1.0))) == (2.0, 2.0)


def test_low_sample_bounds_are_the_documented_ones():
    """10/(1-p) samples for p in [0.5, 1), 10/p below 0.5: 1000 samples for p99."""
    assert too_few_samples(Fraction(99, 100), 999) and not too_few_samples(Fraction(99, 100), 1000)
    assert too_few_samples(Fraction(1, 2), 19) and not too_few_samples(Fraction(1, 2), 20)
    assert too_few_samples(Fraction(1, 10), 99) and not too_few_samples(Fraction(1, 10), 100)
    assert not too_few_samples(Fraction(1), 1) and not too_few_samples(Fraction(0), 1)


def test_a_low_sample_percentile_keeps_the_state_only_when_told_to_ignore_it():
    def p99(setting: str) -> MetricAlarm:
        return MetricAlarm(period=60, evaluation_periods=1, threshold=1000.0, comparison="GreaterThanThreshold",
                           statistic="p99", evaluate_low_sample_count_percentile=setting)

    slow = [Datapoint(NOW, 2500.0, 10.0)]
    assert evaluate(p99("ignore"), slow, OK, NOW) is None
    assert evaluate(p99("evaluate"), slow, OK, NOW).state == ALARM
    assert evaluate(p99("ignore"), [Datapoint(NOW, 2500.0, 1000.0)], OK, NOW).state == ALARM
    assert json.loads(evaluate(p99("evaluate"), slow, OK, NOW).reason_data)["extendedStatistic"] == "p99"


def test_what_the_emulator_cannot_evaluate_is_refused_not_guessed():
    with pytest.raises(UnsupportedAlarm, match="anomaly detection band"):
        MetricAlarm(period=60, evaluation_periods=1, threshold=0, comparison="LessThanLowerOrGreaterThanUpperThreshold",
                    statistic="Average")
    with pytest.raises(UnsupportedAlarm, match="ThresholdMetricId"):
        MetricAlarm.from_api({"ThresholdMetricId": "ad1", "EvaluationPeriods": 1})
    with pytest.raises(UnsupportedAlarm, match="function IF"):
        math_alarm("IF(errors > 1, 1, 0)")
    with pytest.raises(UnsupportedAlarm, match="tm99"):
        MetricAlarm(period=60, evaluation_periods=1, threshold=0, comparison="GreaterThanThreshold", statistic="tm99")
    with pytest.raises(UnsupportedAlarm, match="DatapointsToAlarm"):
        alarm(4, 3)


def test_settings_are_read_from_describe_alarms():
    settings = MetricAlarm.from_api({"Period": 10, "EvaluationPeriods": 3, "DatapointsToAlarm": 2, "Threshold": 1,
                                     "ComparisonOperator": "GreaterThanThreshold", "ExtendedStatistic": "p99",
                                     "Unit": "Milliseconds"})
    assert (settings.statistic, settings.m, settings.treat_missing_data, settings.unit) == \
        ("p99", 2, "missing", "Milliseconds")
    assert (settings.evaluation_interval, settings.evaluation_range) == (10, 5)
    assert alarm().evaluation_interval == 60


def test_dynamodb_alarms_always_ignore_missing_data():
    """The guide: "Alarms that evaluate metrics in the AWS/DynamoDB namespace always ignore missing data even if
    you choose a different option"."""
    described = {"Namespace": "AWS/DynamoDB", "Period": 60, "EvaluationPeriods": 1, "Threshold": 1,
                 "ComparisonOperator": "GreaterThanThreshold", "Statistic": "Sum", "TreatMissingData": "breaching"}
    assert MetricAlarm.from_api(described).treat_missing_data == "ignore"
    assert MetricAlarm.from_api(described | {"Namespace": "AWS/Lambda"}).treat_missing_data == "breaching"


def test_numbers_are_printed_as_java_prints_doubles():
    assert [java_double(v) for v in (50, 0.25, 99.50160229693434, 45628, 0, 1.5e7, 1e7, 0.0001, -3)] == \
        ["50.0", "0.25", "99.50160229693434", "45628.0", "0.0", "1.5E7", "1.0E7", "1.0E-4", "-3.0"]


def test_composite_rules_combine_the_states_of_other_alarms():
    states = {"CPUUtilizationTooHigh": ALARM, "DiskReadOpsTooHigh": OK, "NetworkOutTooHigh": OK,
              "DeploymentInProgress": INSUFFICIENT_DATA,
              "arn:aws:cloudwatch:us-east-1:123456789012:alarm:DiskReadOpsTooHigh": OK}
    assert rule_holds("ALARM(CPUUtilizationTooHigh) AND NOT ALARM(DeploymentInProgress)", states)
    assert not rule_holds("ALARM(CPUUtilizationTooHigh) AND ALARM(DiskReadOpsTooHigh)", states)
    assert rule_holds('(ALARM("CPUUtilizationTooHigh") OR ALARM("DiskReadOpsTooHigh")) AND OK("NetworkOutTooHigh")',
                      states)
    assert rule_holds("INSUFFICIENT_DATA(DeploymentInProgress)", states)
    assert rule_holds('OK("arn:aws:cloudwatch:us-east-1:123456789012:alarm:DiskReadOpsTooHigh")', states)
    assert rule_holds("TRUE", {}) and not rule_holds("False", {}) and not rule_holds("ALARM(unknown)", {})
    assert rule_holds("ALARM(a) OR ALARM(b) AND ALARM(c)", {"a": ALARM})  # AND binds tighter than OR
    assert rule_references('ALARM(a) OR OK("b c")') == ["a", "b c"]
    for broken in ("", "ALARM(a) AND", "ALARM(a) ALARM(b)", "(ALARM(a)", "MAYBE(a)"):
        with pytest.raises(ValueError, match=rf"^AlarmRule '{re.escape(broken)}' is not a valid expression"):
            rule_holds(broken, {})


def math_alarm(expression: str, **settings) -> MetricAlarm:
    """An alarm on ``expression`` over Lambda's Errors and Invocations (ids ``errors``, ``invocations``)."""
    def metric(name: str, period: int = 60) -> dict:
        return {"Id": name.lower(), "ReturnData": False, "MetricStat": {"Period": period, "Stat": "Sum", "Metric": {
            "Namespace": "AWS/Lambda", "MetricName": name, "Dimensions": [{"Name": "FunctionName", "Value": "f"}]}}}

    return MetricAlarm.from_api({
        "EvaluationPeriods": 1, "Threshold": 10, "ComparisonOperator": "GreaterThanThreshold",
        "Metrics": [{"Id": "rate", "Expression": expression, "ReturnData": True}, metric("Errors"),
                    metric("Invocations", settings.pop("invocations_period", 60))], **settings})


def series_of(expression: str, **series: list) -> list:
    starts = [NOW - timedelta(minutes=5 - i) for i in range(5)]
    return [d.value for d in math_datapoints(math_alarm(expression), series, starts)]


def test_metric_math_treats_a_missing_value_as_zero_and_drops_a_division_by_zero():
    """Use metric math: "Missing values in a time series are treated as 0. If the value of a data point
    causes a function to attempt to divide by zero, the data point is dropped.\""""
    errors, invocations = [None, 1.0, 0.0, None, 5.0], [None, 10.0, 10.0, 4.0, 0.0]
    assert series_of("100 * errors / invocations", errors=errors, invocations=invocations) == \
        [None, 10.0, 0.0, 0.0, None]
    assert series_of("errors - invocations", errors=errors, invocations=invocations) == [None, -9.0, -10.0, -4.0, 5.0]
    assert series_of("-errors + 2 ^ 3", errors=errors, invocations=invocations) == [None, 7.0, 8.0, None, 3.0]


def test_metric_math_functions_of_series_and_arrays():
    errors, invocations = [None, 1.0, None, None, 5.0], [2.0, 4.0, 6.0, None, 8.0]
    def of(expression: str) -> list:
        return series_of(expression, errors=errors, invocations=invocations)

    assert of("SUM(METRICS())") == [2.0, 5.0, 6.0, None, 13.0]
    assert of("AVG([errors, invocations])") == [1.0, 2.5, 3.0, None, 6.5]  # a missing value counts as 0
    assert of("MAX(METRICS())") == [2.0, 4.0, 6.0, None, 8.0]
    assert of("SUM(METRICS(\"err\"))") == errors
    assert of("FILL(errors, 0)") == [0.0, 1.0, 0.0, 0.0, 5.0]
    assert of("FILL(errors, invocations)") == [2.0, 1.0, 6.0, None, 5.0]
    assert of("FILL(errors, REPEAT)") == [None, 1.0, 1.0, 1.0, 5.0]
    assert of("FILL(errors, LINEAR)") == [None, 1.0, 2.333333333333333, 3.6666666666666665, 5.0]
    assert of("invocations - AVG(invocations)") == [-3.0, -1.0, 1.0, None, 3.0]
    assert of("ABS(errors - 3)") == [None, 2.0, None, None, 2.0]
    assert of("CEIL(invocations / 3) + FLOOR(invocations / 3)") == [1.0, 3.0, 4.0, None, 5.0]


def test_a_metric_math_alarm_alarms_on_its_expression():
    settings = math_alarm("100 * errors / invocations")
    assert (settings.period, settings.evaluation_interval) == (60, 60)
    datapoints = math_datapoints(settings, {"errors": [None, None, 3.0], "invocations": [None, 10.0, 10.0]},
                                 [NOW - timedelta(minutes=3 - i) for i in range(3)])
    assert [d.value for d in datapoints] == [None, 0.0, 30.0]
    verdict = evaluate(settings, datapoints, OK, NOW)
    assert verdict.state == ALARM and "[30.0 (" in verdict.reason
    data = json.loads(verdict.reason_data)
    assert "statistic" not in data and data["recentDatapoints"] == [30.0]
    assert "sampleCount" not in data["evaluatedDatapoints"][0]


def test_metric_math_alarms_are_refused_where_cloudwatch_refuses_them():
    with pytest.raises(UnsupportedAlarm, match="one period"):
        math_alarm("errors / invocations", invocations_period=300)
    with pytest.raises(UnsupportedAlarm, match="exactly one"):
        MetricAlarm.from_api({"EvaluationPeriods": 1, "Threshold": 1, "ComparisonOperator": "GreaterThanThreshold",
                              "Metrics": [{"Id": "a", "Expression": "1"}, {"Id": "b", "Expression": "2"}]})
    with pytest.raises(UnsupportedAlarm, match="single time series"):
        series_of("METRICS()", errors=[1.0] * 5, invocations=[1.0] * 5)
    with pytest.raises(UnsupportedAlarm, match="unknown"):
        series_of("errors / throttles", errors=[1.0] * 5, invocations=[1.0] * 5)
