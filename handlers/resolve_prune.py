"""ResolvePrune: validate a prune (or preview deletion) and decide which versions go and which stay. Reads only.

Reads every alias, provisioned concurrency configuration and event source mapping of the function, the lock and
the recent deployment records, then applies the rules of ``handlers.domain.pruning``. A preview deletion
(``deletePreview``) deletes the branch's alias, and its version only where nothing else uses it. The Prune
task then deletes in batches; a dry run stops here with the same report.

An image function: one BatchGetImage per 100 kept versions, in the repository of ``$LATEST``'s image, finds
which kept versions' images already carry their tag ``<function>.v<N>.previous``; the others are ``toTag``
(a dry run reports them; the Prune task tags them). A zip function makes no ECR call.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from handlers.aws import deployments, registry, versions
from handlers.aws.clients import describe, is_transient
from handlers.aws.context import Aws
from handlers.aws.functions import check_region, get_function
from handlers.aws.task import logger, task
from handlers.domain import previews, pruning, tags
from handlers.domain.errors import DeploymentInProgress, InvalidDeploymentRequest
from handlers.domain.images import ImageRef, parse_image_uri
from handlers.domain.model import DELETE_PREVIEW, parse_prune_request


@task
def handler(event: dict) -> dict:
    request = parse_prune_request(event["request"])
    aws = Aws.from_environment()
    check_region(request.function, aws.region)
    latest = get_function(aws, request.function.name, None)
    config = latest["Configuration"]
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
    image_tags, to_tag = _image_tags(name, latest, plan)
    state = {
        "action": request.action, "function": name, "functionArn": arn, "keep": request.keep,
        "preview": request.preview, "dryRun": request.dry_run, "versionsFound": plan.total,
        "deleteAliases": doomed_aliases, "toDelete": list(plan.delete), "zipBytes": plan.zip_bytes,
        "wouldFreeBytes": sum(plan.zip_bytes.values()), "more": plan.more, "kept": plan.kept,
        "deleted": [], "deletedAliases": [], "notDeleted": {}, "freedBytes": 0,
        "toTag": to_tag, "toUntag": [], "imageTags": image_tags,
        "pending": 0 if request.dry_run else len(doomed_aliases) + len(plan.delete) + len(to_tag),
    }
    if not state["pending"]:
        state["codeStorage"] = versions.code_storage(lam)
    logger.info("prune resolved", function=name, delete=len(plan.delete), kept=len(plan.kept), more=plan.more,
                dry_run=request.dry_run, to_tag=len(to_tag))
    return {"prune": state}


def _image_tags(function: str, latest: dict, plan: pruning.Plan) -> tuple[dict | None, list[str]]:
    """The image-tag report to fill, and the kept image versions whose image lacks its tag (oldest first)."""
    if latest["Configuration"].get("PackageType") != pruning.IMAGE:
        return None, []
    ref = parse_image_uri(latest["Code"]["ImageUri"])
    repository = ImageRef(ref.account, ref.region, ref.repository)
    report = {"repository": repository.repository_uri, "tagged": {}, "untagged": {}, "left": {}}
    wanted = {version: tags.version_tag(function, version) for version in plan.kept_images}
    try:
        present = registry.tagged(repository, list(wanted.values()))
    except ClientError as exc:
        if is_transient(exc):
            raise
        report["left"] = {version: describe(exc) for version in wanted}  # e.g. a repository it may not read
        return report, []
    return report, [version for version, tag in wanted.items() if tag not in present]
