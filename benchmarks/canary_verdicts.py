"""Print (not assert) how often one check's verdict is Pass, Inconclusive or Fail, with the default settings.

    PYTHONPATH=. .venv/bin/python benchmarks/canary_verdicts.py

Exact, not simulated: for each scenario (true error rates of both versions, calls each served in the window)
it sums the binomial probabilities of every pair of error counts whose verdict is the same. Terms below
1e-10 are left out. The numbers are what docs/canary-analysis.md quotes.
"""

from __future__ import annotations

import math
import time

from handlers.domain.analysis import FAIL, INCONCLUSIVE, PASS, AnalysisSettings, VersionStats, analyse

SETTINGS = AnalysisSettings(latency=None)  # errors only: latency has no distribution to sum over

# (what it is, new version's true error rate, stable version's, new version's calls, stable version's calls)
SCENARIOS = [
    ("healthy, no errors at all", 0.0, 0.0, 100, 900),
    ("healthy, as good as stable", 0.005, 0.005, 100, 900),
    ("healthy, as good as stable", 0.005, 0.005, 200, 1800),
    ("healthy, as good as stable", 0.005, 0.005, 1000, 9000),
    ("healthy, stable erring 3 %", 0.03, 0.03, 200, 1800),
    ("healthy, stable erring 3 %", 0.03, 0.03, 1000, 9000),
    ("a little worse (1 % vs 0.5 %)", 0.01, 0.005, 200, 1800),
    ("worse (3 % vs 0.5 %)", 0.03, 0.005, 200, 1800),
    ("worse (3 % vs 0.5 %)", 0.03, 0.005, 1000, 9000),
    ("at the ceiling (5 % vs 0.5 %)", 0.05, 0.005, 100, 900),
    ("at the ceiling (5 % vs 0.5 %)", 0.05, 0.005, 1000, 9000),
    ("broken, 10 % errors", 0.10, 0.005, 20, 180),
    ("broken, 10 % errors", 0.10, 0.005, 100, 900),
    ("broken, 10 % errors", 0.10, 0.005, 200, 1800),
    ("broken, 20 % errors", 0.20, 0.005, 10, 90),
    ("broken, 20 % errors", 0.20, 0.005, 20, 180),
    ("broken, 20 % errors", 0.20, 0.005, 60, 540),
    ("broken, every call", 1.0, 0.005, 3, 27),
]


def pmf(k: int, n: int, p: float) -> float:
    if p in (0.0, 1.0):
        return 1.0 if k == round(p * n) else 0.0
    return math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
                    + k * math.log(p) + (n - k) * math.log1p(-p))


def likely(n: int, p: float) -> list[tuple[int, float]]:
    return [(k, w) for k in range(n + 1) if (w := pmf(k, n, p)) > 1e-10]


def chances(p_new: float, p_stable: float, n_new: int, n_stable: int) -> dict[str, float]:
    found = {PASS: 0.0, INCONCLUSIVE: 0.0, FAIL: 0.0}
    for k, w in likely(n_new, p_new):
        for j, v in likely(n_stable, p_stable):
            verdict = analyse(SETTINGS, VersionStats("2", n_new, k), VersionStats("1", n_stable, j)).verdict
            found[verdict] += w * v
    return found


def main() -> None:
    print(f"one check, defaults (ceiling {SETTINGS.error_rate.ceiling:g} %, {SETTINGS.error_rate.ratio:g}x stable "
          f"+ {SETTINGS.error_rate.difference:g} point, {SETTINGS.min_invocations} calls, "
          f"{SETTINGS.confidence:.0%} confidence)\n")
    print(f"{'scenario':32} {'new':>6} {'stable':>7} {'calls':>12}   {'Pass':>7} {'Inconcl.':>8} {'Fail':>7}")
    started = time.perf_counter()
    for name, p_new, p_stable, n_new, n_stable in SCENARIOS:
        found = chances(p_new, p_stable, n_new, n_stable)
        print(f"{name:32} {p_new:6.1%} {p_stable:7.1%} {n_new:>5}/{n_stable:<6}   "
              f"{found[PASS]:7.2%} {found[INCONCLUSIVE]:8.2%} {found[FAIL]:7.2%}")
    print(f"\n({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
