"""Print (not assert) how long traffic stays on a broken canary after its alarm goes to ALARM.

    PYTHONPATH=. .venv/bin/python benchmarks/alarm_to_restore.py [runs]

On the emulator, with real evaluation: the new image fails a quarter of its calls (sample.FAILING), clients
call the alias (about 200 calls a second), the error alarm evaluates from Lambda's metrics (every 3 s: time
scale 1/20) and its state-change event reaches AlarmFired, whose rollback request stops the deployment and
restores the alias.
``checkIntervalSeconds`` is 300 (15 s here), so a check cannot be what restored it; each run says whether one
ran. Times are wall-clock seconds from the alarm's StateUpdatedTimestamp: to the rollback execution's start
(event delivery and AlarmFired), and to the first GetAlias that shows all traffic on the stable version. AWS
adds what the emulator does not model: EventBridge's delivery latency and Lambda cold starts.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from datetime import UTC, datetime

from deployer.local import sample
from deployer.local.emulator import Emulator
from handlers.domain import alarm_events

TIME_SCALE = 0.05
CANARY = {"steps": [{"weight": 50, "bakeSeconds": 3000}]}


def one_run(emulator: Emulator, index: int) -> tuple[float, float, bool]:
    fn = sample.create_function(emulator, f"orders-{index}")
    broken = sample.push_version(emulator, fn, "v2", sample.FAILING)
    lam, cloudwatch = emulator.client("lambda"), emulator.client("cloudwatch")
    arn = emulator.start_execution({"function": fn.name, "image": fn.image(broken), "strategy": CANARY,
                                    "checkIntervalSeconds": 300, "alarms": [fn.alarm]})
    pause = threading.Event()
    while not (lam.get_alias(FunctionName=fn.name, Name=fn.alias).get("RoutingConfig") or {}).get(
            "AdditionalVersionWeights"):
        pause.wait(0.01)
    restored: list[datetime] = []

    def watch() -> None:  # polls the alias every 5 ms until the weights are gone
        while not restored:
            if not (lam.get_alias(FunctionName=fn.name, Name=fn.alias).get("RoutingConfig") or {}).get(
                    "AdditionalVersionWeights"):
                restored.append(datetime.now(UTC))
            pause.wait(0.005)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    deadline = time.monotonic() + 300 * TIME_SCALE
    while not restored and time.monotonic() < deadline:  # about 200 calls a second: the clients are not the
        lam.invoke(FunctionName=fn.name, Qualifier=fn.alias, Payload=b"{}")  # deployer's, so leave it the CPU
        pause.wait(0.005)
    watcher.join(timeout=5)
    if not restored:
        raise RuntimeError(f"run {index}: traffic was not restored within the check interval")
    fired = cloudwatch.describe_alarms(AlarmNames=[fn.alarm])["MetricAlarms"][0]["StateUpdatedTimestamp"]
    rollback = emulator.wait(f"{arn.rsplit(':', 1)[0]}:{alarm_events.rollback_name(fn.name, arn)}")
    started = rollback.history[0]["timestamp"]
    checked = "CheckHealth" in emulator.wait(arn).states_entered()
    return (started - fired).total_seconds(), (restored[0] - fired).total_seconds(), checked


def main(runs: int) -> None:
    print(f"alarm to restored, {runs} runs (alarm evaluated from failing calls; checks every 300 s = "
          f"{300 * TIME_SCALE:g} s here)\n")
    print(f"{'run':>4} {'to rollback start':>18} {'to alias restored':>18}  a check ran")
    restore_times = []
    with Emulator(time_scale=TIME_SCALE, seed=5) as emulator:
        for index in range(runs):
            to_start, to_restore, checked = one_run(emulator, index)
            restore_times.append(to_restore)
            print(f"{index + 1:>4} {to_start:>16.3f} s {to_restore:>16.3f} s  {'yes' if checked else 'no'}")
    print(f"\nalarm → alias restored: median {statistics.median(restore_times):.3f} s, "
          f"max {max(restore_times):.3f} s (a check would have come up to 300 s after the alarm)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
