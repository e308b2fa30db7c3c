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


REAL_TIME_FIXTURES = frozenset({"emulator", "world"})


def pytest_collection_modifyitems(items):
    """A test on the real-time emulator is ``slow`` (``pytest -m "not slow"`` is the quick loop)."""
    for item in items:
        if REAL_TIME_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


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
