"""CloudWatch alarms that evaluate themselves in the emulator, as they do in AWS (moto 5.2 never evaluates one).

Once started (``AlarmEvaluator.start``; the patches of ``patches(evaluator)`` installed, as the emulator
installs them), a background thread evaluates every metric alarm of moto's CloudWatch backends from the
datapoints stored there (``PutMetricData``, or anything appended to the backend), on CloudWatch's schedule:
every minute for a Period of a minute or more, every 10 s for a 10 or 30 s Period. The rules are in
``alarm_evaluation``. A state change is written through the backend (``DescribeAlarms`` shows StateValue,
StateReason, StateReasonData, StateUpdatedTimestamp, StateTransitionedTimestamp), recorded for
``DescribeAlarmHistory`` and sent to the default EventBridge bus as a "CloudWatch Alarm State Change"
event (source ``aws.cloudwatch``; AWS guarantees its delivery). Composite alarms are re-evaluated whenever
an alarm they refer to changes state. Metric math alarms are evaluated too; an alarm the rules cannot evaluate
(an anomaly band, an unsupported function) keeps its state and is named in ``evaluator.unsupported``.

Time: every duration is multiplied by the emulator's ``time_scale``. At 0.05 a 60 s Period covers 3 real
seconds of datapoints and the alarm is evaluated every 3 real seconds. Datapoint timestamps are real wall
clock times; evaluations fall on multiples of the scaled interval since the epoch, and each evaluation's
newest period ends at that instant. An evaluation that runs late (a starved thread on a loaded machine) evaluates
each instant it missed, as many as its evaluation range reaches, so no period goes unjudged; and Lambda's late
metrics that have arrived by then are delivered first (``deliver``): they reach CloudWatch by themselves, whether
or not anyone queries it.

Also as in AWS (moto differs): a new alarm starts in INSUFFICIENT_DATA ("Unchecked: Initial alarm creation")
and is evaluated at once; updating an alarm keeps its state; ``SetAlarmState`` sends the event too and its
state lasts until the alarm's next evaluation (here: at least one evaluation interval later);
``PutCompositeAlarm`` and ``DescribeAlarmHistory`` exist; ``DescribeAlarms`` returns composite alarms only
when ``AlarmTypes`` asks for them.
"""

from __future__ import annotations

import bisect
import json
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from moto.cloudwatch.exceptions import ValidationError
from moto.cloudwatch.models import Alarm, CloudWatchBackend, MetricAggregatedDatum, MetricDatum, cloudwatch_backends
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult, EmptyResult

from deployer.local import alarm_evaluation as rules
from deployer.local import fidelity, patching
from deployer.local.patching import Patch

log = logging.getLogger(__name__)

SOURCE, DETAIL_TYPE = "aws.cloudwatch", "CloudWatch Alarm State Change"
INITIAL_REASON = "Unchecked: Initial alarm creation"

Key = tuple[str, str, str]  # account, region, alarm name


@dataclass
class _Series:
    """One metric's datapoints in timestamp order (epoch seconds beside each datum), so that an evaluation
    reads only the periods it judges however long the emulator has been running."""

    epochs: list[float] = field(default_factory=list)
    data: list[object] = field(default_factory=list)

    def add(self, epoch: float, datum: object) -> None:
        at = bisect.bisect_right(self.epochs, epoch)  # datapoints mostly arrive in order: at == len
        self.epochs.insert(at, epoch)
        self.data.insert(at, datum)

    def between(self, start: float, end: float) -> list[tuple[float, object]]:
        low, high = bisect.bisect_left(self.epochs, start), bisect.bisect_left(self.epochs, end)
        return list(zip(self.epochs[low:high], self.data[low:high], strict=True))


