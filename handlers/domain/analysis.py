"""The canary verdict: the new version's Lambda metrics judged against the stable version's, no AWS calls.

A check reads, for the new and the stable version on the alias (``ExecutedVersion``), the invocations,
errors, throttles and a latency percentile over the analysis window, and :func:`analyse` says ``Pass``,
``Fail`` or ``Inconclusive`` with the rule that decided. docs/canary-analysis.md explains the algorithm.

Counts are binomial, so the judgement uses exact (Clopper-Pearson) confidence bounds of the error rates:

- **Fail** only when the evidence is clear: the new version's error rate is, at the configured confidence,
  *at least* something above the ceiling, or above what the stable version's rate (*at most* its upper
  bound) times ``ratio`` plus ``difference`` allows. One error in three calls is not clear; ten in twelve is.
- **Pass** only with at least ``minInvocations`` calls of the new version, its error rate *at most* the
  ceiling (so a version truly above it passes less often than 1 - confidence) and every observed rate
  within its tolerance of the stable version's.
- **Inconclusive** otherwise: too few calls, a rate above its limit but not clearly, or not yet clearly under
  the ceiling. At the end of a step that means an extension, then ``inconclusive`` decides (progress.checked).

Kayenta's Mann-Whitney test compares two samples of a metric's time series; CloudWatch gives this deployer
counts of calls, for which a test on binomial proportions is the exact tool. Flagger and Argo Rollouts
compare one measurement with a fixed threshold and count failed measurements; here the threshold is
relative to the version running beside the canary, and the count of calls decides how sure the verdict is.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from handlers.domain.errors import InvalidDeploymentRequest

PASS, FAIL, INCONCLUSIVE = "Pass", "Fail", "Inconclusive"
NOT_JUDGED = "NotJudged"  # a rule without the data it needs (no baseline, too few calls for a percentile)

# Rules, in the order they decide a verdict (the first failing one names a Fail).
ERROR_RATE_CEILING = "errorRateCeiling"
ERROR_RATE_VS_STABLE = "errorRateVsStable"
THROTTLES = "throttles"
LATENCY_REGRESSION = "latencyRegression"
TOO_FEW_INVOCATIONS = "tooFewInvocations"
WITHIN_TOLERANCES = "withinTolerances"  # the rule of a Pass: every rule passed or had nothing to judge

# What an Inconclusive means at the end of a step, once the extensions are used up.
ROLLBACK, PROMOTE = "rollback", "promote"
# What a watched alarm in INSUFFICIENT_DATA counts as.
COUNTS_HEALTHY, COUNTS_INCONCLUSIVE, COUNTS_UNHEALTHY = "healthy", "inconclusive", "unhealthy"
INSUFFICIENT_DATA_COUNTS = (COUNTS_INCONCLUSIVE, COUNTS_HEALTHY, COUNTS_UNHEALTHY)
# Throttles of the new version: judged against the stable version's, any one fails, or not at all.
COMPARE, ANY, IGNORE = "compare", "any", "ignore"

MAX_EXTENSIONS = 20
MAX_MIN_INVOCATIONS = 1_000_000
MAX_LATENCY_MS = 900_000.0  # Lambda's 15-minute timeout
# A percentile is judged only when at least this many calls of each version lie above it: the p99 of
# 50 calls is just the slowest call (a cold start, a slow dependency), not a property of the version.
TAIL_CALLS = 5

_PERCENTILE = re.compile(r"^p(?P<value>\d{1,2}(?:\.\d)?)$")


@dataclass(frozen=True)
class ErrorRateLimits:
    ceiling: float = 5.0  # percent: the new version fails above it, whatever the stable version does
    ratio: float = 1.5  # the new version may err up to ratio times the stable version's rate …
    difference: float = 1.0  # … plus this many percentage points

    def to_json(self) -> dict:
        return {"ceiling": self.ceiling, "ratio": self.ratio, "difference": self.difference}


@dataclass(frozen=True)
class LatencyLimits:
    percentile: str = "p99"  # a CloudWatch extended statistic
    ratio: float = 1.5  # the new version's percentile may be up to ratio times the stable version's …
    ms: float = 50.0  # … plus this many milliseconds

    @property
    def quantile(self) -> float:
        return float(self.percentile[1:]) / 100

    @property
    def calls_needed(self) -> int:
        """Calls of each version before the percentile says something about the version (``TAIL_CALLS``)."""
        return math.ceil(round(TAIL_CALLS / (1 - self.quantile), 6))

    def to_json(self) -> dict:
        return {"percentile": self.percentile, "ratio": self.ratio, "ms": self.ms}


@dataclass(frozen=True)
class AnalysisSettings:
    """The request's ``analysis``: absent means these defaults, ``false`` means :data:`DISABLED`."""

    enabled: bool = True
    min_invocations: int = 100
    confidence: float = 0.99
    error_rate: ErrorRateLimits = field(default_factory=ErrorRateLimits)
    latency: LatencyLimits | None = field(default_factory=LatencyLimits)  # None: latency not judged
    throttles: str = COMPARE
    inconclusive: str = ROLLBACK
    max_extensions: int = 3
    insufficient_data: str = COUNTS_INCONCLUSIVE

    def to_json(self) -> dict | bool:
        """The request's own shape, so ``parse_analysis(settings.to_json()) == settings``."""
        if not self.enabled:
            return False
        return {
            "minInvocations": self.min_invocations,
            "confidence": self.confidence,
            "errorRate": self.error_rate.to_json(),
            "latency": self.latency.to_json() if self.latency else False,
            "throttles": self.throttles,
            "inconclusive": self.inconclusive,
            "maxExtensions": self.max_extensions,
            "insufficientData": self.insufficient_data,
        }

    @classmethod
    def from_json(cls, data: object) -> AnalysisSettings:
        return parse_analysis(data)


