"""WaitForCodeUpdate: one look at what Lambda is still preparing; the state machine retries while it is not ready.

It serves three states, told apart by the release it is given:

- WaitForCodeUpdate (no version yet): ``$LATEST``'s ``LastUpdateStatus`` after UpdateFunctionCode.
- WaitForVersion (a version published but not ``Active``): the version's ``State``. "Lambda does not invoke
  a function during pending state" (Lambda guide, "Lambda function states"); a SnapStart version stays
  ``Pending`` while Lambda takes its snapshot. No traffic moves, and no synthetic invocation runs, before it is
  Active; ``Failed`` (or ``Inactive``) rolls back.
- WaitForCapacity (after a shift, on an alias with provisioned concurrency): the alias' allocation
  ``Status``. While the alias is weighted, Lambda spreads its provisioned concurrency over both versions and
  the allocated amount "fluctuates depending on the amount of concurrency that is provisioned for the function
  versions" (Lambda API, ProvisionedConcurrencyConfigListItem); allocation takes minutes. The bake starts only
  once it is ``READY`` (so no check counts on cold capacity), and ``FAILED`` rolls back.

Raising ``…InProgress``/``…NotReady`` instead of sleeping keeps the waiting in Step Functions, unbilled and
bounded by each state's Retry.
"""

from __future__ import annotations

from dataclasses import replace

from botocore.exceptions import ClientError

from handlers.aws.clients import client, error_code
from handlers.aws.task import logger, task
from handlers.domain.errors import (
    CapacityFailed,
    CapacityNotReady,
    CodeUpdateFailed,
    CodeUpdateInProgress,
    ConcurrentModification,
    VersionNotInvocable,
    VersionNotReady,
)
from handlers.domain.model import ACTIVE, Deployment, Release


@task
def handler(event: dict) -> dict:
    deployment = Deployment.from_json(event["deployment"])
    release = Release.from_json(event["release"])
    if release.version is None:
        return _code_update(deployment, release)
    if release.state != ACTIVE:
        return _version(deployment, release)
    return _capacity(deployment)


def _code_update(deployment: Deployment, release: Release) -> dict:
    config = client("lambda").get_function_configuration(FunctionName=deployment.function_arn)
    status = config.get("LastUpdateStatus", "Successful")
    if status == "InProgress" or config.get("State") == "Pending":
        raise CodeUpdateInProgress(f"$LATEST of {deployment.function_name} is still updating")
    if status == "Failed":
        raise CodeUpdateFailed(
            f"Lambda could not update {deployment.function_name} to {deployment.target.uri}: "
            f"{config.get('LastUpdateStatusReasonCode', '')} {config.get('LastUpdateStatusReason', '')}".strip()
        )
    if config["CodeSha256"] != release.code_sha256:
        raise ConcurrentModification(
            f"$LATEST of {deployment.function_name} changed to other code while the deployment waited"
        )
    return {"release": Release(release.code_sha256, config.get("RevisionId")).to_json()}


def _version(deployment: Deployment, release: Release) -> dict:
    config = client("lambda").get_function_configuration(FunctionName=deployment.function_arn,
                                                        Qualifier=release.version)
    state = config.get("State", ACTIVE)
    reason = f"{config.get('StateReasonCode', '')} {config.get('StateReason', '')}".strip()
    if state == "Pending":
        raise VersionNotReady(f"version {release.version} of {deployment.function_name} is Pending ({reason})")
    if state != ACTIVE:
        raise VersionNotInvocable(
            f"version {release.version} of {deployment.function_name} is {state} ({reason}): Lambda would not "
            "invoke it; no traffic was moved to it"
        )
    logger.info("version active", version=release.version)
    return {"release": replace(release, state=ACTIVE).to_json()}


def _capacity(deployment: Deployment) -> dict:
    try:
        config = client("lambda").get_provisioned_concurrency_config(FunctionName=deployment.function_arn,
                                                                     Qualifier=deployment.alias)
    except ClientError as exc:
        if error_code(exc) != "ProvisionedConcurrencyConfigNotFoundException":
            raise
        logger.info("provisioned concurrency removed from the alias meanwhile: nothing to wait for")
        return {}
    status = config.get("Status")
    numbers = (f"{config.get('AllocatedProvisionedConcurrentExecutions', 0)} of "
               f"{config.get('RequestedProvisionedConcurrentExecutions', 0)} allocated")
    if status == "FAILED":
        raise CapacityFailed(f"Lambda could not allocate the provisioned concurrency of alias {deployment.alias} "
                             f"({numbers}): {config.get('StatusReason', 'no reason given')}")
    if status != "READY":
        raise CapacityNotReady(f"provisioned concurrency of alias {deployment.alias} is {status} ({numbers})")
    logger.info("provisioned concurrency ready", alias=deployment.alias, allocated=numbers)
    return {}
