"""Request quotas as AWS enforces them: a token bucket per account, Region and API group, and beyond it
the service's own throttling error.

The check sits where moto dispatches every request (``BaseResponse.call_action``), so every caller of the
account meets it alike: the task handlers, the CLI, a test's own setup calls and HTTP clients of
``local serve``. Step Functions' own calls (the interpreter's Lambda invokes and its ``.sync`` polling of
child executions) are the service talking to itself and pass; their clients are marked with
:func:`mark_internal`.

Buckets start full and run on the wall clock whatever the emulator's ``time_scale``: a scaled emulator
shortens the deployer's waits, not AWS's quotas, so it meets more throttling than AWS would.

The numbers, as AWS documents them (looked up; a rate without a documented bucket may burst one second's
worth):

- Lambda quotas, "Lambda API requests": GetFunction 100 requests/s; GetPolicy 15/s; "Remainder of the
  control plane API requests (excludes invocation, GetFunction, and GetPolicy requests)" 15/s, one budget
  shared by every other API. Throttled: ``TooManyRequestsException``, HTTP 429, body
  ``{"Reason": "CallerRateLimitExceeded", "Type": "User", "message": "Rate exceeded"}``.
- Step Functions quotas, "Quotas related to API action throttling" and "Other quotas": a bucket size and a
  refill rate per API, larger in us-east-1, us-west-2 and eu-west-1 (e.g. StartExecution 1,300 + 300/s
  there, 800 + 150/s elsewhere; DescribeExecution 300 + 15/s, 250 + 10/s; GetExecutionHistory 400 + 20/s).
  Throttled: ``ThrottlingException``, HTTP 400.
- CloudWatch service quotas: DescribeAlarms 9 TPS, GetMetricData 50 TPS (without Metrics Insights),
  SetAlarmState and PutMetricAlarm 3 TPS, ... Throttled: ``Throttling``, HTTP 400, "Rate exceeded".
- Amazon ECR service quotas: PutImage 10/s, BatchGetImage 2,000/s, the other image push and pull APIs.
  Throttled: ``ThrottlingException``, HTTP 400, "Rate exceeded".

Not throttled: DynamoDB on-demand tables (a new one serves 4,000 writes and 12,000 reads per second at once,
and the deployer makes a few), the Resource Groups Tagging API and ECR's other APIs (no rate documented).

Sources: docs.aws.amazon.com lambda/latest/dg/gettingstarted-limits.html, step-functions/latest/dg/
limits-overview.html, AmazonCloudWatch/latest/monitoring/cloudwatch_limits.html, AmazonECR/latest/userguide/
service-quotas.html, amazondynamodb/latest/developerguide/on-demand-capacity-mode.html; the error bodies as
the services send them (e.g. Lambda's 429 ``{"Reason":"CallerRateLimitExceeded","Type":"User",...}``).
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass

from moto.core import errors as moto_errors
from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, BaseResponse

from deployer.local import patching
from deployer.local.patching import Kind, Patch

LAMBDA_CONTROL_PLANE = "lambda:ControlPlane"
"""The group of every Lambda API but invocations, GetFunction and GetPolicy: one 15/s budget per account."""

INTERNAL_HEADER = "x-lambda-deployer-emulator-internal"

_LAMBDA_INVOCATIONS = frozenset({"Invoke", "InvokeAsync", "InvokeWithResponseStream"})
_LAMBDA_OWN = {"GetFunction": 100, "GetPolicy": 15}
_LAMBDA_CONTROL_PLANE_RATE = 15

_SFN_LARGE_REGIONS = frozenset({"us-east-1", "us-west-2", "eu-west-1"})
_SFN = {  # API: ((bucket size, refill per second) in the large Regions, (…) in all other Regions)
    "StartExecution": ((1300, 300), (800, 150)),
    "StopExecution": ((1000, 200), (500, 25)),
    "DescribeExecution": ((300, 15), (250, 10)),
    "GetExecutionHistory": ((400, 20), (400, 20)),
    "ListExecutions": ((200, 5), (100, 2)),
    "DescribeStateMachine": ((200, 20), (200, 20)),
    "DescribeStateMachineForExecution": ((200, 1), (200, 1)),
    "ListStateMachines": ((100, 5), (100, 5)),
    "CreateStateMachine": ((100, 1), (100, 1)),
    "UpdateStateMachine": ((100, 1), (100, 1)),
    "DeleteStateMachine": ((100, 1), (100, 1)),
    "ListTagsForResource": ((100, 1), (100, 1)),
    "TagResource": ((200, 1), (200, 1)),
    "UntagResource": ((200, 1), (200, 1)),
    "SendTaskSuccess": ((3000, 500), (1500, 300)),
    "SendTaskFailure": ((3000, 500), (1500, 300)),
    "SendTaskHeartbeat": ((3000, 500), (1500, 300)),
    "GetActivityTask": ((3000, 500), (1500, 300)),
    "CreateActivity": ((100, 1), (100, 1)),
    "DeleteActivity": ((100, 1), (100, 1)),
    "DescribeActivity": ((200, 1), (200, 1)),
    "ListActivities": ((100, 10), (100, 5)),
}
_CLOUDWATCH = {  # API: transactions per second
    "DescribeAlarms": 9, "DescribeAlarmsForMetric": 9, "GetMetricData": 50, "GetMetricStatistics": 400,
    "ListMetrics": 25, "PutMetricData": 500, "PutMetricAlarm": 3, "SetAlarmState": 3, "DeleteAlarms": 3,
    "DescribeAlarmHistory": 3, "DisableAlarmActions": 3, "EnableAlarmActions": 3, "GetMetricWidgetImage": 20,
    "PutDashboard": 10, "GetDashboard": 10, "ListDashboards": 10, "DeleteDashboards": 10,
    "PutAnomalyDetector": 10, "DescribeAnomalyDetectors": 10, "DeleteAnomalyDetector": 5,
}
_ECR = {  # API: requests per second
    "PutImage": 10, "BatchGetImage": 2000, "BatchCheckLayerAvailability": 1000, "CompleteLayerUpload": 100,
    "GetAuthorizationToken": 500, "GetDownloadUrlForLayer": 3000, "InitiateLayerUpload": 100,
    "UploadLayerPart": 500,
}

_THROTTLE_CODES = {"lambda": "TooManyRequestsException", "cloudwatch": "Throttling"}  # others: ThrottlingException


@dataclass(frozen=True)
class Quota:
    group: str  # what shares the bucket: "<service>:<API>", or LAMBDA_CONTROL_PLANE
    size: float  # tokens the bucket holds: the burst
    refill: float  # tokens per second: the sustained rate


def quota_for(service: str, operation: str, region: str) -> Quota | None:
    """The documented quota a request counts against (None: none is documented, or none applies)."""
    if service == "lambda":
        if operation in _LAMBDA_INVOCATIONS:
            return None
        if operation in _LAMBDA_OWN:
            return Quota(f"lambda:{operation}", _LAMBDA_OWN[operation], _LAMBDA_OWN[operation])
        return Quota(LAMBDA_CONTROL_PLANE, _LAMBDA_CONTROL_PLANE_RATE, _LAMBDA_CONTROL_PLANE_RATE)
    if service == "stepfunctions" and operation in _SFN:
        size, refill = _SFN[operation][0 if region in _SFN_LARGE_REGIONS else 1]
        return Quota(f"stepfunctions:{operation}", size, refill)
    rates = {"cloudwatch": _CLOUDWATCH, "ecr": _ECR}.get(service, {})
    if operation in rates:
        return Quota(f"{service}:{operation}", rates[operation], rates[operation])
    return None


@dataclass(frozen=True)
class Request:
    at: float  # the clock's reading when it arrived
    account: str
    region: str
    group: str
    operation: str
    admitted: bool
    caller: str | None = None  # the deployer's task that made it, if one did


class Quotas:
    """The account's buckets and a record of the requests that counted against one (the newest 100,000).

    ``enforce=False`` only records: what a workload would ask of AWS, unthrottled. ``table`` maps a request
    (service, API, Region) to its quota; a test may tighten AWS's."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, *, enforce: bool = True,
                 table: Callable[[str, str, str], Quota | None] = quota_for) -> None:
        self.clock, self.enforce, self.table = clock, enforce, table
        self._buckets: dict[tuple[str, str, str], list[float]] = {}  # (account, region, group): [tokens, at]
        self._requests: deque[Request] = deque(maxlen=100_000)
        self._lock = threading.Lock()

    def admit(self, account: str, region: str, service: str, operation: str,
              caller: str | None = None) -> Quota | None:
        """Take a token for this request: None if it may go ahead, else the quota it is over."""
        quota = self.table(service, operation, region)
        if quota is None:
            return None
        with self._lock:
            now = self.clock()
            tokens, last = self._buckets.get((account, region, quota.group), (quota.size, now))
            tokens = min(quota.size, tokens + (now - last) * quota.refill)
            admitted = tokens >= 1 or not self.enforce
            self._buckets[account, region, quota.group] = [max(tokens - 1, 0) if admitted else tokens, now]
            self._requests.append(Request(now, account, region, quota.group, operation, admitted, caller))
        return None if admitted else quota

    def requests(self, group: str | None = None, *, since: float | None = None) -> list[Request]:
        with self._lock:
            return [r for r in self._requests
                    if (group is None or r.group == group) and (since is None or r.at >= since)]

    def throttled(self, group: str | None = None, *, since: float | None = None) -> Counter[str]:
        """Throttling errors answered, per API group."""
        return Counter(r.group for r in self.requests(group, since=since) if not r.admitted)

    def peak(self, group: str, *, window: float = 1.0, since: float | None = None, admitted: bool = False) -> int:
        """The most requests of ``group`` (only those let through, if ``admitted``) within any ``window`` s."""
        times = [r.at for r in self.requests(group, since=since) if r.admitted or not admitted]
        best, first = 0, 0
        for last, at in enumerate(times):
            while at - times[first] >= window:
                first += 1
            best = max(best, last - first + 1)
        return best


