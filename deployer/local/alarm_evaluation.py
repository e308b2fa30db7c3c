"""How CloudWatch decides a metric or composite alarm's state, as its user guide documents it (pure: no AWS).

Sources (Amazon CloudWatch User Guide, "Using Amazon CloudWatch alarms"):

- *Evaluating an alarm*: Period, Evaluation Periods (N), Datapoints to Alarm (M); the breaching datapoints
  need not be consecutive. An alarm with a Period of a minute or more is evaluated every minute, one of
  10 or 30 seconds every 10 seconds.
- *How alarm state is evaluated when data is missing*: CloudWatch retrieves more periods than N (the
  *evaluation range*; 5 for N = 3 in its example, so this module takes N + 2). With at least N real
  datapoints in the range it judges the most recent N and the missing-data setting is not used; with fewer it
  fills the missing ones with that setting, as few as possible, and judges every real datapoint in the range.
  Its two tables (3 of 3 and 2 of 3) are reproduced row by row in tests/deployer/local/test_alarm_evaluation.py.
- *Avoiding premature transitions to alarm state*: with ``missing``, an alarm whose real datapoints are all
  breaching goes to ALARM only once the oldest of them is at least M periods old (``- - X - -`` alarms,
  ``- - - - X`` does not: the next datapoint may be fine).
- *Percentile-based alarms and low data samples*: below 10/(1-p) samples (p >= 0.5) or 10/p samples
  (p < 0.5), ``EvaluateLowSampleCountPercentile=ignore`` keeps the state.
- GetMetricStatistics: percentiles need raw values; a statistic set counts only if its SampleCount is 1 or
  its Minimum equals its Maximum, and no percentile exists when a value is negative.
- *Alarm events and EventBridge* and real alarms' StateReason texts give the wording of the reasons.
- *Create a composite alarm*: ALARM(), OK(), INSUFFICIENT_DATA() of a name or ARN, AND, OR, NOT, TRUE, FALSE.

What CloudWatch does not document and this module chooses: percentiles by nearest rank (always an observed
value), the reason's wording when real and filled datapoints mix, the order of datapoints in a reason
(newest first). Anomaly-detection bands and metric math are refused (``UnsupportedAlarm``), not guessed.
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction

OK, ALARM, INSUFFICIENT_DATA = "OK", "ALARM", "INSUFFICIENT_DATA"
STATES = (OK, ALARM, INSUFFICIENT_DATA)
TREATMENTS = ("missing", "ignore", "breaching", "notBreaching")
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
COMPARISONS: dict[str, tuple[str, Callable[[float, float], bool]]] = {
    "GreaterThanThreshold": ("greater than", operator.gt),
    "GreaterThanOrEqualToThreshold": ("greater than or equal to", operator.ge),
    "LessThanThreshold": ("less than", operator.lt),
    "LessThanOrEqualToThreshold": ("less than or equal to", operator.le),
}
BAND_COMPARISONS = ("LessThanLowerOrGreaterThanUpperThreshold", "LessThanLowerThreshold", "GreaterThanUpperThreshold")
_PERCENTILE = re.compile(r"^p(100(\.0{1,2})?|\d{1,2}(\.\d{1,2})?)$")


class UnsupportedAlarm(ValueError):
    """An alarm this module cannot evaluate as CloudWatch would; the emulator leaves its state alone."""


@dataclass(frozen=True)
class StatisticSet:
    sum: float
    minimum: float
    maximum: float
    sample_count: float


@dataclass(frozen=True)
class Samples:
    """What one period of a metric holds: raw values (``Value``/``Values``) and ``StatisticValues`` sets."""

    values: tuple[float, ...] = ()
    sets: tuple[StatisticSet, ...] = ()


@dataclass(frozen=True)
class Datapoint:
    """One period of the evaluation range: its start and its statistic (``value`` None: missing)."""

    timestamp: datetime
    value: float | None = None
    sample_count: float = 0.0

    @property
    def missing(self) -> bool:
        return self.value is None


@dataclass(frozen=True)
class Verdict:
    """The state an evaluation sets, with CloudWatch's StateReason and StateReasonData (a JSON string)."""

    state: str
    reason: str
    reason_data: str


