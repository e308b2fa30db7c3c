"""The request's ``analysis``: defaults, strict validation that names the field, and round trips."""

from __future__ import annotations

import dataclasses

import pytest

from handlers.domain.analysis import DISABLED, AnalysisSettings, ErrorRateLimits, LatencyLimits, parse_analysis
from handlers.domain.errors import InvalidDeploymentRequest

# Every field differs from its default, nested ones included (checked by the first test).
TUNED = {
    "minInvocations": 200,
    "confidence": 0.95,
    "errorRate": {"ceiling": 2.5, "ratio": 2, "difference": 0.5},
    "latency": {"percentile": "p99.9", "ratio": 1.2, "ms": 20},
    "throttles": "any",
    "inconclusive": "promote",
    "maxExtensions": 5,
    "insufficientData": "unhealthy",
}


def _differences(value, default, path: str = "") -> list[str]:
    """Fields of ``value`` equal to ``default``'s, recursively: a round trip cannot tell those apart."""
    if dataclasses.is_dataclass(value) and dataclasses.is_dataclass(default):
        return [name for f in dataclasses.fields(value)
                for name in _differences(getattr(value, f.name), getattr(default, f.name), f"{path}{f.name}.")]
    return [path.rstrip(".")] if value == default else []


def test_the_tuned_sample_differs_from_the_defaults_in_every_field():
    """``enabled`` excepted: an object always enables the analysis; ``false`` is the round trip of the other."""
    assert _differences(parse_analysis(TUNED), AnalysisSettings()) == ["enabled"]


def test_absent_or_true_means_the_documented_defaults():
    settings = parse_analysis(True)
    assert settings == AnalysisSettings()
    assert (settings.enabled, settings.min_invocations, settings.confidence) == (True, 100, 0.99)
    assert settings.error_rate == ErrorRateLimits(ceiling=5.0, ratio=1.5, difference=1.0)
    assert settings.latency == LatencyLimits(percentile="p99", ratio=1.5, ms=50.0)
    assert (settings.throttles, settings.inconclusive, settings.max_extensions, settings.insufficient_data) == \
        ("compare", "rollback", 3, "inconclusive")


def test_false_turns_it_off_and_alarms_judge_alone_as_before():
    settings = parse_analysis(False)
    assert settings is DISABLED and not settings.enabled
    assert settings.insufficient_data == "healthy" and settings.max_extensions == 0


def test_a_partial_object_tunes_only_what_it_names():
    settings = parse_analysis({"errorRate": {"ceiling": 1}, "maxExtensions": 0})
    assert settings.error_rate == ErrorRateLimits(ceiling=1.0)
    assert settings.max_extensions == 0 and settings.latency == LatencyLimits()


def test_latency_false_leaves_latency_to_alarms():
    assert parse_analysis({"latency": False}).latency is None


@pytest.mark.parametrize("percentile", ["p50", "p90", "p95", "p99", "p99.9", "p1", "p0.5"])
def test_any_percentile_below_100_may_be_judged(percentile):
    assert parse_analysis({"latency": {"percentile": percentile}}).latency.percentile == percentile


@pytest.mark.parametrize(("analysis", "problem"), [
    ("yes", "'analysis' 'yes' must be false, true or an object"),
    (None, "'analysis' None must be false, true or an object"),
    ({"minimumCalls": 5}, "unknown key(s) minimumCalls in 'analysis'; allowed: minInvocations"),
    ({"minInvocations": 0}, "'analysis.minInvocations' 0 must be an integer from 1 to 1,000,000"),
    ({"minInvocations": 2.5}, "'analysis.minInvocations' 2.5 must be an integer"),
    ({"minInvocations": True}, "'analysis.minInvocations' True must be an integer"),
    ({"confidence": 1}, "'analysis.confidence' 1 must be a number in [0.8, 0.999]"),
    ({"confidence": "high"}, "'analysis.confidence' 'high' must be a number"),
    ({"errorRate": 5}, "'analysis.errorRate' must be an object with any of ceiling, ratio, difference"),
    ({"errorRate": {"max": 5}}, "unknown key(s) max in 'analysis.errorRate'"),
    ({"errorRate": {"ceiling": 0}}, "'analysis.errorRate.ceiling' 0 must be a number in (0, 100] (percent)"),
    ({"errorRate": {"ceiling": 101}}, "'analysis.errorRate.ceiling' 101 must be a number in (0, 100]"),
    ({"errorRate": {"ratio": 0.5}}, "'analysis.errorRate.ratio' 0.5 must be a number in [1, 100]"),
    ({"errorRate": {"difference": -1}}, "'analysis.errorRate.difference' -1 must be a number in [0, 100] "
                                        "(percentage points)"),
    ({"errorRate": {"ceiling": float("nan")}}, "'analysis.errorRate.ceiling' nan must be a number"),
    ({"latency": True}, "'analysis.latency' must be false or an object with any of percentile, ratio, ms"),
    ({"latency": {"percentile": "p100"}}, "'analysis.latency.percentile' 'p100' must be pNN or pNN.N"),
    ({"latency": {"percentile": "99"}}, "'analysis.latency.percentile' '99' must be pNN or pNN.N"),
    ({"latency": {"percentile": "p99.99"}}, "'analysis.latency.percentile' 'p99.99' must be pNN or pNN.N"),
    ({"latency": {"percentile": "p0"}}, "'analysis.latency.percentile' 'p0' must be pNN or pNN.N"),
    ({"latency": {"ms": -5}}, "'analysis.latency.ms' -5 must be a number in [0, 900000]"),
    ({"latency": {"ratio": 0.9}}, "'analysis.latency.ratio' 0.9 must be a number in [1, 100]"),
    ({"throttles": True}, "'analysis.throttles' True must be one of compare, any, ignore"),
    ({"inconclusive": "extend"}, "'analysis.inconclusive' 'extend' must be one of rollback, promote"),
    ({"maxExtensions": 21}, "'analysis.maxExtensions' 21 must be an integer from 0 to 20"),
    ({"insufficientData": "ok"}, "'analysis.insufficientData' 'ok' must be one of inconclusive, healthy, unhealthy"),
])
def test_a_malformed_analysis_is_refused_naming_the_field(analysis, problem):
    with pytest.raises(InvalidDeploymentRequest) as refused:
        parse_analysis(analysis)
    assert problem in str(refused.value)


def test_every_problem_of_an_analysis_is_reported_at_once():
    with pytest.raises(InvalidDeploymentRequest) as refused:
        parse_analysis({"confidence": 2, "errorRate": {"ceiling": -1, "ratio": 0}, "throttles": "x", "what": 1})
    message = str(refused.value)
    for field in ("unknown key(s) what", "'analysis.confidence' 2", "'analysis.errorRate.ceiling' -1",
                  "'analysis.errorRate.ratio' 0", "'analysis.throttles' 'x'"):
        assert field in message


@pytest.mark.parametrize("settings", [parse_analysis(TUNED), AnalysisSettings(), DISABLED,
                                      parse_analysis({"latency": False})], ids=["tuned", "defaults", "off", "nolat"])
def test_settings_survive_json_in_the_requests_own_shape(settings):
    assert AnalysisSettings.from_json(settings.to_json()) == settings
    assert parse_analysis(settings.to_json()) == settings


def test_the_json_of_tuned_settings_is_the_request_that_tuned_them():
    assert parse_analysis(TUNED).to_json() == TUNED
