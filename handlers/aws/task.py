"""What every handler shares: logging with the execution id, metrics, and error translation.

A state machine task (``@task``) takes the state document and returns the keys it adds or replaces; the
decorator returns the merged document, which the state machine passes on (``OutputPath: $.Payload``).
An ``@event_handler`` (EventBridge targets: rescue, reconciler) returns its own result.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from handlers.aws.clients import describe, is_transient
from handlers.domain.errors import DeployerError, TransientAwsError

SERVICE = "lambda-deployer"
logger = Logger(service=SERVICE)
metrics = Metrics(namespace="LambdaDeployer", service=SERVICE)

TaskFunction = Callable[[dict], dict]


def task(fn: TaskFunction) -> Callable[[dict, object], dict]:
    return _wrap(fn, merge=True)


def event_handler(fn: TaskFunction) -> Callable[[dict, object], dict]:
    return _wrap(fn, merge=False)


def _wrap(fn: TaskFunction, *, merge: bool) -> Callable[[dict, object], dict]:
    name = fn.__module__.rsplit(".", 1)[-1]

    @logger.inject_lambda_context(clear_state=True)
    @functools.wraps(fn)
    def handler(event: dict, context: object) -> dict:
        deployment = event.get("deployment") or {}
        execution = event.get("executionId") or (event.get("detail") or {}).get("executionArn")
        logger.append_keys(execution_id=execution, function=deployment.get("functionName"))
        started = time.perf_counter()
        try:
            update = fn(event)
        except ClientError as exc:
            count("TaskFailed")
            if is_transient(exc):
                logger.warning("transient AWS error, the state machine will retry", error=describe(exc))
                raise TransientAwsError(describe(exc)) from exc
            logger.exception("AWS call failed")
            raise
        except DeployerError as exc:
            count("TaskFailed")
            logger.warning(str(exc), error=type(exc).__name__)
            raise
        finally:
            # Every metric of this invocation carries the task: how long each step takes, how often it fails.
            metrics.add_dimension(name="task", value=name)
            metrics.add_metric(name="TaskDuration", unit=MetricUnit.Milliseconds,
                               value=round((time.perf_counter() - started) * 1000, 1))
            metrics.flush_metrics()
            metrics.clear_metrics()  # flushing is skipped, not cleared, while metrics are disabled
        return {**event, **update} if merge else update

    return handler


def count(name: str, value: float = 1) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
