"""Health verdicts from CloudWatch alarm states, no AWS calls."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from handlers.domain.analysis import COUNTS_HEALTHY, COUNTS_INCONCLUSIVE, COUNTS_UNHEALTHY, INSUFFICIENT_DATA_COUNTS

ALARM = "ALARM"
INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


@dataclass(frozen=True)
class Verdict:
    healthy: bool  # False: roll back now
    firing: tuple[str, ...] = ()  # watched alarms in ALARM
    missing: tuple[str, ...] = ()  # watched alarms that no longer exist: no signal is no safety
    without_data: tuple[str, ...] = ()  # watched alarms in INSUFFICIENT_DATA, counted as ``insufficient_data`` says
    insufficient_data: str = COUNTS_INCONCLUSIVE

    @property
    def inconclusive(self) -> bool:
        """Nothing says stop, but an alarm without data cannot say go either (``insufficientData``)."""
        return self.healthy and bool(self.without_data) and self.insufficient_data == COUNTS_INCONCLUSIVE

    @property
    def reason(self) -> str:
        parts = []
        if self.firing:
            parts.append("alarm " + ", ".join(self.firing) + " in ALARM")
        if self.missing:
            parts.append("alarm " + ", ".join(self.missing) + " no longer exists")
        if self.without_data and self.insufficient_data != COUNTS_HEALTHY:
            parts.append("alarm " + ", ".join(self.without_data) + " has insufficient data")
        return "; ".join(parts) or "all watched alarms OK"


def judge(watched: Iterable[str], states: Mapping[str, str], ignored: Iterable[str] = (), *,
          insufficient_data: str = COUNTS_INCONCLUSIVE) -> Verdict:
    """Unhealthy when a watched alarm is in ALARM or has vanished; ``ignored`` alarms do not count.

    An alarm in ``INSUFFICIENT_DATA`` (no datapoints in its evaluation range: often a new version with little
    traffic) counts as the request's ``analysis.insufficientData`` says: ``inconclusive`` (the default: it
    neither stops the bake nor lets a step end on it), ``unhealthy`` or ``healthy``. The alarm's owner already
    chose what missing datapoints mean with its TreatMissingData; an alarm in INSUFFICIENT_DATA is one whose
    owner left that open ("Configuring how CloudWatch alarms treat missing data", CloudWatch user guide).
    """
    if insufficient_data not in INSUFFICIENT_DATA_COUNTS:
        raise ValueError(f"insufficient_data {insufficient_data!r}")
    skip = set(ignored)
    considered = [name for name in watched if name not in skip]
    firing = tuple(name for name in considered if states.get(name) == ALARM)
    missing = tuple(name for name in considered if name not in states)
    without_data = tuple(name for name in considered if states.get(name) == INSUFFICIENT_DATA)
    stop = bool(firing or missing or (without_data and insufficient_data == COUNTS_UNHEALTHY))
    return Verdict(healthy=not stop, firing=firing, missing=missing, without_data=without_data,
                   insufficient_data=insufficient_data)


def already_firing(states: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(sorted(name for name, state in states.items() if state == ALARM))
