"""``lambda-deployer local demo``: the product's main job, on the emulator, with real traffic, in under a minute.

A sample function runs v1 behind the alias ``live`` and its clients call it steadily (``Traffic``). Deploy v2
with a 20 % canary: it is healthy and is promoted. Deploy v3, whose code fails a quarter of its calls: those
errors reach CloudWatch as Lambda's metrics, the function's error alarm evaluates to ALARM from them, and the
deployment rolls back by itself. No alarm state is set by hand. Each step is printed as it happens, each check
with both versions' invocations, errors and p99 duration.

Timing: the emulator runs 20 times faster than AWS (``time_scale`` 0.05), everywhere alike. The plan is a real
one (``Canary20Percent5Minutes``, a check every 30 s: 15 s and 1.5 s here), the alarm is the one IaC would
define (Errors, 1-minute period, evaluated every minute by CloudWatch: every 3 s here) and Lambda's metrics
arrive a minute late, as in AWS (3 s here). So the Waits keep their meaning: the bake is long beside the
alarm's evaluation and the metrics' delay, as it must be in an account. A 10-second alarm in real time was the
other way; it would be no real alarm: Lambda "sends metric data to CloudWatch in 1-minute intervals", and a
10 s period on such a metric "does not receive data" most of the time (CloudWatch PutMetricAlarm, Period).

The account's request quotas are on. Invocations are not control-plane calls, and nothing here polls the alias.
With canary analysis in CheckHealth, v2 passes on its calls and v3 may be stopped by the analysis before the
alarm: the rollback's printed cause says which.
"""

from __future__ import annotations

import json
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime

from deployer.executions import follow, history
from deployer.inspect import live_state
from deployer.local import sample
from deployer.local.emulator import Emulator
from deployer.local.traffic import Tally, Traffic
from deployer.runs import aborted_with
from deployer.timeline import Line
from deployer.version_metrics import CloudWatchNumbers
from handlers.domain.images import short
from handlers.domain.model import stopped_by

TIME_SCALE = 0.05  # 20 times faster than AWS: Waits, the alarm's evaluation and the metrics' delay alike
STRATEGY = "Canary20Percent5Minutes"
CHECK_INTERVAL_SECONDS = 30
METRIC_DELAY_SECONDS = 60  # Lambda's metrics arrive about a minute late
RATE = 50  # requests a second the clients send to the alias (real seconds)
SEED = 7  # the same routing and the same failing calls every run
TIMEOUT = 60  # real seconds a deployment may take here before the demo gives up on it
# The default verdict needs 100 calls of the new version; on a slow machine the clients fall behind RATE, so the
# bake may be extended up to ten checks (15 real seconds) to get them, as a quiet function's would in AWS.
ANALYSIS = {"maxExtensions": 10}


def emulator() -> Emulator:
    """The demo's emulator: the account's request quotas, time 20 times faster, metrics a (scaled) minute late."""
    return Emulator(quotas=True, time_scale=TIME_SCALE, metric_delay_seconds=METRIC_DELAY_SECONDS, seed=SEED)


@dataclass
class Deployment:
    """One deployment of the demo, as it ended."""

    label: str
    execution: str
    status: str
    error: str | None
    cause: str | None
    started: datetime
    stopped: datetime
    lines: list[Line]
    seen_by_clients: dict[str, Tally]


def run(out=sys.stdout, emu: Emulator | None = None) -> int:
    """Print the demo as it runs; 0 if it ended as it should. ``emu``: an emulator of the caller's (a test's)."""
    def say(text: str = "") -> None:
        print(text, file=out, flush=True)

    started = time.monotonic()
    say("lambda-deployer demo: the deployment state machine and its handlers, on the local emulator")
    say(f"(time runs {1 / TIME_SCALE:g}x faster than in AWS: a minute lasts {60 * TIME_SCALE:g} s here, Wait states, "
        "alarm evaluations and metric delays alike)\n")
    with nullcontext(emu) if emu else emulator() as running:
        deployments = play(running, say)
    say(f"demo finished in {time.monotonic() - started:.0f} s")
    v2, v3 = (d.status for d in deployments)  # v3: rolled back by its check (FAILED) or its alarm's event
    return 0 if v2 == "SUCCEEDED" and v3 in ("FAILED", "ABORTED") else 1