class _MetricIndex:
    """The backend's datapoints grouped by metric identity, read incrementally (the list only grows)."""

    def __init__(self) -> None:
        self.backend: CloudWatchBackend | None = None
        self.seen = 0
        self.series: dict[tuple, _Series] = {}

    def refresh(self, backend: CloudWatchBackend) -> None:
        data = backend.metric_data
        if backend is not self.backend or len(data) < self.seen:  # a new (reset) backend
            self.backend, self.seen, self.series = backend, 0, {}
        for datum in data[self.seen:]:
            key = (datum.namespace, datum.name, frozenset((d.name, d.value) for d in datum.dimensions))
            moment = datum.timestamp
            epoch = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
            self.series.setdefault(key, _Series()).add(epoch, datum)
        self.seen = len(data)

    def samples(self, metric: rules.MetricStat, starts: list[float], length: float) -> list[rules.Samples]:
        """The values and statistic sets of each period ``[start, start + length)`` of exactly this metric
        (a metric is its namespace, name and whole set of dimensions)."""
        key = (metric.namespace, metric.name, frozenset(metric.dimensions))
        values: list[list[float]] = [[] for _ in starts]
        sets: list[list[rules.StatisticSet]] = [[] for _ in starts]
        first = starts[0] if starts else 0.0
        for epoch, datum in (self.series.get(key) or _Series()).between(first, first + length * len(starts)):
            slot = math.floor((epoch - first) / length) if length else -1
            if not 0 <= slot < len(starts) or (metric.unit and datum.unit != metric.unit):
                continue
            if isinstance(datum, MetricAggregatedDatum):
                sets[slot].append(rules.StatisticSet(datum.sum, datum.min, datum.max, datum.sample_count))
            elif isinstance(datum, MetricDatum):
                values[slot].append(datum.value)
        return [rules.Samples(tuple(v), tuple(s)) for v, s in zip(values, sets, strict=True)]


