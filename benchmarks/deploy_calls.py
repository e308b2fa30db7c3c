"""Print (not assert) what a deployment costs: AWS API calls per task, state transitions, history events.

    .venv/bin/python benchmarks/deploy_calls.py

Runs on the emulator: an AllAtOnce deploy, then a 10 % canary checked five times before promotion
(Canary10Percent5Seconds with 1 s checks), one watched alarm each.
"""

from __future__ import annotations

from collections import Counter

from deployer.local import sample
from deployer.local.emulator import Emulator

RUNS = [("AllAtOnce", "AllAtOnce"), ("Canary10Percent5Seconds, 1 s checks", "Canary10Percent5Seconds")]


def report(emulator: Emulator, title: str, execution) -> None:
    calls = emulator.api.calls_of(execution.arn)
    states = execution.states_entered()
    tasks = [s for s in states if s in emulator.function_arns]
    print(f"\n== {title}: {execution.status} in {execution.output.get('durationSeconds')} s")
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
    print("   path: " + " → ".join(states))


def main() -> None:
    with Emulator() as emulator:
        fn = sample.create_function(emulator)
        ecr = emulator.client("ecr")
        for index, (title, strategy) in enumerate(RUNS, start=2):
            digest = sample.push_image(ecr, fn.name, f"{fn.name}:v{index}", tag=f"v{index}")
            execution = emulator.run({"function": fn.name, "image": fn.image(digest), "strategy": strategy,
                                      "checkIntervalSeconds": 1, "alarms": [fn.alarm]})
            report(emulator, title, execution)


if __name__ == "__main__":
    main()
