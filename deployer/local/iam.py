"""IAM in the emulator: every AWS call a deployer function makes is allowed only if its role allows it.

moto enforces no IAM, so a handler could call what its role on AWS may not, and pass. Here each call made in
a ``TaskScope`` is turned into the IAM request AWS would authorize (action, resource ARN, the resource's tags)
and checked against exactly the statements ``infra.permissions`` grants that function's role, with the
scopes resolved to this emulator's ARNs by the same ``Resources`` CDK uses. The table is read at call time,
so a test can take one permission away. A refused call is answered as the service answers it:
``AccessDeniedException`` (CloudWatch: ``AccessDenied``) with AWS's wording, e.g.

    User: arn:aws:sts::123456789012:assumed-role/<role>/<session> is not authorized to perform:
    lambda:PublishVersion on resource: arn:aws:lambda:…:function:orders-api because no identity-based policy
    allows the lambda:PublishVersion action

What this models, as the Service Authorization Reference (SAR) and the service guides say:

- Actions are the service prefix (``tag`` for the Resource Groups Tagging API, ``states`` for Step
  Functions, ``cloudwatch`` for monitoring) plus the operation, except Lambda ``Invoke``, whose action is
  ``lambda:InvokeFunction`` (Lambda guide, "Resources and conditions for Lambda actions").
- Resources: Lambda function ARNs from ``FunctionName`` (name, partial or full ARN, a qualifier in the name
  or in ``Qualifier``; alias and version operations act on the function, SAR resource type ``function*``),
  ECR repository ARNs, the DynamoDB table ARN, Step Functions state machine and execution ARNs, CloudWatch
  ``alarm:*`` for DescribeAlarms (the ARN AWS names when it refuses it), EventBridge event bus ARNs for
  ``PutEvents`` (SAR resource type ``event-bus``; no ``EventBusName`` is the default bus, a name or an ARN
  names another) and rule ARNs for the rule operations, ``*`` where the SAR lists no resource type
  (``tag:GetResources``, ``cloudwatch:GetMetricData``).
- ``aws:ResourceTag/<key>`` is evaluated against the function's tags in moto; tags live on the function
  and apply to its versions and aliases ("Tags apply at the function level, not to versions or aliases",
  Lambda guide, "Using tags on Lambda functions"). A function that does not exist has no tags: a condition
  on a key absent from the request context does not match (IAM guide, condition element), so the call is
  refused with AccessDenied rather than answered ResourceNotFound (the handlers treat both alike).
- ``UpdateFunctionCode``/``CreateFunction`` with an ``ImageUri`` also need ``ecr:BatchGetImage`` and
  ``ecr:GetDownloadUrlForLayer`` on the image's repository: "the user or role that created or updated the
  Lambda function must have ecr:BatchGetImage and ecr:GetDownloadUrlForLayer permissions on the ECR
  repository" (AWS re:Post knowledge center, lambda-ecr-image). The SAR lists no dependent actions for it,
  and that article states it for a repository in another account; the emulator requires it always.
- ``GetFunction`` without ``lambda:ListTags`` succeeds but returns no ``Tags`` ("Lambda returns tag data
  only if you have explicit allow permissions for lambda:ListTags", GetFunction API reference); the text
  of the ``TagsError`` it returns instead is the emulator's.
- ``sts:GetCallerIdentity`` needs no permission (STS API reference).

Not modelled: deny statements, permission boundaries and session policies (the deployer uses none),
resource policies, and condition operators other than ``StringEquals``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from botocore.handlers import BUILTIN_HANDLERS
from moto.awslambda.utils import get_backend as lambda_backend
from moto.core import DEFAULT_ACCOUNT_ID

from deployer.local.faults import ApiCall, Refusal, TaskScope
from handlers.domain.images import parse_image_uri
from infra import permissions
from infra.permissions import Allow, Resources

ACCOUNT = DEFAULT_ACCOUNT_ID
CI_ROLE = "CI"
"""The principal a test runs the CLI as (``TaskScope(…, CI_ROLE)``): the CI policy, ``CI_PERMISSIONS``."""
APPROVER_ROLE = "Approver"
"""A person with the approver policy (``APPROVER_PERMISSIONS``): approve, reject, promote."""

PREFIXES = {
    "lambda": "lambda", "ecr": "ecr", "dynamodb": "dynamodb", "cloudwatch": "cloudwatch", "monitoring": "cloudwatch",
    "stepfunctions": "states", "resourcegroupstaggingapi": "tag", "sts": "sts", "events": "events", "s3": "s3",
}
"""botocore's service name -> the IAM service prefix (SAR)."""

