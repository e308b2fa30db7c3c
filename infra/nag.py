"""cdk-nag acknowledgements, made where a wildcard is made and carrying its reason.

cdk-nag v3 reads CDK's native ``Validations.of(construct).acknowledge(...)``; every IAM wildcard is a
separate finding, ``AwsSolutions-IAM5[Resource::<the resource as cdk-nag renders it>]``. The rendering
is computed here from the resolved CloudFormation value, so the finding id follows the ARN we build.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct

IAM_WILDCARD = "AwsSolutions-IAM5"
ANY_RESOURCE = f"{IAM_WILDCARD}[Resource::*]"
DEAD_LETTER_QUEUE = "AwsSolutions-SQS3"  # "not used as a dead-letter queue and has none"

X_RAY_REASON = "X-Ray's PutTraceSegments and PutTelemetryRecords have no resource-level permissions."


def render(value: object) -> str:
    """A resolved CloudFormation value as cdk-nag prints it: ``Ref`` -> ``<Name>``, ``GetAtt`` -> ``<Id.Attr>``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (function, argument), = value.items()
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(render(part) for part in parts)
        if function == "Ref":
            return f"<{argument}>"
        if function == "Fn::GetAtt":
            return f"<{'.'.join(argument)}>"
    raise ValueError(f"cannot render {value!r} the way cdk-nag does")


def wildcard_findings(scope: IConstruct, resources: Iterable[str]) -> list[str]:
    """The IAM5 finding ids for those of ``resources`` that contain a wildcard."""
    stack = Stack.of(scope)
    rendered = (render(stack.resolve(resource)) for resource in resources)
    return [f"{IAM_WILDCARD}[Resource::{resource}]" for resource in rendered if "*" in resource]


def acknowledge(scope: IConstruct, reasons: Mapping[str, Iterable[str]]) -> None:
    """Acknowledge each finding id on ``scope`` (and what it contains) with all of its reasons."""
    for finding, why in reasons.items():
        reason = " ".join(dict.fromkeys(why))
        if not reason:
            raise ValueError(f"no reason given for {finding}")
        Validations.of(scope).acknowledge(Acknowledgment(id=finding, reason=reason))
