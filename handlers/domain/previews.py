"""Preview aliases: a branch's version behind an alias named after the branch, no AWS calls.

Lambda alias names match ``(?!^[0-9]+$)([a-zA-Z0-9-_]+)``, 1 to 128 characters (CreateAlias/GetAlias
``Name``, Lambda API reference). Branch names may hold ``/``, ``.`` and more (git check-ref-format), so the
alias is ``preview-<slug>``: the branch with every run of other characters turned into one ``-``. Where the
slug is not the branch itself (a character was replaced, or it was cut to fit), a short hash of the branch
follows it, so two branches never share an alias (``feature/x`` and ``feature-x`` differ) and the same branch
always gets the same one. The prefix also keeps a preview from looking like a version number.
"""

from __future__ import annotations

import hashlib
import re

from handlers.domain.errors import InvalidDeploymentRequest
from handlers.domain.text import unsafe_characters

PREFIX = "preview-"
MAX_ALIAS = 128
DESCRIPTION = "lambda-deployer preview of branch "
MAX_BRANCH = 256 - len(DESCRIPTION)  # the alias' description (at most 256 characters) names the branch
HASH_LENGTH = 8

_INVALID = re.compile(r"[^A-Za-z0-9_-]+")


def alias_for(branch: str) -> str:
    """The preview alias of ``branch``: valid for Lambda, stable, different for different branches."""
    check_branch(branch)
    slug = _INVALID.sub("-", branch).strip("-")
    room = MAX_ALIAS - len(PREFIX)
    if slug == branch and len(slug) <= room:
        return PREFIX + slug
    digest = hashlib.sha256(branch.encode()).hexdigest()[:HASH_LENGTH]
    slug = slug[: room - HASH_LENGTH - 1].rstrip("-")
    return f"{PREFIX}{slug}-{digest}" if slug else f"{PREFIX}{digest}"


def check_branch(branch: object) -> str:
    if not isinstance(branch, str) or not branch.strip() or len(branch) > MAX_BRANCH:
        raise InvalidDeploymentRequest(f"'preview' must be a branch name of 1 to {MAX_BRANCH} characters")
    if unsafe := unsafe_characters(branch):
        raise InvalidDeploymentRequest(f"'preview' must not contain control characters ({', '.join(unsafe)})")
    return branch


def is_preview(alias_name: str) -> bool:
    return alias_name.startswith(PREFIX)


def description(branch: str) -> str:
    return DESCRIPTION + branch


def branch_of(alias: dict) -> str | None:
    """The branch a preview alias was made for, from its description (None: not made by the deployer)."""
    text = alias.get("Description") or ""
    return text[len(DESCRIPTION):] if text.startswith(DESCRIPTION) else None