ACTIONS = {("lambda", "Invoke"): "lambda:InvokeFunction"}
FREE = {("sts", "GetCallerIdentity")}

_ERRORS = {  # how each service answers a refused call: HTTP status, error code
    "lambda": (403, "AccessDeniedException"),
    "cloudwatch": (403, "AccessDenied"),
}
_DEFAULT_ERROR = (400, "AccessDeniedException")  # ECR, DynamoDB, Step Functions, Tagging (JSON protocols)

_HIDE_TAGS = "lambda_deployer_emulator_hide_tags"


def roles() -> Mapping[str, tuple[Allow, ...]]:
    """Every principal the emulator knows, read at call time: the task functions' roles, and CI."""
    return {**permissions.TASK_PERMISSIONS, CI_ROLE: permissions.CI_PERMISSIONS,
            APPROVER_ROLE: permissions.APPROVER_PERMISSIONS}


@dataclass(frozen=True)
class Need:
    """One thing IAM authorizes for a call: an action on a resource (an ARN, or ``*``)."""

    action: str
    resource: str


@dataclass(frozen=True)
class Decision:
    """What IAM decided for one need of one call: the record tests read (``Enforcer.decisions``)."""

    execution: str | None
    task: str
    need: Need
    allowed: bool


class Enforcer:
    """The emulator's IAM: a ``guard`` for ``ApiLayer`` that refuses what a function's role does not allow."""

    def __init__(self, resources: Resources, principal: Callable[[str], tuple[str, str]]) -> None:
        """``principal(task)`` -> (role name, session name) of the function running ``task``."""
        self.resources = resources
        self.principal = principal
        self.decisions: list[Decision] = []
        self._lock = threading.Lock()

    def guard(self, scope: TaskScope, call: ApiCall, context: dict) -> Refusal | None:
        if (call.service, call.operation) in FREE:
            return None
        region = call.region or self.resources.region
        statements = roles().get(scope.task, ())
        refused = None
        for need in needs(call.service, call.operation, call.params, region):
            allowed = self.allows(statements, need)
            with self._lock:
                self.decisions.append(Decision(scope.execution, scope.task, need, allowed))
            if not allowed and refused is None:
                refused = need
        if refused:
            return self.refusal(scope.task, call.service, refused)
        if (call.service, call.operation) == ("lambda", "GetFunction"):
            function = _unqualified(function_arn(call.params["FunctionName"], None, region))
            if not self.allows(statements, Need("lambda:ListTags", function)):
                context[_HIDE_TAGS] = True
        return None

    def denials(self, execution: str | None = None) -> list[Decision]:
        with self._lock:
            return [d for d in self.decisions if not d.allowed and (execution is None or d.execution == execution)]

    def allows(self, statements: tuple[Allow, ...], need: Need) -> bool:
        return any(
            any(_matches(action, need.action, case=False) for action in allow.actions)
            and any(_matches(arn, need.resource) for arn in self.resources.arns(allow.scope))
            and _conditions_hold(self.resources.conditions(allow.scope), need.resource)
            for allow in statements
        )

    def refusal(self, task: str, service: str, need: Need) -> Refusal:
        role, session = self.principal(task)
        status, code = _ERRORS.get(service, _DEFAULT_ERROR)
        on = "" if need.resource == "*" and need.action.startswith("tag:") else f" on resource: {need.resource}"
        return Refusal(status, code, (
            f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session} is not authorized to perform: "
            f"{need.action}{on} because no identity-based policy allows the {need.action} action"
        ))


def needs(service: str, operation: str, params: dict, region: str) -> list[Need]:
    """What IAM authorizes for this call: the operation's action on each resource it acts on, plus the
    actions the service checks on the caller's behalf."""
    prefix = PREFIXES.get(service)
    if prefix is None or service not in _RESOURCES:
        raise NotImplementedError(f"deployer.local.iam knows no IAM model for {service}; add it to PREFIXES/_RESOURCES")
    action = ACTIONS.get((service, operation), f"{prefix}:{operation}")
    found = [Need(action, resource) for resource in _RESOURCES[service](operation, params, region)]
    if service == "s3":
        return _s3(operation, params)
    uri = params.get("ImageUri") or (params.get("Code") or {}).get("ImageUri")
    if service == "lambda" and operation in ("UpdateFunctionCode", "CreateFunction") and uri:
        image = parse_image_uri(uri)
        repository = _repository_arn(image.repository, image.account, image.region)
        found += [Need("ecr:BatchGetImage", repository), Need("ecr:GetDownloadUrlForLayer", repository)]
    code = params if operation == "UpdateFunctionCode" else params.get("Code") or {}
    if service == "lambda" and operation in ("UpdateFunctionCode", "CreateFunction") and code.get("S3Bucket"):
        found += _read_object(code["S3Bucket"], code["S3Key"], code.get("S3ObjectVersion"))
    return found