# ``"analysis": false``: alarms alone judge, as before analysis existed. An alarm without data is healthy and
# nothing is ever inconclusive, so nothing is extended.
DISABLED = AnalysisSettings(enabled=False, max_extensions=0, insufficient_data=COUNTS_HEALTHY)

_KEYS = ("minInvocations", "confidence", "errorRate", "latency", "throttles", "inconclusive", "maxExtensions",
         "insufficientData")


def parse_analysis(value: object) -> AnalysisSettings:
    """Validate the request's ``analysis``: ``true`` (the defaults, as when absent), ``false`` (off) or ``{…}``.

    Every problem is reported at once, each naming its field (``'analysis.errorRate.ceiling' …``).
    """
    if value is True:
        return AnalysisSettings()
    if value is False:
        return DISABLED
    if not isinstance(value, dict):
        raise InvalidDeploymentRequest(f"'analysis' {value!r} must be false, true or an object with any of "
                                       f"{', '.join(_KEYS)}")
    problems: list[str] = []
    if unknown := sorted(set(value) - set(_KEYS)):
        problems.append(f"unknown key(s) {', '.join(unknown)} in 'analysis'; allowed: {', '.join(_KEYS)}")
    defaults = AnalysisSettings()

    def get(key: str, parse: Callable, default):
        if key not in value:
            return default
        try:
            return parse(value[key])
        except InvalidDeploymentRequest as exc:
            problems.append(str(exc))
            return default

    settings = AnalysisSettings(
        min_invocations=get("minInvocations", _integer("analysis.minInvocations", 1, MAX_MIN_INVOCATIONS),
                            defaults.min_invocations),
        confidence=get("confidence", _number("analysis.confidence", 0.8, 0.999), defaults.confidence),
        error_rate=get("errorRate", _error_rate, defaults.error_rate),
        latency=get("latency", _latency, defaults.latency),
        throttles=get("throttles", _choice("analysis.throttles", (COMPARE, ANY, IGNORE)), defaults.throttles),
        inconclusive=get("inconclusive", _choice("analysis.inconclusive", (ROLLBACK, PROMOTE)),
                         defaults.inconclusive),
        max_extensions=get("maxExtensions", _integer("analysis.maxExtensions", 0, MAX_EXTENSIONS),
                           defaults.max_extensions),
        insufficient_data=get("insufficientData", _choice("analysis.insufficientData", INSUFFICIENT_DATA_COUNTS),
                              defaults.insufficient_data),
    )
    if problems:
        raise InvalidDeploymentRequest("; ".join(problems))
    return settings


