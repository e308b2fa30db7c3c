"""Resolving a deploy request against AWS: the stable version, the target image and the plan.

Only reads. Everything that can make a deployment fail for a reason known up front is refused here,
before the first mutation, with a message a person can act on.
"""

from __future__ import annotations

import fnmatch

from botocore.exceptions import ClientError

from handlers.aws import artifacts, deployments
from handlers.aws.alarms import alarm_states
from handlers.aws.artifacts import resolve_code
from handlers.aws.clients import error_code
from handlers.aws.context import Aws
from handlers.aws.functions import check_region, get_deployable_function, get_function
from handlers.aws.task import logger
from handlers.domain import checks, previews
from handlers.domain.code import MAX_DESCRIPTION, CodeRef, description, function_key
from handlers.domain.errors import DeploymentInProgress, InvalidDeploymentRequest
from handlers.domain.health import already_firing
from handlers.domain.images import ImageRef, digest_of, parse_image_uri, pinned_image
from handlers.domain.model import PREVIEW, Deployment, DeployRequest, Stable
from handlers.domain.strategy import Plan


def resolve(request: DeployRequest, execution: str, aws: Aws) -> tuple[Deployment, str | None]:
    """The deployment to run and the alias revision it starts from."""
    region = check_region(request.function, aws.region)
    function = request.function
    if request.image and request.image.region != region:
        raise InvalidDeploymentRequest(
            f"image {request.image.uri} is in {request.image.region} but function {function.name} is in "
            f"{region}; Lambda pulls images only from the function's own region"
        )

    latest = get_deployable_function(aws, function.name, zip_package=request.code is not None)
    config = latest["Configuration"]
    check_not_busy(aws, config["FunctionName"], execution)
    function_arn = config["FunctionArn"]
    if request.code:
        _check_description_fits(request.code)  # before reading S3: a key too long is refused on its own
        target = resolve_code(aws, request.code, region)
        _check_description_fits(target)
        latest_image = None  # known only for a first deployment, below
    else:
        latest_image = pinned_image(latest.get("Code", {}))
        _check_same_repository(function.name, latest_image, request.image)
        target = _resolve_image(aws, request.image, function.name, tag_moves=request.preview is None)
    alias = _get_alias(aws, function_arn, request.alias)
    stable = None
    plan = request.plan
    timeout = config.get("Timeout")
    if alias:
        stable_function = get_function(aws, function_arn, alias["FunctionVersion"])
        timeout = max(filter(None, (timeout, stable_function["Configuration"].get("Timeout"))), default=None)
        check_can_return_to(config["FunctionName"], alias["FunctionVersion"], stable_function["Configuration"])
        stable = _release(aws, config["FunctionName"], alias["FunctionVersion"], stable_function, target)
        if plan.steps and request.preview is None:
            _check_weighted_alias_possible(function.name, stable_function["Configuration"], config, stable.version)
    else:
        if request.code:
            latest_source = artifacts.source_of(aws, target.bucket, config["FunctionName"], config)
            latest_image = latest_source.uri if latest_source else None
        if plan.steps and request.preview is None:
            logger.info("no alias yet: first deployment goes all at once", alias=request.alias)
            # A gate anywhere still stops before the alias is born: a person says go for the first deployment too.
            plan = Plan(f"AllAtOnce (first deployment, {plan.name} needs a live version)", (),
                        (0,) if plan.approvals else ())

    if request.preview is not None:
        return _preview(aws, request, config, target, stable, latest_image)
    ignored = _check_alarms(aws, request)
    resolved_checks = _resolve_checks(aws, request, config, first_deployment=alias is None)
    deployment = Deployment(
        function_name=config["FunctionName"],
        function_arn=function_arn,
        alias=request.alias,
        alias_exists=alias is not None,
        target=target,
        stable=stable,
        latest_image=latest_image,
        plan=plan,
        check_interval_seconds=request.check_interval_seconds,
        alarms=request.alarms,
        ignored_alarms=ignored,
        noop=stable is not None and stable.digest == target.digest,
        requested_by=request.requested_by,
        latest_revision_id=config.get("RevisionId"),
        analysis=request.analysis,
        checks=resolved_checks,
        function_timeout_seconds=timeout,
        latest_digest=config.get("CodeSha256") if request.code else None,
        wait_for_capacity=bool(alias) and bool(plan.steps) and _has_provisioned_concurrency(aws, function_arn,
                                                                                            request.alias),
        approval=request.approval,
    )
    return deployment, alias.get("RevisionId") if alias else None


