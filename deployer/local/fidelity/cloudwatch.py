"""CloudWatch as AWS documents it, where moto 5.2.5 differs (MOTO_GAPS.md, "CloudWatch").

The code stays beside what it serves: metric queries in ``deployer.local.metrics`` (with the recorder of
Lambda's metrics), alarm states and history in ``deployer.local.alarms`` (with the evaluator).
"""

from __future__ import annotations

from deployer.local import alarms, metrics
from deployer.local.patching import Patch


def patches(*, recorder: metrics.LambdaMetrics, evaluator: alarms.AlarmEvaluator) -> list[Patch]:
    return [*metrics.patches(recorder), *alarms.patches(evaluator)]
