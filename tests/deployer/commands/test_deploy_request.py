"""The request ``deploy`` and ``plan`` build from their options: validated on this machine, no AWS."""

from __future__ import annotations

import pytest

from deployer.cli import build_parser
from deployer.commands.deploy import request_from
from deployer.errors import UsageError

IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders@sha256:" + "ab" * 32


def request(*options: str) -> dict:
    return request_from(build_parser().parse_args(["deploy", "--function", "orders", "--image", IMAGE, *options]))


def test_without_analysis_options_the_request_leaves_the_analysis_to_its_defaults():
    assert "analysis" not in request()


def test_analysis_options_become_the_requests_analysis():
    assert request("--no-analysis")["analysis"] is False
    tuned = request("--analysis", '{"minInvocations": 20, "errorRate": {"ceiling": 2}}')
    assert tuned["analysis"] == {"minInvocations": 20, "errorRate": {"ceiling": 2}}


@pytest.mark.parametrize(("option", "message"), [
    ("{minInvocations: 20}", "--analysis '{minInvocations: 20}' is not JSON"),
    ('{"minInvocations": 0}', "'analysis.minInvocations' 0 must be an integer from 1"),
    ('"yes"', "--analysis 'yes' must be false, true or an object"),
])
def test_a_bad_analysis_is_refused_before_anything_starts_naming_it(option, message):
    with pytest.raises(UsageError) as refused:
        request("--analysis", option)
    assert message in str(refused.value)


def test_analysis_and_no_analysis_exclude_each_other():
    with pytest.raises(SystemExit):
        request("--no-analysis", "--analysis", "{}")