def play(emu: Emulator, say) -> list[Deployment]:
    """Deploy v2 (healthy), then v3 (failing a share of its calls), under traffic; print each as it goes."""
    fn = sample.create_function(emu)
    ecr, lam, sfn = emu.client("ecr"), emu.client("lambda"), emu.client("stepfunctions")
    cloudwatch = emu.client("cloudwatch")
    images = {"v2": sample.push_version(emu, fn, "v2", sample.HEALTHY),
              "v3": sample.push_version(emu, fn, "v3", sample.FAILING)}

    def state() -> str:
        return live_state(lam, ecr, fn.name, fn.alias).describe()

    alarm = _evaluated(cloudwatch, fn.alarm)
    say(f"sample function {fn.name}: {state()}")
    say(f"alarm {fn.alarm}: {alarm['StateValue']} (Errors of alias {fn.alias}, sum over 1 minute >= 1)")
    say(f"images v2 {short(images['v2'])} (healthy) and v3 {short(images['v3'])} (fails "
        f"{sample.FAILING.error_rate:.0%} of its calls) pushed; clients call alias {fn.alias} {RATE} times a second\n")

    done = []
    for label, digest in images.items():
        request = {"function": fn.name, "image": fn.image(digest), "strategy": STRATEGY,
                   "checkIntervalSeconds": CHECK_INTERVAL_SECONDS, "alarms": [fn.alarm], "analysis": ANALYSIS}
        say(f"deploy {label} with {STRATEGY}, checking every {CHECK_INTERVAL_SECONDS} s")
        with Traffic(lam, fn.name, fn.alias, rate=RATE, seconds=TIMEOUT) as traffic:
            arn = emu.start_execution(request, name=f"demo-{label}")
            lines: list[Line] = []

            def show(line: Line, lines=lines) -> None:
                lines.append(line)
                say(line.render())

            described = follow(sfn, arn, show, poll_seconds=0.2, timeout=TIMEOUT,
                               numbers=CloudWatchNumbers(cloudwatch))
        error, cause = (described.get("error"), described.get("cause")) if described["status"] != "ABORTED" \
            else aborted_with(history(sfn, arn))
        deployment = Deployment(label, arn, described["status"], error, cause,
                                described["startDate"], described["stopDate"], lines, traffic.by_version())
        took = (deployment.stopped - deployment.started).total_seconds()
        say(f"  => {deployment.status}{f' {deployment.error}' if deployment.error else ''} in {took:.1f} s")
        if deployment.cause:
            say(f"     why: {deployment.cause.split('. Rolled back: ', 1)[0]}")
        if rollback := stopped_by(error, cause):  # the alarm's own event asked for a rollback, before a check
            rolled = follow(sfn, arn.rsplit(":", 1)[0] + f":{rollback}", lambda line: say(line.render()),
                            poll_seconds=0.2, timeout=TIMEOUT)
            say(f"  => rollback {rolled['status']}")
        for text in _alarm_changes(cloudwatch, fn.alarm, deployment):
            say(f"     {text}")
        say(f"     clients saw: {_tallies(deployment.seen_by_clients)}")
        say(f"     now {state()}\n")
        done.append(deployment)
    return done


def _evaluated(cloudwatch, name: str, timeout: float = 10.0) -> dict:
    """The alarm once CloudWatch has evaluated it (at once for a new alarm; a busy machine can take a moment), so
    that the deployments start from a judged alarm, as in an account where it has been there for long."""
    deadline = time.monotonic() + timeout
    while (alarm := cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0])["StateValue"] == \
            "INSUFFICIENT_DATA" and time.monotonic() < deadline:
        time.sleep(0.05)  # the demo's own pace (not a handler): a few polls of DescribeAlarms
    return alarm


def _alarm_changes(cloudwatch, alarm: str, deployment: Deployment) -> list[str]:
    """The alarm's state changes while the deployment ran, with CloudWatch's reason (one DescribeAlarmHistory)."""
    items = cloudwatch.describe_alarm_history(AlarmName=alarm, HistoryItemType="StateUpdate",
                                              StartDate=deployment.started, EndDate=deployment.stopped,
                                              ScanBy="TimestampAscending")["AlarmHistoryItems"]
    changes = []
    for item in items:
        data = json.loads(item["HistoryData"])
        at = (item["Timestamp"] - deployment.started).total_seconds()
        old, new = data["oldState"]["stateValue"], data["newState"]["stateValue"]
        changes.append(f"alarm {alarm} {old} → {new} at +{at:.1f}s: {data['newState']['stateReason']}")
    if not changes:
        state = cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["StateValue"]
        changes.append(f"alarm {alarm} stayed {state}")
    return changes


def _tallies(seen: dict[str, Tally]) -> str:
    return ", ".join(f"version {version} {tally.invocations} calls ({tally.errors} failed)"
                     for version, tally in seen.items()) or "no calls"
