"""Starting an execution exactly once, and the result a pipeline reads when it ends.

Step Functions keeps an execution's name for 90 days; starting the same name with the same input while
it runs returns that execution. The CLI names an execution after what it does and the CI run asking
(``deployer.naming``), so:

- the name runs now: follow it (a CI job retried, or a person pressing twice);
- the name ran and ended, within the same CI run: that was this job's first attempt; report its outcome;
- the name ran and ended, outside CI: a later deployment of the same thing; start it under a new name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from deployer import timeline
from deployer.errors import NotStarted
from handlers.aws.clients import error_code
from handlers.domain.images import digest_of

STARTED, RUNNING, FINISHED = "started", "running", "finished"


@dataclass(frozen=True)
class Started:
    arn: str
    name: str
    how: str  # STARTED: a new execution; RUNNING: one already running; FINISHED: one that already ended


def start(sfn, state_machine_arn: str, names: list[str], request: dict, *, in_ci_run: bool) -> Started:
    """Start ``request`` under the first of ``names`` that is free, or find the execution it already is."""
    document = json.dumps(request, sort_keys=True)
    prefix = state_machine_arn.replace(":stateMachine:", ":execution:", 1)
    for name in names:
        for _attempt in range(2):  # a second look only when another start raced this one
            arn = f"{prefix}:{name}"
            existing = _describe(sfn, arn)
            if existing is not None:
                if existing["status"] == "RUNNING":
                    return Started(arn, name, RUNNING)
                if in_ci_run:
                    return Started(arn, name, FINISHED)
                break  # a later deployment of the same thing: the next name
            try:
                arn = sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=document)["executionArn"]
            except ClientError as exc:
                if error_code(exc) == "ExecutionAlreadyExists":
                    continue
                raise NotStarted(f"the execution could not be started: {_message(exc)}") from None
            except BotoCoreError as exc:
                raise NotStarted(f"the execution could not be started: {exc}") from None
            return Started(arn, name, STARTED)
    raise NotStarted(f"execution names {', '.join(names)} are all taken; try again in a second")


def _describe(sfn, arn: str) -> dict | None:
    try:
        return sfn.describe_execution(executionArn=arn)
    except ClientError as exc:
        if error_code(exc) in ("ExecutionDoesNotExist", "StateMachineDoesNotExist"):
            return None
        raise NotStarted(f"cannot look up execution {arn}: {_message(exc)}") from None
    except BotoCoreError as exc:
        raise NotStarted(f"cannot reach Step Functions: {exc}") from None


def _message(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'Error')}: {error.get('Message', '')}".rstrip(": ")


# outcome words (docs/cli.md): what the execution did, beyond SUCCEEDED/FAILED
_FAILED_OUTCOMES = {
    "InvalidDeploymentRequest": "refused",
    "DeploymentInProgress": "refused",
    "DeploymentRolledBack": "rolledBack",
    "ConcurrentModification": "rolledBack",
    "RollbackFailed": "rollbackFailed",
}
_STATUS_OUTCOMES = {"RUNNING": "running", "ABORTED": "aborted", "TIMED_OUT": "timedOut", "PENDING_REDRIVE": "failed"}


def outcome_of(status: str, error: str | None, output: dict) -> str:
    if status == "SUCCEEDED":
        return output.get("outcome", "deployed")
    if status == "FAILED":
        return _FAILED_OUTCOMES.get(error or "", "failed")
    return _STATUS_OUTCOMES.get(status, status.lower())


def result(described: dict, events: list[dict], console_url: str | None = None) -> dict:
    """The execution as a pipeline reads it (the JSON contract of ``deploy`` and ``rollback``, docs/cli.md)."""
    request = _json(described.get("input"))
    output = _json(described.get("output"))
    visits = timeline.visits(events)
    document = timeline.state_document(visits)
    deployment = document.get("deployment") or {}
    kind = deployment.get("kind") or request.get("action") or "deploy"
    status, error, cause = described["status"], described.get("error"), described.get("cause")
    if status == "ABORTED" and not error:  # DescribeExecution has them only for a failed execution
        error, cause = aborted_with(events)
    # What moves where, as the deployment says (model.Deployment.from_version & co.); a deploy's new version
    # is PublishVersion's. Before Resolve has run, only the request knows the image.
    version = deployment.get("toVersion") or (document.get("release") or {}).get("version")
    previous = deployment.get("fromVersion")
    image = deployment.get("toImage") or request.get("image")
    outcome = outcome_of(status, error, output)
    live = {"deployed": version, "unchanged": version, "rolledBack": previous if kind == "deploy" else version}
    found = {
        "execution": described["executionArn"],
        "name": described.get("name") or described["executionArn"].rsplit(":", 1)[-1],
        "kind": kind,
        "status": status,
        "outcome": outcome,
        "function": deployment.get("functionName") or request.get("function"),
        "alias": deployment.get("alias") or request.get("alias") or "live",
        "version": version,
        "previousVersion": previous,
        "liveVersion": live.get(outcome) if status != "RUNNING" else None,
        "image": image,
        "digest": digest_of(image),
        "strategy": (deployment.get("plan") or {}).get("name") or strategy_name(request, kind),
        "requestedBy": request.get("requestedBy"),
        "error": error,
        "cause": cause,
        "failedState": timeline.failed_state(visits) if status in ("FAILED", "TIMED_OUT") else None,
        "lastCheck": timeline.last_check(visits),
        "startedAt": _iso(described.get("startDate")),
        "durationSeconds": _seconds(described),
        "consoleUrl": console_url,
    }
    if isinstance(image, str) and image.startswith("s3://"):  # a zip function: its package, not an image
        found.update(image=None, digest=None, code=image)
    if kind == "preview":  # production's alias serves what it served; the preview's alias is the one that moved
        found["preview"] = deployment.get("preview") or request.get("preview")
        found["liveVersion"] = (deployment.get("stable") or {}).get("version")
    if status == "SUCCEEDED" and kind in ("prune", "deletePreview"):
        found["report"] = output  # what went and what stayed, and why (docs/pruning.md)
        found["outcome"] = "pruned" if not output.get("dryRun") else "dryRun"
        return found
    if status == "SUCCEEDED":  # the execution's own output is the authority on what it did
        found.update({key: output[key] for key in ("function", "alias", "version", "previousVersion", "image",
                                                    "digest", "code", "codeSha256", "codeKey", "strategy")
                      if key in output})
        if kind != "preview":
            found["liveVersion"] = found["version"]
    return found


def aborted_with(events: list[dict]) -> tuple[str | None, str | None]:
    """The error and cause StopExecution gave, from the ExecutionAborted event (ExecutionAbortedEventDetails)."""
    for event in reversed(events):
        if event.get("type") == "ExecutionAborted":
            details = event.get("executionAbortedEventDetails") or {}
            return details.get("error") or None, details.get("cause") or None
    return None, None


ROLLED_BACK_BY_KEYS = ("execution", "name", "status", "outcome", "requestedBy", "version", "durationSeconds",
                       "consoleUrl")


def stopped_by_rollback(stopped: dict, rollback: dict) -> dict:
    """The result of a deployment a rollback request stopped (``stopped``), once that rollback has ended:
    rolled back, and live on the version the rollback returned to, if it succeeded."""
    restored = rollback["status"] == "SUCCEEDED" and rollback["outcome"] == "rolledBack"
    return stopped | {"outcome": "rolledBack" if restored else stopped["outcome"],
                      "liveVersion": rollback["version"] if restored else None,
                      "rolledBackBy": {key: rollback.get(key) for key in ROLLED_BACK_BY_KEYS}}


def strategy_name(request: dict, kind: str = "deploy") -> str:
    """The strategy a request asks for, as the history names it (explicit steps: ``Steps``)."""
    if kind == "rollback":
        return "Rollback"
    strategy = request.get("strategy", "AllAtOnce")
    return strategy if isinstance(strategy, str) else "Steps"


def _json(text: str | None) -> dict:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _iso(moment) -> str | None:
    return moment.isoformat() if moment is not None else None


def _seconds(described: dict) -> float | None:
    start, stop = described.get("startDate"), described.get("stopDate")
    return round((stop - start).total_seconds(), 1) if start and stop else None
