"""The boto3 edge shared by the task handlers: clients and AWS error classification."""

from __future__ import annotations

import functools

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

# Lambda's control plane is shared by the whole account (about 15 requests/s): adaptive retries back
# off on throttling inside one task; the state machine's Retry covers what outlasts them.
_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 5}, user_agent_extra="lambda-deployer")

# Invoke answers when the invoked function has finished: up to its timeout, 15 minutes at most. boto3 stops
# waiting after 60 s by default and retries, which would run a check's function again behind the deployer's
# back ("How do I troubleshoot retry and timeout issues when I use an AWS SDK to invoke a Lambda function?",
# AWS re:Post Knowledge Center). So: wait as long as a function may run, and never retry inside the task
# (the state machine's Retry runs a failed check again, from the start, when the error is transient).
_INVOKE_CONFIG = Config(read_timeout=900, connect_timeout=10, retries={"mode": "standard", "total_max_attempts": 1},
                        user_agent_extra="lambda-deployer")

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


@functools.cache
def invoking_client():
    """The Lambda client that invokes functions for checks (``_INVOKE_CONFIG``)."""
    return boto3.client("lambda", config=_INVOKE_CONFIG)


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
