"""Print (not assert) what a deployment costs: AWS API calls per task, state transitions, history events.

    .venv/bin/python benchmarks/deploy_calls.py

Runs on the emulator, waits at 1/100: an AllAtOnce deploy, then a 10 % canary (Canary10Percent5Minutes,
checked every minute) while clients call the alias, so each check reads the alarms and, once the window's lag
has passed, both versions' metrics; one watched alarm each.
"""

from __future__ import annotations

import threading
from collections import Counter

from deployer.local import sample
from deployer.local.emulator import Emulator

RUNS = [("AllAtOnce", "AllAtOnce"), ("Canary10Percent5Minutes, 60 s checks", "Canary10Percent5Minutes")]
TIME_SCALE = 0.01  # a minute is 0.6 s; the window's lag (120 s) 1.2 s
CALLS_PER_SECOND = 300


def report(emulator: Emulator, title: str, execution) -> None:
    calls = emulator.api.calls_of(execution.arn)
    states = execution.states_entered()
    tasks = [s for s in states if s in emulator.function_arns]
    print(f"\n== {title}: {execution.status} in {execution.output.get('durationSeconds')} s "
          f"(waits at 1/{1 / TIME_SCALE:.0f})")
    print(f"   state transitions: {len(states)}  (task invocations: {len(tasks)}, history events: "
          f"{len(execution.history)})")
    notifications = sum(c.operation == "PutEvents" for c in calls)
    print(f"   AWS API calls by the handlers: {len(calls)}  (mutating: {sum(c.mutating for c in calls)}; "
          f"notifications, events:PutEvents: {notifications})")
    per_state: dict[str, Counter] = {}
    for call in calls:
        per_state.setdefault(call.task, Counter())[f"{call.service}:{call.operation}"] += 1
    for state in dict.fromkeys(tasks):
        made = per_state.get(state, Counter())
        listed = ", ".join(f"{op} x{n}" if n > 1 else op for op, n in made.items()) or "(none)"
        print(f"   {state:<18} x{tasks.count(state):<3} {listed}")
    if analysis := (execution.output or {}).get("analysis"):
        print(f"   last verdict: {analysis['verdict']} ({analysis['rule']}): {analysis['reason']}")
    print("   path: " + " → ".join(states))


def traffic(emulator: Emulator, fn: sample.SampleFunction, stop: threading.Event) -> threading.Thread:
    """Clients calling the alias, about CALLS_PER_SECOND a second, until ``stop``."""
    def call() -> None:
        lam = emulator.client("lambda")
        while not stop.wait(1 / CALLS_PER_SECOND):
            lam.invoke(FunctionName=fn.name, Qualifier=fn.alias, Payload=b"{}")

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread


def main() -> None:
    with Emulator(time_scale=TIME_SCALE) as emulator:
        fn = sample.create_function(emulator)
        stop = threading.Event()
        clients = traffic(emulator, fn, stop)
        for index, (title, strategy) in enumerate(RUNS, start=2):
            digest = sample.push_version(emulator, fn, f"v{index}")
            execution = emulator.run({"function": fn.name, "image": fn.image(digest), "strategy": strategy,
                                      "checkIntervalSeconds": 60, "alarms": [fn.alarm],
                                      "analysis": {"maxExtensions": 10}}, timeout=120)
            report(emulator, title, execution)
        stop.set()
        clients.join()


if __name__ == "__main__":
    main()
