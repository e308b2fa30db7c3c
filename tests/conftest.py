"""Shared fixtures: an emulator per test and a sample function with three images to deploy."""

from __future__ import annotations

import os

import pytest
from support import World, make_world, run_cli

from deployer.local.emulator import Emulator
from deployer.naming import CI_VARIABLES

# CDK's jsii runtime warns on every synth about this Node.js (the end-of-life one lists major versions).
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20,22")


# Fixtures that start an emulator (the ones here and the test modules' own).
EMULATOR_FIXTURES = frozenset({"emulator", "world", "fast_emulator", "fast_world", "team_emulator", "emu",
                               "canary_world", "late_metrics_world", "sweep", "fast", "account"})


def pytest_collection_modifyitems(items):
    """A test that runs the emulator is ``slow`` (``pytest -m "not slow"`` is the quick loop): one that uses an
    emulator fixture, or runs the state machine (tests/statemachine/); the others starting one say so
    themselves (``@pytest.mark.slow``), or ``_emulators_only_in_slow_tests`` fails them."""
    for item in items:
        if EMULATOR_FIXTURES & set(getattr(item, "fixturenames", ())) or "statemachine" in item.path.parts:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _emulators_only_in_slow_tests(request, monkeypatch):
    """The slow marker is kept honest: a test not marked slow cannot start an emulator."""
    if request.node.get_closest_marker("slow") is None:
        def refuse(self):
            raise AssertionError(f"{request.node.nodeid} starts an emulator: mark it @pytest.mark.slow")
        monkeypatch.setattr(Emulator, "start", refuse)


@pytest.fixture
def emulator():
    """Real time: Wait states and retries take as long as they say."""
    with Emulator() as emu:
        yield emu


@pytest.fixture
def fast_emulator():
    """Waits and retry intervals at 1/20 of their length, for runs that exercise many retries."""
    with Emulator(time_scale=0.05) as emu:
        yield emu


@pytest.fixture
def world(emulator) -> World:
    return make_world(emulator)


@pytest.fixture
def fast_world(fast_emulator) -> World:
    return make_world(fast_emulator)


@pytest.fixture
def cli(capsys, monkeypatch):
    """``cli("deploy", "--function", …)`` runs the CLI in process and returns its exit code, stdout and stderr.
    The CI variables of the machine running the tests are cleared: the CLI behaves as outside CI."""
    for name in (*CI_VARIABLES, "LAMBDA_DEPLOYER_STATE_MACHINE"):
        monkeypatch.delenv(name, raising=False)
    return lambda *args: run_cli(capsys, *args)
