"""Where moto (5.2.5) differs from AWS in ways the deployer depends on, the emulator behaves like AWS.

One module per service declares its patches as ``deployer.local.patching.Patch``es, each naming the AWS
behaviour it restores: ``lambda_`` (and ``lambda_versions``: deleting, listing and sizing versions, provisioned
concurrency), ``ecr``, ``stepfunctions``, ``events`` and ``cloudwatch`` (whose code lives beside the metrics
recorder and the alarm evaluator). ``Emulator.patches()`` lists every patch the emulator installs;
tests/deployer/local/test_patching.py checks each against the installed moto, tests/deployer/local/test_fidelity.py
checks the behaviours against the AWS facts they claim, and
deployer/local/MOTO_GAPS.md says which gaps are moto bugs worth reporting upstream.

This module holds what several services share: the events a service sends to EventBridge on its own, and
how EventBridge delivers an event to a Lambda or Step Functions target.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime

import boto3
from moto.events.models import events_backends

log = logging.getLogger(__name__)
_sessions = {"running": 0, "count": 0}  # the emulator running now (0: none); each start is a new session
_ending = threading.RLock()  # held while a session's event is sent, and to end the session


def begin_session() -> None:
    _sessions["count"] += 1
    _sessions["running"] = _sessions["count"]


def end_session() -> None:
    with _ending:
        _sessions["running"] = 0


def session() -> int:
    """The running emulator's session: what a thread it left behind compares with its own, once that emulator has
    stopped (its events must not reach the next emulator's rules, nor moto's without the emulator's patches)."""
    return _sessions["running"]


def emit_in(own: int, *args, **kwargs) -> None:
    """``emit`` for a thread of session ``own``, unless that session has ended (or ends meanwhile: it waits)."""
    with _ending:
        if own == session():
            emit(*args, **kwargs)


def emit(account: str, region: str, source: str, detail_type: str, detail: dict, resources: list[str] = ()) -> None:
    """A service event on the default bus (skipped while no rule could match it)."""
    backend = events_backends[account][region]
    if any(rule for bus in backend.event_buses.values() for rule in bus.rules.values()):
        backend.put_events([{"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail),
                             "Resources": list(resources)}])


def deliver_later(region: str, target: dict, event: dict) -> None:
    """Delivery is asynchronous, as in AWS: the sender does not wait for the target (nor does a delivery outlive
    the emulator that sent it)."""
    threading.Thread(target=_deliver_in, args=(session(), region, target, event), daemon=True).start()


def _deliver_in(own: int, region: str, target: dict, event: dict) -> None:
    if own == session():
        deliver(region, target, event)


def deliver(region: str, target: dict, event: dict) -> None:
    """One target's copy of the event, as EventBridge would send it (``Input`` overrides the event)."""
    envelope = {key: value for key, value in event.items() if key != "ingestion-time"}
    if isinstance(envelope.get("time"), int | float):
        envelope["time"] = datetime.fromtimestamp(envelope["time"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    payload = target.get("Input") or json.dumps(envelope)
    try:
        if target["Arn"].split(":")[2] == "states":
            boto3.client("stepfunctions", region_name=region).start_execution(stateMachineArn=target["Arn"],
                                                                              input=payload)
        else:
            boto3.client("lambda", region_name=region).invoke(FunctionName=target["Arn"], InvocationType="Event",
                                                              Payload=payload)
    except Exception:  # EventBridge would retry and then drop; the emulator logs it
        log.exception("event delivery to %s failed", target["Arn"])
