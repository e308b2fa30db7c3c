"""The deployer's functions: one per task (and event handler), each with its own least-privilege role."""

from __future__ import annotations

import functools
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
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

# The official Powertools v3 layer, published by AWS in account 017000801446 in every commercial region
# (China and GovCloud use other accounts). The version is a setting (context powertoolsLayerVersion);
# the default is a published python314-arm64 version: check the Powertools docs for the newest one.
POWERTOOLS_ACCOUNT = "017000801446"
POWERTOOLS_LAYER_VERSION = 38

_STAGING: list[tempfile.TemporaryDirectory] = []  # kept alive until the process ends, then removed

# A few control-plane calls per task; waiting is done by the state machine, never in a function. The
# reconciler walks every managed function, so it gets longer.
DEFAULT_TIMEOUT = Duration.seconds(30)
TIMEOUTS: Mapping[str, Duration] = {"Reconcile": Duration.minutes(5)}


def powertools_layer(scope: Construct, id: str, *, version: int) -> lambda_.ILayerVersion:
    """The Powertools layer for ``RUNTIME`` and ``ARCHITECTURE``, in the deploying stack's own region."""
    python = RUNTIME.name.replace(".", "")  # python3.14 -> python314
    arn = Stack.of(scope).format_arn(
        service="lambda", account=POWERTOOLS_ACCOUNT, resource="layer",
        resource_name=f"AWSLambdaPowertoolsPythonV3-{python}-{ARCHITECTURE.name}:{version}",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
    return lambda_.LayerVersion.from_layer_version_arn(scope, id, arn)


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
