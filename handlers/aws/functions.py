"""Reading the function to deploy: its region, its $LATEST and a version."""

from __future__ import annotations

import os

from botocore.exceptions import ClientError

from handlers.aws.clients import client, error_code
from handlers.domain.errors import InvalidDeploymentRequest
from handlers.domain.model import FunctionRef

_NOT_FOUND = {"ResourceNotFoundException", "AccessDeniedException", "AccessDeniedFault"}


def check_region(function: FunctionRef) -> str:
    region = os.environ["AWS_REGION"]
    if function.region and function.region != region:
        raise InvalidDeploymentRequest(
            f"function {function.name} is in {function.region}; this deployer manages functions in {region}"
        )
    return region


def get_image_function(name: str) -> dict:
    """``$LATEST`` of a function lambda-deployer can deploy: it must exist and be image-packaged."""
    latest = get_function(name, None)
    if latest["Configuration"].get("PackageType") != "Image":
        raise InvalidDeploymentRequest(f"function {name} is zip-packaged; lambda-deployer deploys container images")
    return latest


def get_function(name: str, qualifier: str | None) -> dict:
    try:
        if qualifier:
            return client("lambda").get_function(FunctionName=name, Qualifier=qualifier)
        return client("lambda").get_function(FunctionName=name)
    except ClientError as exc:
        if error_code(exc) in _NOT_FOUND:
            what = f"version {qualifier} of function {name}" if qualifier else f"function {name}"
            raise InvalidDeploymentRequest(
                f"{what} was not found (or this deployer may not manage it) in {os.environ['AWS_REGION']}"
            ) from None
        raise
