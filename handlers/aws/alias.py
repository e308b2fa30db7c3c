"""Writing the alias with optimistic concurrency, shared by ShiftTraffic, Promote and Rollback."""

from __future__ import annotations

from botocore.exceptions import ClientError

from handlers.aws.clients import client, error_code
from handlers.domain.errors import ConcurrentModification, TransientAwsError


def weights_of(alias: dict) -> dict[str, float]:
    return dict((alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {})


def describe(alias: dict) -> str:
    split = "".join(f" + {w * 100:g}% to version {v}" for v, w in weights_of(alias).items())
    return f"version {alias['FunctionVersion']}{split}"


def get(function_arn: str, name: str) -> dict | None:
    try:
        return client("lambda").get_alias(FunctionName=function_arn, Name=name)
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return None
        raise


def write(function_arn: str, name: str, *, version: str, weights: dict[str, float],
          revision_id: str | None) -> str | None:
    """Set the alias to ``version`` plus ``weights`` if nobody changed it since ``revision_id``.

    A precondition failure is our own earlier write whose answer was lost (the alias already is what we
    wanted: carry on), someone else's change (stop, keep theirs), or — the revision still ours — a
    glitch worth another try.
    """
    params = {"FunctionName": function_arn, "Name": name, "FunctionVersion": version,
              "RoutingConfig": {"AdditionalVersionWeights": weights}}
    if revision_id:
        params["RevisionId"] = revision_id
    try:
        return client("lambda").update_alias(**params).get("RevisionId")
    except ClientError as exc:
        if error_code(exc) != "PreconditionFailedException":
            raise
    current = get(function_arn, name)
    if current and current["FunctionVersion"] == version and weights_of(current) == weights:
        return current.get("RevisionId")
    if current and revision_id and current.get("RevisionId") == revision_id:
        raise TransientAwsError(f"UpdateAlias refused a precondition the alias {name} still meets; retrying")
    found = describe(current) if current else "deleted"
    raise ConcurrentModification(
        f"alias {name} was changed outside this deployment (it now serves {found}); "
        "the deployment stopped and left that change in place"
    )
