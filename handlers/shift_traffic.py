"""ShiftTraffic: route the current step's weight to the new version; the stable version stays primary."""

from __future__ import annotations

from datetime import UTC, datetime

from handlers.aws import alias, notify
from handlers.aws.task import count, logger, task
from handlers.domain import canary_metrics, notifications, progress
from handlers.domain.model import Deployment, Release


@task
def handler(event: dict) -> dict:
    deployment = Deployment.from_json(event["deployment"])
    release = Release.from_json(event["release"])
    traffic = progress.Traffic.from_json(event["traffic"])
    step = deployment.plan.steps[traffic.step]
    began = canary_metrics.iso(datetime.now(UTC))  # before the write: no call of the new version precedes it
    revision = alias.write(
        deployment.function_arn, deployment.alias, version=deployment.stable.version,
        weights={release.version: round(step.weight / 100, 4)}, revision_id=traffic.alias_revision_id,
    )
    count("TrafficShifted")
    logger.info("traffic shifted", weight=step.weight, step=traffic.step + 1,
                steps=len(deployment.plan.steps), version=release.version)
    notify.publish(notifications.traffic_shifted(deployment, release.version, step.weight, traffic.step,
                                                 event["executionId"]))
    advanced = progress.shifted(deployment.plan, traffic, deployment.check_interval_seconds, revision,
                                deployment.checks, at=began)
    return {"traffic": advanced.to_json()}