@dataclass(frozen=True)
class MetricAlarm:
    """The settings of a single-metric alarm that decide its state."""

    period: int
    evaluation_periods: int
    threshold: float
    comparison: str
    statistic: str  # "Sum", "Average", … or a percentile "p99", "p99.9"
    datapoints_to_alarm: int | None = None
    treat_missing_data: str = "missing"
    evaluate_low_sample_count_percentile: str = "evaluate"
    unit: str | None = None

    def __post_init__(self) -> None:
        if self.comparison in BAND_COMPARISONS:
            raise UnsupportedAlarm(f"{self.comparison} compares against an anomaly detection band, which the "
                                   "emulator does not model")
        if self.comparison not in COMPARISONS:
            raise UnsupportedAlarm(f"unknown ComparisonOperator {self.comparison!r}")
        if self.statistic not in STATISTICS and not _PERCENTILE.match(self.statistic):
            raise UnsupportedAlarm(f"statistic {self.statistic!r} is not evaluated by the emulator (it evaluates "
                                   f"{', '.join(STATISTICS)} and percentiles pNN.NN)")
        if self.treat_missing_data not in TREATMENTS:
            raise UnsupportedAlarm(f"unknown TreatMissingData {self.treat_missing_data!r}")
        if not 1 <= self.m <= self.evaluation_periods:
            raise UnsupportedAlarm(f"DatapointsToAlarm {self.m} is outside 1..EvaluationPeriods")

    @classmethod
    def from_api(cls, alarm: Mapping) -> MetricAlarm:
        """From a DescribeAlarms ``MetricAlarms`` entry (or PutMetricAlarm's parameters)."""
        if alarm.get("Metrics"):
            raise UnsupportedAlarm("metric math alarms (Metrics) are not evaluated by the emulator")
        return cls(
            period=int(alarm["Period"]), evaluation_periods=int(alarm["EvaluationPeriods"]),
            threshold=float(alarm["Threshold"]), comparison=alarm["ComparisonOperator"],
            statistic=alarm.get("ExtendedStatistic") or alarm.get("Statistic") or "",
            datapoints_to_alarm=alarm.get("DatapointsToAlarm"),
            treat_missing_data=alarm.get("TreatMissingData") or "missing",
            evaluate_low_sample_count_percentile=alarm.get("EvaluateLowSampleCountPercentile") or "evaluate",
            unit=alarm.get("Unit"),
        )

    @property
    def m(self) -> int:
        return self.datapoints_to_alarm or self.evaluation_periods

    @property
    def evaluation_range(self) -> int:
        """How many periods an evaluation retrieves: N + 2 (the guide's only example: 5 for N = 3)."""
        return self.evaluation_periods + 2

    @property
    def evaluation_interval(self) -> int:
        """Seconds between evaluations: every minute, or every 10 s for a 10 or 30 s (high-resolution) Period."""
        return 60 if self.period >= 60 else 10

    @property
    def percentile(self) -> Fraction | None:
        return Fraction(self.statistic[1:]) / 100 if self.statistic.startswith("p") else None

    def breaches(self, value: float) -> bool:
        return COMPARISONS[self.comparison][1](value, self.threshold)


# statistics -------------------------------------------------------------------------------------------
def aggregate(statistic: str, samples: Samples) -> tuple[float, float] | None:
    """``(value, sample count)`` of one period, or None when the period has no datapoint for ``statistic``."""
    count = len(samples.values) + sum(s.sample_count for s in samples.sets)
    if not count:
        return None
    if statistic == "SampleCount":
        return float(count), float(count)
    total = sum(samples.values) + sum(s.sum for s in samples.sets)
    if statistic == "Sum":
        return float(total), float(count)
    if statistic == "Average":
        return total / count, float(count)
    if statistic == "Minimum":
        return float(min([*samples.values, *(s.minimum for s in samples.sets)])), float(count)
    if statistic == "Maximum":
        return float(max([*samples.values, *(s.maximum for s in samples.sets)])), float(count)
    return _percentile(Fraction(statistic[1:]) / 100, samples)


def _percentile(p: Fraction, samples: Samples) -> tuple[float, float] | None:
    values = list(samples.values)
    for s in samples.sets:
        if s.sample_count != 1 and s.minimum != s.maximum:
            return None  # a spread-out statistic set hides the values a percentile needs
        values.extend([s.maximum] * int(s.sample_count))
    if not values or min(values) < 0:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p * len(ordered)))
    return float(ordered[rank - 1]), float(len(ordered))


