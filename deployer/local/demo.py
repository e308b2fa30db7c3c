"""``lambda-deployer local demo``: the product's main job, on the emulator, in under a minute.

A sample function runs v1. Deploy v2 with a canary: it succeeds. Deploy v3 and let its error alarm go
off during the bake: it rolls back by itself. Each step is printed as it happens.
"""

from __future__ import annotations

import sys
import threading
import time

from deployer.executions import follow
from deployer.inspect import live_state
from deployer.local import sample
from deployer.local.emulator import Emulator
from handlers.domain.images import short

CANARY = "Canary20Percent3Seconds"


def run(out=sys.stdout) -> int:
    def say(text: str = "") -> None:
        print(text, file=out, flush=True)

    started = time.monotonic()
    say("lambda-deployer demo: the deployment state machine and its handlers, on the local emulator\n")
    with Emulator(quotas=True) as emulator:  # the account's request quotas, as in AWS
        fn = sample.create_function(emulator)
        ecr, lam, sfn = emulator.client("ecr"), emulator.client("lambda"), emulator.client("stepfunctions")
        v2 = sample.push_image(ecr, fn.name, f"{fn.name}:v2", tag="v2")
        v3 = sample.push_image(ecr, fn.name, f"{fn.name}:v3", tag="v3")

        def state() -> str:
            return live_state(lam, ecr, fn.name, fn.alias).describe()

        say(f"sample function {fn.name}: {state()}")
        say(f"alarm {fn.alarm}: OK; images v2 {short(v2)} and v3 {short(v3)} pushed\n")

        outcomes = []
        for label, digest, alarm_goes_off in (("v2", v2, False), ("v3", v3, True)):
            # Nothing calls the sample function here, so a canary analysis would have no calls to judge: alarms
            # alone decide (docs/canary-analysis.md).
            request = {"function": fn.name, "image": fn.image(digest), "strategy": CANARY,
                       "checkIntervalSeconds": 1, "alarms": [fn.alarm], "analysis": False}
            say(f"deploy {label} with {CANARY}, checking {fn.alarm} every second"
                + (" — its error alarm will go off during the bake" if alarm_goes_off else ""))
            arn = emulator.start_execution(request, name=f"demo-{label}")
            if alarm_goes_off:
                _fire_alarm_during_bake(emulator, fn, say)
            described = follow(sfn, arn, lambda line: say(line.render()), poll_seconds=0.1, timeout=60)
            took = (described["stopDate"] - described["startDate"]).total_seconds()
            result = described["status"] + (f" {described['error']}" if described.get("error") else "")
            say(f"  => {result} in {took:.1f} s")
            say(f"     now {state()}\n")
            outcomes.append(described["status"])
    say(f"demo finished in {time.monotonic() - started:.0f} s")
    return 0 if outcomes == ["SUCCEEDED", "FAILED"] else 1


def _fire_alarm_during_bake(emulator: Emulator, fn: sample.SampleFunction, say) -> None:
    """Like a real error spike: the alarm goes off once the new version is taking traffic."""
    lam, cloudwatch = emulator.client("lambda"), emulator.client("cloudwatch")

    def watch() -> None:
        deadline = time.monotonic() + 30
        pause = threading.Event()
        while time.monotonic() < deadline:
            alias = lam.get_alias(FunctionName=fn.name, Name=fn.alias)
            if (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights"):
                pause.wait(1.5)
                cloudwatch.set_alarm_state(AlarmName=fn.alarm, StateValue="ALARM",
                                           StateReason="errors from the new version")
                say(f"  !!        {fn.alarm} → ALARM (errors from the new version)")
                return
            pause.wait(0.25)  # GetAlias spends the account's Lambda control-plane budget (15/s)

    threading.Thread(target=watch, daemon=True).start()
