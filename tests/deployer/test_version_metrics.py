"""A check's per-version numbers read from CloudWatch, on the emulator with real invocations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from support import split_function, wait_for

from deployer.local import sample
from deployer.local.emulator import Emulator
from deployer.local.invocations import Behaviour
from deployer.local.quotas import Quotas
from deployer.local.traffic import Traffic
from deployer.timeline import CheckContext
from deployer.version_metrics import CloudWatchNumbers


@pytest.mark.slow
def test_the_numbers_are_what_the_versions_served_read_once_per_check():
    with Emulator(seed=5, quotas=Quotas(enforce=False)) as emulator:  # quotas only record: count the reads
        fn = split_function(emulator, Behaviour(error_rate=1.0, duration_ms=30))  # version 2 fails every call
        since = datetime.now(UTC)
        with Traffic(emulator.client("lambda"), fn.name, fn.alias, rate=500, count=80) as traffic:
            wait_for(lambda: not traffic.running, what="the 80 calls")
        check = CheckContext(fn.name, fn.alias, "2", "1", since, datetime.now(UTC) + timedelta(seconds=1))
        read = CloudWatchNumbers(emulator.client("cloudwatch"))

        numbers = read(check)
        again = read(check)
        reads = [r for r in emulator.quotas.requests() if r.operation == "GetMetricData"]

    seen = traffic.by_version()
    assert numbers == again and len(reads) == 1
    assert numbers["new"] == {
        "version": "2", "invocations": seen["2"].invocations, "errors": seen["2"].invocations, "throttles": 0,
        "errorRate": 100.0, "latencyMs": 30.0}  # every call of version 2 reports 30 ms: so does its p99
    assert (numbers["stable"]["invocations"], numbers["stable"]["errors"]) == (seen["1"].invocations, 0)
    healthy = sample.HEALTHY
    assert healthy.duration_ms <= numbers["stable"]["latencyMs"] <= healthy.duration_ms + healthy.jitter_ms
    assert numbers["latencyPercentile"] == "p99"


def test_a_check_before_traffic_moved_reads_nothing():
    moment = datetime.now(UTC)
    assert CloudWatchNumbers(cloudwatch=None)(CheckContext("f", "live", "2", "1", moment, moment)) is None
