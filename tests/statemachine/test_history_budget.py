"""The history estimate that refuses too-long plans matches what executions really record."""

from deployer.local import sample
from handlers.domain.strategy import EVENTS_FIXED, EVENTS_PER_CHECK, EVENTS_PER_CHECKPOINT, EVENTS_PER_SHIFT


def events(world, strategy, **extra) -> int:
    other = world.v3 if world.tag_digest() == world.v2 else world.v2  # never the live image: no no-op
    execution = world.emulator.run(world.request(other, strategy=strategy, checkIntervalSeconds=1,
                                                 **{"analysis": False, **extra}))
    assert execution.status == "SUCCEEDED", execution.cause
    return len(execution.history)


def test_each_check_and_each_shift_costs_what_the_estimate_says(fast_world):
    one_check = events(fast_world, {"steps": [{"weight": 10, "bakeSeconds": 1}]})
    four_checks = events(fast_world, {"steps": [{"weight": 10, "bakeSeconds": 4}]})
    two_shifts = events(fast_world, {"steps": [{"weight": 10, "bakeSeconds": 1}, {"weight": 20, "bakeSeconds": 0}]})
    all_at_once = events(fast_world, "AllAtOnce")

    assert four_checks - one_check == 3 * EVENTS_PER_CHECK
    assert two_shifts - one_check == EVENTS_PER_SHIFT
    assert one_check - all_at_once == EVENTS_PER_SHIFT + EVENTS_PER_CHECK
    assert all_at_once <= EVENTS_FIXED


def test_each_checkpoint_costs_what_the_estimate_says(fast_world):
    """Before traffic, after the shift, and after promotion (Promote's other state, then RunChecks)."""
    sample.create_python_function(fast_world.emulator, "notify", "def handler(event, context):\n    return None\n")
    canary, quiet = {"steps": [{"weight": 10, "bakeSeconds": 1}]}, {"analysis": False}  # no traffic to analyse
    plain = events(fast_world, canary, **quiet)
    synthetic = events(fast_world, canary, **quiet, preTraffic={"afterEachShift": True})
    hooked = events(fast_world, canary, **quiet, preTraffic={"afterEachShift": True}, hooks={"afterPromote": "notify"})

    assert synthetic - plain == 2 * EVENTS_PER_CHECKPOINT
    assert hooked - plain == 3 * EVENTS_PER_CHECKPOINT