def _preview(aws: Aws, request: DeployRequest, config: dict, target: ImageRef, stable: Stable | None,
             latest_image: str | None) -> tuple[Deployment, str | None]:
    """A preview: the branch's alias moves to the new version; production's alias, tag and $LATEST stay."""
    name = previews.alias_for(request.preview)
    if name == request.alias:
        raise InvalidDeploymentRequest(f"the preview alias of branch {request.preview} is {name}, the production "
                                       "alias itself; name the production alias otherwise")
    found = _get_alias(aws, config["FunctionArn"], name)
    current = found["FunctionVersion"] if found else None
    digest = None
    if current:
        digest = digest_of(pinned_image(get_function(aws, config["FunctionArn"], current).get("Code", {})))
    deployment = Deployment(
        function_name=config["FunctionName"], function_arn=config["FunctionArn"], alias=name,
        alias_exists=found is not None, target=target, stable=stable, latest_image=latest_image,
        plan=Plan("Preview", ()), check_interval_seconds=request.check_interval_seconds,
        noop=digest == target.digest, requested_by=request.requested_by, kind=PREVIEW,
        latest_revision_id=config.get("RevisionId"), current_version=current, analysis=request.analysis,
        preview=request.preview,
    )
    return deployment, found.get("RevisionId") if found else None
def _release(aws: Aws, function: str, number: str, version: dict, target: ImageRef | CodeRef) -> Stable:
    """The stable version and exactly what it runs, so a rollback can put ``$LATEST`` back on it."""
    configuration = version["Configuration"]
    if isinstance(target, ImageRef):
        image = pinned_image(version.get("Code", {}))
        return Stable(version=number, image=image, digest=digest_of(image))
    source = artifacts.source_of(aws, target.bucket, function, configuration)
    if source is None:
        raise InvalidDeploymentRequest(
            f"the code of version {number} of {function} (the stable version, which a rollback "
            f"returns to) is not known: it was not deployed by lambda-deployer and s3://{target.bucket}/"
            f"{function_key(function)} does not hold it; upload that package there (the key the function's IaC "
            "refers to) and retry"
        )
    return Stable(version=number, image=source.uri, digest=configuration.get("CodeSha256"))


_VERSION_ID = len("?versionId=") + 32  # S3 object version ids are 32 characters


def _check_description_fits(code: CodeRef) -> None:
    """Each version records its source, pinned by object version, in its Description (256 characters at most)."""
    length = len(description(code)) + (0 if code.version_id else _VERSION_ID)
    if length > MAX_DESCRIPTION:
        raise InvalidDeploymentRequest(
            f"{code.uri} is too long to be recorded on the version it becomes ({length} characters with its object "
            f"version, at most {MAX_DESCRIPTION}); use a shorter key"
        )


def check_can_return_to(function: str, version: str, configuration: dict) -> None:
    """The version a rollback returns to must be invocable: Lambda invokes only Active versions. An Inactive
    one (unused for long; "when you try to invoke a function that is inactive, the invocation fails and Lambda
    sets the function to pending state until the function resources are recreated", Lambda guide, "Lambda
    function states") would fail every request a rollback sent it, so it is refused up front."""
    state = configuration.get("State", "Active")
    if state in ("Inactive", "Failed"):
        raise InvalidDeploymentRequest(
            f"version {version} of {function}, which a rollback would return to, is {state} "
            f"({configuration.get('StateReason', 'no reason given')}): Lambda fails invocations of it until it is "
            "Active again; invoke it once to reactivate it (or deploy it again), then retry"
        )


def _has_provisioned_concurrency(aws: Aws, function_arn: str, alias: str) -> bool:
    try:
        aws.client("lambda").get_provisioned_concurrency_config(FunctionName=function_arn, Qualifier=alias)
    except ClientError as exc:
        if error_code(exc) in ("ProvisionedConcurrencyConfigNotFoundException", "ResourceNotFoundException"):
            return False
        raise
    return True


