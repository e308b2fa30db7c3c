"""The deployer's functions: one per task (and event handler), each with its own least-privilege role."""

from __future__ import annotations

import functools
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from aws_cdk import ArnFormat, Aws, CfnMapping, Duration, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk.region_info import RegionInfo
from constructs import Construct

import handlers
from handlers.domain.catalog import EVENT_HANDLERS, METRICS_NAMESPACE, SERVICE, TASKS
from infra.errors import ConfigurationError
from infra.grants import Targets
from infra.nag import ANY_RESOURCE, X_RAY_REASON, acknowledge
from infra.permissions import TASK_PERMISSIONS, Allow

# The newest Python runtime of aws-cdk-lib 2.275; Powertools for AWS Lambda (Python) v3 publishes its
# layer for it on arm64 (AWSLambdaPowertoolsPythonV3-python314-arm64).
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64

# The official Powertools v3 layer (Powertools for AWS Lambda (Python), "Installation"): published from account
# 017000801446 in every commercial region, and outside the aws partition only in the regions below, each from
# its own account. The version is a setting (context powertoolsLayerVersion); the default is a published
# python314-arm64 version: check the Powertools docs for the newest one.
POWERTOOLS_ACCOUNT = "017000801446"
POWERTOOLS_ACCOUNTS_OUTSIDE_AWS: Mapping[str, str] = {
    "cn-north-1": "498634801083",  # aws-cn: not in cn-northwest-1
    "us-gov-east-1": "165087284144",  # aws-us-gov
    "us-gov-west-1": "165093116878",
}
POWERTOOLS_LAYER_VERSION = 38
TARGET_PARTITIONS = "@aws-cdk/core:target-partitions"  # the partitions an environment-agnostic stack serves

_STAGING: list[tempfile.TemporaryDirectory] = []  # kept alive until the process ends, then removed

# A few control-plane calls per task; waiting is done by the state machine, never in a function. The
# reconciler walks every managed function, so it gets longer, but ends well within its schedule
# (infra.safety_net). RunChecks waits for the functions it invokes (synthetic invocations, hooks), so it may
# run as long as Lambda allows; Resolve refuses checks that could take longer (handlers.domain.checks).
# A Task's TimeoutSeconds in the definition outlasts its function's timeout.
DEFAULT_TIMEOUT = Duration.seconds(30)
TIMEOUTS: Mapping[str, Duration] = {"Reconcile": Duration.minutes(2), "RunChecks": Duration.minutes(15)}


def powertools_account(region: str) -> str | None:
    """The account that publishes the Powertools layer in ``region``; None where there is no layer.
    A region this aws-cdk-lib does not know yet is taken for a commercial one."""
    partition = RegionInfo.get(region).partition or "aws"
    return POWERTOOLS_ACCOUNT if partition == "aws" else POWERTOOLS_ACCOUNTS_OUTSIDE_AWS.get(region)


def _published_in() -> str:
    return f"every commercial region and {', '.join(POWERTOOLS_ACCOUNTS_OUTSIDE_AWS)}"