class AlarmEvaluator:
    """Evaluates the alarms of every CloudWatch backend on CloudWatch's schedule, scaled by ``time_scale``.

    ``unsupported`` names the alarms it leaves alone and why (anomaly bands, metric math functions it does
    not evaluate, statistics such as tm99);
    ``evaluations`` counts evaluations (for measuring the cost); ``evaluate_now()`` runs one pass at once.
    """

    def __init__(self, time_scale: float = 1.0, clock=time.time, deliver: Callable[[], None] = lambda: None) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.time_scale = time_scale
        self.clock = clock
        self.deliver = deliver  # datapoints that have arrived by now reach the backend before an evaluation
        self.unsupported: dict[str, str] = {}
        self.evaluations = 0
        self._lock = threading.RLock()
        self._due: dict[Key, float] = {}
        self._indexes: dict[tuple[str, str], _MetricIndex] = {}
        self._wake, self._stopping = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None

    # lifecycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        with self._lock:
            for account, regions in list(cloudwatch_backends.items()):
                for region, backend in list(regions.items()):
                    for name in list(backend.alarms):
                        self._due[account, region, name] = self.clock()
        self._thread = threading.Thread(target=self._run, name="cloudwatch-alarms", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=60)
            if self._thread.is_alive():
                log.warning("the alarm evaluator is still delivering an event after 60 s")
            self._thread = None

    def interval(self, alarm: Alarm) -> float:
        """Real seconds between two evaluations of ``alarm``."""
        periods = [q.metric_stat.period for q in alarm.metric_data_queries if q.metric_stat]
        period = int(alarm.period or (periods[0] if periods else 60) or 60)
        return round((60 if period >= 60 else 10) * self.time_scale, 6)

    # scheduling ------------------------------------------------------------------------------------
    def schedule(self, backend: CloudWatchBackend, name: str, at: float) -> None:
        with self._lock:
            self._due[backend.account_id, backend.region_name, name] = at
        self._wake.set()

    def forget(self, backend: CloudWatchBackend, name: str) -> None:
        with self._lock:
            self._due.pop((backend.account_id, backend.region_name, name), None)

    def evaluate_now(self) -> None:
        """Evaluate every scheduled alarm now, whatever its schedule (a test or tool that cannot wait)."""
        with self._lock:
            due = list(self._due)
        self._evaluate(due, self.clock())

    def _run(self) -> None:
        while not self._stopping.is_set():
            now = self.clock()
            with self._lock:
                due = [key for key, at in self._due.items() if at <= now]
            if due:
                self._evaluate(due, now)
            with self._lock:
                upcoming = min(self._due.values(), default=now + 3600)
            self._wake.wait(timeout=max(0.0, upcoming - self.clock()))
            self._wake.clear()

    # evaluation ------------------------------------------------------------------------------------
    def _evaluate(self, keys: list[Key], now: float) -> None:
        changes = []
        with self._lock:
            for key in keys:
                account, region, name = key
                backend = cloudwatch_backends[account][region]
                alarm = backend.alarms.get(name)
                if alarm is None or alarm.rule is not None:
                    self._due.pop(key, None)  # deleted, or composite (evaluated when a child changes)
                    continue
                try:
                    alarm_changes = self._evaluate_metric_alarm(backend, alarm, now)
                except (rules.UnsupportedAlarm, KeyError, TypeError, ValueError) as exc:
                    if name not in self.unsupported:
                        log.warning("the emulator does not evaluate alarm %s: %s", name, exc)
                    self.unsupported[name] = str(exc)
                    self._due.pop(key, None)  # until PutMetricAlarm changes it
                    continue
                except Exception:  # one broken alarm must not stop the others (nor spin the loop)
                    log.exception("evaluating alarm %s failed", name)
                    self._due[key] = now + self.interval(alarm)
                    continue
                for change in alarm_changes:
                    changes.append(change)
                    changes.extend(self._evaluate_composites(backend, [alarm]))
        for change in changes:
            if self._stopping.is_set():  # the emulator is going away: no function may run after it
                break
            change.emit()

    def _evaluate_metric_alarm(self, backend: CloudWatchBackend, alarm: Alarm, now: float) -> list[_Change]:
        """Evaluate at every evaluation instant since the alarm was due, up to ``now``: CloudWatch evaluates on
        its schedule, so a period is judged even when this thread ran late (a loaded machine), at most as
        many instants back as the evaluation range reaches."""
        key = (backend.account_id, backend.region_name, alarm.name)
        settings = rules.MetricAlarm.from_api(_described(alarm))
        interval = round(settings.evaluation_interval * self.time_scale, 6)  # 60 x 0.05 is 3.0000000000000004
        latest = math.floor(now / interval)
        missed = max(0, latest - math.floor(self._due.get(key, now) / interval + 1e-9))  # 1e-9: float division
        self.deliver()
        index = self._indexes.setdefault((backend.account_id, backend.region_name), _MetricIndex())
        index.refresh(backend)
        changes = []
        for number in range(latest - min(missed, settings.evaluation_range - 1), latest + 1):
            at = now if number == latest else number * interval
            if change := self._judge(backend, alarm, settings, index, number * interval, at):
                changes.append(change)
        self._due[key] = latest * interval + interval
        self.unsupported.pop(alarm.name, None)
        return changes

    def _judge(self, backend: CloudWatchBackend, alarm: Alarm, settings: rules.MetricAlarm, index: _MetricIndex,
               tick: float, now: float) -> _Change | None:
        """One evaluation whose newest period ends at ``tick``."""
        self.evaluations += 1
        length = round(settings.period * self.time_scale, 6)
        starts = [tick - k * length for k in range(settings.evaluation_range, 0, -1)]
        moments = [datetime.fromtimestamp(start, UTC) for start in starts]
        if settings.queries:
            series = {q.id: [(rules.aggregate(q.stat.stat, samples) or (None,))[0]
                             for samples in index.samples(q.stat, starts, length)]
                      for q in settings.queries if q.stat}
            datapoints = rules.math_datapoints(settings, series, moments)
        else:
            metric = rules.MetricStat(alarm.namespace, alarm.metric_name,
                                      tuple((d.name, d.value) for d in alarm.dimensions), settings.statistic,
                                      settings.period, alarm.unit)
            datapoints = [rules.Datapoint(moment, *value) if (value := rules.aggregate(settings.statistic, samples))
                          else rules.Datapoint(moment)
                          for moment, samples in zip(moments, index.samples(metric, starts, length), strict=True)]
        verdict = rules.evaluate(settings, datapoints, alarm.state_value, datetime.fromtimestamp(now, UTC))
        if verdict is None or verdict.state == alarm.state_value:
            return None
        return _transition(backend, alarm, verdict.state, verdict.reason, verdict.reason_data)

    def _evaluate_composites(self, backend: CloudWatchBackend, changed: list[Alarm],
                             created: Alarm | None = None) -> list[_Change]:
        """Re-evaluate the composite alarms that refer to a changed alarm (and those that refer to them)."""
        changes = []
        composites = [a for a in backend.alarms.values() if a.rule is not None]
        for _ in range(len(composites) + 1):  # bounded: CloudWatch stops evaluating a cycle of composites
            changed_now = []
            for composite in composites:
                references = set(rules.rule_references(composite.rule))
                trigger = next((a for a in changed if references & {a.name, a.alarm_arn}), None)
                if composite is not created and trigger is None:
                    continue
                change = _evaluate_composite(backend, composite, created=composite is created, trigger=trigger)
                if change:
                    changes.append(change)
                    changed_now.append(composite)
            created, changed = None, changed_now
            if not changed:
                break
        return changes


@dataclass
class _Change:
    account: str
    region: str
    arn: str
    detail: dict

    def emit(self) -> None:
        fidelity.emit(self.account, self.region, SOURCE, DETAIL_TYPE, self.detail, resources=[self.arn])