def too_few_samples(p: Fraction, sample_count: float) -> bool:
    """Whether a percentile over ``sample_count`` samples is below CloudWatch's significance bound."""
    if 0 < p < Fraction(1, 2):
        return sample_count < 10 / p
    if Fraction(1, 2) <= p < 1:
        return sample_count < 10 / (1 - p)
    return False


# evaluation -------------------------------------------------------------------------------------------
def evaluate(alarm: MetricAlarm, datapoints: Sequence[Datapoint], state: str, now: datetime) -> Verdict | None:
    """The state the alarm should be in, given the periods of its evaluation range (oldest first) and its
    current state; None keeps the current state (``ignore`` with too little data, or a low-sample percentile)."""
    n, m = alarm.evaluation_periods, alarm.m
    real = [d for d in datapoints if not d.missing]
    p = alarm.percentile
    if p is not None and alarm.evaluate_low_sample_count_percentile == "ignore" and \
            any(too_few_samples(p, d.sample_count) for d in real[-n:]):
        return None
    if len(real) >= n:
        judged = real[-n:]
        breaching = sum(alarm.breaches(d.value) for d in judged)
        return _verdict(alarm, ALARM if breaching >= m else OK, judged, [], now)
    missing = [d for d in datapoints if d.missing]
    fills = missing[len(missing) - (n - len(real)):]  # the most recent missing periods are the ones filled
    breaching = sum(alarm.breaches(d.value) for d in real)
    treatment = alarm.treat_missing_data
    if treatment == "breaching":
        return _verdict(alarm, ALARM if breaching + len(fills) >= m else OK, real, fills, now, "Breaching")
    if treatment == "notBreaching":
        return _verdict(alarm, ALARM if breaching >= m else OK, real, fills, now, "NonBreaching")
    # missing and ignore: only what is known decides
    if breaching >= m:
        return _verdict(alarm, ALARM, real, [], now)
    if breaching < len(real):
        return _verdict(alarm, OK, real, [], now)
    if treatment == "ignore":
        return None
    oldest_age = next((len(datapoints) - i for i, d in enumerate(datapoints) if not d.missing), 0)
    if oldest_age >= m:  # the premature-alarm rule: all known datapoints breach, the oldest is M periods old
        return _verdict(alarm, ALARM, real, [], now)
    return Verdict(INSUFFICIENT_DATA, f"Insufficient Data: {_count(len(fills), 'datapoint')} "
                                      f"{_was(len(fills))} unknown.", _reason_data(alarm, real, fills, now))


def _verdict(alarm: MetricAlarm, state: str, real: list[Datapoint], fills: list[Datapoint], now: datetime,
             filled_as: str = "") -> Verdict:
    n, m, words = alarm.evaluation_periods, alarm.m, COMPARISONS[alarm.comparison][0]
    data = _reason_data(alarm, real, fills, now)
    if not real:
        return Verdict(state, f"Threshold Crossed: no datapoints were received for {_count(len(fills), 'period')} "
                              f"and {_count(len(fills), 'missing datapoint')} {_was(len(fills))} treated as "
                              f"[{filled_as}].", data)
    breach = state == ALARM
    shown = [d for d in reversed(real) if alarm.breaches(d.value) == breach]
    counted = len(shown) + (len(fills) if breach == (filled_as == "Breaching") else 0)
    listed = ", ".join(f"{java_double(d.value)} ({d.timestamp.strftime('%d/%m/%y %H:%M:%S')})" for d in shown)
    filled = f" and {_count(len(fills), 'missing datapoint')} {_was(len(fills))} treated as [{filled_as}]" \
        if fills else ""
    minimum, transition = (m, "OK -> ALARM") if breach else (n - m + 1, "ALARM -> OK")
    return Verdict(state, f"Threshold Crossed: {counted} out of the last {n} datapoints [{listed}] {_was(counted)} "
                          f"{'' if breach else 'not '}{words} the threshold ({java_double(alarm.threshold)}){filled} "
                          f"(minimum {_count(minimum, 'datapoint')} for {transition} transition).", data)