def _error_rate(value: object) -> ErrorRateLimits:
    return _limits(value, "analysis.errorRate", ErrorRateLimits(), {
        "ceiling": _number("analysis.errorRate.ceiling", 0.0, 100.0, low_open=True, unit=" (percent)"),
        # ratio >= 1: a canary erring no more than the stable version can never be failed for it.
        "ratio": _number("analysis.errorRate.ratio", 1.0, 100.0),
        "difference": _number("analysis.errorRate.difference", 0.0, 100.0, unit=" (percentage points)"),
    })


def _latency(value: object) -> LatencyLimits | None:
    if value is False:
        return None
    return _limits(value, "analysis.latency", LatencyLimits(), {
        "percentile": _percentile,
        "ratio": _number("analysis.latency.ratio", 1.0, 100.0),
        "ms": _number("analysis.latency.ms", 0.0, MAX_LATENCY_MS),
    }, may_be_false=True)


def _limits(value: object, where: str, defaults, parsers: dict, may_be_false: bool = False):
    if not isinstance(value, dict):
        shape = "false or an object" if may_be_false else "an object"
        raise InvalidDeploymentRequest(f"'{where}' must be {shape} with any of {', '.join(parsers)}")
    problems = []
    if unknown := sorted(set(value) - set(parsers)):
        problems.append(f"unknown key(s) {', '.join(unknown)} in '{where}'; allowed: {', '.join(parsers)}")
    fields = {}
    for key, parse in parsers.items():
        if key in value:
            try:
                fields[key] = parse(value[key])
            except InvalidDeploymentRequest as exc:
                problems.append(str(exc))
    if problems:
        raise InvalidDeploymentRequest("; ".join(problems))
    return replace(defaults, **fields)


def _number(where: str, low: float, high: float, *, low_open: bool = False, unit: str = ""):
    def parse(value: object) -> float:
        ok = (not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
              and (low < value if low_open else low <= value) and value <= high)
        if not ok:
            bounds = f"{'(' if low_open else '['}{low:g}, {high:g}]"
            raise InvalidDeploymentRequest(f"'{where}' {value!r} must be a number in {bounds}{unit}")
        return float(value)
    return parse


