"""Who may do what: every IAM permission of lambda-deployer, in one table, and the ARNs behind each scope.

Each task function gets its own role with exactly the statements listed for its task state. Adding a task
state is one entry in ``TASK_PERMISSIONS``. A statement names a ``Scope`` rather than ARNs; ``Resources``
turns a scope into one deployer's ARN patterns and conditions, and a scope whose ARNs keep a wildcard
carries the reason, which is also the cdk-nag acknowledgement.

This module imports no CDK: the CDK construct (``infra.grants``, with the stack's partition, region and
account tokens) and the local emulator (``deployer.local.iam``, which enforces the table on every AWS call
a task makes) both read it, so what the emulator allows is what CDK grants.

Which functions may be deployed: primarily the tag ``lambda-deployer:managed=true`` (attribute-based
access control). Lambda evaluates ``aws:ResourceTag`` for every action on the ``function``,
``function version`` and ``function alias`` resource types (Service Authorization Reference), which
covers every Lambda action below; tags live on the function and apply to its versions and aliases.
An optional name prefix narrows the ARN pattern as well. ECR repositories are scoped by name (pattern), S3
artifact buckets (zip packages) by name: the stack's ``artifactBuckets``; without any, no S3 statement exists.

Which functions may be invoked as hooks (docs/checks.md): only those tagged ``lambda-deployer:hook=true``,
the same way. "When you tag a function, those tags apply to all versions and aliases associated with the
function", and Lambda supports ABAC "for Lambda APIs that use function, function version and function alias as
the main resource type" (Lambda guide, "Using attribute-based access control in Lambda"; AWS What's New,
2022-11-21), which ``InvokeFunction`` and ``GetFunctionConfiguration`` do (SAR: resource type ``function*``).
The synthetic invocations of the new version are ``InvokeFunction`` on a managed function's version ARN,
allowed by its ``managed`` tag.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from handlers.aws import deployments
from handlers.domain import tags
from handlers.domain.code import FUNCTION_KEY_PREFIX

MANAGED_TAG = tags.MANAGED
"""The opt-in tag: a function is deployable only with ``lambda-deployer:managed=true``."""
HOOK_TAG = tags.HOOK
"""The other opt-in: a function may be invoked as a hook only with ``lambda-deployer:hook=true``."""


class Scope(enum.Enum):
    """What a statement may act on; ``Resources`` resolves it for one deployer."""

    MANAGED_FUNCTIONS = enum.auto()
    MANAGED_VERSIONS = enum.auto()
    HOOK_FUNCTIONS = enum.auto()
    REPOSITORIES = enum.auto()
    ALARMS = enum.auto()
    DEPLOYMENTS_TABLE = enum.auto()
    LOCKS_INDEX = enum.auto()
    STATE_MACHINE = enum.auto()
    EXECUTIONS = enum.auto()
    SYNC_EXECUTION_RULE = enum.auto()
    ARTIFACT_BUCKETS = enum.auto()
    ARTIFACTS = enum.auto()
    FUNCTION_KEYS = enum.auto()
    DEFAULT_EVENT_BUS = enum.auto()
    TASK_TOKENS = enum.auto()
    ANY = enum.auto()


WILDCARD_REASONS: Mapping[Scope, str] = {
    Scope.MANAGED_FUNCTIONS: (
        "The functions to deploy are not known at synth: they opt in with the tag lambda-deployer:managed=true, "
        "which the aws:ResourceTag condition of this statement enforces (ABAC); the pattern covers their "
        "versions and aliases and is limited to this account and region (and the configured name prefix)."
    ),
    Scope.MANAGED_VERSIONS: (
        "Pruning deletes published versions of functions not known at synth, which opt in with the tag "
        "lambda-deployer:managed=true (the aws:ResourceTag condition, ABAC); the pattern names qualified ARNs "
        "only (function:<name>:<version>), so this role can delete a version but never a whole function."
    ),
    Scope.HOOK_FUNCTIONS: (
        "Hook functions are named in each deployment request, so they are not known at synth: they opt in with "
        "the tag lambda-deployer:hook=true, which the aws:ResourceTag condition of this statement enforces (ABAC); "
        "the pattern covers their versions and aliases and is limited to this account and region."
    ),
    Scope.REPOSITORIES: (
        "The ECR repositories this deployer may read and retag are configured as name patterns "
        "(context 'repositories'), limited to this account and region."
    ),
    Scope.ALARMS: (
        "The alarms to watch are named in each deployment request; DescribeAlarms is limited to alarms "
        "of this account and region."
    ),
    Scope.EXECUTIONS: (
        "Execution names are chosen when an execution starts, so execution ARNs are known only at run time; "
        "the pattern is limited to executions of this deployer's state machine."
    ),
    Scope.ARTIFACT_BUCKETS: (
        "The S3 buckets holding zip packages are configured as names or name patterns (context 'artifactBuckets'); "
        "a pattern is the operator's choice, as for ECR repositories."
    ),
    Scope.ARTIFACTS: (
        "Zip packages are named per release (s3://bucket/<app>/<version>.zip) in each deployment request, so "
        "object keys are not known at synth; reading is limited to the configured artifact buckets (context "
        "'artifactBuckets')."
    ),
    Scope.FUNCTION_KEYS: (
        "The deployer writes only the function-named keys functions/<function-name>.zip (the key each function's "
        "IaC refers to) of the configured artifact buckets; the function names are not known at synth (they opt "
        "in with the managed tag), so the key ends in a wildcard (after the configured name prefix)."
    ),
    Scope.TASK_TOKENS: (
        "SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat act on a task token, not on a resource: the "
        "Service Authorization Reference lists no resource type for them, so no ARN can narrow them."
    ),
    Scope.ANY: (
        "tag:GetResources, cloudwatch:GetMetricData, lambda:ListEventSourceMappings and lambda:GetAccountSettings "
        "have no resource-level permissions (Service Authorization Reference: no resource type), so they can only "
        "be granted on *."
    ),
}


@dataclass(frozen=True)
class Allow:
    """One statement: ``actions`` on the resources of ``scope``."""

    scope: Scope
    actions: tuple[str, ...]

    def __init__(self, scope: Scope, *actions: str) -> None:
        object.__setattr__(self, "scope", scope)
        object.__setattr__(self, "actions", tuple(sorted(set(actions))))


# Lambda checks that whoever calls UpdateFunctionCode with an image may pull that image. Lambda's own
# pull is allowed by the repository policy (lambda.amazonaws.com), which the function's IaC set up when it
# created the function from this repository; so the deployer needs no ecr:Get/SetRepositoryPolicy.
_PULL_IMAGE = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")

# A zip package is read by version: HeadObject/GetObject/CopyObject with a VersionId need s3:GetObjectVersion as
# well as s3:GetObject (S3 API reference, GetObject "Permissions"). Lambda reads the package of
# UpdateFunctionCode(S3Bucket, S3Key, S3ObjectVersion) on the caller's behalf, so the caller needs the same.
_READ_PACKAGE = ("s3:GetObject", "s3:GetObjectVersion")

_READ_TABLE = ("dynamodb:GetItem", "dynamodb:Query")
# Lifecycle notifications (handlers.aws.notify): the tasks that change a deployment announce it on the default bus.
_NOTIFY = Allow(Scope.DEFAULT_EVENT_BUS, "events:PutEvents")
_RECORD = ("dynamodb:UpdateItem", "dynamodb:DeleteItem")  # close the deployment's record, release the lock
_RESTORE = (  # handlers.restore: alias, $LATEST and the function-name tag back on the stable version
    # DeleteAlias: a failed preview's alias, when that preview created it
    Allow(Scope.MANAGED_FUNCTIONS, "lambda:GetAlias", "lambda:UpdateAlias", "lambda:DeleteAlias",
          "lambda:GetFunction", "lambda:UpdateFunctionCode"),
    Allow(Scope.REPOSITORIES, "ecr:PutImage", *_PULL_IMAGE),
    Allow(Scope.ARTIFACTS, *_READ_PACKAGE),  # zip: the stable package, for $LATEST and the function-named key
    Allow(Scope.FUNCTION_KEYS, "s3:PutObject"),  # CopyObject onto functions/<function>.zip
)

TASK_PERMISSIONS: Mapping[str, tuple[Allow, ...]] = {
    "Resolve": (  # reads only: a refused request has changed nothing
        # GetProvisionedConcurrencyConfig: does the alias have provisioned concurrency a shift must wait for?
        Allow(Scope.MANAGED_FUNCTIONS, "lambda:GetFunction", "lambda:GetAlias",
              "lambda:GetProvisionedConcurrencyConfig"),
        Allow(Scope.REPOSITORIES, "ecr:DescribeRepositories", "ecr:DescribeImages"),
        Allow(Scope.ALARMS, "cloudwatch:DescribeAlarms"),
        Allow(Scope.DEPLOYMENTS_TABLE, "dynamodb:GetItem"),  # is another deployment holding the lock?
        Allow(Scope.HOOK_FUNCTIONS, "lambda:GetFunctionConfiguration"),  # the hooks exist and are opted in
        # zip: the bucket is in the function's region, the package exists (and its SHA-256)
        Allow(Scope.ARTIFACT_BUCKETS, "s3:GetBucketLocation"),
        Allow(Scope.ARTIFACTS, *_READ_PACKAGE),
    ),
    "ResolveRollback": (  # reads only, as Resolve; the history says which version was stable before
        Allow(Scope.MANAGED_FUNCTIONS, "lambda:GetFunction", "lambda:GetAlias"),
        Allow(Scope.REPOSITORIES, "ecr:DescribeImages"),
        Allow(Scope.DEPLOYMENTS_TABLE, *_READ_TABLE),
        Allow(Scope.ARTIFACTS, *_READ_PACKAGE),  # zip: the package to return to is still in S3
    ),
    # The functions whose lambda-deployer:track tag names a pushed repository:tag, with their tags.
    "FindTrackingFunctions": (
        Allow(Scope.ANY, "tag:GetResources"),
    ),
    "Lock": (  # the first mutation; a rollback request stops the deployment it interrupts
        Allow(Scope.DEPLOYMENTS_TABLE, "dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"),
        Allow(Scope.EXECUTIONS, "states:StopExecution"),
        _NOTIFY,  # Deployment Started
    ),
    "RetagImage": (  # the function-name tag, or (zip) the function-named key: CopyObject from the release
        Allow(Scope.REPOSITORIES, "ecr:BatchGetImage", "ecr:PutImage"),
        Allow(Scope.ARTIFACTS, *_READ_PACKAGE),
        Allow(Scope.FUNCTION_KEYS, "s3:PutObject"),
    ),
    "UpdateCode": (  # GetFunction tells a lost answer of our own update from someone else's change
        Allow(Scope.MANAGED_FUNCTIONS, "lambda:UpdateFunctionCode", "lambda:GetFunction"),
        Allow(Scope.REPOSITORIES, *_PULL_IMAGE),
        Allow(Scope.ARTIFACTS, *_READ_PACKAGE),
    ),
    "WaitForCodeUpdate": (  # also WaitForVersion (the version's State) and WaitForCapacity (the alias' allocation)
        Allow(Scope.MANAGED_FUNCTIONS, "lambda:GetFunctionConfiguration", "lambda:GetProvisionedConcurrencyConfig"),
    ),
    "PublishVersion": (  # GetFunctionConfiguration tells a 412 glitch (retry) from someone else's change
        Allow(Scope.MANAGED_FUNCTIONS, "lambda:PublishVersion", "lambda:GetFunctionConfiguration"),
    ),
    "ShiftTraffic": (
        Allow(Scope.MANAGED_FUNCTIONS, "lambda:GetAlias", "lambda:UpdateAlias"),
        _NOTIFY,  # Traffic Shifted
    ),
    "CheckHealth": (
        Allow(Scope.ALARMS, "cloudwatch:DescribeAlarms"),
        Allow(Scope.ANY, "cloudwatch:GetMetricData"),  # the canary's and the stable version's Lambda metrics
        Allow(Scope.DEPLOYMENTS_TABLE, "dynamodb:GetItem"),  # a promote request on the lock
    ),
    "RequestApproval": (  # the gate's task token on the lock, and Approval Needed
        Allow(Scope.DEPLOYMENTS_TABLE, "dynamodb:UpdateItem"),
        _NOTIFY,
    ),
    "WatchApproval": (  # health while the gate waits, and its token's heartbeat
        Allow(Scope.ALARMS, "cloudwatch:DescribeAlarms"),
        Allow(Scope.DEPLOYMENTS_TABLE, "dynamodb:GetItem"),
        Allow(Scope.TASK_TOKENS, "states:SendTaskHeartbeat"),
    ),
    "RunChecks": (  # the new version by its number (synthetic invocations), and the request's hooks
        Allow(Scope.MANAGED_FUNCTIONS, "lambda:InvokeFunction"),
        Allow(Scope.HOOK_FUNCTIONS, "lambda:InvokeFunction"),
    ),
    "Promote": (
        Allow(Scope.MANAGED_FUNCTIONS, "lambda:GetAlias", "lambda:UpdateAlias", "lambda:CreateAlias"),
        _NOTIFY,  # Deployment Promoted
    ),
    "Finalize": (
        Allow(Scope.DEPLOYMENTS_TABLE, *_RECORD),
    ),
    "Rollback": (
        *_RESTORE,
        Allow(Scope.DEPLOYMENTS_TABLE, *_RECORD),
        _NOTIFY,  # Deployment Rolled Back
    ),
    "ResolvePrune": (  # reads only: every use of the function's versions, the lock and the recent records
        Allow(Scope.MANAGED_FUNCTIONS, "lambda:GetFunction", "lambda:ListAliases", "lambda:ListVersionsByFunction",
              "lambda:ListProvisionedConcurrencyConfigs"),
        Allow(Scope.ANY, "lambda:ListEventSourceMappings", "lambda:GetAccountSettings"),
        Allow(Scope.DEPLOYMENTS_TABLE, *_READ_TABLE),
        Allow(Scope.REPOSITORIES, "ecr:BatchGetImage"),  # which kept versions' images already carry their tag
    ),
    "Prune": (  # a preview's alias, versions (never the function itself), then the code storage left
        Allow(Scope.MANAGED_VERSIONS, "lambda:DeleteFunction"),
        # GetFunction: the image a kept version pins (Code.ResolvedImageUri), to tag it
        Allow(Scope.MANAGED_FUNCTIONS, "lambda:DeleteAlias", "lambda:GetFunction"),
        Allow(Scope.ANY, "lambda:GetAccountSettings"),
        Allow(Scope.DEPLOYMENTS_TABLE, "dynamodb:GetItem"),  # a deployment started since keeps its versions
        # Kept versions' images get <function>.v<N>.previous (BatchGetImage + PutImage); a deleted version's tag
        # goes (BatchDeleteImage by tag) only when DescribeImages shows its image keeps another tag. IAM cannot
        # narrow BatchDeleteImage to removing tags (no condition key for it); handlers.prune never passes a digest.
        Allow(Scope.REPOSITORIES, "ecr:BatchGetImage", "ecr:PutImage", "ecr:DescribeImages", "ecr:BatchDeleteImage"),
    ),
    # Outside the state machine (handlers.catalog.EVENT_HANDLERS):
    "Rescue": (  # an execution ended without its cleanup: restore what its lock recorded, then release it
        *_RESTORE,
        Allow(Scope.DEPLOYMENTS_TABLE, "dynamodb:GetItem", *_RECORD),
        _NOTIFY,  # Deployment Rescued, Deployment Failed
    ),
    "Reconcile": (  # stale locks, and managed aliases left weighted with no deployment running
        *_RESTORE,
        Allow(Scope.MANAGED_FUNCTIONS, "lambda:ListAliases"),
        Allow(Scope.LOCKS_INDEX, "dynamodb:Query"),  # the held locks, never the history
        Allow(Scope.DEPLOYMENTS_TABLE, "dynamodb:GetItem", *_RECORD),  # GetItem: is it still unlocked?
        Allow(Scope.EXECUTIONS, "states:DescribeExecution"),
        Allow(Scope.ANY, "tag:GetResources"),
        _NOTIFY,  # Deployment Rescued
    ),
    "AlarmFired": (  # which running deployments judge the alarm, then the rollback request for each
        Allow(Scope.LOCKS_INDEX, "dynamodb:Query"),
        Allow(Scope.EXECUTIONS, "states:DescribeExecution"),
        Allow(Scope.STATE_MACHINE, "states:StartExecution"),  # this state machine only, as a person's rollback
    ),
}

STATE_MACHINE_PERMISSIONS: tuple[Allow, ...] = (
    # Beyond invoking its task functions: running a child execution of itself with
    # arn:aws:states:::states:startExecution.sync:2 (fleet deploys), which Step Functions follows through
    # the managed EventBridge rule below.
    Allow(Scope.STATE_MACHINE, "states:StartExecution"),
    Allow(Scope.EXECUTIONS, "states:DescribeExecution", "states:StopExecution"),
    Allow(Scope.SYNC_EXECUTION_RULE, "events:PutTargets", "events:PutRule", "events:DescribeRule"),
)

CI_PERMISSIONS: tuple[Allow, ...] = (
    # Start a deployment, and find the runs of this state machine (e.g. the one a previous job started).
    Allow(Scope.STATE_MACHINE, "states:StartExecution", "states:ListExecutions"),
    # Wait for the outcome and show what happened. Not StopExecution: a stopped execution skips its Catch,
    # so it would leave a half-shifted alias behind instead of rolling back.
    Allow(Scope.EXECUTIONS, "states:DescribeExecution", "states:GetExecutionHistory"),
)

APPROVER_PERMISSIONS: tuple[Allow, ...] = (
    # approve / reject / promote (deployer/commands): read the lock, record who answered or asked on it, and
    # answer the gate's task token. Deploying (CI_PERMISSIONS) grants none of these: a pipeline that may deploy
    # cannot approve its own deployment.
    Allow(Scope.DEPLOYMENTS_TABLE, "dynamodb:GetItem", "dynamodb:UpdateItem"),
    Allow(Scope.TASK_TOKENS, "states:SendTaskSuccess", "states:SendTaskFailure"),
)

SYNC_EXECUTION_RULE = "StepFunctionsGetEventsForStepFunctionsExecutionRule"
"""The managed rule through which Step Functions follows a ``startExecution.sync`` child execution."""


@dataclass(frozen=True, kw_only=True)
class Resources:
    """One deployer's resources behind each scope: ARN patterns and conditions.

    ``partition``, ``region`` and ``account`` are CDK tokens in a stack (region-agnostic templates) and
    plain strings in the emulator.
    """

    partition: str
    region: str
    account: str
    state_machine_name: str
    function_name_prefix: str
    repositories: tuple[str, ...]
    table_arn: str
    artifact_buckets: tuple[str, ...] = ()

    def arns(self, scope: Scope) -> list[str]:
        match scope:
            case Scope.MANAGED_FUNCTIONS:
                return [self._arn("lambda", f"function:{self.function_name_prefix}*")]
            case Scope.MANAGED_VERSIONS:
                return [self._arn("lambda", f"function:{self.function_name_prefix}*:*")]
            case Scope.HOOK_FUNCTIONS:  # the user's functions: the deployer's name prefix does not apply
                return [self._arn("lambda", "function:*")]
            case Scope.REPOSITORIES:
                return [self._arn("ecr", f"repository/{pattern}") for pattern in self.repositories]
            case Scope.ALARMS:
                return [self._arn("cloudwatch", "alarm:*")]
            case Scope.DEPLOYMENTS_TABLE:
                return [self.table_arn]
            case Scope.LOCKS_INDEX:  # an index is its own IAM resource: <table ARN>/index/<name>
                return [f"{self.table_arn}/index/{deployments.LOCKS_INDEX}"]
            case Scope.STATE_MACHINE:
                return [self.state_machine_arn]
            case Scope.EXECUTIONS:
                return [self._arn("states", f"execution:{self.state_machine_name}:*")]
            case Scope.SYNC_EXECUTION_RULE:
                return [self._arn("events", f"rule/{SYNC_EXECUTION_RULE}")]
            case Scope.ARTIFACT_BUCKETS:  # S3 ARNs name neither region nor account
                return [f"arn:{self.partition}:s3:::{bucket}" for bucket in self.artifact_buckets]
            case Scope.ARTIFACTS:
                return [f"arn:{self.partition}:s3:::{bucket}/*" for bucket in self.artifact_buckets]
            case Scope.FUNCTION_KEYS:
                return [f"arn:{self.partition}:s3:::{bucket}/{FUNCTION_KEY_PREFIX}{self.function_name_prefix}*"
                        for bucket in self.artifact_buckets]
            case Scope.DEFAULT_EVENT_BUS:  # PutEvents acts on the bus (SAR: resource type event-bus)
                return [self._arn("events", "event-bus/default")]
            case Scope.TASK_TOKENS | Scope.ANY:
                return ["*"]
        raise ValueError(f"no resources for {scope}")

    @staticmethod
    def conditions(scope: Scope) -> dict | None:
        if scope in (Scope.MANAGED_FUNCTIONS, Scope.MANAGED_VERSIONS):
            return {"StringEquals": {f"aws:ResourceTag/{MANAGED_TAG}": "true"}}
        if scope is Scope.HOOK_FUNCTIONS:
            return {"StringEquals": {f"aws:ResourceTag/{HOOK_TAG}": "true"}}
        return None

    @property
    def state_machine_arn(self) -> str:
        """Built from the name, not a reference: the state machine's own role can name it without a cycle."""
        return self._arn("states", f"stateMachine:{self.state_machine_name}")

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"
