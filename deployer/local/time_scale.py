"""Time scaling, the emulator's ``time_scale`` and ``timeout_scale``: Wait states, Retry intervals and Task
timeouts shortened for tests (and a Wait that a stop always ends, at any scale).

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
    """The Wait states' patch, and the ones a scale other than 1 needs."""
    scaled = [_waits(time_scale)]
    if time_scale != 1.0:
        scaled.append(_retries(time_scale))
    if timeout_scale != 1.0:
        scaled.append(_task_timeouts(timeout_scale))
    return scaled


STOP_NOTICED_WITHIN_SECONDS = 0.25


def _waits(scale: float) -> Patch:
    """Wait states last ``scale`` times their length, and a stop ends them at once at any scale.

    moto's Wait blocks on an event that StopExecution sets and clears at once: a stop that lands just before
    the Wait begins is lost, and the execution stays RUNNING for the whole Wait (a minute, an hour). In AWS a
    stopped execution is ABORTED whatever state it is in (StopExecution API reference). So the Wait checks the
    execution is still running before and between slices of at most STOP_NOTICED_WITHIN_SECONDS.
    """
    def wait_interval(self, env, wait_seconds):
        deadline = time.monotonic() + max(wait_seconds, 0) * scale
        while env.is_running() and (left := deadline - time.monotonic()) > 0:
            env.program_state_event.wait(min(left, STOP_NOTICED_WITHIN_SECONDS))

    return Patch(WaitFunction, "_wait_interval", wait_interval, ("self", "env", "wait_seconds"), Kind.FIDELITY,
                 why="a stop just before a Wait is not lost; Wait states last time_scale times their length")


def _retries(scale: float) -> Patch:
    scaled_time = SimpleNamespace(sleep=lambda seconds: time.sleep(seconds * scale))
    return Patch(retrier_decl, "time", scaled_time, None, Kind.FACILITY,
                 why="Retry intervals last time_scale times their length (the retrier sleeps with time.sleep)")


def _task_timeouts(scale: float) -> Patch:
    """A Task's ``TimeoutSeconds``, shortened (moto waits that long for the task's answer, then fails it with
    States.Timeout as AWS does)."""
    original = patching.original(TimeoutSeconds, "_eval_seconds")

    def scaled(self, env):
        seconds = original(self, env)
        return seconds if self.is_default_value() else max(1, round(seconds * scale))

    return Patch(TimeoutSeconds, "_eval_seconds", scaled, ("self", "env"), Kind.FACILITY, uses=("is_default_value",),
                 why="Task timeouts last timeout_scale times their length")