def _reason_data(alarm: MetricAlarm, real: list[Datapoint], fills: list[Datapoint], now: datetime) -> str:
    """StateReasonData as CloudWatch writes it (keys in its order; evaluatedDatapoints newest first)."""
    evaluated = sorted([*real, *fills], key=lambda d: d.timestamp, reverse=True)
    data: dict = {"version": "1.0", "queryDate": timestamp(now)}
    if real:
        data["startDate"] = timestamp(real[0].timestamp)
    if alarm.unit:
        data["unit"] = alarm.unit
    data["extendedStatistic" if alarm.percentile is not None else "statistic"] = alarm.statistic
    data |= {"period": alarm.period, "recentDatapoints": [d.value for d in real], "threshold": alarm.threshold,
             "evaluatedDatapoints": [{"timestamp": timestamp(d.timestamp)} if d.missing else
                                     {"timestamp": timestamp(d.timestamp), "sampleCount": d.sample_count,
                                      "value": d.value} for d in evaluated]}
    return json.dumps(data, separators=(",", ":"))


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _was(count: int) -> str:
    return "was" if count == 1 else "were"


def timestamp(moment: datetime) -> str:
    """CloudWatch's timestamp format in reasons and events: ``2019-10-02T17:04:40.985+0000``."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def java_double(value: float) -> str:
    """A number as CloudWatch (Java's ``Double.toString``) prints it: ``50.0``, ``0.25``, ``1.5E7``."""
    if math.isnan(value) or math.isinf(value):
        return "NaN" if math.isnan(value) else ("-" if value < 0 else "") + "Infinity"
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        text = repr(float(value))
        return text if "e" not in text else format(Decimal(text), "f")
    exact = Decimal(repr(float(value)))
    sign, digits, _ = exact.as_tuple()
    mantissa = f"{digits[0]}.{''.join(map(str, digits[1:])).rstrip('0') or '0'}"
    return f"{'-' if sign else ''}{mantissa}E{exact.adjusted()}"


# composite alarms -------------------------------------------------------------------------------------
_TOKEN = re.compile(r"""\s*(?:
    (?P<function>ALARM|OK|INSUFFICIENT_DATA)\s*\(\s*(?:"(?P<quoted>[^"]*)"|(?P<bare>[^)\s]+))\s*\)
    |(?P<word>AND|OR|NOT|TRUE|FALSE)\b
    |(?P<paren>[()]))""", re.VERBOSE | re.IGNORECASE)


def rule_references(rule: str) -> list[str]:
    """The alarm names or ARNs an AlarmRule refers to, in order."""
    return [reference for kind, reference in _tokens(rule) if kind in STATES]


def rule_holds(rule: str, states: Mapping[str, str]) -> bool:
    """Whether an AlarmRule is TRUE for the alarm states given (by name and by ARN; absent: in no state).
    NOT binds tighter than AND, AND tighter than OR."""
    tokens, position = _tokens(rule), 0

    def peek() -> str | None:
        return tokens[position][0] if position < len(tokens) else None

    def take(expected: str | None = None) -> tuple[str, str]:
        nonlocal position
        if position >= len(tokens) or (expected and tokens[position][0] != expected):
            raise ValueError(f"AlarmRule {rule!r} is not a valid expression")
        position += 1
        return tokens[position - 1]

    def disjunction() -> bool:
        held = conjunction()
        while peek() == "OR":
            take()
            held = conjunction() or held
        return held

    def conjunction() -> bool:
        held = negation()
        while peek() == "AND":
            take()
            held = negation() and held
        return held

    def negation() -> bool:
        if peek() == "NOT":
            take()
            return not negation()
        kind, reference = take()
        if kind == "(":
            held = disjunction()
            take(")")
            return held
        if kind in ("TRUE", "FALSE"):
            return kind == "TRUE"
        if kind in STATES:
            return states.get(reference) == kind
        raise ValueError(f"AlarmRule {rule!r} is not a valid expression")

    held = disjunction()
    if position != len(tokens):
        raise ValueError(f"AlarmRule {rule!r} is not a valid expression")
    return held


def _tokens(rule: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(rule.rstrip()):
        found = _TOKEN.match(rule, position)
        if not found:
            raise ValueError(f"AlarmRule {rule!r} is not a valid expression (at {rule[position:]!r})")
        if found["function"]:
            tokens.append((found["function"].upper(), found["quoted"] if found["quoted"] is not None
                           else found["bare"]))
        else:
            tokens.append(((found["word"] or found["paren"]).upper(), ""))
        position = found.end()
    return tokens
