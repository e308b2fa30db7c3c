"""What every handler shares: logs correlated by execution, metrics, traces, and error translation.

A state machine task (``@task``) takes the state document and returns the keys it adds or replaces; the
decorator returns the merged document, which the state machine passes on (``OutputPath: $.Payload``).
An ``@event_handler`` (EventBridge targets: rescue, reconciler, alarm fired) returns its own result.

Every error is logged and counted, then raised unchanged (a transient AWS error as ``TransientAwsError``):
the Lambda runtime reports the exception's class name, which the ASL's ``Retry``/``Catch`` match.

Tracing: the functions run with X-Ray active and the state machine traces its executions, so a Tracer
subsegment per task, with the boto3 calls inside it, shows where a deployment spends its time (a throttled
``UpdateAlias``, a slow ``UpdateFunctionCode``). The public Powertools layer carries aws-xray-sdk (built
with every extra). The handler's response is not put into the trace: it is the deployment state, which
belongs to the execution history, not to a second store.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from handlers.aws.clients import describe, is_transient
from handlers.domain.catalog import METRICS_NAMESPACE, SERVICE
from handlers.domain.errors import DeployerError, TransientAwsError

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)
# Only botocore: the handlers make no other outgoing calls, and patching http.client as well would trace
# every AWS request twice. Outside Lambda (tests, the emulator) Powertools disables the tracer by itself.
tracer = Tracer(service=SERVICE, patch_modules=("botocore",))

TaskFunction = Callable[[dict], dict]


def task(fn: TaskFunction) -> Callable[[dict, object], dict]:
    return _wrap(fn, merge=True)


def event_handler(fn: TaskFunction) -> Callable[[dict, object], dict]:
    return _wrap(fn, merge=False)


def _wrap(fn: TaskFunction, *, merge: bool) -> Callable[[dict, object], dict]:
    name = fn.__module__.rsplit(".", 1)[-1]

    @tracer.capture_lambda_handler(capture_response=False)
    @logger.inject_lambda_context(clear_state=True)
    @metrics.log_metrics
    @functools.wraps(fn)
    def handler(event: dict, context: object) -> dict:
        deployment = event.get("deployment") or {}
        execution = event.get("executionId") or (event.get("detail") or {}).get("executionArn")
        logger.set_correlation_id(execution)
        logger.append_keys(task=name, function=deployment.get("functionName"))
        tracer.put_annotation("task", name)
        if execution:
            tracer.put_annotation("execution", execution.rsplit(":", 1)[-1])
        started = time.perf_counter()
        try:
            update = fn(event)
        except ClientError as exc:
            count("TaskFailed")
            if is_transient(exc):
                count("TransientAwsError")  # throttling, 5xx, conflicts: the dashboard's throttles
                logger.warning("transient AWS error, the state machine will retry", error=describe(exc))
                raise TransientAwsError(describe(exc)) from exc
            logger.exception("AWS call failed", error=describe(exc))
            raise
        except DeployerError as exc:
            count("TaskFailed")
            logger.warning(str(exc), error=type(exc).__name__)
            raise
        except Exception as exc:  # a bug or an unforeseen failure: the same name reaches the state machine
            count("TaskFailed")
            logger.exception("unexpected error", error=type(exc).__name__)
            raise
        finally:
            # Every metric of this invocation carries the task: how long each step takes, how often it fails.
            metrics.add_dimension(name="task", value=name)
            metrics.add_metric(name="TaskDuration", unit=MetricUnit.Milliseconds,
                               value=round((time.perf_counter() - started) * 1000, 1))
        return {**event, **update} if merge else update

    @functools.wraps(handler)
    def cleared(event: dict, context: object) -> dict:
        try:
            return handler(event, context)
        finally:
            # log_metrics flushes (and so clears) only while metrics are enabled; disabled (the emulator),
            # values would pile up until Powertools prints them anyway at 100 per metric.
            metrics.clear_metrics()

    return cleared


def count(name: str, value: float = 1) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def gauge(name: str, seconds: float) -> None:
    """A duration measured now (not a count): e.g. how long the oldest lock has been held."""
    metrics.add_metric(name=name, unit=MetricUnit.Seconds, value=round(seconds, 1))
