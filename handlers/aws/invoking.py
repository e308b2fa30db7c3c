"""Invoking a function synchronously for a check: the new version by its number, or one of the user's hooks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from handlers.aws.clients import invoking_client


@dataclass(frozen=True)
class Answer:
    failed: bool  # the answer carried FunctionError: the function raised, timed out or ran out of memory
    payload: bytes  # its result, or the runtime's error document


def invoke(function: str, qualifier: str | None, event: Any) -> Answer:
    """``RequestResponse``: the answer once the function has finished (``clients.invoking_client`` waits)."""
    params = {"FunctionName": function, "InvocationType": "RequestResponse", "Payload": json.dumps(event).encode()}
    if qualifier:
        params["Qualifier"] = qualifier
    answer = invoking_client().invoke(**params)
    return Answer(bool(answer.get("FunctionError")), answer["Payload"].read())
