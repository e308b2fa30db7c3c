"""A check's summary, from CheckHealth's output with and without a canary verdict."""

from __future__ import annotations

from handlers.domain import check_report
from handlers.domain.analysis import AnalysisSettings, VersionStats, analyse

FAILING = analyse(AnalysisSettings(), VersionStats("3", 220, 40, 0, 812.0), VersionStats("2", 1980, 10, 0, 240.0))


def test_a_check_that_analysed_gives_both_versions_numbers_the_verdict_and_its_rule():
    found = check_report.summary({"traffic": {}, "alarms": {"orders-api-errors": "OK"}, "analysis": FAILING.to_json()})

    assert found["passed"] and found["alarms"] == {"orders-api-errors": "OK"}
    assert (found["verdict"], found["rule"]) == ("Fail", "errorRateCeiling")
    assert found["reason"] == ("new version 3: 18.2% errors (40 of 220, at least 12.5% at 99% confidence) vs stable "
                               "version 2: 0.5% (10 of 1,980); ceiling 5%")
    assert found["new"] == {"version": "3", "invocations": 220, "errors": 40, "throttles": 0, "errorRate": 18.1818,
                            "latencyMs": 812.0}
    assert found["stable"]["version"] == "2" and found["stable"]["errors"] == 10
    assert found["latencyPercentile"] == "p99"


def test_a_check_by_alarms_alone_has_no_numbers():
    for analysis in ({}, {"analysis": None}):
        found = check_report.summary({"alarms": {"orders-api-errors": "OK"}, **analysis})
        assert found == {"passed": True, "alarms": {"orders-api-errors": "OK"}, "verdict": None, "rule": None,
                         "reason": None, "new": None, "stable": None, "latencyPercentile": None}


def test_no_check_no_summary_and_request_settings_are_not_a_verdict():
    assert check_report.summary({"deployment": {}, "traffic": {}}) is None
    assert check_report.summary({"analysis": {"minInvocations": 20}}) is None  # the request's settings, not a verdict
    assert check_report.verdict_of({"analysis": False}) is None


def test_a_failed_check_says_why_with_every_key_present():
    found = check_report.failed("DeploymentUnhealthy: alarm orders-api-errors in ALARM")
    assert list(found) == ["passed", "alarms", "verdict", "rule", "reason", "new", "stable", "latencyPercentile"]
    assert found["passed"] is False and found["reason"].endswith("in ALARM") and found["new"] is None


def test_the_recorded_text_reads_back_as_it_was():
    found = check_report.summary({"alarms": {}, "analysis": FAILING.to_json()})
    assert check_report.decode(check_report.encode(found)) == found
    assert check_report.encode(None) is None and check_report.decode(None) is None
    assert check_report.decode("not json") is None
