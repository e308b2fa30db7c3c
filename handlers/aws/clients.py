"""The boto3 edge shared by the task handlers: clients and AWS error classification."""

from __future__ import annotations

import functools

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

# Lambda's control plane is shared by the whole account (about 15 requests/s): adaptive retries back
# off on throttling inside one task; the state machine's Retry covers what outlasts them.
_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 5}, user_agent_extra="lambda-deployer")

_THROTTLING = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "TooManyRequestsException",
    "RequestLimitExceeded", "RequestThrottled", "RequestThrottledException", "SlowDown",
    "ProvisionedThroughputExceededException",
})
# 409 from Lambda: another update to the function is still in progress.
_CONFLICT = frozenset({"ResourceConflictException", "ResourceInUseException"})


@functools.cache
def client(service: str):
    """One client per service for the life of the execution environment (created on first use)."""
    return boto3.client(service, config=_CONFIG)


def error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def is_transient(exc: ClientError) -> bool:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    code = error_code(exc)
    return code in _THROTTLING or code in _CONFLICT or status == 429 or status >= 500


def describe(exc: ClientError) -> str:
    operation = getattr(exc, "operation_name", "AWS call")
    message = exc.response.get("Error", {}).get("Message", "")
    return f"{operation} failed with {error_code(exc)}: {message}".rstrip(": ")
