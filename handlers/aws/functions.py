"""Reading the function to deploy: its region, its $LATEST and a version."""

from __future__ import annotations

from botocore.exceptions import ClientError

from handlers.aws.clients import error_code
from handlers.aws.context import Aws
from handlers.domain.errors import InvalidDeploymentRequest
from handlers.domain.model import FunctionRef

_NOT_FOUND = {"ResourceNotFoundException", "AccessDeniedException", "AccessDeniedFault"}


def check_region(function: FunctionRef, region: str) -> str:
    if function.region and function.region != region:
        raise InvalidDeploymentRequest(
            f"function {function.name} is in {function.region}; this deployer manages functions in {region}"
        )
    return region


def get_image_function(aws: Aws, name: str) -> dict:
    """``$LATEST`` of a function lambda-deployer can deploy: it must exist and be image-packaged."""
    latest = get_function(aws, name, None)
    if latest["Configuration"].get("PackageType") != "Image":
        raise InvalidDeploymentRequest(f"function {name} is zip-packaged; lambda-deployer deploys container images")
    return latest


def get_function(aws: Aws, name: str, qualifier: str | None) -> dict:
    try:
        if qualifier:
            return aws.client("lambda").get_function(FunctionName=name, Qualifier=qualifier)
        return aws.client("lambda").get_function(FunctionName=name)
    except ClientError as exc:
        if error_code(exc) in _NOT_FOUND:
            what = f"version {qualifier} of function {name}" if qualifier else f"function {name}"
            raise InvalidDeploymentRequest(
                f"{what} was not found (or this deployer may not manage it) in {aws.region}"
            ) from None
        raise
