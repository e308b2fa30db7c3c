"""``lambda-deployer local serve``: the emulator behind an AWS-compatible HTTP endpoint on 127.0.0.1.

Any AWS client (AWS CLI, boto3 with ``endpoint_url``) can create repositories, push image manifests,
create image functions, aliases and alarms, start executions of ``lambda-deployer`` that run the
project's handlers, and invoke functions (routed by their aliases' weights, recorded in Lambda's metrics).
As in an AWS account, every caller meets the request quotas (``quotas=False`` lifts them) and the reconciler
runs on the stack's schedule; ``time_scale`` shortens waits and that schedule.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading

from moto.server import ThreadedMotoServer

from deployer.local.emulator import Emulator
from handlers.domain.events import RECONCILE_EVERY_MINUTES


def serve(*, port: int, region: str, verbose: bool, auto_deploy: dict[str, list[str]] | None = None,
          metric_delay_seconds: float = 0.0, seed: int | None = None, quotas: bool = True, time_scale: float = 1.0,
          out=sys.stdout, stop: threading.Event | None = None) -> int:
    stop = stop or threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        if threading.current_thread() is threading.main_thread():
            signal.signal(signum, lambda *_: stop.set())
    if not verbose:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    try:
        emulator = Emulator(region=region, quiet=not verbose, auto_deploy=auto_deploy, quotas=quotas,
                            schedules=True, time_scale=time_scale, metric_delay_seconds=metric_delay_seconds,
                            seed=seed)
    except ValueError as exc:
        print(f"lambda-deployer local serve: {exc}", file=sys.stderr)
        return 2
    with emulator:
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        try:
            host, bound = server.get_host_and_port()
            endpoint = f"http://{host}:{bound}"
            print(f"endpoint: {endpoint}", file=out)
            print(f"region: {region}", file=out)
            print(f"state machine: {emulator.state_machine_arn}", file=out)
            print(f"request quotas: {'as in AWS' if quotas else 'off'}; reconciler: every "
                  f"{RECONCILE_EVERY_MINUTES * 60 * time_scale:g} s", file=out)
            for repository, tags in emulator.auto_deploy.items():
                print(f"auto-deploy: a push of {', '.join(tags)} to {repository} deploys the functions tagged "
                      f"lambda-deployer:track={repository}:<tag>", file=out)
            print(f"try: aws --endpoint-url {endpoint} --region {region} stepfunctions list-state-machines",
                  file=out)
            print("(any access key works; Ctrl-C stops)", file=out, flush=True)
            stop.wait()
        finally:
            server.stop()
    return 0
