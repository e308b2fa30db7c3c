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


def test_analysis_and_no_analysis_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as refused:
        request("--no-analysis", "--analysis", "{}")
    assert refused.value.code == 2  # argparse's usage error
    assert "argument --analysis: not allowed with argument --no-analysis" in capsys.readouterr().err


def test_check_options_become_the_requests_pre_traffic_and_hooks():
    assert "preTraffic" not in request() and "hooks" not in request()
    checked = request("--pre-traffic", '{"invocations": 3, "expect": {"statusCode": 200}}',
                      "--hooks", '{"afterShift": "orders-smoke"}')
    assert checked["preTraffic"] == {"invocations": 3, "expect": {"statusCode": 200}}
    assert checked["hooks"] == {"afterShift": "orders-smoke"}


@pytest.mark.parametrize(("options", "message"), [
    (("--pre-traffic", "{invocations: 3}"), "--pre-traffic '{invocations: 3}' is not JSON"),
    (("--pre-traffic", "3"), "--pre-traffic must be an object"),
    (("--pre-traffic", '{"invocations": 30}'), "'preTraffic.invocations' 30 must be an integer from 1 to 10"),
    (("--hooks", '["orders-smoke"]'), "--hooks must be an object"),
    (("--hooks", '{"afterShift": "orders smoke"}'), "'hooks.afterShift' 'orders smoke' is not a Lambda function"),
])
def test_bad_checks_are_refused_before_anything_starts_naming_them(options, message):
    with pytest.raises(UsageError) as refused:
        request(*options)
    assert message in str(refused.value)