def _transition(backend: CloudWatchBackend, alarm: Alarm, state: str, reason: str,
                reason_data: str | None) -> _Change:
    """Set the state through the backend, record it for DescribeAlarmHistory, and describe the event."""
    previous = _state_of(alarm)
    alarm.update_state(reason, reason_data, state)
    return _recorded(backend, alarm, previous)


def _recorded(backend: CloudWatchBackend, alarm: Alarm, previous: dict) -> _Change:
    alarm.state_transitioned_timestamp = alarm.state_updated_timestamp
    state, current = alarm.state_value, _state_of(alarm)
    _history(backend).append({
        "AlarmName": alarm.name, "AlarmType": _type(alarm), "Timestamp": alarm.state_updated_timestamp,
        "HistoryItemType": "StateUpdate", "HistorySummary": f"Alarm updated from {previous['value']} to {state}",
        "HistoryData": json.dumps({"version": "1.0", "oldState": _history_state(previous),
                                   "newState": _history_state(current)}, separators=(",", ":")),
    })
    return _Change(backend.account_id, backend.region_name, alarm.alarm_arn, {
        "alarmName": alarm.name, "state": current, "previousState": previous, "configuration": _configuration(alarm),
    })


def _evaluate_composite(backend: CloudWatchBackend, composite: Alarm, *, created: bool,
                        trigger: Alarm | None) -> _Change | None:
    alarms = backend.alarms
    states = {key: a.state_value for a in alarms.values() for key in (a.name, a.alarm_arn)}
    state = rules.ALARM if rules.rule_holds(composite.rule, states) else rules.OK
    if state == composite.state_value:
        return None
    references = [alarms.get(ref) or next((a for a in alarms.values() if a.alarm_arn == ref), None)
                  for ref in rules.rule_references(composite.rule)]
    references = [a for a in references if a is not None]
    triggering = [a for a in references if a.state_value == rules.ALARM] if state == rules.ALARM else []
    if created or trigger is None:
        reason = f"{composite.alarm_arn} was created and its alarm rule evaluates to {state}"
    else:
        moment = trigger.state_updated_timestamp
        reason = (f"{trigger.alarm_arn} transitioned to {trigger.state_value} at "
                  f"{moment:%A} {moment.day} {moment:%B, %Y %H:%M:%S} UTC")
    data = {"triggeringAlarms": [{"arn": a.alarm_arn, "state": {
        "value": a.state_value, "timestamp": rules.timestamp(a.state_updated_timestamp)}}
        for a in (triggering or references)]}
    return _transition(backend, composite, state, reason, json.dumps(data, separators=(",", ":")))


def _state_of(alarm: Alarm) -> dict:
    state = {"value": alarm.state_value, "reason": alarm.state_reason}
    if alarm.state_reason_data and alarm.state_reason_data != "{}":
        state["reasonData"] = alarm.state_reason_data
    state["timestamp"] = rules.timestamp(alarm.state_updated_timestamp)
    return state


def _history_state(state: dict) -> dict:
    entry = {"stateValue": state["value"], "stateReason": state["reason"]}
    if "reasonData" in state:
        entry["stateReasonData"] = json.loads(state["reasonData"])
    return entry


def _configuration(alarm: Alarm) -> dict:
    """The event's ``configuration``: the alarm rule, or the metric as a ``metrics`` list."""
    configuration = {"description": alarm.description} if alarm.description else {}
    if alarm.rule is not None:
        return configuration | {"alarmRule": alarm.rule}
    if alarm.metric_data_queries:
        return configuration | {"metrics": [_event_metric(q) for q in alarm.metric_data_queries]}
    stat = _event_stat(alarm.namespace, alarm.metric_name, alarm.dimensions, alarm.period,
                       alarm.extended_statistic or alarm.statistic, alarm.unit)
    return configuration | {"metrics": [{"id": str(uuid.uuid5(uuid.NAMESPACE_URL, alarm.alarm_arn)),
                                         "metricStat": stat, "returnData": True}]}


def _event_stat(namespace, name, dimensions, period, stat, unit) -> dict:
    described = {"metric": {"dimensions": {d.name: d.value for d in dimensions}, "name": name,
                            "namespace": namespace}, "period": int(period), "stat": stat}
    return described | ({"unit": unit} if unit else {})


