"""ResolveRollback: validate a rollback request and decide which version to return to. Reads only.

Without ``toVersion`` the target is the previous stable version: the alias' primary version while a
deployment is shifting traffic, else where the last deployment to the current version came from. A
deployment still running is stopped first (its lock is taken over), so a rollback works in seconds even
mid-canary.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from handlers.aws import alias, artifacts, deployments
from handlers.aws.clients import client, error_code
from handlers.aws.context import Aws
from handlers.aws.functions import check_region, get_function
from handlers.aws.resolution import check_can_return_to
from handlers.aws.task import logger, task
from handlers.domain import progress
from handlers.domain.code import CodeRef, is_code_uri, parse_code_uri, recorded_source
from handlers.domain.errors import InvalidDeploymentRequest
from handlers.domain.images import digest_of, parse_image_uri, pinned_image
from handlers.domain.model import DEFAULT_CHECK_INTERVAL, ROLLBACK, Deployment, Stable, parse_rollback_request
from handlers.domain.strategy import Plan


@task
def handler(event: dict) -> dict:
    request = parse_rollback_request(event["request"])
    aws = Aws.from_environment()
    check_region(request.function, aws.region)
    latest = get_function(aws, request.function.name, None)
    config = latest["Configuration"]
    function, function_arn = config["FunctionName"], config["FunctionArn"]
    current = alias.get(function_arn, request.alias)
    if current is None:
        raise InvalidDeploymentRequest(f"alias {request.alias} of {function} does not exist: nothing to roll back")
    weights = alias.weights_of(current)
    serving = current["FunctionVersion"]
    leaving = next(iter(weights), serving)  # a canary's new version, or the version serving everything
    target = request.to_version or (serving if weights else _previous_stable(function, serving))
    target_function = get_function(aws, function_arn, target)
    check_can_return_to(function, target, target_function["Configuration"])
    leaving_function = target_function if leaving == target else get_function(aws, function_arn, leaving)
    if config.get("PackageType") == "Zip":
        moving_out, stable = _zip_releases(aws, function, target, target_function, leaving, leaving_function)
        latest_image, latest_digest = None, config.get("CodeSha256")
    else:
        target_image = pinned_image(target_function["Code"])
        _check_image_still_there(target_image, target)
        moving_out = parse_image_uri(pinned_image(leaving_function["Code"]))
        stable = Stable(target, target_image, digest_of(target_image))
        latest_image, latest_digest = pinned_image(latest.get("Code", {})), None

    deployment = Deployment(
        function_name=function, function_arn=function_arn, alias=request.alias, alias_exists=True,
        target=moving_out, stable=stable, latest_image=latest_image, plan=Plan("Rollback", ()),
        check_interval_seconds=DEFAULT_CHECK_INTERVAL, noop=target == serving and not weights,
        requested_by=request.requested_by, kind=ROLLBACK, current_version=leaving, latest_digest=latest_digest,
    )
    update = {"deployment": deployment.to_json(),
              "traffic": progress.start(deployment.plan, current.get("RevisionId")).to_json()}
    lock = deployments.holder(function)
    if lock and lock.execution != event["executionId"] and not deployment.noop:
        update["interrupt"] = lock.execution  # the running deployment is stopped before anything else
        update["interruptStartedAt"] = lock.started_at  # the key of its record, which Lock closes
    logger.info("rollback resolved", target=target, leaving=leaving, interrupt=update.get("interrupt"))
    return update


def _previous_stable(function: str, serving: str) -> str:
    for record in deployments.history(function, limit=50):
        moved_here = record.get("outcome") in ("deployed", "rolledBack") and record.get("toVersion") == serving
        if moved_here and record.get("fromVersion"):
            return record["fromVersion"]
    raise InvalidDeploymentRequest(
        f"no earlier version of {function} is known from its deployment history; say which with toVersion"
    )


def _zip_releases(aws: Aws, function: str, target: str, target_function: dict, leaving: str,
                  leaving_function: dict) -> tuple[CodeRef, Stable]:
    """A zip function returns to the package its target version recorded when lambda-deployer published it
    (its Description), which must still be readable at that object version."""
    def source(found: dict) -> CodeRef | None:
        configuration = found["Configuration"]
        return recorded_source(configuration.get("Description"), configuration.get("CodeSha256"))

    leaving_source, target_source = source(leaving_function), source(target_function)
    target_source = target_source or _source_in_history(function, target, target_function)
    if target_source is None and leaving_source is not None:  # e.g. version 1, from the IaC's own upload
        target_source = artifacts.source_of(aws, leaving_source.bucket, function, target_function["Configuration"])
    if target_source is None:
        raise InvalidDeploymentRequest(
            f"the package of version {target} of {function} is not known (lambda-deployer did not publish it, and "
            f"the function-named key does not hold it), so $LATEST could not be put back on it"
        )
    if artifacts.head(aws, target_source.bucket, target_source.key, target_source.version_id) is None:
        raise InvalidDeploymentRequest(f"the package of version {target} ({target_source.uri}) is no longer in S3")
    moving_out = leaving_source or target_source
    return moving_out, Stable(target, target_source.uri, target_function["Configuration"].get("CodeSha256"))


def _source_in_history(function: str, version: str, found: dict) -> CodeRef | None:
    """A version lambda-deployer did not publish (the IaC's first one) was recorded as the stable version's
    source (``fromCode``) by the deployment that moved traffic away from it."""
    for record in deployments.history(function, limit=50):
        if record.get("fromVersion") == version and is_code_uri(record.get("fromCode")):
            return parse_code_uri(record["fromCode"], found["Configuration"].get("CodeSha256"))
    return None


def _check_image_still_there(image: str | None, version: str) -> None:
    """Rolling back onto an image deleted from ECR would leave the function unable to start."""
    if not image or not digest_of(image):
        raise InvalidDeploymentRequest(f"version {version} does not run an image pinned by digest")
    ref = parse_image_uri(image)
    try:
        client("ecr").describe_images(registryId=ref.account, repositoryName=ref.repository,
                                      imageIds=[{"imageDigest": ref.digest}])
    except ClientError as exc:
        if error_code(exc) in ("ImageNotFoundException", "RepositoryNotFoundException"):
            raise InvalidDeploymentRequest(f"the image of version {version} ({ref.uri}) is no longer in ECR") from None
        raise
