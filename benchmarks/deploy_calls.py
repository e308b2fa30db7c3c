"""Print (not assert) what a deployment costs: AWS API calls per task, state transitions, history events.

    .venv/bin/python benchmarks/deploy_calls.py

Runs on the emulator: an AllAtOnce deploy, then a 10 % canary checked five times before promotion
(Canary10Percent5Seconds with 1 s checks), one watched alarm each; then the same canary with pre- and
post-traffic checks (docs/checks.md): three synthetic invocations before traffic, a hook after the shift and
one after promotion.
"""

from __future__ import annotations

import json
from collections import Counter

import statemachine
from deployer.local import sample
from deployer.local.emulator import Emulator

# The function each Task state invokes (PromoteThenCheck is Promote's, RestoreVersion is Rollback's).
FUNCTION_OF = {name: state["Parameters"]["FunctionName"][2:].removesuffix("FunctionArn}")
               for name, state in json.loads(statemachine.DEFINITION.read_text())["States"].items()
               if state["Type"] == "Task" and "FunctionName" in state.get("Parameters", {})}

HOOK = "orders-smoke"
CHECKS = {"preTraffic": {"invocations": 3, "expect": {"statusCode": 200}},
          "hooks": {"afterShift": HOOK, "afterPromote": HOOK}}
RUNS = [("AllAtOnce", "AllAtOnce", {}), ("Canary10Percent5Seconds, 1 s checks", "Canary10Percent5Seconds", {}),
        ("the same canary with preTraffic and two hooks", "Canary10Percent5Seconds", CHECKS)]


def report(emulator: Emulator, title: str, execution) -> None:
    calls = emulator.api.calls_of(execution.arn)
    states = execution.states_entered()
    tasks = [s for s in states if s in FUNCTION_OF]
    print(f"\n== {title}: {execution.status} in {execution.output.get('durationSeconds')} s")
    print(f"   state transitions: {len(states)}  (task invocations: {len(tasks)}, history events: "
          f"{len(execution.history)})")
    notifications = sum(c.operation == "PutEvents" for c in calls)
    print(f"   AWS API calls by the handlers: {len(calls)}  (mutating: {sum(c.mutating for c in calls)}; "
          f"notifications, events:PutEvents: {notifications})")
    per_state: dict[str, Counter] = {}
    for call in calls:
        per_state.setdefault(call.task, Counter())[f"{call.service}:{call.operation}"] += 1
    for state in dict.fromkeys(FUNCTION_OF[s] for s in tasks):
        made = per_state.get(state, Counter())
        listed = ", ".join(f"{op} x{n}" if n > 1 else op for op, n in made.items()) or "(none)"
        runs = sum(FUNCTION_OF[s] == state for s in tasks)
        print(f"   {state:<18} x{runs:<3} {listed}")
    print("   path: " + " → ".join(states))


def main() -> None:
    with Emulator() as emulator:
        fn = sample.create_function(emulator)
        sample.create_python_function(emulator, HOOK, "def handler(event, context):\n    return {'status': 'pass'}\n")
        for index, (title, strategy, checks) in enumerate(RUNS, start=2):
            digest = sample.push_version(emulator, fn, f"v{index}")
            execution = emulator.run({"function": fn.name, "image": fn.image(digest), "strategy": strategy,
                                      "checkIntervalSeconds": 1, "alarms": [fn.alarm], **checks})
            report(emulator, title, execution)


if __name__ == "__main__":
    main()