def _event_metric(query) -> dict:
    """One entry of a math alarm's ``metrics`` as the guide's metric math event shows it."""
    entry = {"id": query.id}
    if query.metric_stat:
        stat = query.metric_stat
        entry["metricStat"] = _event_stat(stat.metric.namespace, stat.metric.metric_name, stat.metric.dimensions,
                                          stat.period, stat.stat, stat.unit)
    else:
        entry["expression"] = query.expression
    if query.label:
        entry["label"] = query.label
    return entry | {"returnData": query.return_data not in (False, "false", "False")}


def _described(alarm: Alarm) -> dict:
    return {
        "Namespace": alarm.namespace,
        "Period": alarm.period, "EvaluationPeriods": alarm.evaluation_periods, "Threshold": alarm.threshold,
        "ComparisonOperator": alarm.comparison_operator, "Statistic": alarm.statistic,
        "ExtendedStatistic": alarm.extended_statistic, "DatapointsToAlarm": alarm.datapoints_to_alarm,
        "TreatMissingData": alarm.treat_missing_data, "Unit": alarm.unit,
        "EvaluateLowSampleCountPercentile": alarm.evaluate_low_sample_count_percentile,
        "ThresholdMetricId": alarm.threshold_metric_id,
        "Metrics": [{"Id": q.id, "Expression": q.expression, "Label": q.label, "ReturnData": q.return_data,
                     **({"MetricStat": {"Period": q.metric_stat.period, "Stat": q.metric_stat.stat,
                                        "Unit": q.metric_stat.unit, "Metric": {
                                            "Namespace": q.metric_stat.metric.namespace,
                                            "MetricName": q.metric_stat.metric.metric_name,
                                            "Dimensions": [{"Name": d.name, "Value": d.value}
                                                           for d in q.metric_stat.metric.dimensions]}}}
                        if q.metric_stat else {})} for q in alarm.metric_data_queries],
    }


def _type(alarm: Alarm) -> str:
    return "CompositeAlarm" if alarm.rule is not None else "MetricAlarm"


def _history(backend: CloudWatchBackend) -> list[dict]:
    return backend.__dict__.setdefault("_emulator_alarm_history", [])