def _integer(where: str, low: int, high: int):
    def parse(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidDeploymentRequest(f"'{where}' {value!r} must be an integer from {low} to {high:,}")
        return value
    return parse


def _choice(where: str, choices: tuple[str, ...]):
    def parse(value: object) -> str:
        if value not in choices:
            raise InvalidDeploymentRequest(f"'{where}' {value!r} must be one of {', '.join(choices)}")
        return value
    return parse


def _percentile(value: object) -> str:
    match = _PERCENTILE.match(value) if isinstance(value, str) else None
    if not match or not 0 < float(match["value"]) < 100:
        raise InvalidDeploymentRequest(f"'analysis.latency.percentile' {value!r} must be pNN or pNN.N "
                                       "(a percentile above 0 and below 100, e.g. p99, p95, p99.9)")
    return value


@dataclass(frozen=True)
class VersionStats:
    """One version's metrics over the analysis window; None where CloudWatch returned no datapoint.

    A count without a datapoint is zero: nothing was counted in the window. A missing percentile is
    unknown. ``Invocations`` excludes throttled requests (the Lambda developer guide, "Types of metrics for
    Lambda functions"), so a version's requests are invocations + throttles.
    """

    version: str
    invocations: int | None = None
    errors: int | None = None
    throttles: int | None = None
    latency_ms: float | None = None  # the configured percentile of Duration

    @property
    def calls(self) -> int:
        return max(int(self.invocations or 0), 0)

    @property
    def failed(self) -> int:
        """Errors, never more than the calls they are a share of (CloudWatch windows can disagree by one)."""
        return min(max(int(self.errors or 0), 0), self.calls)

    @property
    def throttled(self) -> int:
        return max(int(self.throttles or 0), 0)


@dataclass(frozen=True)
class Analysis:
    verdict: str  # PASS, FAIL or INCONCLUSIVE
    rule: str  # the rule that decided
    reason: str  # one line naming both versions' numbers
    rules: dict[str, str]  # every rule's own outcome
    numbers: dict  # what the rules computed, for the execution output

    def to_json(self) -> dict:
        return {"verdict": self.verdict, "rule": self.rule, "reason": self.reason, "rules": dict(self.rules),
                **self.numbers}


@dataclass(frozen=True)
class _Outcome:
    result: str
    reason: str = ""
    # Which Inconclusive explains most: a value above its limit (0), too few calls (1), or only a bound not
    # yet under the ceiling (2), which more calls usually settle.
    rank: int = 0


def analyse(settings: AnalysisSettings, new: VersionStats, stable: VersionStats | None) -> Analysis:
    """The verdict on ``new`` beside ``stable`` (None: there is no stable version to compare with).

    The first failing rule names a Fail; of the Inconclusive ones, the most telling (``_Outcome.rank``).
    """
    if not settings.enabled:
        raise ValueError("analysis is disabled for this deployment")
    alpha = 1 - settings.confidence
    judge = _Judge(settings, new, stable, alpha)
    outcomes = {
        ERROR_RATE_CEILING: judge.ceiling(),
        ERROR_RATE_VS_STABLE: judge.vs_stable(),
        THROTTLES: judge.throttles(),
        LATENCY_REGRESSION: judge.latency(),
        TOO_FEW_INVOCATIONS: judge.enough_calls(),
    }
    rules = {name: outcome.result for name, outcome in outcomes.items()}
    failed = [(name, outcome) for name, outcome in outcomes.items() if outcome.result == FAIL]
    undecided = sorted(((name, outcome) for name, outcome in outcomes.items() if outcome.result == INCONCLUSIVE),
                       key=lambda item: item[1].rank)
    if failed or undecided:
        name, outcome = (failed or undecided)[0]
        return Analysis(outcome.result, name, outcome.reason, rules, judge.numbers())
    return Analysis(PASS, WITHIN_TOLERANCES, judge.passed(), rules, judge.numbers())


@dataclass(frozen=True)
class _Comparison:
    """A share of the new version's requests (errors, throttles) against the stable version's.

    ``allowed`` is the tolerance around the stable version's observed rate: a Pass needs the new version's
    observed rate within it. ``allowed_at_most`` is the tolerance around the stable rate's upper bound: a Fail
    needs the new version's lower bound above it, so both bounds would have to be wrong for a canary within
    tolerance to fail, which happens less often than 2 (1 - confidence).
    """

    rate: float
    at_least: float
    stable_rate: float
    stable_at_most: float
    allowed: float
    allowed_at_most: float

    @classmethod
    def of(cls, bad: int, total: int, stable_bad: int, stable_total: int, limits: ErrorRateLimits,
           alpha: float) -> _Comparison:
        stable_rate, stable_at_most = stable_bad / stable_total, upper_bound(stable_bad, stable_total, alpha)
        return cls(bad / total, lower_bound(bad, total, alpha), stable_rate, stable_at_most,
                   limits.ratio * stable_rate + limits.difference / 100,
                   limits.ratio * stable_at_most + limits.difference / 100)

    @property
    def result(self) -> str:
        if self.at_least > self.allowed_at_most:
            return FAIL
        return INCONCLUSIVE if self.rate > self.allowed else PASS


class _Judge:
    """The rules of :func:`analyse`, each on the same numbers."""

    def __init__(self, settings: AnalysisSettings, new: VersionStats, stable: VersionStats | None, alpha: float):
        self.settings, self.new, self.stable, self.alpha = settings, new, stable, alpha
        self.limits = settings.error_rate
        self.rate = _rate(new.failed, new.calls)
        self.at_least = lower_bound(new.failed, new.calls, alpha) if new.calls else None
        self.at_most = upper_bound(new.failed, new.calls, alpha) if new.calls else None
        self.stable_rate = _rate(stable.failed, stable.calls) if stable else None
        self.errors = (_Comparison.of(new.failed, new.calls, stable.failed, stable.calls, self.limits, alpha)
                       if new.calls and stable and stable.calls else None)

    def ceiling(self) -> _Outcome:
        """Fail when clearly above the ceiling, unless the stable version errs as much (the deployment does not
        make it worse). Pass only when clearly under it: the rate's upper bound at the confidence is within
        the ceiling, so a version truly erring more passes less often than 1 - confidence."""
        if self.rate is None:
            return _Outcome(NOT_JUDGED)
        ceiling = self.limits.ceiling / 100
        stable_as_bad = self.stable is not None and self.stable.calls and (
            self.new.failed * self.stable.calls <= self.stable.failed * self.new.calls)
        if self.at_least > ceiling and not stable_as_bad:
            return _Outcome(FAIL, f"{self._errors(bound=True)} vs {self._stable_errors()}; "
                                  f"ceiling {_pct(ceiling)}")
        if self.rate > ceiling:
            why = "as is" if stable_as_bad else "but not clearly yet;"
            return _Outcome(INCONCLUSIVE, f"{self._errors(bound=True)} is above the {_pct(ceiling)} ceiling, "
                                          f"{why} {self._stable_errors()}")
        if self.at_most > ceiling:
            return _Outcome(INCONCLUSIVE, f"{self._errors(upper=True)} is not yet clearly under the "
                                          f"{_pct(ceiling)} ceiling; {self._stable_errors()}", rank=2)
        return _Outcome(PASS)

    def vs_stable(self) -> _Outcome:
        """Clearly more errors than the stable version's rate allows (:class:`_Comparison`)."""
        compared = self.errors
        if compared is None:
            return _Outcome(NOT_JUDGED)
        if compared.result == FAIL:
            return _Outcome(FAIL, f"{self._errors(bound=True)} vs {self._stable_errors(bound=True)}; allowed at "
                                  f"most {_pct(compared.allowed_at_most)} ({self._tolerance()})")
        if compared.result == INCONCLUSIVE:
            return _Outcome(INCONCLUSIVE, f"{self._errors(bound=True)} is above the {_pct(compared.allowed)} "
                                          f"allowed ({self._tolerance()}) beside {self._stable_errors(bound=True)}, "
                                          "but not clearly yet")
        return _Outcome(PASS)

    def throttles(self) -> _Outcome:
        """``compare``: a larger share of throttled requests than the stable version's, as for errors;
        concurrency is shared by every version of a function, so throttles beside a throttled stable version
        are capacity, not code. ``any``: a single throttle fails."""
        mode, new, stable = self.settings.throttles, self.new, self.stable
        if mode == IGNORE:
            return _Outcome(NOT_JUDGED)
        requests = new.calls + new.throttled
        if mode == ANY:
            if new.throttled:
                return _Outcome(FAIL, f"new version {new.version}: {new.throttled:,} of {requests:,} requests "
                                      "throttled; throttles fail the canary")
            return _Outcome(PASS) if requests else _Outcome(NOT_JUDGED)
        stable_requests = stable.calls + stable.throttled if stable else 0
        if not requests or not stable_requests:
            return _Outcome(NOT_JUDGED)
        compared = _Comparison.of(new.throttled, requests, stable.throttled, stable_requests, self.limits,
                                  self.alpha)
        numbers = (f"new version {new.version}: {_pct(compared.rate)} of requests throttled ({new.throttled:,} of "
                   f"{requests:,}, at least {_pct(compared.at_least)}) vs stable version {stable.version}: "
                   f"{_pct(compared.stable_rate)} ({stable.throttled:,} of {stable_requests:,}, at most "
                   f"{_pct(compared.stable_at_most)})")
        if compared.result == FAIL:
            return _Outcome(FAIL, f"{numbers}; allowed at most {_pct(compared.allowed_at_most)}")
        if compared.result == INCONCLUSIVE:
            return _Outcome(INCONCLUSIVE, f"{numbers}; above the {_pct(compared.allowed)} allowed, "
                                          "but not clearly yet")
        return _Outcome(PASS)

    def latency(self) -> _Outcome:
        limits, new, stable = self.settings.latency, self.new, self.stable
        if limits is None or stable is None or new.latency_ms is None or stable.latency_ms is None:
            return _Outcome(NOT_JUDGED)
        if min(new.calls, stable.calls) < max(limits.calls_needed, self.settings.min_invocations):
            return _Outcome(NOT_JUDGED)
        allowed = stable.latency_ms * limits.ratio + limits.ms
        if new.latency_ms > allowed:
            return _Outcome(FAIL, f"new version {new.version}: {limits.percentile} {_ms(new.latency_ms)} vs stable "
                                  f"version {stable.version}: {_ms(stable.latency_ms)}; allowed {_ms(allowed)} "
                                  f"({limits.ratio:g}x stable + {limits.ms:g} ms)")
        return _Outcome(PASS)

    def enough_calls(self) -> _Outcome:
        needed = self.settings.min_invocations
        if self.new.calls >= needed:
            return _Outcome(PASS)
        calls = f"{self.new.calls:,} invocation{'s' if self.new.calls != 1 else ''}" if self.new.calls \
            else "no invocations yet"
        errors = f" ({self.new.failed:,} errors)" if self.new.calls else ""
        return _Outcome(INCONCLUSIVE, f"new version {self.new.version}: {calls}{errors}, fewer than the {needed:,} "
                                      f"a verdict needs; {self._stable_errors()}", rank=1)

    def passed(self) -> str:
        latency = self.settings.latency
        new_p = (f", {latency.percentile} {_ms(self.new.latency_ms)}"
                 if latency and self.new.latency_ms is not None else "")
        stable_p = (f", {latency.percentile} {_ms(self.stable.latency_ms)}"
                    if latency and self.stable and self.stable.latency_ms is not None else "")
        return f"{self._errors()}{new_p} vs {self._stable_errors()}{stable_p}: within tolerances"

    def numbers(self) -> dict:
        latency = self.settings.latency
        return {
            "new": _version_json(self.new, self.rate, at_least=self.at_least, at_most=self.at_most),
            "stable": _version_json(self.stable, self.stable_rate,
                                    at_most=self.errors.stable_at_most if self.errors else None)
            if self.stable else None,
            "limits": {
                "errorRateCeiling": self.limits.ceiling,
                "errorRateAllowed": _percent(self.errors.allowed) if self.errors else None,
                "errorRateAllowedAtMost": _percent(self.errors.allowed_at_most) if self.errors else None,
                "latencyAllowedMs": round(self.stable.latency_ms * latency.ratio + latency.ms, 1)
                if latency and self.stable and self.stable.latency_ms is not None else None,
                "minInvocations": self.settings.min_invocations,
                "confidence": self.settings.confidence,
                "latencyPercentile": latency.percentile if latency else None,
            },
        }

    def _errors(self, bound: bool = False, upper: bool = False) -> str:
        new = self.new
        if self.rate is None:
            return f"new version {new.version}: no invocations yet"
        confidence = f" at {_pct(self.settings.confidence)} confidence"
        clearly = (f", at least {_pct(self.at_least)}{confidence}" if bound
                   else f", at most {_pct(self.at_most)}{confidence}" if upper else "")
        return f"new version {new.version}: {_pct(self.rate)} errors ({new.failed:,} of {new.calls:,}{clearly})"

    def _stable_errors(self, bound: bool = False) -> str:
        stable = self.stable
        if stable is None:
            return "no stable version calls to compare with"
        if self.stable_rate is None:
            return f"stable version {stable.version}: no invocations"
        at_most = f", at most {_pct(self.errors.stable_at_most)}" if bound and self.errors else ""
        return (f"stable version {stable.version}: {_pct(self.stable_rate)} "
                f"({stable.failed:,} of {stable.calls:,}{at_most})")

    def _tolerance(self) -> str:
        points = self.limits.difference
        return f"{self.limits.ratio:g}x stable + {points:g} point{'' if points == 1 else 's'}"


def _version_json(stats: VersionStats, rate: float | None, *, at_least: float | None = None,
                  at_most: float | None = None) -> dict:
    data = {"version": stats.version, "invocations": stats.calls, "errors": stats.failed,
            "throttles": stats.throttled, "errorRate": _percent(rate), "latencyMs": stats.latency_ms}
    if at_least is not None:
        data["errorRateAtLeast"] = _percent(at_least)
    if at_most is not None:
        data["errorRateAtMost"] = _percent(at_most)
    return data


def _rate(errors: int, calls: int) -> float | None:
    return errors / calls if calls else None


def _percent(fraction: float | None) -> float | None:
    return None if fraction is None else round(fraction * 100, 4)


def _pct(fraction: float) -> str:
    """18.2%, 0.5%, 0.042%, 0%: one decimal, or two significant digits below 0.1%."""
    percent = fraction * 100
    if percent == 0 or percent >= 0.1:
        return f"{percent:.1f}".rstrip("0").rstrip(".") + "%"
    return f"{percent:.2g}%"


def _ms(value: float) -> str:
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


# --- Exact binomial confidence bounds (Clopper-Pearson), without scipy -------------------------------------

def lower_bound(successes: int, trials: int, alpha: float) -> float:
    """The one-sided ``1 - alpha`` lower confidence bound of a binomial proportion: the p at which seeing
    ``successes`` or more in ``trials`` has probability ``alpha``. Never above successes / trials."""
    if successes <= 0:
        return 0.0
    if successes >= trials:
        return min(alpha ** (1 / trials), 1.0)
    # P(X >= k | p) = I_p(k, n - k + 1), increasing in p.
    found = _solve(successes, trials - successes + 1, alpha, 0.0, successes / trials)
    return min(found, successes / trials)


def upper_bound(successes: int, trials: int, alpha: float) -> float:
    """The one-sided ``1 - alpha`` upper confidence bound: the p at which seeing ``successes`` or fewer has
    probability ``alpha``. Never below successes / trials."""
    if successes >= trials:
        return 1.0
    if successes <= 0:
        return 1 - alpha ** (1 / trials)
    # P(X <= k | p) = 1 - I_p(k + 1, n - k), decreasing in p.
    found = _solve(successes + 1, trials - successes, 1 - alpha, successes / trials, 1.0)
    return max(found, successes / trials)


def _solve(a: float, b: float, target: float, low: float, high: float) -> float:
    """The p in [low, high] where I_p(a, b) = target: Newton's method on the beta density, kept inside a
    bracket that bisection narrows whenever a Newton step would leave it."""
    log_beta = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    p = (low + high) / 2
    for _ in range(200):
        excess = _betainc(a, b, p) - target
        if excess < 0:
            low = p
        else:
            high = p
        density = math.exp((a - 1) * math.log(p) + (b - 1) * math.log1p(-p) - log_beta)
        step = p - excess / density if density > 0 else high + 1
        following = step if low < step < high else (low + high) / 2
        if abs(following - p) <= 1e-13 * p or high - low <= 1e-13 * high:
            return following
        p = following
    return p


def _betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b) by its continued fraction (modified Lentz),
    which converges quickly on the side of the mean it is used on (Numerical Recipes, 6.4)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return front * _continued_fraction(a, b, x) / a
    return 1 - front * _continued_fraction(b, a, 1 - x) / b


def _continued_fraction(a: float, b: float, x: float) -> float:
    tiny = 1e-300

    def nonzero(value: float) -> float:
        return value if abs(value) > tiny else tiny

    c, d = 1.0, 1 / nonzero(1 - (a + b) * x / (a + 1))
    h = d
    for m in range(1, 100_000):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1 / nonzero(1 + numerator * d)
            c = nonzero(1 + numerator / c)
            h *= d * c
        if abs(d * c - 1) < 1e-15:
            return h
    raise ArithmeticError(f"incomplete beta did not converge for a={a}, b={b}, x={x}")
