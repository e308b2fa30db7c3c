"""The CLI's commands, one module each: ``run(args, console) -> exit code``. ``deployer.cli`` parses."""

from __future__ import annotations

import re

from deployer.connection import Connection
from deployer.errors import UsageError
from handlers.domain.errors import InvalidDeploymentRequest
from handlers.domain.model import parse_function

# Request keys as the CLI spells them, so a validation message names the argument to fix.
_OPTIONS = {"function": "--function", "image": "--image", "code": "--code", "alias": "--alias",
            "strategy": "--strategy",
            "alarms": "--alarm", "toVersion": "--to-version", "checkIntervalSeconds": "--check-interval",
            "allowFiringAlarms": "--allow-firing-alarms", "analysis": "--analysis", "preTraffic": "--pre-traffic",
            "hooks": "--hooks"}
_MENTIONS = re.compile("|".join(rf"'{key}'" for key in _OPTIONS) + r"|\b(?:checkIntervalSeconds|allowFiringAlarms)\b")


def connect(args) -> Connection:
    return Connection(state_machine=args.state_machine, region=args.region, profile=args.profile,
                      endpoint_url=args.endpoint_url)


def invalid_request(exc: Exception) -> UsageError:
    """The request validation's message (the state machine's own words), with the CLI's option names."""
    return UsageError(_MENTIONS.sub(lambda m: _OPTIONS[m.group(0).strip("'")], str(exc)))


def function_argument(value: str) -> str:
    """The FUNCTION of ``status``/``history``: a name, or an ARN (its name)."""
    try:
        return parse_function(value).name
    except InvalidDeploymentRequest as exc:
        raise UsageError(str(exc).replace("'function' ", "FUNCTION ", 1)) from None
