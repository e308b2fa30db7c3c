"""Prune: delete the next batch of what ResolvePrune chose (aliases first, then versions, oldest first).

At most ``pruning.BATCH`` deletions a task; the state machine pauses between batches, so a prune of thousands
of versions takes a bounded share of the account's Lambda control-plane rate. Each batch first reads the lock:
a deployment that started since ResolvePrune keeps the versions it moves between. Lambda itself refuses to
delete a version an alias references ("You can't delete a version that an alias references", DeleteFunction
``Qualifier``; ResourceConflictException): such a version stays, and the report says why.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from handlers.aws import deployments, versions
from handlers.aws.clients import client, describe, error_code, is_transient
from handlers.aws.task import count, logger, task
from handlers.domain import pruning
from handlers.domain.errors import TransientAwsError


@task
def handler(event: dict) -> dict:
    state = dict(event["prune"])
    lam = client("lambda")
    lock = deployments.holder(state["function"])
    running = pruning.Uses().running(lock.execution, lock.deployment).reasons if lock else {}
    budget, throttled = pruning.BATCH, None
    while budget and state["deleteAliases"]:
        alias = state["deleteAliases"][0]
        try:
            lam.delete_alias(FunctionName=state["functionArn"], Name=alias)
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
        state["deleteAliases"] = state["deleteAliases"][1:]
        state["deletedAliases"] = [*state["deletedAliases"], alias]
        budget -= 1
    deleted, not_deleted, freed = list(state["deleted"]), dict(state["notDeleted"]), state["freedBytes"]
    queue = list(state["toDelete"])
    while budget and queue:
        version = queue[0]
        if version in running:
            not_deleted[version] = "; ".join(running[version])
            queue.pop(0)
            continue
        try:
            lam.delete_function(FunctionName=state["functionArn"], Qualifier=version)
        except ClientError as exc:
            code = error_code(exc)
            if code == "ResourceConflictException":  # an alias references it (now), or an update runs
                not_deleted[version] = f"in use: {exc.response.get('Error', {}).get('Message', code)}"
            elif code == "ResourceNotFoundException":
                not_deleted[version] = "already deleted"
            elif is_transient(exc):
                throttled = exc  # the pause before the next batch gives the rate room; the version is tried again
                break
            else:
                raise
        else:
            deleted.append(version)
            freed += state["zipBytes"].get(version, 0)
        queue.pop(0)
        budget -= 1
    if throttled is not None and budget == pruning.BATCH:
        raise TransientAwsError(describe(throttled))  # nothing done: the state machine's Retry backs off
    state.update(toDelete=queue, deleted=deleted, notDeleted=not_deleted, freedBytes=freed,
                 pending=len(state["deleteAliases"]) + len(queue))
    if not state["pending"]:
        state["codeStorage"] = versions.code_storage(lam)
    count("VersionsPruned", len(deleted) - len(event["prune"]["deleted"]))
    logger.info("pruned a batch", deleted=len(deleted), left=state["pending"])
    return {"prune": state}