def powertools_layer(scope: Construct, id: str, *, version: int) -> lambda_.ILayerVersion:
    """The Powertools layer for ``RUNTIME`` and ``ARCHITECTURE``, in the deploying stack's own partition and
    region. A stack for a region without the layer is refused at synth; an environment-agnostic stack looks the
    publisher up by region when it deploys, and a region without the layer fails the deploy at that lookup."""
    stack = Stack.of(scope)
    if Token.is_unresolved(stack.region):
        account = _account_by_region(scope, stack)
    elif not (account := powertools_account(stack.region)):
        raise ConfigurationError(
            f"Powertools for AWS Lambda publishes no layer in {stack.region} "
            f"({RegionInfo.get(stack.region).partition}); it does in {_published_in()}"
        )
    python = RUNTIME.name.replace(".", "")  # python3.14 -> python314
    arn = stack.format_arn(
        service="lambda", account=account, resource="layer",
        resource_name=f"AWSLambdaPowertoolsPythonV3-{python}-{ARCHITECTURE.name}:{version}",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
    return lambda_.LayerVersion.from_layer_version_arn(scope, id, arn)


def _account_by_region(scope: Construct, stack: Stack) -> str:
    """``Fn::FindInMap`` on the publisher of every region with a layer, in the target partitions (cdk.json;
    without that setting, every partition that has a layer)."""
    known = {region.name: region.partition for region in RegionInfo.regions}
    accounts = {region: account for region in sorted(known) if (account := powertools_account(region))}
    partitions = stack.node.try_get_context(TARGET_PARTITIONS) or sorted({known[region] for region in accounts})
    accounts = {region: account for region, account in accounts.items() if known[region] in partitions}
    if without := sorted(set(partitions) - {known[region] for region in accounts}):
        raise ConfigurationError(
            f"{TARGET_PARTITIONS} includes {', '.join(without)}, where Powertools for AWS Lambda publishes no "
            f"layer (it does in {_published_in()})"
        )
    mapping = CfnMapping(scope, "PowertoolsLayerAccounts",
                         mapping={region: {"account": account} for region, account in accounts.items()})
    return mapping.find_in_map(Aws.REGION, "account")


@functools.cache
def handlers_bundle() -> str:
    """A directory holding only the ``handlers`` package: the code of every task function (no Docker).

    Staged from wherever ``handlers`` is imported from, so it works from a checkout and an installed package.
    The directory lives until the process ends; CDK copies it into the cloud assembly at synth.
    """
    staging = tempfile.TemporaryDirectory(prefix="lambda-deployer-handlers-")
    _STAGING.append(staging)
    shutil.copytree(Path(handlers.__file__).parent, Path(staging.name, "handlers"),
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return staging.name


class TaskFunction(Construct):
    """One task's function, its log group, and a role holding only what its handler calls."""

    def __init__(self, scope: Construct, id: str, *, handler: str, permissions: tuple[Allow, ...], targets: Targets,
                 layer: lambda_.ILayerVersion, environment: Mapping[str, str],
                 log_retention: logs.RetentionDays, timeout: Duration = DEFAULT_TIMEOUT) -> None:
        super().__init__(scope, id)
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention)
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                             description=f"lambda-deployer task {id}: only the AWS calls of {handler}")
        self.log_group.grant_write(self.role)
        for allow in permissions:
            if targets.resources(allow.scope):  # a scope with nothing configured (no artifact buckets) grants nothing
                self.role.add_to_policy(targets.statement(allow))
        self.function = lambda_.Function(
            self, "Function",
            description=f"lambda-deployer task {id}",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=handler,
            code=lambda_.Code.from_asset(handlers_bundle()),
            layers=[layer],
            role=self.role,
            memory_size=256,
            timeout=timeout,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            environment=dict(environment),
        )
        findings = targets.findings(permissions)
        findings.setdefault(ANY_RESOURCE, []).append(X_RAY_REASON)  # the tracing statement CDK adds
        acknowledge(self.role, findings)


class TaskFunctions(Construct):
    """A ``TaskFunction`` per entry of ``handlers.catalog.TASKS`` and ``EVENT_HANDLERS``, by name."""

    def __init__(self, scope: Construct, id: str, *, targets: Targets, environment: Mapping[str, str],
                 log_level: str, log_retention: logs.RetentionDays, powertools_layer_version: int,
                 tasks: Mapping[str, str] = {**TASKS, **EVENT_HANDLERS},
                 permissions: Mapping[str, tuple[Allow, ...]] = TASK_PERMISSIONS) -> None:
        super().__init__(scope, id)
        if missing := sorted(set(tasks) - set(permissions)):
            raise ConfigurationError(
                f"task state(s) {', '.join(missing)} have no permissions: add an entry to "
                "infra.permissions.TASK_PERMISSIONS (an empty tuple if the handler calls no AWS API)"
            )
        self.layer = powertools_layer(self, "Powertools", version=powertools_layer_version)
        self.environment = {
            "POWERTOOLS_SERVICE_NAME": SERVICE,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "POWERTOOLS_LOG_LEVEL": log_level,
            **environment,
        }
        self.tasks = {
            state: TaskFunction(self, state, handler=handler, permissions=permissions[state], targets=targets,
                                layer=self.layer, environment=self.environment, log_retention=log_retention,
                                timeout=TIMEOUTS.get(state, DEFAULT_TIMEOUT))
            for state, handler in tasks.items()
        }
        self.functions: dict[str, lambda_.Function] = {state: task.function for state, task in self.tasks.items()}
