"""The deployments table: one lock per function, and the record of every deployment.

Items (partition key ``pk`` = function name, sort key ``sk``):

- ``sk = "lock"``: held by one execution from before the first mutation until the deployment ends;
  carries the resolved deployment so a rescue after an abort knows what to restore. Only lock items carry
  ``held``, the partition key of the index ``locks`` (sort key ``pk``): a global secondary index holds only
  the items that carry its key attributes ("sparse index", DynamoDB Developer Guide), so the reconciler
  reads the held locks, however long the history grows. While a deployment waits at an approval gate, its
  lock also carries ``approval`` (the task token to answer, the gate, since when, until when; and, once
  answered, who answered and how); a ``promote`` request (who asked, how, when) waits there for CheckHealth.
- ``sk = "deployment#<started ISO time>#<execution name>"``: who, what, from, to, outcome — ``history``.
  Each write sets ``expiresAt`` (epoch seconds, a Number: what DynamoDB TTL reads) to
  ``HISTORY_RETENTION_DAYS`` days ahead; TTL deletes an expired item in the background, typically within
  a few days, and until then reads still return it. Locks never expire.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from botocore.exceptions import ClientError

from handlers.aws.clients import client, error_code

LOCK = "lock"
RECORD_PREFIX = "deployment#"
RUNNING = "running"
LOCKS_INDEX = "locks"
HELD = "held"
"""The index key only lock items carry (value ``LOCK``)."""
EXPIRES_AT = "expiresAt"
"""The table's TTL attribute, set on deployment records only."""
RETENTION_ENV = "HISTORY_RETENTION_DAYS"


def table_name() -> str:
    return os.environ["DEPLOYMENTS_TABLE"]


def table_name_for(state_machine_name: str) -> str:
    """The table's name follows the state machine's, so the CLI finds it from ``--state-machine`` alone."""
    return f"{state_machine_name}-deployments"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Lock:
    function: str
    execution: str  # the execution ARN holding it
    started_at: str
    deployment: dict  # Deployment.to_json() of the holder
    approval: dict | None = None  # the approval gate it waits at: taskToken, gate, requestedAt, timeoutAt, answer
    promote: dict | None = None  # a promote request not yet applied (handlers.domain.approval.PromoteRequest)

    @property
    def execution_name(self) -> str:
        return self.execution.rsplit(":", 1)[-1]


def busy(lock: Lock) -> str:
    """Why a second deployment of the same function may not start."""
    return (f"{lock.function} is already being deployed by execution {lock.execution_name} (started "
            f"{lock.started_at}); wait for it, stop it, or roll back (which stops it)")


def _ddb():
    return client("dynamodb")


def _s(value) -> dict:
    return {"S": str(value)}


def acquire(function: str, execution: str, started_at: str, deployment: dict,
            take_over: str | None = None) -> Lock | None:
    """Take the function's lock; None when another execution holds it. Taking it again is fine, and
    ``take_over`` names a (stopped) execution whose lock may be taken."""
    condition, values = "attribute_not_exists(pk) OR execution = :me", {":me": _s(execution)}
    if take_over:
        condition, values = condition + " OR execution = :stopped", {**values, ":stopped": _s(take_over)}
    try:
        _ddb().put_item(
            TableName=table_name(),
            Item={"pk": _s(function), "sk": _s(LOCK), HELD: _s(LOCK), "execution": _s(execution),
                  "startedAt": _s(started_at), "deployment": _s(json.dumps(deployment))},
            ConditionExpression=condition,
            ExpressionAttributeValues=values,
        )
    except ClientError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return None
        raise
    return Lock(function, execution, started_at, deployment)


def holder(function: str, *, ddb=None, table: str | None = None) -> Lock | None:
    """The lock on ``function``, if a deployment holds it. ``ddb``/``table``: read with that client and
    table (the CLI), instead of the handler's client and ``DEPLOYMENTS_TABLE``."""
    item = (ddb or _ddb()).get_item(TableName=table or table_name(), Key={"pk": _s(function), "sk": _s(LOCK)},
                                    ConsistentRead=True).get("Item")
    if not item:
        return None
    return _lock(function, item)


def _lock(function: str, item: dict) -> Lock:
    extra = {key: json.loads(item[key]["S"]) for key in ("approval", "promote") if key in item}
    return Lock(function, item["execution"]["S"], item["startedAt"]["S"], json.loads(item["deployment"]["S"]), **extra)


