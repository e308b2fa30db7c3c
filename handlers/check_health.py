"""CheckHealth: the watched alarms first (a hard stop), then the canary verdict on both versions' metrics.

An alarm in ALARM (or gone) rolls back without reading metrics. Then, when the deployment analyses and has a
stable version to compare with, one GetMetricData call reads both versions over the window since traffic first
moved (docs/canary-analysis.md): Fail rolls back with the verdict's reason, Inconclusive (or an alarm without
data, as ``insufficientData`` says) lets the bake go on and extends a step that ends on it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from handlers.aws import deployments, metrics
from handlers.aws.alarms import alarm_states
from handlers.aws.context import Aws
from handlers.aws.task import count, logger, task
from handlers.domain import canary_metrics, progress
from handlers.domain.analysis import FAIL, INCONCLUSIVE, analyse
from handlers.domain.approval import PromoteRequest
from handlers.domain.errors import DeploymentUnhealthy
from handlers.domain.health import judge
from handlers.domain.model import Deployment, Release


@task
def handler(event: dict) -> dict:
    deployment = Deployment.from_json(event["deployment"])
    traffic = progress.Traffic.from_json(event["traffic"])
    aws = Aws.from_environment()
    where = (f"with {traffic.weight:g}% of traffic on the new version "
             f"(step {traffic.step + 1} of {len(deployment.plan.steps)})")
    states = alarm_states(deployment.alarms, aws.client("cloudwatch"))
    verdict = judge(deployment.alarms, states, deployment.ignored_alarms,
                    insufficient_data=deployment.analysis.insufficient_data)
    if not verdict.healthy:
        count("HealthCheckFailed")
        raise DeploymentUnhealthy(f"{verdict.reason} {where}")
    undecided = [verdict.reason] if verdict.inconclusive else []
    analysis = _analyse(aws, deployment, Release.from_json(event["release"]).version, traffic)
    if analysis and analysis["verdict"] == FAIL:
        count("CanaryAnalysisFailed")
        raise DeploymentUnhealthy(f"canary analysis failed ({analysis['rule']}): {analysis['reason']} {where}")
    if analysis and analysis["verdict"] == INCONCLUSIVE:
        undecided.append(analysis["reason"])
    logger.info("checked", alarms=states, weight=traffic.weight, analysis=analysis and analysis["reason"])
    advanced = progress.checked(deployment.plan, traffic, deployment.check_interval_seconds,
                                inconclusive="; ".join(undecided) or None, analysis=deployment.analysis)
    advanced = _promote_requested(deployment, advanced, event["executionId"])
    return {"traffic": advanced.to_json(), "alarms": states, "analysis": analysis}


def _analyse(aws: Aws, deployment: Deployment, new: str, traffic: progress.Traffic) -> dict | None:
    """The verdict as the check's output shows it (``Analysis.to_json()`` and the window it read), or None
    when the deployment judges by alarms alone or has no stable version to compare with."""
    if not deployment.analysis.enabled or deployment.stable is None:
        return None
    now = datetime.now(UTC)
    since = canary_metrics.parse_time(traffic.traffic_since) if traffic.traffic_since else now
    lag = aws.metrics_lag_seconds
    reading = metrics.read(
        aws, function=deployment.function_name, alias=deployment.alias, new=new,
        stable=deployment.stable.version, settings=deployment.analysis, since=since, now=now,
        lag=canary_metrics.lag_seconds(deployment.function_timeout_seconds) if lag is None else lag,
    )
    result = analyse(deployment.analysis, reading.new, reading.stable).to_json()
    if reading.window is None:  # "no invocations yet" would be wrong: there may be some, too recent to count
        return {**result, "reason": f"no metrics old enough to count yet (a window ends {reading.lag:g} s before "
                                    f"its check; traffic moved {(now - since).total_seconds():.1f} s ago)",
                "window": {"from": canary_metrics.iso(since), "to": None, "lagSeconds": round(reading.lag, 3)}}
    return {**result, "window": reading.window.to_json()}


def _promote_requested(deployment: Deployment, advanced: progress.Traffic, execution: str) -> progress.Traffic:
    """A person's ``lambda-deployer promote`` waiting on the lock (one GetItem a check), applied after a check
    that passed (handlers.domain.approval)."""
    lock = deployments.holder(deployment.function_name)
    request = PromoteRequest.from_json(lock.promote) if lock and lock.execution == execution else None
    if not request:
        return advanced
    logger.info("promote requested", mode=request.mode, by=request.by)
    return progress.promote_requested(deployment.plan, advanced, mode=request.mode, by=request.by, at=request.at)