def check_not_busy(aws: Aws, function: str, execution: str) -> None:
    """A lock held by another execution: that deployment is still running (or being cleaned up)."""
    lock = deployments.holder(function, ddb=aws.client("dynamodb"), table=aws.table)
    if lock and lock.execution != execution:
        raise DeploymentInProgress(deployments.busy(lock))


def _get_alias(aws: Aws, function_arn: str, alias: str) -> dict | None:
    try:
        found = aws.client("lambda").get_alias(FunctionName=function_arn, Name=alias)
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return None  # first deployment: Promote creates it
        raise
    if found["FunctionVersion"] == "$LATEST":
        raise InvalidDeploymentRequest(
            f"alias {alias} points at $LATEST, so every code update would take all traffic at once; "
            "point it at a published version first"
        )
    weights = (found.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    if weights:
        split = ", ".join(f"{w * 100:g}% to version {v}" for v, w in weights.items())
        raise InvalidDeploymentRequest(
            f"alias {alias} is already weighted ({split}) but no deployment is running: roll back first "
            "(or let the reconciler repair it)"
        )
    return found


def _check_same_repository(function: str, latest_image: str | None, image: ImageRef) -> None:
    """The drift-free convention: the function's IaC names ``repo:<function>``; the tag moves in that repo."""
    if not latest_image:
        return
    try:
        current = parse_image_uri(latest_image)
    except InvalidDeploymentRequest:
        return  # not an ECR URI we understand; nothing to compare
    if (current.account, current.repository) != (image.account, image.repository):
        raise InvalidDeploymentRequest(
            f"function {function} runs images from {current.repository_uri} but the request's image is in "
            f"{image.repository_uri}; change the repository through the function's IaC first"
        )


def _resolve_image(aws: Aws, image: ImageRef, function: str, *, tag_moves: bool = True) -> ImageRef:
    ecr = aws.client("ecr")
    try:
        repository = ecr.describe_repositories(registryId=image.account, repositoryNames=[image.repository])
    except ClientError as exc:
        if error_code(exc) == "RepositoryNotFoundException":
            raise InvalidDeploymentRequest(f"repository {image.repository_uri} does not exist") from None
        raise
    if tag_moves:  # a preview leaves the function-name tag where it is
        _check_tag_can_move(repository["repositories"][0], function)
    image_id = {"imageDigest": image.digest} if image.digest else {"imageTag": image.tag}
    try:
        details = ecr.describe_images(registryId=image.account, repositoryName=image.repository,
                                      imageIds=[image_id])["imageDetails"]
    except ClientError as exc:
        if error_code(exc) == "ImageNotFoundException":
            raise InvalidDeploymentRequest(f"image {image.uri} is not in repository {image.repository}") from None
        raise
    if not details:
        raise InvalidDeploymentRequest(f"image {image.uri} is not in repository {image.repository}")
    return image.pinned(details[0]["imageDigest"])


def _check_tag_can_move(repository: dict, function: str) -> None:
    """The deployer moves the tag ``<function>``; refuse up front where ECR would forbid it."""
    mode = repository.get("imageTagMutability", "MUTABLE")
    patterns = [f["filter"] for f in repository.get("imageTagMutabilityExclusionFilters", [])]
    excluded = any(fnmatch.fnmatchcase(function, pattern) for pattern in patterns)
    immutable = mode == "IMMUTABLE" or (mode == "IMMUTABLE_WITH_EXCLUSION" and not excluded) or (
        mode == "MUTABLE_WITH_EXCLUSION" and excluded
    )
    if immutable:
        raise InvalidDeploymentRequest(
            f"repository {repository['repositoryName']} has immutable tags ({mode}), so the tag {function} "
            f"cannot move; make tag {function} mutable (e.g. an exclusion filter) or use a mutable repository"
        )


def _check_weighted_alias_possible(function: str, stable: dict, latest: dict, version: str) -> None:
    """A weighted alias needs both versions on the same role and dead-letter config."""
    for key, label in (("Role", "execution role"), ("DeadLetterConfig", "dead-letter config")):
        if stable.get(key) != latest.get(key):
            raise InvalidDeploymentRequest(
                f"function {function}: version {version} and $LATEST have different {label}s, so traffic "
                "cannot be split between them; use strategy AllAtOnce or align the configuration"
            )


def _check_alarms(aws: Aws, request: DeployRequest) -> tuple[str, ...]:
    """Every watched alarm must exist; one already firing refuses the start unless it is a hotfix."""
    if not request.alarms:
        return ()
    states = alarm_states(request.alarms, aws.client("cloudwatch"))
    missing = [name for name in request.alarms if name not in states]
    if missing:
        raise InvalidDeploymentRequest(f"unknown alarm(s): {', '.join(missing)}")
    firing = already_firing(states)
    if firing and not request.allow_firing_alarms:
        raise InvalidDeploymentRequest(
            f"alarm(s) {', '.join(firing)} already in ALARM, so the deployment could not be judged; fix them "
            "first, or set allowFiringAlarms for a hotfix (health is then judged by the other alarms)"
        )
    return firing


def _resolve_checks(aws: Aws, request: DeployRequest, config: dict, *, first_deployment: bool) -> checks.Checks:
    """Each hook must exist and be opted in, and each checkpoint must fit in one RunChecks task; the hooks
    become ARNs.

    Reading a hook's configuration is allowed only for functions tagged ``lambda-deployer:hook=true``
    (infra.permissions, Scope.HOOK_FUNCTIONS), so a hook that is not opted in reads as not found.
    A first deployment has no version to return to once the alias exists, so its hook after promotion could
    not be acted on: it is left out, and the plan and the deployment's record say so.
    """
    requested = dict(request.checks.hooks)
    notes: tuple[str, ...] = ()
    if first_deployment and checks.AFTER_PROMOTE in requested:
        notes = (f"hook {requested.pop(checks.AFTER_PROMOTE)} (afterPromote) not run: a first deployment has no "
                 "earlier version to return to after promotion",)
    problems, arns, timeouts, read = [], {}, {}, {}
    for phase, reference in requested.items():
        try:
            if reference not in read:  # one read per function, however many phases name it
                read[reference] = _hook(aws, reference, config["FunctionArn"])
            arns[phase], timeouts[phase] = read[reference]
        except InvalidDeploymentRequest as exc:
            problems.append(f"'hooks.{phase}': {exc}")
    if problems:
        raise InvalidDeploymentRequest("; ".join(problems))
    resolved = request.checks.with_hooks(arns, notes)
    timeout = config.get("Timeout", 3)  # Lambda's default when a function sets none
    for phase in checks.PHASES:
        invocations = resolved.synthetic.invocations if resolved.synthetic_at(phase) else 0
        worst = invocations * timeout + timeouts.get(phase, 0)
        if worst > checks.CHECK_SECONDS:
            parts = []
            if invocations:
                parts.append(f"{invocations} invocation(s) of {config['FunctionName']} (timeout {timeout} s)")
            if phase in timeouts:
                parts.append(f"hook {requested[phase]} (timeout {timeouts[phase]} s)")
            problems.append(f"the checks at {phase} could take {worst} s ({' and '.join(parts)}), more than the "
                            f"{checks.CHECK_SECONDS} s one checkpoint may take; use fewer invocations or shorter "
                            "function timeouts")
    if problems:
        raise InvalidDeploymentRequest("; ".join(problems))
    return resolved


def _hook(aws: Aws, reference: str, deployed_arn: str) -> tuple[str, int]:
    """The hook's ARN (qualified as the request named it) and its timeout."""
    function, qualifier, region = checks.split_function(reference)
    if region and region != aws.region:
        raise InvalidDeploymentRequest(f"function {reference} is in {region}; hooks run in {aws.region}")
    params = {"FunctionName": function, **({"Qualifier": qualifier} if qualifier else {})}
    try:
        config = aws.client("lambda").get_function_configuration(**params)
    except ClientError as exc:
        if error_code(exc) in ("ResourceNotFoundException", "AccessDeniedException"):
            raise InvalidDeploymentRequest(
                f"function {reference} was not found, or is not opted in as a hook (tag {checks.HOOK_TAG}=true)"
            ) from None
        raise
    unqualified = ":".join(config["FunctionArn"].split(":")[:7])  # arn:aws:lambda:region:account:function:name
    if unqualified == deployed_arn:
        raise InvalidDeploymentRequest(f"function {reference} is the function being deployed; to invoke its new "
                                       "version before traffic moves, use 'preTraffic'")
    return (f"{unqualified}:{qualifier}" if qualifier else unqualified), config.get("Timeout", 3)
