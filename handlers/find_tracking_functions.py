"""FindTrackingFunctions: an ECR push → the deploy requests of every function that tracks that tag.

The EventBridge rule already ignores tags that do not trigger deployments; this is the second line:
the deployer's own retags never deploy, and a function must be managed to be deployed.
"""

from __future__ import annotations

from handlers.aws.clients import client
from handlers.aws.task import count, logger, task
from handlers.domain import tags
from handlers.domain.images import ImageRef


@task
def handler(event: dict) -> dict:
    push = event["event"]
    detail = push.get("detail", {})
    repository, image_tag, digest = detail.get("repository-name"), detail.get("image-tag"), detail.get("image-digest")
    summary = {"repository": repository, "tag": image_tag, "digest": digest}
    if not (repository and image_tag and digest) or detail.get("action-type") != "PUSH" \
            or detail.get("result") != "SUCCESS":
        return {"push": summary, "deployments": [], "ignored": ["not a successful push of a tagged image"]}
    image = ImageRef(push["account"], push["region"], repository, digest=digest).uri
    deploy, ignored = [], []
    for function_arn, function_tags in _tracking(f"{repository}:{image_tag}"):
        function = function_arn.rsplit(":", 1)[-1]
        if tags.is_deployer_tag(image_tag, function):
            ignored.append(f"{function}: {image_tag} is the deployer's own tag")
        elif function_tags.get(tags.MANAGED) != "true":
            ignored.append(f"{function}: tracks {repository}:{image_tag} but is not tagged {tags.MANAGED}=true")
        else:
            request = tags.request_from_tags(function_arn, function_tags, image,
                                             requested_by=f"ecr push {repository}:{image_tag}")
            request["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"] = event["executionId"]
            deploy.append({"function": function, "name": tags.execution_name(function, digest, push.get("id", "")),
                           "request": request})
    count("PushDeployments", len(deploy))
    logger.info("push routed", push=summary, deployments=[d["function"] for d in deploy], ignored=ignored)
    return {"push": summary, "deployments": deploy, "ignored": ignored}


def _tracking(track: str) -> list[tuple[str, dict[str, str]]]:
    """Functions tagged ``lambda-deployer:track=<track>``, with their tags (one paginated call)."""
    pages = client("resourcegroupstaggingapi").get_paginator("get_resources").paginate(
        TagFilters=[{"Key": tags.TRACK, "Values": [track]}], ResourceTypeFilters=["lambda:function"])
    return [(r["ResourceARN"], {t["Key"]: t["Value"] for t in r.get("Tags", [])})
            for page in pages for r in page.get("ResourceTagMappingList", [])]
