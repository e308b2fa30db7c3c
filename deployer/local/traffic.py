"""A steady stream of invocations of a function (an alias, usually), as its clients would send them.

For the demo and the tests: ``with Traffic(lam, "orders-api", "live", rate=50, seconds=60):`` invokes the alias
``rate`` times a second from a background thread until the block ends, or by itself after ``seconds`` (or
``count`` requests), so it never outlives what started it by more than that. Each answer is tallied by the
version that ran it (``ExecutedVersion``) and whether it failed (``FunctionError``): what the clients saw.
What Lambda's metrics say is CloudWatch's to tell.

Invocations are not control-plane requests (Lambda's 15 requests/s quota excludes them, "Lambda quotas"), and
a version's concurrency is far above what one paced caller can use: the stream is paced, not a flood. A
request that fails (a throttle, an endpoint gone) is counted in ``refused``; an endpoint that cannot be
reached at all (the emulator stopped) ends the stream.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError


@dataclass(frozen=True)
class Tally:
    invocations: int
    errors: int


class Traffic:
    """Invokes ``function`` (qualified by ``qualifier``) ``rate`` times a second, for at most ``seconds``."""

    def __init__(self, lam, function: str, qualifier: str | None = "live", *, rate: float = 20.0,
                 seconds: float = 60.0, count: int | None = None, payload: dict | None = None) -> None:
        if rate <= 0 or seconds <= 0:
            raise ValueError("rate and seconds must be positive")
        self._lam, self.function, self.qualifier = lam, function, qualifier
        self.rate, self.seconds, self.count = rate, seconds, count
        self._payload = json.dumps(payload or {}).encode()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._invocations: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()
        self.refused = 0
        self.sent = 0
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Traffic:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> Traffic:
        self._thread = threading.Thread(target=self._run, name=f"traffic-{self.function}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """End the stream and wait (bounded) for the request in flight."""
        self._stopping.set()
        if self._thread:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def by_version(self) -> dict[str, Tally]:
        """Invocations and errors per version that ran them, as the answers said."""
        with self._lock:
            return {version: Tally(calls, self._errors[version])
                    for version, calls in sorted(self._invocations.items())}

    def _run(self) -> None:
        started = time.monotonic()
        deadline, interval = started + self.seconds, 1 / self.rate
        due = started
        while not self._stopping.is_set() and time.monotonic() < deadline:
            if self.count is not None and self.sent >= self.count:
                return
            if not self._invoke():
                return
            # Paced from the start, not from each answer: slow answers do not lower the rate, but a stream that
            # fell behind (a busy machine) does not burst to catch up either.
            due = max(due + interval, time.monotonic() - interval)
            self._stopping.wait(max(0.0, due - time.monotonic()))

    def _invoke(self) -> bool:
        params = {"FunctionName": self.function, "Payload": self._payload}
        if self.qualifier:
            params["Qualifier"] = self.qualifier
        self.sent += 1
        try:
            answer = self._lam.invoke(**params)
            answer["Payload"].read()
        except ClientError:
            with self._lock:
                self.refused += 1
            return True
        except BotoCoreError:  # no endpoint (or no credentials): nothing is listening any more
            with self._lock:
                self.refused += 1
            return False
        version = answer.get("ExecutedVersion", "$LATEST")
        with self._lock:
            self._invocations[version] += 1
            if answer.get("FunctionError"):
                self._errors[version] += 1
        return True