def _read_object(bucket: str, key: str, version_id: str | None) -> list[Need]:
    """Reading an object: s3:GetObject, and s3:GetObjectVersion for a given version (S3 API reference,
    GetObject and HeadObject "Permissions")."""
    arn = f"arn:aws:s3:::{bucket}/{key}"
    return [Need("s3:GetObject", arn)] + ([Need("s3:GetObjectVersion", arn)] if version_id else [])


def _s3(operation: str, params: dict) -> list[Need]:
    """S3's actions are not its operation names: HeadObject is s3:GetObject; CopyObject reads its source
    (s3:GetObject[Version]) and writes its destination (s3:PutObject) (S3 API reference, CopyObject)."""
    if operation in ("HeadObject", "GetObject"):
        return _read_object(params["Bucket"], params["Key"], params.get("VersionId"))
    if operation == "CopyObject":
        source = params["CopySource"]
        if isinstance(source, str):
            bucket, _, rest = source.lstrip("/").partition("/")
            key, _, query = rest.partition("?versionId=")
            source = {"Bucket": bucket, "Key": key, **({"VersionId": query} if query else {})}
        return [*_read_object(source["Bucket"], source["Key"], source.get("VersionId")),
                Need("s3:PutObject", f"arn:aws:s3:::{params['Bucket']}/{params['Key']}")]
    if operation == "PutObject":
        return [Need("s3:PutObject", f"arn:aws:s3:::{params['Bucket']}/{params['Key']}")]
    if "Bucket" in params and "Key" not in params:
        return [Need(f"s3:{operation}", f"arn:aws:s3:::{params['Bucket']}")]
    raise NotImplementedError(f"deployer.local.iam knows no IAM model for s3:{operation}")


# resources ---------------------------------------------------------------------------------------------

_FUNCTION = re.compile(
    r"^(?:arn:[^:]+:lambda:(?P<region>[^:]+):)?(?:(?P<account>\d{12}):)?(?:function:)?"
    r"(?P<name>[A-Za-z0-9_.-]+)(?::(?P<qualifier>[A-Za-z0-9_$.-]+))?$"
)
_QUALIFIED = {"GetFunction", "GetFunctionConfiguration", "Invoke", "GetPolicy", "DeleteFunction"}  # version/alias ARNs
_NOT_FUNCTIONS = {"ListFunctions": "*", "GetAccountSettings": "*", "ListEventSourceMappings": "*"}


def function_arn(function_name: str, qualifier: str | None, region: str) -> str:
    """The ARN IAM sees for ``FunctionName`` (+ ``Qualifier``): the version/alias ARN when qualified."""
    match = _FUNCTION.match(function_name)
    if not match:
        raise ValueError(f"not a Lambda function name or ARN: {function_name}")
    arn = f"arn:aws:lambda:{match['region'] or region}:{match['account'] or ACCOUNT}:function:{match['name']}"
    qualifier = qualifier or match["qualifier"]
    return f"{arn}:{qualifier}" if qualifier else arn


def _lambda(operation: str, params: dict, region: str) -> list[str]:
    if operation in _NOT_FUNCTIONS:
        return [_NOT_FUNCTIONS[operation]]
    if "Resource" in params:  # ListTags, TagResource, UntagResource
        return [params["Resource"]]
    if operation in _QUALIFIED:
        return [function_arn(params["FunctionName"], params.get("Qualifier"), region)]
    return [_unqualified(function_arn(params["FunctionName"], None, region))]


def _unqualified(arn: str) -> str:
    base, name = arn.split(":function:", 1)
    return f"{base}:function:{name.split(':', 1)[0]}"


def _name(arn: str) -> str:
    return arn.split(":function:", 1)[1].split(":", 1)[0]


def _repository_arn(name: str, registry: str | None, region: str) -> str:
    return f"arn:aws:ecr:{region}:{registry or ACCOUNT}:repository/{name}"


def _ecr(operation: str, params: dict, region: str) -> list[str]:
    if operation == "GetAuthorizationToken":
        return ["*"]
    if operation == "DescribeRepositories":
        names = params.get("repositoryNames") or ["*"]
        return [_repository_arn(name, params.get("registryId"), region) for name in names]
    return [_repository_arn(params["repositoryName"], params.get("registryId"), region)]


