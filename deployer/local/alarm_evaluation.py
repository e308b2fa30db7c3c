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
- *Configuring how CloudWatch alarms treat missing data*: AWS/DynamoDB alarms always ignore missing data.
- *Percentile-based alarms and low data samples*: below 10/(1-p) samples (p >= 0.5) or 10/p samples
  (p < 0.5), ``EvaluateLowSampleCountPercentile=ignore`` keeps the state.
- GetMetricStatistics: percentiles need raw values; a statistic set counts only if its SampleCount is 1 or
  its Minimum equals its Maximum, and no percentile exists when a value is negative.
- *Alarm events and EventBridge* and real alarms' StateReason texts give the wording of the reasons.
- *Create a composite alarm*: ALARM(), OK(), INSUFFICIENT_DATA() of a name or ARN, AND, OR, NOT, TRUE, FALSE.
- *Alarms on math expressions* and *Use metric math*: up to 10 metrics of one period; exactly one result.
  Arithmetic (+ - * / ^, unary -) works on scalars, time series and arrays of them; "Missing values in a
  time series are treated as 0" (a period is missing only when every series is) and a division by zero
  drops the datapoint. ABS, CEIL, FLOOR, FILL (a number, a series, REPEAT, LINEAR), SUM, AVG, MIN, MAX and
  METRICS() are evaluated; other functions are refused.

What CloudWatch does not document and this module chooses: percentiles by nearest rank (always an observed
value), the reason's wording when real and filled datapoints mix, the order of datapoints in a reason
(newest first). Anomaly-detection bands and the metric math functions listed above as refused raise
``UnsupportedAlarm``: the emulator leaves such an alarm alone rather than guess.
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
class MetricStat:
    """One metric of a metric math alarm, with the statistic and period it is retrieved with."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str
    period: int
    unit: str | None = None


@dataclass(frozen=True)
class Query:
    """One entry of a metric math alarm's ``Metrics``: a metric (``stat``) or an ``expression``."""

    id: str
    stat: MetricStat | None = None
    expression: str | None = None
    label: str | None = None
    return_data: bool = True


