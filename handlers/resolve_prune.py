"""ResolvePrune: validate a prune (or preview deletion) and decide which versions go and which stay. Reads only.

Reads every alias, provisioned concurrency configuration and event source mapping of the function, the lock and
the recent deployment records, then applies the rules of ``handlers.domain.pruning``. A preview deletion
(``deletePreview``) deletes the branch's alias, and its version only where nothing else uses it. The Prune
task then deletes in batches; a dry run stops here with the same report.
"""

from __future__ import annotations

from handlers.aws import deployments, versions
from handlers.aws.context import Aws
from handlers.aws.functions import check_region, get_function
from handlers.aws.task import logger, task
from handlers.domain import previews, pruning
from handlers.domain.errors import DeploymentInProgress, InvalidDeploymentRequest
from handlers.domain.model import DELETE_PREVIEW, parse_prune_request


@task
def handler(event: dict) -> dict:
    request = parse_prune_request(event["request"])
    aws = Aws.from_environment()
    check_region(request.function, aws.region)
    config = get_function(aws, request.function.name, None)["Configuration"]
    name, arn = config["FunctionName"], config["FunctionArn"]
    lam = aws.client("lambda")
    aliases = versions.aliases(lam, name)
    lock = deployments.holder(name, ddb=aws.client("dynamodb"), table=aws.table)
    doomed_aliases, only = [], None
    if request.action == DELETE_PREVIEW:
        alias = previews.alias_for(request.preview)
        found = next((a for a in aliases if a["Name"] == alias), None)
        if found is None:
            raise InvalidDeploymentRequest(f"{name} has no preview alias {alias} (branch {request.preview})")
        if lock and lock.deployment.get("alias") == alias:
            raise DeploymentInProgress(deployments.busy(lock))
        doomed_aliases = [alias]
        only = frozenset({found["FunctionVersion"], *((found.get("RoutingConfig") or {}).get(
            "AdditionalVersionWeights") or {})})
    staying = [a for a in aliases if a["Name"] not in doomed_aliases]
    uses = (pruning.Uses().aliases(staying)
            .provisioned(arn, versions.provisioned(lam, name), staying)
            .mappings(arn, versions.mappings(lam, arn), aliases)
            .recent(deployments.history(name, pruning.RECENT_RECORDS, ddb=aws.client("dynamodb"), table=aws.table)))
    if lock:
        uses.running(lock.execution, lock.deployment)
    plan = pruning.plan(versions.versions(lam, name), request.keep, uses, only=only)
    state = {
        "action": request.action, "function": name, "functionArn": arn, "keep": request.keep,
        "preview": request.preview, "dryRun": request.dry_run, "versionsFound": plan.total,
        "deleteAliases": doomed_aliases, "toDelete": list(plan.delete), "zipBytes": plan.zip_bytes,
        "wouldFreeBytes": sum(plan.zip_bytes.values()), "more": plan.more, "kept": plan.kept,
        "deleted": [], "deletedAliases": [], "notDeleted": {}, "freedBytes": 0,
        "pending": 0 if request.dry_run else len(doomed_aliases) + len(plan.delete),
    }
    if not state["pending"]:
        state["codeStorage"] = versions.code_storage(lam)
    logger.info("prune resolved", function=name, delete=len(plan.delete), kept=len(plan.kept), more=plan.more,
                dry_run=request.dry_run)
    return {"prune": state}
