"""EventBridge scheduled rules, run: moto stores a rule's ``rate(…)`` but never fires it.

Each ``rate(N unit)`` rule of the account's buses sends its targets a "Scheduled Event" every N units
(times the emulator's ``time_scale``), the first one period after the runner starts, as EventBridge does
after a rule is created. Cron expressions are not run (the deployer's stack uses a rate).
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from datetime import UTC, datetime

from moto.events.models import events_backends

from deployer.local.fidelity import deliver_later

log = logging.getLogger(__name__)

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_SECONDS = {"minute": 60, "hour": 3600, "day": 86_400}


def period_of(expression: str) -> float | None:
    """Seconds between runs of a ``rate(…)`` schedule expression (None for cron or anything else)."""
    match = _RATE.match(expression or "")
    return int(match[1]) * _SECONDS[match[2].removesuffix("s")] if match else None


class Schedules:
    """A thread that fires the scheduled rules of one account and Region until stopped."""

    def __init__(self, account: str, region: str, *, time_scale: float = 1.0) -> None:
        self.account, self.region, self.time_scale = account, region, time_scale
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="eventbridge-schedules", daemon=True)
        self._due: dict[str, float] = {}  # rule ARN: when it next fires (monotonic)

    def __enter__(self) -> Schedules:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            for rule in self._scheduled():
                period = period_of(rule.scheduled_expression) * self.time_scale
                due = self._due.setdefault(rule.arn, now + period)
                if now >= due:
                    self._due[rule.arn] = due + period
                    self._fire(rule)
            self._stop.wait(min([due - now for due in self._due.values()] + [0.5]) if self._due else 0.5)

    def _scheduled(self) -> list:
        backend = events_backends[self.account][self.region]
        return [rule for bus in list(backend.event_buses.values()) for rule in list(bus.rules.values())
                if rule.state == "ENABLED" and period_of(rule.scheduled_expression or "")]

    def _fire(self, rule) -> None:
        event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
                 "account": self.account, "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "region": self.region, "resources": [rule.arn], "detail": {}}
        for target in rule.targets:
            deliver_later(self.region, target, event)
        log.debug("fired %s", rule.name)
