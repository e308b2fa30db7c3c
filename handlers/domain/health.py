"""Health verdicts from CloudWatch alarm states, no AWS calls."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

ALARM = "ALARM"


@dataclass(frozen=True)
class Verdict:
    healthy: bool
    firing: tuple[str, ...] = ()  # watched alarms in ALARM
    missing: tuple[str, ...] = ()  # watched alarms that no longer exist: no signal is no safety

    @property
    def reason(self) -> str:
        parts = []
        if self.firing:
            parts.append("alarm " + ", ".join(self.firing) + " in ALARM")
        if self.missing:
            parts.append("alarm " + ", ".join(self.missing) + " no longer exists")
        return "; ".join(parts) or "all watched alarms OK"


def judge(watched: Iterable[str], states: Mapping[str, str], ignored: Iterable[str] = ()) -> Verdict:
    """Unhealthy when a watched alarm is in ALARM or has vanished; ``ignored`` alarms do not count.

    ``INSUFFICIENT_DATA`` is healthy: a new version with little traffic often has no datapoints yet.
    """
    skip = set(ignored)
    considered = [name for name in watched if name not in skip]
    firing = tuple(name for name in considered if states.get(name) == ALARM)
    missing = tuple(name for name in considered if name not in states)
    return Verdict(healthy=not firing and not missing, firing=firing, missing=missing)


def already_firing(states: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(sorted(name for name, state in states.items() if state == ALARM))
