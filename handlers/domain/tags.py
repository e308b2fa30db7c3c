"""The tag contract: how a function opts in to lambda-deployer and to auto-deploy on image push.

| tag | meaning |
| --- | --- |
| ``lambda-deployer:managed`` = ``true`` | the deployer may deploy this function (the IAM policies check it) |
| ``lambda-deployer:track`` = ``<repository>:<tag>`` | deploy when ``<tag>`` is pushed to ``<repository>`` |
| ``lambda-deployer:strategy`` | strategy for those deployments (default AllAtOnce) |
| ``lambda-deployer:alarms`` | alarm names to watch, separated by spaces (tag values cannot hold commas) |
| ``lambda-deployer:alias`` | alias to shift (default ``live``) |
| ``lambda-deployer:check-interval`` | seconds between health checks (default 60) |
| ``lambda-deployer:hook`` = ``true`` | deployments may invoke this function as a hook (docs/checks.md) |
| ``lambda-deployer:analysis`` | ``false``: alarms alone judge; ``true`` (or absent): canary analysis, defaults |

Pure: no AWS calls. The values are passed on as they are; Resolve validates them like any request.
"""

from __future__ import annotations

import re

PREFIX = "lambda-deployer:"
MANAGED = f"{PREFIX}managed"
TRACK = f"{PREFIX}track"
STRATEGY = f"{PREFIX}strategy"
ALARMS = f"{PREFIX}alarms"
ALIAS = f"{PREFIX}alias"
CHECK_INTERVAL = f"{PREFIX}check-interval"
HOOK = f"{PREFIX}hook"
ANALYSIS = f"{PREFIX}analysis"  # true/false only: a tag value cannot hold the braces of analysis settings

PREVIOUS_SUFFIX = ".previous"  # <function>.previous keeps the stable image tagged (handlers.registry)
# A version's own tag ends in .previous too, so the auto-deploy rules' ".previous" exclusion
# (handlers.domain.events) ignores its push. At most 64 + 2 + 10 + 9 characters (a Lambda function name has at
# most 64, a version number at most 10 digits): ECR image tags may have 300 (ImageIdentifier.imageTag) and
# Docker/OCI tags 128; a function name's characters (letters, digits, '-', '_') are all tag characters.
_VERSION_TAG = re.compile(r"\.v[1-9][0-9]*" + re.escape(PREVIOUS_SUFFIX))


def version_tag(function: str, version: str) -> str:
    """``<function>.v<N>.previous``: keeps the image a version the prune kept pins tagged (docs/pruning.md), so an
    'expire untagged' lifecycle rule spares it and a rollback to that version still finds its image."""
    return f"{function}.v{version}{PREVIOUS_SUFFIX}"


def is_deployer_tag(image_tag: str, function: str) -> bool:
    """Tags the deployer itself moves (``<function>``, ``<function>.previous``, ``<function>.v<N>.previous``):
    pushing them deploys nothing."""
    if image_tag in (function, f"{function}{PREVIOUS_SUFFIX}"):
        return True
    return image_tag.startswith(f"{function}.") and bool(_VERSION_TAG.fullmatch(image_tag, len(function)))


def request_from_tags(function_arn: str, tags: dict[str, str], image: str, requested_by: str) -> dict:
    request: dict = {"function": function_arn, "image": image, "requestedBy": requested_by}
    if strategy := tags.get(STRATEGY):
        request["strategy"] = strategy
    if alarms := tags.get(ALARMS, "").split():
        request["alarms"] = alarms
    if alias := tags.get(ALIAS):
        request["alias"] = alias
    if interval := tags.get(CHECK_INTERVAL):
        request["checkIntervalSeconds"] = int(interval) if interval.isdigit() else interval
    if analysis := tags.get(ANALYSIS):
        request["analysis"] = {"true": True, "false": False}.get(analysis.strip().lower(), analysis)
    return request


def execution_name(function: str, digest: str, event_id: str) -> str:
    """Unique per function, image and push event: a redelivered event starts nothing twice."""
    name = f"{function[:48]}-{digest.removeprefix('sha256:')[:12]}-{event_id[:8]}"
    return re.sub(r"[^A-Za-z0-9_-]", "-", name)
