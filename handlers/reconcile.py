"""Reconcile (every few minutes): repair what no running deployment is responsible for.

- A lock whose execution is no longer running (its rescue never arrived or failed): restore and free it.
- A managed function's alias left weighted with no deployment running: all traffic back on the alias'
  primary version (the stable one during a shift), tag and ``$LATEST`` following it.

Only functions whose name starts with ``FUNCTION_NAME_PREFIX`` are this deployer's: its role may act on no
other, so a managed function outside the prefix is not even looked at. Each lock and each function is
repaired on its own: one that fails is reported in ``problems`` and the others are still repaired.
Locks come from the table's sparse index of held locks (eventually consistent, and a deployment may start
meanwhile), so a weighted alias is left alone if its function's lock, read once more consistently, is held.

Each run publishes ``OldestLockAgeSeconds``, the age of the oldest lock still held when it ends (0 for
none): a deployment running far longer than any plan should, or a lock nobody could free, raises the
stack's alarm. Every repair is announced ("Deployment Rescued").
"""

from __future__ import annotations

import os

from botocore.exceptions import ClientError

from handlers.aws import alias, deployments, notify
from handlers.aws.clients import client, error_code
from handlers.aws.restore import rescue, restore
from handlers.aws.task import count, event_handler, gauge, logger
from handlers.domain import notifications, tags
from handlers.domain.catalog import FUNCTION_NAME_PREFIX
from handlers.domain.code import CodeRef, recorded_source
from handlers.domain.images import digest_of, parse_image_uri, pinned_image
from handlers.domain.model import Deployment, Stable
from handlers.domain.strategy import Plan
from handlers.domain.timing import seconds_since


@event_handler
def handler(event: dict) -> dict:
    running: set[str] = set()
    freed, repaired, problems = [], [], []
    locks = deployments.locks()
    for lock in locks:
        try:
            status, error = _status(lock.execution)
            if status == "RUNNING":
                running.add(lock.function)
                continue
            rescue(lock, status, error)
            freed.append(lock.function)
        except Exception as exc:  # one broken function must not stop the others' repair
            logger.exception("freeing a stale lock failed", function=lock.function)
            problems.append(f"{lock.function}: {exc}")
    for function_arn in _managed_functions(os.environ.get(FUNCTION_NAME_PREFIX, "")):
        function = function_arn.rsplit(":", 1)[-1]
        if function in running:
            continue
        try:
            weighted = [found for page in client("lambda").get_paginator("list_aliases").paginate(
                FunctionName=function) for found in page["Aliases"] if alias.weights_of(found)]
            if weighted and deployments.holder(function):
                continue  # a deployment took the lock since the locks were read: the split is its own
        except Exception as exc:
            logger.exception("reading the aliases failed", function=function)
            problems.append(f"{function}: {exc}")
            continue
        for found in weighted:
            name = f"{function}:{found['Name']}"
            try:
                repair = _repair_of(function, function_arn, found)
                restored = restore(repair)
                left = restored.left
            except Exception as exc:
                logger.exception("repairing an alias failed", function=function, alias=found["Name"])
                left = [str(exc)]
            if left:
                problems.extend(f"{name}: {what}" for what in left)
            else:
                repaired.append(name)
                notify.publish(notifications.rescued(
                    repair, None, reason=f"alias {found['Name']} was left weighted ({alias.describe(found)}) with no "
                    "deployment running", error=None, restored=restored.done, kind=notifications.REPAIR))
    ages = [seconds_since(lock.started_at) or 0.0 for lock in locks if lock.function not in freed]
    gauge("OldestLockAgeSeconds", max(ages, default=0.0))
    count("LocksFreed", len(freed))
    count("AliasesRepaired", len(repaired))
    count("ReconcileProblems", len(problems))
    logger.info("reconciled", freed=freed, repaired=repaired, problems=problems)
    return {"freedLocks": freed, "repairedAliases": repaired, "problems": problems}


def _status(execution: str) -> tuple[str, str | None]:
    """The execution's status, and its error when it failed."""
    try:
        described = client("stepfunctions").describe_execution(executionArn=execution)
    except ClientError as exc:
        if error_code(exc) == "ExecutionDoesNotExist":
            return "ABORTED", None
        raise
    return described["status"], described.get("error")


def _managed_functions(prefix: str) -> list[str]:
    """The ARNs of the functions tagged managed whose name starts with ``prefix`` (the tagging API has no
    name filter: the prefix is applied here)."""
    pages = client("resourcegroupstaggingapi").get_paginator("get_resources").paginate(
        TagFilters=[{"Key": tags.MANAGED, "Values": ["true"]}], ResourceTypeFilters=["lambda:function"])
    return [found["ResourceARN"] for page in pages for found in page.get("ResourceTagMappingList", [])
            if found["ResourceARN"].rsplit(":", 1)[-1].startswith(prefix)]


def _repair_of(function: str, function_arn: str, weighted: dict) -> Deployment:
    """A deployment whose stable version is the alias' primary one: restoring it is the repair."""
    lam = client("lambda")
    primary = weighted["FunctionVersion"]
    stable_version = lam.get_function(FunctionName=function_arn, Qualifier=primary)
    other = next(iter(alias.weights_of(weighted)))
    other_version = lam.get_function(FunctionName=function_arn, Qualifier=other)
    if stable_version["Configuration"].get("PackageType") == "Zip":
        stable_source, other_source = (recorded_source(found["Configuration"].get("Description"),
                                                       found["Configuration"].get("CodeSha256"))
                                       for found in (stable_version, other_version))
        target = other_source or stable_source
        if target is None:  # neither published by lambda-deployer: the alias alone can be repaired
            target = CodeRef("unknown-bucket", "unknown.zip")
        stable = Stable(primary, stable_source.uri if stable_source else None,
                         stable_version["Configuration"].get("CodeSha256"))
    else:
        stable_image, other_image = pinned_image(stable_version["Code"]), pinned_image(other_version["Code"])
        target, stable = parse_image_uri(other_image), Stable(primary, stable_image, digest_of(stable_image))
    return Deployment(
        function_name=function, function_arn=function_arn, alias=weighted["Name"], alias_exists=True,
        target=target, stable=stable, latest_image=None, plan=Plan("Repair", ()), check_interval_seconds=60,
    )
