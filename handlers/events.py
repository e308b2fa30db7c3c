"""EventBridge patterns the deployer reacts to, shared by the CDK stack and the local emulator.

No AWS calls: just the patterns (and their validation), so both places build exactly the same rule.
"""

from __future__ import annotations

import re

ECR_SOURCE, ECR_DETAIL_TYPE = "aws.ecr", "ECR Image Action"
SFN_SOURCE, SFN_DETAIL_TYPE = "aws.states", "Step Functions Execution Status Change"
ENDED_BADLY = ["ABORTED", "TIMED_OUT", "FAILED"]

_REPOSITORY = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_TAG_PATTERN = re.compile(r"^[A-Za-z0-9_*][A-Za-z0-9_.*-]{0,127}$")


def check_auto_deploy(auto_deploy: dict[str, list[str]]) -> None:
    """``{repository: [tag or tag-pattern, …]}``; a ``*`` matches any characters."""
    if not isinstance(auto_deploy, dict):
        raise ValueError("auto-deploy configuration must map repository names to lists of tags")
    for repository, tags in auto_deploy.items():
        if not _REPOSITORY.match(str(repository)):
            raise ValueError(f"auto-deploy: {repository!r} is not an ECR repository name")
        if not isinstance(tags, list) or not tags:
            raise ValueError(f"auto-deploy: {repository} needs a list of tags that trigger deployments")
        for tag in tags:
            if not isinstance(tag, str) or not _TAG_PATTERN.match(tag):
                raise ValueError(f"auto-deploy: {repository}: {tag!r} is not an image tag or tag pattern")
            if tag.strip("*") == "":
                raise ValueError(f"auto-deploy: {repository}: {tag!r} would match the deployer's own "
                                 "function-name tags; name the tags that trigger deployments (e.g. main, release-*)")


def ecr_push_pattern(auto_deploy: dict[str, list[str]]) -> dict:
    """Successful pushes of the configured tags. The deployer's own retags (``<function>``,
    ``<function>.previous``) are not among them, so they never start a deployment."""
    check_auto_deploy(auto_deploy)
    per_repository = [
        {"repository-name": [repository], "image-tag": [{"wildcard": t} if "*" in t else t for t in tags]}
        for repository, tags in sorted(auto_deploy.items())
    ]
    detail = {"action-type": ["PUSH"], "result": ["SUCCESS"]}
    if len(per_repository) == 1:
        detail |= per_repository[0]
    else:
        detail["$or"] = per_repository
    return {"source": [ECR_SOURCE], "detail-type": [ECR_DETAIL_TYPE], "detail": detail}


def execution_ended_pattern(state_machine_arn: str) -> dict:
    """This state machine's executions that ended without finishing their own cleanup for sure."""
    return {"source": [SFN_SOURCE], "detail-type": [SFN_DETAIL_TYPE],
            "detail": {"stateMachineArn": [state_machine_arn], "status": ENDED_BADLY}}
