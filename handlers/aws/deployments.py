"""The deployments table: one lock per function, and the record of every deployment.

Items (partition key ``pk`` = function name, sort key ``sk``):

- ``sk = "lock"``: held by one execution from before the first mutation until the deployment ends;
  carries the resolved deployment so a rescue after an abort knows what to restore.
- ``sk = "deployment#<started ISO time>#<execution name>"``: who, what, from, to, outcome — ``history``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime

from botocore.exceptions import ClientError

from handlers.aws.clients import client, error_code

LOCK = "lock"
RECORD_PREFIX = "deployment#"
RUNNING = "running"


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
            Item={"pk": _s(function), "sk": _s(LOCK), "execution": _s(execution), "startedAt": _s(started_at),
                  "deployment": _s(json.dumps(deployment))},
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
    return Lock(function, item["execution"]["S"], item["startedAt"]["S"], json.loads(item["deployment"]["S"]))


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
    """Every lock held now (the reconciler's starting point; the table holds one per running deployment)."""
    found, start = [], None
    while True:
        page = _ddb().scan(TableName=table_name(), FilterExpression="sk = :lock",
                           ExpressionAttributeValues={":lock": _s(LOCK)},
                           **({"ExclusiveStartKey": start} if start else {}))
        found += [Lock(i["pk"]["S"], i["execution"]["S"], i["startedAt"]["S"], json.loads(i["deployment"]["S"]))
                  for i in page.get("Items", [])]
        if not (start := page.get("LastEvaluatedKey")):
            return found


def record(function: str, execution: str, started_at: str, **fields) -> None:
    """Create or update the deployment's record (idempotent: the key is the execution's)."""
    name = execution.rsplit(":", 1)[-1]
    values = {"execution": execution, "startedAt": started_at, **{k: v for k, v in fields.items() if v is not None}}
    names = {f"#{k}": k for k in values}
    _ddb().update_item(
        TableName=table_name(),
        Key={"pk": _s(function), "sk": _s(f"{RECORD_PREFIX}{started_at}#{name}")},
        UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in values),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues={f":{k}": _s(v) for k, v in values.items()},
    )


def history(function: str, limit: int = 20, *, ddb=None, table: str | None = None) -> list[dict]:
    """The most recent deployment records of ``function``, newest first (``ddb``/``table`` as for holder)."""
    items = (ddb or _ddb()).query(
        TableName=table or table_name(), KeyConditionExpression="pk = :fn AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":fn": _s(function), ":prefix": _s(RECORD_PREFIX)},
        ScanIndexForward=False, Limit=limit,
    ).get("Items", [])
    return [{k: v["S"] for k, v in item.items() if k not in ("pk", "sk")} for item in items]