class _Throttled(ServiceException):
    """The service's throttling error, serialized by moto in the service's own protocol."""


def _warn_unless_ours(message, *args, **kwargs) -> None:
    """moto warns of an error code its service model lacks: AWS's models omit the throttling errors."""
    if "Exception(_Throttled)" not in str(message):
        _warn(message, *args, **kwargs)


_warn = moto_errors.warn


def _throttled(service: str) -> _Throttled:
    error = _Throttled(_THROTTLE_CODES.get(service, "ThrottlingException"), "Rate exceeded")
    if service == "lambda":
        error.Type, error.Reason = "User", "CallerRateLimitExceeded"
    return error


def patches(quotas: Quotas, caller: Callable[[], str | None] = lambda: None) -> list[Patch]:
    """Installed (``deployer.local.patching.installed``), every request moto answers, from any caller, first
    takes its token. ``caller`` names who is asking, for the record."""
    original = patching.original(BaseResponse, "call_action")

    def call_action(response: BaseResponse):
        if not response.headers.get(INTERNAL_HEADER):
            service = response.boto3_service_name
            if quotas.admit(response.current_account, response.region, service, response._get_action(), caller()):
                return response.serialized(ActionResult(_throttled(service)))
        return original(response)

    return [
        Patch(BaseResponse, "call_action", call_action, ("self",),
              uses=("boto3_service_name", "_get_action", "serialized"),
              why="AWS throttles every caller beyond its request quotas"),
        Patch(moto_errors, "warn", _warn_unless_ours, ("message", "category", "stacklevel", "source"), Kind.QUIET,
              why="moto warns that the services' models lack their throttling errors"),
    ]


def mark_internal(client) -> None:
    """The requests of this client are a service's own (Step Functions running a state machine)."""
    def mark(params, **_):
        params.setdefault("headers", {})[INTERNAL_HEADER] = "1"

    client.meta.events.register("before-call", mark)