def _annotate(function: str, execution: str, attribute: str, value: dict, *, ddb=None, table: str | None = None,
              condition: str = "", values: dict | None = None) -> bool:
    """Set ``attribute`` (JSON) on the lock while ``execution`` holds it; False when it does not."""
    try:
        (ddb or _ddb()).update_item(
            TableName=table or table_name(), Key={"pk": _s(function), "sk": _s(LOCK)},
            UpdateExpression="SET #a = :value", ConditionExpression="execution = :me" + condition,
            ExpressionAttributeNames={"#a": attribute},
            ExpressionAttributeValues={":value": _s(json.dumps(value)), ":me": _s(execution), **(values or {})},
        )
    except ClientError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def await_approval(function: str, execution: str, approval: dict) -> bool:
    """Keep the task token of the gate the deployment waits at, where ``approve`` and ``reject`` find it."""
    return _annotate(function, execution, "approval", approval)


def answer_approval(lock: Lock, answer: dict, *, ddb, table: str) -> bool:
    """Record who answered the gate (the CLI, before it sends the answer); False when the lock moved on (another
    execution holds it, or the gate has another token: that wait ended and a new one began)."""
    token = (lock.approval or {}).get("taskToken", "")
    return _annotate(lock.function, lock.execution, "approval", {**lock.approval, "answer": answer}, ddb=ddb,
                     table=table, condition=" AND contains(approval, :token)", values={":token": _s(token)})


def request_promote(lock: Lock, request: dict, *, ddb, table: str) -> bool:
    """Leave a promote request for the deployment holding the lock (the CLI); False when it no longer holds it."""
    return _annotate(lock.function, lock.execution, "promote", request, ddb=ddb, table=table)


def release(function: str, execution: str) -> bool:
    """Release the lock if ``execution`` holds it; False when it did not (already released or taken over)."""
    try:
        _ddb().delete_item(TableName=table_name(), Key={"pk": _s(function), "sk": _s(LOCK)},
                           ConditionExpression="execution = :me", ExpressionAttributeValues={":me": _s(execution)})
    except ClientError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def locks() -> list[Lock]:
    """Every lock held now (the reconciler's starting point): the index holds lock items and nothing else."""
    pages = _ddb().get_paginator("query").paginate(
        TableName=table_name(), IndexName=LOCKS_INDEX, KeyConditionExpression="#held = :lock",
        ExpressionAttributeNames={"#held": HELD}, ExpressionAttributeValues={":lock": _s(LOCK)},
    )
    return [_lock(i["pk"]["S"], i) for page in pages for i in page.get("Items", [])]


def record(function: str, execution: str, started_at: str, *, only_if_running: bool = False, **fields) -> bool:
    """Create or update the deployment's record (idempotent: the key is the execution's). ``only_if_running``:
    only a record that exists and still says running (closing a deployment stopped from outside, which may
    have ended by itself meanwhile); False when it did not."""
    name = execution.rsplit(":", 1)[-1]
    values = {"execution": execution, "startedAt": started_at, **{k: v for k, v in fields.items() if v is not None}}
    attributes = {f":{k}": _s(v) for k, v in values.items()}
    if expires := _expires_at():
        values[EXPIRES_AT], attributes[f":{EXPIRES_AT}"] = expires, {"N": str(expires)}
    names = {f"#{k}": k for k in values}
    condition = {}
    if only_if_running:
        names["#was"], attributes[":running"] = "outcome", _s(RUNNING)
        condition = {"ConditionExpression": "#was = :running"}
    try:
        _ddb().update_item(
            TableName=table_name(),
            Key={"pk": _s(function), "sk": _s(f"{RECORD_PREFIX}{started_at}#{name}")},
            UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in values),
            ExpressionAttributeNames=names, ExpressionAttributeValues=attributes, **condition,
        )
    except ClientError as exc:
        if only_if_running and error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _expires_at() -> int | None:
    """When a record written now may go: ``HISTORY_RETENTION_DAYS`` ahead (unset or 0: kept for ever)."""
    days = int(os.environ.get(RETENTION_ENV) or 0)
    return int((datetime.now(UTC) + timedelta(days=days)).timestamp()) if days > 0 else None


def history(function: str, limit: int = 20, *, ddb=None, table: str | None = None) -> list[dict]:
    """The most recent deployment records of ``function``, newest first (``ddb``/``table`` as for holder)."""
    pages = (ddb or _ddb()).get_paginator("query").paginate(
        TableName=table or table_name(), KeyConditionExpression="pk = :fn AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":fn": _s(function), ":prefix": _s(RECORD_PREFIX)},
        ScanIndexForward=False, PaginationConfig={"MaxItems": limit, "PageSize": limit},
    )
    return [{k: v["S"] for k, v in item.items() if k not in ("pk", "sk", EXPIRES_AT)}
            for page in pages for item in page.get("Items", [])]
