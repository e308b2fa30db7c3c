"""Time scaling, the emulator's ``time_scale`` and ``timeout_scale``: Wait states, Retry intervals and Task
timeouts shortened for tests.

*Facility* patches (``deployer.local.patching``): not an AWS behaviour, but one the caller asked for, and the
emulator's alarms, schedules and metric delays scale with ``time_scale`` too. Skipping one would leave the
waits at full length while the rest runs scaled: timings that no longer relate as they do in AWS, and a
test that times out instead of saying why. So a changed target stops the emulator, as a fidelity patch does.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

from deployer.local import patching
from deployer.local.patching import Kind, Patch


def patches(*, time_scale: float = 1.0, timeout_scale: float = 1.0) -> list[Patch]:
    """The patches a scale other than 1 needs (none at 1: AWS's own timing)."""
    scaled = []
    if time_scale != 1.0:
        scaled += _waits_and_retries(time_scale)
    if timeout_scale != 1.0:
        scaled.append(_task_timeouts(timeout_scale))
    return scaled


def _waits_and_retries(scale: float) -> list[Patch]:
    def wait_interval(self, env, wait_seconds):
        if wait_seconds > 0:
            env.program_state_event.wait(wait_seconds * scale)

    scaled_time = SimpleNamespace(sleep=lambda seconds: time.sleep(seconds * scale))
    return [Patch(WaitFunction, "_wait_interval", wait_interval, ("self", "env", "wait_seconds"), Kind.FACILITY,
                  why="Wait states last time_scale times their length"),
            Patch(retrier_decl, "time", scaled_time, None, Kind.FACILITY,
                  why="Retry intervals last time_scale times their length (the retrier sleeps with time.sleep)")]


def _task_timeouts(scale: float) -> Patch:
    """A Task's ``TimeoutSeconds``, shortened (moto waits that long for the task's answer, then fails it with
    States.Timeout as AWS does)."""
    original = patching.original(TimeoutSeconds, "_eval_seconds")

    def scaled(self, env):
        seconds = original(self, env)
        return seconds if self.is_default_value() else max(1, round(seconds * scale))

    return Patch(TimeoutSeconds, "_eval_seconds", scaled, ("self", "env"), Kind.FACILITY, uses=("is_default_value",),
                 why="Task timeouts last timeout_scale times their length")
