"""Reconcile (every few minutes): repair what no running deployment is responsible for.

- A lock whose execution is no longer running (its rescue never arrived or failed): restore and free it.
- A managed function's alias left weighted with no deployment running: all traffic back on the alias'
  primary version (the stable one during a shift), tag and ``$LATEST`` following it.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from handlers.aws import alias, deployments
from handlers.aws.clients import client, error_code
from handlers.aws.restore import rescue, restore
from handlers.aws.task import count, event_handler, logger
from handlers.domain import tags
from handlers.domain.images import digest_of, parse_image_uri, pinned_image
from handlers.domain.model import Deployment, Release
from handlers.domain.strategy import Plan


@event_handler
def handler(event: dict) -> dict:
    running: set[str] = set()
    freed, repaired, problems = [], [], []
    for lock in deployments.locks():
        status = _status(lock.execution)
        if status == "RUNNING":
            running.add(lock.function)
            continue
        try:
            rescue(lock, status)
            freed.append(lock.function)
        except Exception as exc:  # one broken function must not stop the others' repair
            problems.append(f"{lock.function}: {exc}")
    for function_arn in _managed_functions():
        function = function_arn.rsplit(":", 1)[-1]
        if function in running:
            continue
        for found in client("lambda").list_aliases(FunctionName=function).get("Aliases", []):
            if not alias.weights_of(found):
                continue
            result = restore(_repair_of(function, function_arn, found))
            if result.left:
                problems.extend(f"{function}:{found['Name']}: {left}" for left in result.left)
            else:
                repaired.append(f"{function}:{found['Name']}")
    count("LocksFreed", len(freed))
    count("AliasesRepaired", len(repaired))
    logger.info("reconciled", freed=freed, repaired=repaired, problems=problems)
    return {"freedLocks": freed, "repairedAliases": repaired, "problems": problems}


def _status(execution: str) -> str:
    try:
        return client("stepfunctions").describe_execution(executionArn=execution)["status"]
    except ClientError as exc:
        if error_code(exc) == "ExecutionDoesNotExist":
            return "ABORTED"
        raise


def _managed_functions() -> list[str]:
    found, token = [], ""
    while True:
        page = client("resourcegroupstaggingapi").get_resources(
            TagFilters=[{"Key": tags.MANAGED, "Values": ["true"]}], ResourceTypeFilters=["lambda:function"],
            **({"PaginationToken": token} if token else {}))
        found += [r["ResourceARN"] for r in page.get("ResourceTagMappingList", [])]
        if not (token := page.get("PaginationToken")):
            return found


def _repair_of(function: str, function_arn: str, weighted: dict) -> Deployment:
    """A deployment whose stable version is the alias' primary one: restoring it is the repair."""
    lam = client("lambda")
    primary = weighted["FunctionVersion"]
    stable_image = pinned_image(lam.get_function(FunctionName=function_arn, Qualifier=primary)["Code"])
    other = next(iter(alias.weights_of(weighted)))
    other_image = pinned_image(lam.get_function(FunctionName=function_arn, Qualifier=other)["Code"])
    return Deployment(
        function_name=function, function_arn=function_arn, alias=weighted["Name"], alias_exists=True,
        target=parse_image_uri(other_image), stable=Release(primary, stable_image, digest_of(stable_image)),
        latest_image=None, plan=Plan("Repair", ()), check_interval_seconds=60,
    )
