"""The deployment state machine's definition: one ASL file, used by the CDK stack and the emulator."""

from __future__ import annotations

import re
from pathlib import Path

DEFINITION = Path(__file__).with_name("deploy.asl.json")
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")

PARTITION = "Partition"
"""The placeholder of the AWS partition in the service integration ARNs (``arn:${Partition}:states:::…``):
Step Functions in aws-cn and aws-us-gov does not run ``arn:aws:states:::`` integrations."""


def placeholders(text: str | None = None) -> set[str]:
    """The ``${Name}`` placeholders in the definition."""
    return set(_PLACEHOLDER.findall(DEFINITION.read_text() if text is None else text))


def render(substitutions: dict[str, str], *, partition: str = "aws") -> str:
    """The definition with every placeholder substituted; a missing or unknown name is an error.

    ``partition`` fills ``${Partition}`` unless ``substitutions`` does (the emulator is the aws partition)."""
    substitutions = {PARTITION: partition, **substitutions}
    text = DEFINITION.read_text()
    wanted = placeholders(text)
    if missing := wanted - set(substitutions):
        raise KeyError(f"no value for placeholder(s) {sorted(missing)}")
    if unknown := set(substitutions) - wanted:
        raise KeyError(f"the definition has no placeholder(s) {sorted(unknown)}")
    return _PLACEHOLDER.sub(lambda m: substitutions[m[1]], text)
