"""EventBridge scheduled rules run on their schedule, and only on it (deployer/local/schedules.py)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from unittest import mock

import pytest
from moto.events.models import events_backends
from support import make_world, wait_for

from deployer.local import fidelity
from deployer.local.emulator import Emulator
from deployer.local.schedules import period_of
from handlers.domain import events


def test_rate_expressions_give_their_period_and_cron_is_not_run():
    assert period_of("rate(5 minutes)") == 300
    assert period_of("rate(1 hour)") == 3600
    assert period_of("rate(2 days)") == 172_800
    assert period_of("cron(0 12 * * ? *)") is None


@pytest.mark.slow
def test_the_reconciler_runs_on_the_stacks_schedule_and_repairs_an_alias_left_weighted():
    five_minutes_in_a_second = 1 / events.RECONCILE_EVERY_MINUTES / 60
    with Emulator(schedules=True, time_scale=five_minutes_in_a_second) as emulator:
        world = make_world(emulator)
        lam = emulator.client("lambda")
        lam.update_function_code(FunctionName=world.fn.name, ImageUri=world.fn.image(world.v2))
        lam.publish_version(FunctionName=world.fn.name)
        lam.update_alias(FunctionName=world.fn.name, Name=world.fn.alias,  # a canary no deployment owns
                         RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})

        repaired = lambda: not world.weights() and world.latest_digest() == world.version_digest("1")  # noqa: E731
        wait_for(repaired, timeout=20, what="the scheduled reconciler's whole repair (alias, then $LATEST)")
        assert world.settled_on() == "1"


def test_a_scheduled_rule_is_not_run_by_events(emulator):
    """moto matches an event against a scheduled rule's empty pattern, so every event would run it."""
    delivered = []

    class AtOnce:  # deliveries run in the calling thread, so the test sees all of them when put_events returns
        def __init__(self, target, args, daemon):
            self.start = lambda: target(*args)

    account = emulator.state_machine_arn.split(":")[4]
    ended = {"executionArn": f"{emulator.state_machine_arn}:run".replace(":stateMachine:", ":execution:"),
             "stateMachineArn": emulator.state_machine_arn, "status": "ABORTED", "input": "{}"}
    with mock.patch.object(fidelity, "deliver", lambda region, target, event: delivered.append(target["Arn"])), \
            mock.patch.object(fidelity, "threading", SimpleNamespace(Thread=AtOnce)):
        events_backends[account][emulator.region].put_events([{
            "Source": events.SFN_SOURCE, "DetailType": events.SFN_DETAIL_TYPE, "Detail": json.dumps(ended)}])
    assert delivered == [emulator.function_arns["Rescue"]]
