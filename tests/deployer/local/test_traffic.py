"""The demo's (and the tests') clients: a paced stream of invocations that ends by itself."""

from __future__ import annotations

import pytest
from support import split_function, wait_for

from deployer.local import sample
from deployer.local.emulator import Emulator
from deployer.local.invocations import Behaviour
from deployer.local.traffic import Traffic

BROKEN = Behaviour(error_rate=1.0, error_type="OrderStoreError", error_message="down")


@pytest.fixture
def fast():
    with Emulator(time_scale=0.05, seed=3) as emulator:
        yield emulator


def test_each_answer_is_tallied_by_the_version_that_ran_it(fast):
    fn = split_function(fast, BROKEN)

    with Traffic(fast.client("lambda"), fn.name, fn.alias, rate=200, count=60) as traffic:
        wait_for(lambda: not traffic.running, what="the 60 calls")

    seen = traffic.by_version()
    assert traffic.sent == 60 and traffic.refused == 0
    assert set(seen) == {"1", "2"} and seen["1"].invocations + seen["2"].invocations == 60
    assert seen["1"].errors == 0 and seen["2"].errors == seen["2"].invocations > 0


def test_the_stream_keeps_its_rate_and_ends_by_itself(fast):
    fn = sample.create_function(fast)

    traffic = Traffic(fast.client("lambda"), fn.name, fn.alias, rate=20, seconds=0.5).start()
    wait_for(lambda: not traffic.running, timeout=5, what="the stream to end by itself")

    assert 1 <= traffic.sent <= 11  # 20 a second for half a second, the first at once
    assert traffic.by_version()["1"].invocations == traffic.sent


def test_stop_ends_a_long_stream_at_once(fast):
    """One call every 100 s: after the first, the stream is waiting for the next. Stop must wake it (its join is
    bounded at 10 s, far short of the 100 s wait), and no call is made after it."""
    fn = sample.create_function(fast)
    traffic = Traffic(fast.client("lambda"), fn.name, fn.alias, rate=0.01, seconds=600).start()
    wait_for(lambda: traffic.sent, what="the first call")

    traffic.stop()

    assert not traffic.running
    assert traffic.sent == 1 and traffic.by_version()["1"].invocations == 1


def test_a_request_refused_is_counted_and_the_stream_goes_on(fast):
    fn = sample.create_function(fast)

    with Traffic(fast.client("lambda"), fn.name, "no-such-alias", rate=200, count=5) as traffic:
        wait_for(lambda: not traffic.running, what="the 5 calls")

    assert (traffic.sent, traffic.refused, traffic.by_version()) == (5, 5, {})


def test_rate_and_duration_must_be_positive():
    for refused in ({"rate": 0}, {"rate": 5, "seconds": 0}):
        with pytest.raises(ValueError, match=r"^rate and seconds must be positive$"):
            Traffic(None, "f", **refused)
