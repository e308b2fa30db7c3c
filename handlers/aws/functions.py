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
    """``$LATEST`` of an image function: it must exist and be image-packaged."""
    return get_deployable_function(aws, name, zip_package=False)


def get_deployable_function(aws: Aws, name: str, *, zip_package: bool) -> dict:
    """``$LATEST`` of the function to deploy: it must exist, and be packaged as the request's code is (Lambda
    cannot change the package type of an existing function, Lambda guide, "Lambda deployment packages")."""
    latest = get_function(aws, name, None)
    package = latest["Configuration"].get("PackageType", "Zip")
    if zip_package and package != "Zip":
        raise InvalidDeploymentRequest(f"function {name} runs a container image; deploy it with 'image', not 'code'")
    if not zip_package and package != "Image":
        raise InvalidDeploymentRequest(
            f"function {name} is zip-packaged; deploy it with 'code' (its package in S3), not 'image'"
        )
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