def _dynamodb(operation: str, params: dict, region: str) -> list[str]:
    batch = operation in ("BatchGetItem", "BatchWriteItem")
    tables = list(params["RequestItems"]) if batch else [params["TableName"]]
    index = f"/index/{params['IndexName']}" if params.get("IndexName") else ""
    return [f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{table}{index}" for table in tables]


_CLOUDWATCH_ANY = {"GetMetricData", "GetMetricStatistics", "ListMetrics", "PutMetricData", "DescribeAlarmsForMetric"}


def _cloudwatch(operation: str, params: dict, region: str) -> list[str]:
    if operation in _CLOUDWATCH_ANY:
        return ["*"]
    if operation == "DescribeAlarms":  # AWS names alarm:* when it refuses DescribeAlarms, whatever the names
        return [f"arn:aws:cloudwatch:{region}:{ACCOUNT}:alarm:*"]
    names = params.get("AlarmNames") or [params["AlarmName"]]
    return [f"arn:aws:cloudwatch:{region}:{ACCOUNT}:alarm:{name}" for name in names]


def _stepfunctions(operation: str, params: dict, region: str) -> list[str]:
    for key in ("executionArn", "stateMachineArn", "mapRunArn"):
        if key in params:
            return [params[key]]
    return ["*"]  # ListStateMachines, SendTaskSuccess/Failure/Heartbeat


def _bus_arn(bus: str | None, region: str) -> str:
    if bus and bus.startswith("arn:"):
        return bus
    return f"arn:aws:events:{region}:{ACCOUNT}:event-bus/{bus or 'default'}"


def _events(operation: str, params: dict, region: str) -> list[str]:
    if operation == "PutEvents":
        return sorted({_bus_arn(entry.get("EventBusName"), region) for entry in params.get("Entries", [])})
    rule = params.get("Name") or params.get("Rule")
    if rule:  # PutRule, DescribeRule, PutTargets, ...: rule/<name>, or rule/<bus>/<name> off the default bus
        bus = (params.get("EventBusName") or "default").rsplit("/", 1)[-1]
        return [f"arn:aws:events:{region}:{ACCOUNT}:rule/{rule if bus == 'default' else f'{bus}/{rule}'}"]
    return ["*"]


def _anything(operation: str, params: dict, region: str) -> list[str]:
    return ["*"]


_RESOURCES: dict[str, Callable[[str, dict, str], list[str]]] = {
    "lambda": _lambda, "ecr": _ecr, "dynamodb": _dynamodb, "cloudwatch": _cloudwatch,
    "stepfunctions": _stepfunctions, "resourcegroupstaggingapi": _anything, "sts": _anything, "events": _events,
    "s3": _anything,  # needs() models S3 on its own (_s3): its actions are not its operation names
}


# policy evaluation -------------------------------------------------------------------------------------

def _matches(pattern: str, value: str, *, case: bool = True) -> bool:
    """IAM wildcards: ``*`` any run of characters (``:`` and ``/`` included), ``?`` one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case else re.IGNORECASE) is not None


def _conditions_hold(conditions: dict | None, resource: str) -> bool:
    for operator, keys in (conditions or {}).items():
        if operator != "StringEquals":
            raise NotImplementedError(f"deployer.local.iam evaluates StringEquals only, not {operator}")
        for key, wanted in keys.items():
            if not key.startswith("aws:ResourceTag/"):
                raise NotImplementedError(f"deployer.local.iam evaluates aws:ResourceTag only, not {key}")
            value = _resource_tags(resource).get(key.removeprefix("aws:ResourceTag/"))
            if value not in ([wanted] if isinstance(wanted, str) else wanted):
                return False
    return True


def _resource_tags(arn: str) -> dict[str, str]:
    """A Lambda function's tags as moto holds them (those of the function for its versions and aliases)."""
    if ":lambda:" not in arn or ":function:" not in arn:
        raise NotImplementedError(f"deployer.local.iam reads the tags of Lambda functions only, not of {arn}")
    _, _, _, region, account, _ = arn.split(":", 5)
    try:
        return dict(lambda_backend(account, region).get_function(_name(arn)).tags or {})
    except Exception:  # no such function: no tags
        return {}


def _hide_tags(parsed, context=None, **_):
    """GetFunction without ``lambda:ListTags``: the function, but no tags (Lambda's GetFunction reference)."""
    if context and context.pop(_HIDE_TAGS, False) and isinstance(parsed, dict) and "Tags" in parsed:
        parsed.pop("Tags")
        parsed["TagsError"] = {"ErrorCode": "AccessDeniedException",
                               "Message": "The caller is not authorized to perform lambda:ListTags"}


BUILTIN_HANDLERS.append(("after-call.lambda.GetFunction", _hide_tags))