@dataclass(frozen=True)
class MetricAlarm:
    """The settings of a metric alarm (one metric, or a math expression over ``queries``) that decide its state."""

    period: int
    evaluation_periods: int
    threshold: float
    comparison: str
    statistic: str  # "Sum", "Average", … or a percentile "p99", "p99.9"
    datapoints_to_alarm: int | None = None
    treat_missing_data: str = "missing"
    evaluate_low_sample_count_percentile: str = "evaluate"
    unit: str | None = None
    queries: tuple[Query, ...] = ()

    def __post_init__(self) -> None:
        if self.comparison in BAND_COMPARISONS:
            raise UnsupportedAlarm(f"{self.comparison} compares against an anomaly detection band, which the "
                                   "emulator does not model")
        if self.comparison not in COMPARISONS:
            raise UnsupportedAlarm(f"unknown ComparisonOperator {self.comparison!r}")
        for statistic in [q.stat.stat for q in self.queries if q.stat] if self.queries else [self.statistic]:
            if statistic not in STATISTICS and not _PERCENTILE.match(statistic):
                raise UnsupportedAlarm(f"statistic {statistic!r} is not evaluated by the emulator (it evaluates "
                                       f"{', '.join(STATISTICS)} and percentiles pNN.NN)")
        if self.queries:
            _check_queries(self.queries)
        if self.period <= 0:
            raise UnsupportedAlarm("the alarm has no Period")
        if self.treat_missing_data not in TREATMENTS:
            raise UnsupportedAlarm(f"unknown TreatMissingData {self.treat_missing_data!r}")
        if not 1 <= self.m <= self.evaluation_periods:
            raise UnsupportedAlarm(f"DatapointsToAlarm {self.m} is outside 1..EvaluationPeriods")

    @classmethod
    def from_api(cls, alarm: Mapping) -> MetricAlarm:
        """From a DescribeAlarms ``MetricAlarms`` entry (or PutMetricAlarm's parameters)."""
        if alarm.get("ThresholdMetricId"):
            raise UnsupportedAlarm("an alarm on an anomaly detection band (ThresholdMetricId) is not evaluated by "
                                   "the emulator")
        queries = tuple(_query(entry) for entry in alarm.get("Metrics") or ())
        periods = {q.stat.period for q in queries if q.stat}
        if len(periods) > 1:
            raise UnsupportedAlarm(f"the metrics of a math alarm must use one period, not {sorted(periods)}")
        return cls(
            period=periods.pop() if periods else int(alarm.get("Period") or 0),
            evaluation_periods=int(alarm["EvaluationPeriods"]),
            threshold=float(alarm["Threshold"]), comparison=alarm["ComparisonOperator"],
            statistic=alarm.get("ExtendedStatistic") or alarm.get("Statistic") or "",
            datapoints_to_alarm=alarm.get("DatapointsToAlarm"),
            # "Alarms that evaluate metrics in the AWS/DynamoDB namespace always ignore missing data"
            treat_missing_data="ignore" if alarm.get("Namespace") == "AWS/DynamoDB" else
            alarm.get("TreatMissingData") or "missing",
            evaluate_low_sample_count_percentile=alarm.get("EvaluateLowSampleCountPercentile") or "evaluate",
            unit=alarm.get("Unit"), queries=queries,
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
        return Fraction(self.statistic[1:]) / 100 if not self.queries and self.statistic.startswith("p") else None

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
    if not alarm.queries:  # a math alarm's reason names no statistic (the guide's metric math event)
        data["extendedStatistic" if alarm.percentile is not None else "statistic"] = alarm.statistic
    data |= {"period": alarm.period, "recentDatapoints": [d.value for d in real], "threshold": alarm.threshold,
             "evaluatedDatapoints": [{"timestamp": timestamp(d.timestamp)} if d.missing else
                                     {"timestamp": timestamp(d.timestamp), "value": d.value} if alarm.queries else
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


# metric math --------------------------------------------------------------------------------------------
Series = list[float | None]  # one value per period of the evaluation range, oldest first; None: no datapoint


class _Array(list):
    """An array of time series (``[m1, m2]``, ``METRICS()``)."""


def _query(entry: Mapping) -> Query:
    stat = entry.get("MetricStat")
    metric = (stat or {}).get("Metric") or {}
    return Query(
        id=entry["Id"], expression=entry.get("Expression"), label=entry.get("Label"),
        return_data=entry.get("ReturnData") not in (False, "false", "False"),
        stat=MetricStat(metric.get("Namespace"), metric.get("MetricName"),
                        tuple((d["Name"], d["Value"]) for d in metric.get("Dimensions") or ()),
                        stat.get("Stat"), int(stat.get("Period") or 0), stat.get("Unit")) if stat else None,
    )


def _check_queries(queries: tuple[Query, ...]) -> None:
    returned = [q for q in queries if q.return_data]
    if len(returned) != 1:
        raise UnsupportedAlarm(f"a metric math alarm returns exactly one time series, not {len(returned)}")
    for query in queries:
        if query.expression is not None:
            _parse(query.expression)  # refuses unsupported functions now, not at the first evaluation


def math_datapoints(alarm: MetricAlarm, series: Mapping[str, Series], starts: Sequence[datetime]) -> list[Datapoint]:
    """The alarm's datapoints: its returned expression over the metrics' ``series`` (by query id)."""
    queries = {q.id: q for q in alarm.queries}
    metrics = [q.id for q in alarm.queries if q.stat]
    results: dict[str, object] = {}

    def value_of(name: str, visiting: tuple[str, ...] = ()) -> object:
        if name in results:
            return results[name]
        query = queries.get(name)
        if query is None or name in visiting:
            raise UnsupportedAlarm(f"the expression refers to {name!r}, which is {'circular' if query else 'unknown'}")
        results[name] = list(series[name]) if query.stat else \
            _evaluate_node(_parse(query.expression), lambda ref: value_of(ref, (*visiting, name)), metrics, series)
        return results[name]

    result = value_of(next(q.id for q in alarm.queries if q.return_data))
    if isinstance(result, _Array) or not isinstance(result, list):
        raise UnsupportedAlarm("a metric math alarm's expression must give a single time series")
    return [Datapoint(start) if value is None else Datapoint(start, value)
            for start, value in zip(starts, result, strict=True)]


_MATH_TOKEN = re.compile(r'\s*(?:(?P<number>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)|(?P<name>[A-Za-z_]\w*)'
                         r'|"(?P<string>[^"]*)"|(?P<op>[-+*/^()\[\],]|[<>=!]=|[<>]|&&|\|\|))')
_MAPPED = {"ABS": abs, "CEIL": math.ceil, "FLOOR": math.floor}
_REDUCED = ("SUM", "AVG", "MIN", "MAX")


def _parse(text: str) -> tuple:
    """A metric math expression as a tree: ("num", v), ("ref", id), ("neg", x), ("op", o, a, b),
    ("call", NAME, [args]), ("array", [items]), ("metrics", filter)."""
    tokens, position = [], 0
    while position < len(text.rstrip()):
        found = _MATH_TOKEN.match(text, position)
        if not found:
            raise UnsupportedAlarm(f"cannot read the expression {text!r} at {text[position:]!r}")
        kind = next(k for k in ("number", "name", "string", "op") if found[k] is not None)
        tokens.append((kind, found[kind]))
        position = found.end()
    at = 0

    def peek(*values: str) -> bool:
        return at < len(tokens) and tokens[at][0] == "op" and tokens[at][1] in values

    def take(value: str | None = None) -> tuple[str, str]:
        nonlocal at
        if at >= len(tokens) or (value is not None and tokens[at] != ("op", value)):
            raise UnsupportedAlarm(f"the expression {text!r} is not valid metric math")
        at += 1
        return tokens[at - 1]

    def sum_() -> tuple:
        node = product()
        while peek("+", "-"):
            node = ("op", take()[1], node, product())
        return node

    def product() -> tuple:
        node = power()
        while peek("*", "/"):
            node = ("op", take()[1], node, power())
        return node

    def power() -> tuple:
        node = unary()
        return ("op", take()[1], node, power()) if peek("^") else node

    def unary() -> tuple:
        if peek("-"):
            take()
            return ("neg", unary())
        return primary()

    def primary() -> tuple:
        kind, value = take()
        if kind == "number":
            return ("num", float(value))
        if kind == "op" and value == "(":
            node = sum_()
            take(")")
            return node
        if kind == "op" and value == "[":
            items = [sum_()]
            while peek(","):
                take()
                items.append(sum_())
            take("]")
            return ("array", items)
        if kind == "name" and peek("("):
            take("(")
            if value == "METRICS":
                wanted = take()[1] if at < len(tokens) and tokens[at][0] == "string" else ""
                take(")")
                return ("metrics", wanted)
            if value not in (*_MAPPED, *_REDUCED, "FILL"):
                raise UnsupportedAlarm(f"the metric math function {value} is not evaluated by the emulator")
            args = [] if peek(")") else [sum_()]
            while peek(","):
                take()
                args.append(sum_())
            take(")")
            if len(args) != (2 if value == "FILL" else 1):
                raise UnsupportedAlarm(f"{value} takes {2 if value == 'FILL' else 1} argument(s) here")
            return ("call", value, args)
        if kind == "name":
            return ("ref", value)
        raise UnsupportedAlarm(f"the expression {text!r} is not valid metric math")

    tree = sum_()
    if at != len(tokens):
        raise UnsupportedAlarm(f"the expression {text!r} is not valid metric math")
    return tree


def _evaluate_node(node: tuple, ref: Callable[[str], object], metrics: list[str],
                   series: Mapping[str, Series]) -> object:
    def walk(node: tuple) -> object:
        kind = node[0]
        if kind == "num":
            return node[1]
        if kind == "ref":
            return ref(node[1])
        if kind == "neg":
            return _combine(walk(node[1]), -1.0, operator.mul)
        if kind == "op":
            return _combine(walk(node[2]), walk(node[3]), _OPERATORS[node[1]])
        if kind == "array":
            return _Array(item for value in map(walk, node[1])
                          for item in (value if isinstance(value, _Array) else [value]))
        if kind == "metrics":
            return _Array(list(series[m]) for m in metrics if node[1] in m)
        name, first = node[1], walk(node[2][0])
        if name in _MAPPED:
            return _map(first, _MAPPED[name])
        if name == "FILL":
            filler = node[2][1]
            how = filler[1] if filler[0] == "ref" and filler[1] in ("REPEAT", "LINEAR") else None
            value = None if how else walk(filler)
            return _each(first, lambda ts: _fill(ts, how, value))
        return _reduce(name, first)

    return walk(node)


def _power(base: float, exponent: float) -> float:
    result = base ** exponent
    if isinstance(result, complex):
        raise ValueError("no real power")
    return result


_OPERATORS: dict[str, Callable[[float, float], float]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "^": _power}


def _safe(function: Callable[[float, float], float], a: float, b: float) -> float | None:
    try:
        return float(function(a, b))
    except (ZeroDivisionError, OverflowError, ValueError):  # "the data point is dropped"
        return None


def _combine(a: object, b: object, function: Callable[[float, float], float]) -> object:
    if isinstance(a, _Array) or isinstance(b, _Array):
        left = a if isinstance(a, _Array) else None
        return _Array(_combine(x, b, function) for x in left) if left is not None else \
            _Array(_combine(a, y, function) for y in b)
    if isinstance(a, list) and isinstance(b, list):
        return [None if x is None and y is None else _safe(function, x or 0.0, y or 0.0)
                for x, y in zip(a, b, strict=True)]
    if isinstance(a, list):
        return [None if x is None or b is None else _safe(function, x, b) for x in a]
    if isinstance(b, list):
        return [None if y is None or a is None else _safe(function, a, y) for y in b]
    return None if a is None or b is None else _safe(function, a, b)


def _each(value: object, function: Callable[[Series], Series]) -> object:
    if isinstance(value, _Array):
        return _Array(function(ts) for ts in value)
    if isinstance(value, list):
        return function(value)
    raise UnsupportedAlarm("this function takes a time series or an array of them")


def _map(value: object, function: Callable[[float], float]) -> object:
    if not isinstance(value, list):
        return None if value is None else float(function(value))
    return _each(value, lambda ts: [None if x is None else float(function(x)) for x in ts])


def _fill(ts: Series, how: str | None, filler: object) -> Series:
    known = [i for i, x in enumerate(ts) if x is not None]
    filled = list(ts)
    for i, x in enumerate(ts):
        if x is not None:
            continue
        before = [k for k in known if k < i]
        after = [k for k in known if k > i]
        if how == "REPEAT":
            filled[i] = ts[before[-1]] if before else None
        elif how == "LINEAR":
            if before and after:
                lo, hi = before[-1], after[0]
                filled[i] = ts[lo] + (ts[hi] - ts[lo]) * (i - lo) / (hi - lo)
        elif isinstance(filler, list):
            filled[i] = filler[i]
        else:
            filled[i] = filler
    return filled


def _reduce(name: str, value: object) -> object:
    """Of an array: one series, period by period (AVG counts a missing value as 0); of one series: a scalar."""
    pick = {"SUM": sum, "MIN": min, "MAX": max}
    if isinstance(value, _Array):
        def at(values: list[float | None]) -> float | None:
            present = [v for v in values if v is not None]
            if not present:
                return None
            return sum(present) / len(values) if name == "AVG" else float(pick[name](present))

        return [at(list(column)) for column in zip(*value, strict=True)] if value else []
    if isinstance(value, list):
        present = [v for v in value if v is not None]
        if not present:
            return None
        return sum(present) / len(present) if name == "AVG" else float(pick[name](present))
    raise UnsupportedAlarm(f"{name} takes a time series or an array of them")
