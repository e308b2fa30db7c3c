"""The canary verdict: exact bounds, one example per rule, and the properties the issue asks for."""

from __future__ import annotations

import json
import math
import re
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import handlers
from handlers.domain.analysis import (
    DISABLED,
    ERROR_RATE_CEILING,
    ERROR_RATE_VS_STABLE,
    FAIL,
    INCONCLUSIVE,
    LATENCY_REGRESSION,
    NOT_JUDGED,
    PASS,
    THROTTLES,
    TOO_FEW_INVOCATIONS,
    WITHIN_TOLERANCES,
    AnalysisSettings,
    ErrorRateLimits,
    LatencyLimits,
    VersionStats,
    analyse,
    lower_bound,
    parse_analysis,
    upper_bound,
)

DEFAULTS = AnalysisSettings()
RANK = {PASS: 0, INCONCLUSIVE: 1, FAIL: 2}


def verdict_of(new: tuple, stable: tuple | None, analysis: AnalysisSettings = DEFAULTS):
    return analyse(analysis, VersionStats("7", *new), VersionStats("6", *stable) if stable is not None else None)


# --- the bounds, checked against the binomial distribution computed exactly (fractions, not the beta function)

def _at_least(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), term by term in logarithms: no beta function involved."""
    if p >= 1:
        return 1.0
    return math.fsum(math.exp(math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
                              + i * math.log(p) + (n - i) * math.log1p(-p)) for i in range(k, n + 1))


@pytest.mark.parametrize(("k", "n"), [(1, 3), (2, 3), (3, 7), (40, 220), (10, 1980), (199, 200), (500, 100_000)])
@pytest.mark.parametrize("alpha", [0.01, 0.05])
def test_the_bounds_are_where_the_binomial_tail_is_alpha(k, n, alpha):
    assert _at_least(k, n, lower_bound(k, n, alpha)) == pytest.approx(alpha, rel=1e-6)
    assert 1 - _at_least(k + 1, n, upper_bound(k, n, alpha)) == pytest.approx(alpha, rel=1e-6)


def test_the_bounds_of_none_and_all_have_closed_forms():
    assert lower_bound(0, 50, 0.01) == 0 and upper_bound(50, 50, 0.01) == 1
    assert upper_bound(0, 50, 0.01) == pytest.approx(1 - 0.01 ** (1 / 50))
    assert lower_bound(50, 50, 0.01) == pytest.approx(0.01 ** (1 / 50))


@given(n=st.integers(1, 10**7), share=st.floats(0, 1), alpha=st.sampled_from([0.001, 0.01, 0.05, 0.2]))
@settings(max_examples=200, deadline=None)
def test_the_bounds_enclose_the_observed_rate_and_tighten_with_confidence_lost(n, share, alpha):
    k = round(share * n)
    low, high = lower_bound(k, n, alpha), upper_bound(k, n, alpha)
    assert 0 <= low <= k / n <= high <= 1
    assert lower_bound(k, n, alpha / 2) <= low and high <= upper_bound(k, n, alpha / 2)


# --- one example per rule -------------------------------------------------------------------------------

def test_a_canary_far_above_the_ceiling_fails_naming_both_versions_numbers():
    result = verdict_of((220, 40), (1980, 10))
    assert (result.verdict, result.rule) == (FAIL, ERROR_RATE_CEILING)
    assert result.reason.startswith("new version 7: 18.2% errors (40 of 220, at least ")
    assert result.reason.endswith(" at 99% confidence) vs stable version 6: 0.5% (10 of 1,980); ceiling 5%")


def test_a_canary_under_the_ceiling_but_clearly_worse_than_stable_fails_on_the_comparison():
    result = verdict_of((1000, 30), (10000, 10))
    assert (result.verdict, result.rule) == (FAIL, ERROR_RATE_VS_STABLE)
    assert result.rules[ERROR_RATE_CEILING] == PASS
    assert "new version 7: 3% errors (30 of 1,000" in result.reason
    assert "stable version 6: 0.1% (10 of 10,000, at most" in result.reason
    assert "(1.5x stable + 1 point)" in result.reason


def test_one_error_in_three_calls_is_not_enough_to_fail_nor_to_pass():
    result = verdict_of((3, 1), (27, 0))
    assert result.verdict == INCONCLUSIVE and result.rule == ERROR_RATE_CEILING
    assert "33.3% errors (1 of 3" in result.reason and "not clearly yet" in result.reason


def test_the_issues_acceptance_canary_failing_a_fifth_of_its_calls_fails_with_a_minute_of_ten_calls_a_second():
    result = verdict_of((60, 12), (540, 0))  # a 10% canary for 60 s at 10 requests/s
    assert (result.verdict, result.rule) == (FAIL, ERROR_RATE_CEILING)
    assert "new version 7: 20% errors (12 of 60" in result.reason and "stable version 6: 0% (0 of 540)" in result.reason


def test_errors_in_most_of_a_few_calls_are_clearly_bad():
    assert verdict_of((3, 2), (30, 0)).verdict == FAIL
    assert verdict_of((12, 10), (108, 0)).verdict == FAIL


def test_too_few_calls_without_errors_is_inconclusive():
    result = verdict_of((12, 0), (480, 1))
    assert (result.verdict, result.rule) == (INCONCLUSIVE, TOO_FEW_INVOCATIONS)
    assert result.reason == ("new version 7: 12 invocations (0 errors), fewer than the 100 a verdict needs; "
                             "stable version 6: 0.2% (1 of 480)")


def test_a_pass_needs_the_rate_clearly_under_the_ceiling_not_only_enough_calls():
    """0 errors in 60 calls still allows a true rate of 7.4% (99% confidence): above the 5% ceiling."""
    few_needed = AnalysisSettings(min_invocations=20)
    result = verdict_of((60, 0), (540, 0), few_needed)
    assert (result.verdict, result.rule) == (INCONCLUSIVE, ERROR_RATE_CEILING)
    assert result.reason == ("new version 7: 0% errors (0 of 60, at most 7.4% at 99% confidence) is not yet clearly "
                             "under the 5% ceiling; stable version 6: 0% (0 of 540)")
    assert verdict_of((100, 0), (900, 0), few_needed).verdict == PASS  # at most 4.5%


def test_no_datapoints_at_all_is_inconclusive_not_a_pass():
    result = analyse(DEFAULTS, VersionStats("7"), VersionStats("6"))
    assert (result.verdict, result.rule) == (INCONCLUSIVE, TOO_FEW_INVOCATIONS)
    assert "no invocations yet" in result.reason


def test_enough_calls_within_every_tolerance_pass():
    result = verdict_of((220, 1, 0, 250.0), (1980, 8, 0, 240.0))
    assert (result.verdict, result.rule) == (PASS, WITHIN_TOLERANCES)
    assert result.reason == ("new version 7: 0.5% errors (1 of 220), p99 250 ms vs stable version 6: 0.4% "
                             "(8 of 1,980), p99 240 ms: within tolerances")


def test_a_canary_erring_like_a_bad_stable_version_is_not_failed_by_the_ceiling_but_not_passed_either():
    result = verdict_of((100, 10), (900, 90))
    assert (result.verdict, result.rule) == (INCONCLUSIVE, ERROR_RATE_CEILING)
    assert "as is stable version 6: 10% (90 of 900)" in result.reason


def test_without_a_stable_version_the_ceiling_alone_judges_errors():
    assert verdict_of((220, 40), None).verdict == FAIL
    result = verdict_of((220, 1), None)
    assert result.verdict == PASS and result.rules[ERROR_RATE_VS_STABLE] == NOT_JUDGED
    assert result.to_json()["stable"] is None


def test_throttles_are_compared_with_the_stable_versions_by_default():
    assert verdict_of((950, 0, 50), (9000, 0, 0)).rule == THROTTLES
    assert verdict_of((950, 0, 50), (8550, 0, 450)).verdict == PASS  # the function throttles, not the version
    assert verdict_of((1000, 0, 1), (9000, 0, 0)).verdict == PASS  # one throttle is not clearly worse


def test_throttles_may_fail_on_any_or_be_ignored():
    one = ((1000, 0, 1), (9000, 0, 0))
    assert verdict_of(*one, AnalysisSettings(throttles="any")).rule == THROTTLES
    ignored = verdict_of((950, 0, 50), (9000, 0, 0), AnalysisSettings(throttles="ignore"))
    assert ignored.verdict == PASS and ignored.rules[THROTTLES] == NOT_JUDGED


def test_a_latency_regression_beyond_ratio_and_margin_fails():
    result = verdict_of((1000, 0, 0, 900.0), (9000, 0, 0, 200.0))
    assert (result.verdict, result.rule) == (FAIL, LATENCY_REGRESSION)
    assert result.reason == ("new version 7: p99 900 ms vs stable version 6: 200 ms; allowed 350 ms "
                             "(1.5x stable + 50 ms)")
    assert verdict_of((1000, 0, 0, 340.0), (9000, 0, 0, 200.0)).verdict == PASS


def test_a_percentile_of_too_few_calls_is_not_judged():
    """The p99 of 400 calls is the fourth slowest one: a cold start, not the version."""
    result = verdict_of((400, 0, 0, 900.0), (9000, 0, 0, 200.0))
    assert result.verdict == PASS and result.rules[LATENCY_REGRESSION] == NOT_JUDGED
    p90 = AnalysisSettings(latency=LatencyLimits(percentile="p90"))
    assert verdict_of((400, 0, 0, 900.0), (9000, 0, 0, 200.0), p90).rule == LATENCY_REGRESSION


@pytest.mark.parametrize(("percentile", "calls"), [("p99", 500), ("p95", 100), ("p50", 10), ("p99.9", 5000)])
def test_a_percentile_needs_five_calls_above_it(percentile, calls):
    assert LatencyLimits(percentile=percentile).calls_needed == calls


def test_latency_may_be_left_to_alarms():
    result = verdict_of((1000, 0, 0, 900.0), (9000, 0, 0, 200.0), AnalysisSettings(latency=None))
    assert result.verdict == PASS and result.rules[LATENCY_REGRESSION] == NOT_JUDGED


def test_missing_counts_are_zero_and_errors_never_exceed_calls():
    assert verdict_of((None, None, None), (100, 0)).rule == TOO_FEW_INVOCATIONS
    numbers = verdict_of((10, 12), (100, 0)).to_json()["new"]
    assert numbers["errors"] == 10 and numbers["errorRate"] == 100.0


def test_the_json_carries_the_verdict_every_rule_and_the_numbers():
    document = verdict_of((220, 40, 0, 812.0), (1980, 10, 0, 240.0)).to_json()
    assert document["verdict"] == FAIL and document["rule"] == ERROR_RATE_CEILING
    assert document["rules"] == {ERROR_RATE_CEILING: FAIL, ERROR_RATE_VS_STABLE: FAIL, THROTTLES: PASS,
                                 LATENCY_REGRESSION: NOT_JUDGED, TOO_FEW_INVOCATIONS: PASS}
    assert document["new"]["version"] == "7" and document["new"]["errorRate"] == pytest.approx(18.1818)
    assert document["new"]["errorRateAtLeast"] < document["new"]["errorRate"]
    assert document["stable"]["errorRateAtMost"] > document["stable"]["errorRate"] == pytest.approx(0.5051)
    assert document["limits"]["errorRateCeiling"] == 5.0 and document["limits"]["latencyPercentile"] == "p99"
    limits, stable = document["limits"], document["stable"]
    assert limits["errorRateAllowed"] == pytest.approx(1.5 * stable["errorRate"] + 1, abs=1e-3)
    assert limits["errorRateAllowedAtMost"] == pytest.approx(1.5 * stable["errorRateAtMost"] + 1, abs=1e-3)


def test_a_disabled_analysis_is_not_run():
    with pytest.raises(ValueError, match=r"^analysis is disabled for this deployment$"):
        analyse(DISABLED, VersionStats("7", 10), VersionStats("6", 90))


# --- properties -----------------------------------------------------------------------------------------

tuned = st.builds(
    AnalysisSettings,
    min_invocations=st.integers(1, 500),
    confidence=st.sampled_from([0.8, 0.9, 0.95, 0.99, 0.999]),
    error_rate=st.builds(ErrorRateLimits, ceiling=st.sampled_from([0.5, 1.0, 2.5, 5.0, 10.0, 50.0, 100.0]),
                         ratio=st.sampled_from([1.0, 1.25, 1.5, 2.0, 10.0]),
                         difference=st.sampled_from([0.0, 0.1, 1.0, 5.0])),
    throttles=st.sampled_from(["compare", "any", "ignore"]),
)


@st.composite
def versions(draw, max_calls: int = 20_000):
    """(calls, errors, throttles) of the new version and of the stable one."""
    def one(most: int):
        calls = draw(st.integers(0, most))
        return calls, draw(st.integers(0, calls)), draw(st.integers(0, 50))
    return one(max_calls // 10), one(max_calls)


@given(analysis=tuned, pair=versions())
@settings(max_examples=300, deadline=None)
def test_never_passes_a_canary_above_the_ceiling_with_enough_invocations(analysis, pair):
    new, stable = pair
    calls, errors, _ = new
    result = verdict_of(new, stable, analysis)
    if calls >= analysis.min_invocations and Fraction(errors, calls) > Fraction(analysis.error_rate.ceiling) / 100:
        assert result.verdict != PASS
    if calls < analysis.min_invocations:
        assert result.verdict != PASS


@given(analysis=tuned, pair=versions(), latency=st.floats(1, 10_000))
@settings(max_examples=300, deadline=None)
def test_never_fails_a_canary_erring_no_more_than_the_stable_version(analysis, pair, latency):
    (calls, errors, throttles), (stable_calls, stable_errors, stable_throttles) = pair
    if not stable_calls or errors * stable_calls > stable_errors * calls:
        errors = stable_errors * calls // stable_calls if stable_calls else 0  # at or below the stable rate
    stable = (stable_calls, stable_errors, stable_throttles, latency)
    result = verdict_of((calls, errors, throttles, latency), stable, analysis)
    assert result.rules[ERROR_RATE_CEILING] != FAIL and result.rules[ERROR_RATE_VS_STABLE] != FAIL
    # Nothing else against it either (no throttles, the same latency): no Fail at all.
    assert verdict_of((calls, errors, 0, latency), stable, analysis).verdict != FAIL


@given(analysis=tuned, pair=versions(), more=st.integers(1, 100))
@settings(max_examples=300, deadline=None)
def test_more_errors_of_the_new_version_never_improve_its_verdict(analysis, pair, more):
    (calls, errors, throttles), stable = pair
    worse = min(errors + more, calls)
    before, after = verdict_of((calls, errors, throttles), stable, analysis), \
        verdict_of((calls, worse, throttles), stable, analysis)
    assert RANK[after.verdict] >= RANK[before.verdict]


@given(analysis=tuned, pair=versions(), more=st.integers(1, 100))
@settings(max_examples=200, deadline=None)
def test_more_errors_of_the_stable_version_never_worsen_the_canarys_verdict(analysis, pair, more):
    new, (calls, errors, throttles) = pair
    worse = min(errors + more, calls)
    before, after = verdict_of(new, (calls, errors, throttles), analysis), \
        verdict_of(new, (calls, worse, throttles), analysis)
    assert RANK[after.verdict] <= RANK[before.verdict]


# --- docs/canary-analysis.md says what the code does --------------------------------------------------------

def _json_blocks() -> list[dict]:
    """The doc's JSON examples; a bare ``"analysis": {…}`` member is read as the object it would sit in."""
    text = (Path(handlers.__file__).parent.parent / "docs" / "canary-analysis.md").read_text()
    blocks = re.findall(r"```json\n(.*?)```", text, re.S)
    return [json.loads("{" + block + "}" if block.startswith('"') else block) for block in blocks]


def test_the_documented_settings_are_the_defaults():
    (documented,) = [block["analysis"] for block in _json_blocks() if "analysis" in block]
    assert parse_analysis(documented) == AnalysisSettings()


def test_the_documented_verdict_is_what_analyse_says_of_its_numbers():
    (example,) = [block for block in _json_blocks() if "verdict" in block]
    new, stable = ({key: side[key] for key in ("version", "invocations", "errors", "throttles", "latencyMs")}
                   for side in (example["new"], example["stable"]))
    result = analyse(DEFAULTS, VersionStats(*new.values()), VersionStats(*stable.values()))
    assert result.to_json() == example