# moto patches ---------------------------------------------------------------------------------------
def patches(evaluator: AlarmEvaluator) -> list[Patch]:
    """Alarm states, history and composite alarms as CloudWatch keeps them (fidelity patches of moto's
    CloudWatch); the evaluator is told of every alarm created, set or deleted."""
    original = {
        "put_metric_alarm": patching.original(CloudWatchBackend, "put_metric_alarm"),
        "set_alarm_state": patching.original(CloudWatchBackend, "set_alarm_state"),
        "delete_alarms": patching.original(CloudWatchBackend, "delete_alarms"),
        "describe_alarms": patching.original(CloudWatchResponse, "describe_alarms"),
    }

    # AWS (PutMetricAlarm, PutCompositeAlarm): "When this operation creates an alarm, the alarm state is
    # immediately set to INSUFFICIENT_DATA. The alarm is then evaluated and its state is set appropriately.
    # ... When you update an existing alarm, its state is left unchanged." moto starts every alarm as OK.
    def put_metric_alarm(self, name, *args, **kwargs):
        with evaluator._lock:
            before = self.alarms.get(name)
            alarm = original["put_metric_alarm"](self, name, *args, **kwargs)
            if before is not None:
                for attribute in ("state_value", "state_reason", "state_reason_data", "state_updated_timestamp",
                                  "history"):
                    setattr(alarm, attribute, getattr(before, attribute))
                alarm.state_transitioned_timestamp = getattr(before, "state_transitioned_timestamp",
                                                             before.state_updated_timestamp)
            else:
                alarm.state_value, alarm.state_reason, alarm.state_reason_data = "INSUFFICIENT_DATA", \
                    INITIAL_REASON, None
                alarm.state_transitioned_timestamp = alarm.state_updated_timestamp
            changes = evaluator._evaluate_composites(self, [], created=alarm) if alarm.rule is not None and \
                before is None else []
        for change in changes:
            change.emit()
        if alarm.rule is None:
            evaluator.schedule(self, name, evaluator.clock())
        return alarm

    # AWS: SetAlarmState is a state change like any other (event, history, composite alarms); "this temporary
    # state change lasts only until the next alarm comparison occurs".
    def set_alarm_state(self, alarm_name, reason, reason_data, state_value):
        with evaluator._lock:
            alarm = self.alarms.get(alarm_name)
            previous = _state_of(alarm) if alarm else None
            original["set_alarm_state"](self, alarm_name, reason, reason_data, state_value)  # validates, sets
            if state_value == previous["value"]:
                return None
            changes = [_recorded(self, alarm, previous)]
            changes += evaluator._evaluate_composites(self, [alarm])
            if alarm.rule is None:
                interval = evaluator.interval(alarm)
                evaluator.schedule(self, alarm_name, math.ceil((evaluator.clock() + interval) / interval) * interval)
        for change in changes:
            change.emit()
        return None

    def delete_alarms(self, alarm_names):
        with evaluator._lock:
            original["delete_alarms"](self, alarm_names)
            for name in alarm_names:
                evaluator.forget(self, name)

    # AWS (DescribeAlarms): "If you omit this parameter [AlarmTypes], only metric alarms are returned, even
    # if composite alarms exist in the account."
    def describe_alarms(self):
        result = original["describe_alarms"](self).result
        types = self._get_param("AlarmTypes") or ["MetricAlarm"]
        return ActionResult({kind: (result[kind] if kind[:-1] in types else [])
                             for kind in ("MetricAlarms", "CompositeAlarms")})

    def put_composite_alarm(self):
        rule = self._get_param("AlarmRule")
        try:
            rules.rule_holds(rule or "", {})
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        self.cloudwatch_backend.put_metric_alarm(
            name=self._get_param("AlarmName"), namespace=None, metric_name=None, comparison_operator=None,
            evaluation_periods=None, period=None, threshold=None, statistic=None,
            description=self._get_param("AlarmDescription"), dimensions=[],
            alarm_actions=self._get_param("AlarmActions", []), ok_actions=self._get_param("OKActions", []),
            insufficient_data_actions=self._get_param("InsufficientDataActions", []),
            actions_enabled=self._get_bool_param("ActionsEnabled"), rule=rule, tags=self._get_param("Tags", []),
        )
        return EmptyResult()

    def describe_alarm_history(self):
        name = self._get_param("AlarmName")
        types = self._get_param("AlarmTypes") or ["MetricAlarm"]
        kind = self._get_param("HistoryItemType")
        start, end = self._get_param("StartDate"), self._get_param("EndDate")
        items = [item for item in _history(self.cloudwatch_backend)
                 if (not name or item["AlarmName"] == name) and item["AlarmType"] in types
                 and (not kind or item["HistoryItemType"] == kind)
                 and (not start or item["Timestamp"] >= _naive(start))
                 and (not end or item["Timestamp"] <= _naive(end))]
        items.reverse()
        if self._get_param("ScanBy") == "TimestampAscending":
            items.reverse()
        return ActionResult({"AlarmHistoryItems": items[:int(self._get_param("MaxRecords") or 100)]})

    return [
        Patch(CloudWatchBackend, "put_metric_alarm", put_metric_alarm, _PUT_METRIC_ALARM,
              why="a new alarm starts in INSUFFICIENT_DATA and is evaluated; an update keeps the state"),
        Patch(CloudWatchBackend, "set_alarm_state", set_alarm_state,
              ("self", "alarm_name", "reason", "reason_data", "state_value"),
              why="SetAlarmState is a state change (event, history, composites) until the next evaluation"),
        Patch(CloudWatchBackend, "delete_alarms", delete_alarms, ("self", "alarm_names"),
              why="a deleted alarm is no longer evaluated"),
        Patch(CloudWatchResponse, "describe_alarms", describe_alarms, ("self",), uses=("_get_param",),
              why="composite alarms only when AlarmTypes asks for them"),
        Patch(CloudWatchResponse, "put_composite_alarm", put_composite_alarm, None, adds=True,
              uses=("_get_param", "_get_bool_param", "cloudwatch_backend"), why="PutCompositeAlarm"),
        Patch(CloudWatchResponse, "describe_alarm_history", describe_alarm_history, None, adds=True,
              uses=("_get_param", "cloudwatch_backend"), why="DescribeAlarmHistory"),
    ]


_PUT_METRIC_ALARM = (
    "self", "name", "namespace", "metric_name", "comparison_operator", "evaluation_periods", "period", "threshold",
    "statistic", "description", "dimensions", "alarm_actions", "metric_data_queries", "datapoints_to_alarm",
    "extended_statistic", "ok_actions", "insufficient_data_actions", "unit", "actions_enabled", "treat_missing_data",
    "evaluate_low_sample_count_percentile", "threshold_metric_id", "rule", "tags",
)
"""moto's parameters, all of them: put_composite_alarm calls it by keyword, the replacement passes them on."""


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment

