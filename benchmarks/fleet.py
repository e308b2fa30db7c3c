"""Print (not assert) what one push costs a fleet: 20 functions tracking one tag, AWS's request quotas on.

    .venv/bin/python benchmarks/fleet.py [--functions 20] [--no-quotas] [--time-scale 0.05]

(``--no-quotas``: nothing is throttled; the peak is what the fleet would ask of AWS.)

Runs on the emulator (waits and retry intervals at ``--time-scale``; quotas on the wall clock, so a scaled
run meets more throttling than AWS would). Prints the peak Lambda control-plane request rate over any 1 s
window (every request, and those let through; the account's budget is 15/s), the throttling errors
answered per API, the retries that absorbed them (the clients' own inside a task; the state machine's
Retry of a task that still met one), every deployment's outcome and the total time.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from dataclasses import dataclass, field

from deployer.local import sample
from deployer.local.emulator import Emulator, Execution
from deployer.local.quotas import LAMBDA_CONTROL_PLANE, Quotas

REPOSITORY, TAG = "shop", "main"
THROTTLING = ("TooManyRequestsException", "ThrottlingException", "Throttling")


@dataclass
class FleetRun:
    """One push deploying the fleet, as the emulator saw it."""

    functions: list[sample.SampleFunction]
    digest: str
    push: Execution
    deployments: list[Execution]
    seconds: float
    peak: int = 0  # Lambda control-plane requests in the busiest second
    peak_admitted: int = 0
    control_plane: int = 0  # Lambda control-plane requests in all, throttled ones included
    throttled_tasks: Counter = field(default_factory=Counter)  # throttling errors answered to the deployer's tasks
    throttled_others: Counter = field(default_factory=Counter)

    def task_retries(self) -> int:
        """Task attempts that met throttling beyond the client's retries and were retried by the state machine."""
        return sum(1 for execution in self.deployments for event in execution.history
                   if event["type"] in ("TaskFailed", "LambdaFunctionFailed")
                   and any(code in str(_details(event)) for code in THROTTLING))


def _details(event: dict) -> dict:
    return event.get("taskFailedEventDetails") or event.get("lambdaFunctionFailedEventDetails") or {}


def deploy_fleet(emulator: Emulator, functions: list[sample.SampleFunction], timeout: float = 300) -> FleetRun:
    """Push ``shop:main`` once and wait until the push's execution and every deployment it started end."""
    sfn = emulator.client("stepfunctions")
    started = time.monotonic()
    digest = sample.push_image(emulator.client("ecr"), REPOSITORY, f"{REPOSITORY}:v2", tag=TAG)
    deadline = started + timeout
    while not (listed := sfn.list_executions(stateMachineArn=emulator.state_machine_arn)["executions"]):
        assert time.monotonic() < deadline, "the push started no execution"
        time.sleep(0.5)  # ListExecutions refills 5 tokens a second
    first = min(listed, key=lambda execution: execution["startDate"])  # the push's; the deployments follow it
    push = emulator.wait(first["executionArn"], timeout=deadline - time.monotonic())
    seconds = time.monotonic() - started
    deployments = [emulator.describe(child["execution"]) for child in push.output["deployments"]]
    run = FleetRun(functions, digest, push, deployments, seconds)
    if emulator.quotas is not None:
        run.peak = emulator.quotas.peak(LAMBDA_CONTROL_PLANE, since=started)
        run.peak_admitted = emulator.quotas.peak(LAMBDA_CONTROL_PLANE, since=started, admitted=True)
        run.control_plane = len(emulator.quotas.requests(LAMBDA_CONTROL_PLANE, since=started))
        for request in emulator.quotas.requests(since=started):
            if not request.admitted:
                (run.throttled_tasks if request.caller else run.throttled_others)[request.group] += 1
    return run


def report(run: FleetRun, quotas: bool) -> None:
    outcomes = Counter(execution.status for execution in run.deployments)
    print(f"\n== {len(run.functions)} functions tracking {REPOSITORY}:{TAG}, one push, quotas "
          f"{'on' if quotas else 'off'}: {dict(outcomes)} of {len(run.deployments)} deployments in {run.seconds:.1f} s")
    print(f"   Lambda control plane: peak {run.peak} requests in 1 s ({run.peak_admitted} let through; "
          f"budget 15/s, a bucket of 15: up to 30 in a second that follows a quiet one); "
          f"{run.control_plane} in all, {run.control_plane / run.seconds:.1f}/s on average")
    tasks, others = sum(run.throttled_tasks.values()), sum(run.throttled_others.values())
    print(f"   throttling errors answered: {tasks + others} ({tasks} to the deployer's tasks, {others} to others)")
    for group, count in (run.throttled_tasks + run.throttled_others).most_common():
        print(f"     {group:<36} {count}")
    unabsorbed = sum(execution.status != "SUCCEEDED" for execution in run.deployments)
    print(f"   retried: {tasks} requests by the clients' retries inside a task, {run.task_retries()} task attempts "
          f"by the state machine's Retry; deployments that did not absorb them: {unabsorbed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--functions", type=int, default=20)
    parser.add_argument("--time-scale", type=float, default=0.05)
    parser.add_argument("--no-quotas", dest="quotas", action="store_false")
    args = parser.parse_args()
    with Emulator(auto_deploy={REPOSITORY: [TAG]}, time_scale=args.time_scale,
                  quotas=Quotas(enforce=args.quotas)) as emulator:
        functions = sample.create_fleet(emulator, args.functions, repository=REPOSITORY, track=TAG,
                                        analysis=False)  # no traffic on them: the alarms judge
        report(deploy_fleet(emulator, functions), args.quotas)


if __name__ == "__main__":
    main()
