"""What a health check found, in the one shape its readers share: the timeline, ``deploy`` and ``status``, and
the deployments table's records (``history``). docs/cli.md documents it as ``lastCheck``.

CheckHealth's output carries ``alarms`` ({name: state}) and, with canary analysis, ``analysis``: the verdict
(``handlers.domain.analysis.Analysis.to_json()``), or null when nothing was analysed. A task's output is merged
into the state document, so the last check's keys travel on to Promote, Finalize and Rollback.
"""

from __future__ import annotations

import json

# Errors only CheckHealth raises: the check itself stopped the deployment.
CHECK_FAILURES = frozenset({"DeploymentUnhealthy", "DeploymentInconclusive"})
VERSION_KEYS = ("version", "invocations", "errors", "throttles", "errorRate", "latencyMs")
KEYS = ("passed", "alarms", "verdict", "rule", "reason", "new", "stable", "latencyPercentile")


def summary(document: dict) -> dict | None:
    """The check that ``document`` carries (a CheckHealth output or any later state document), or None when no
    check ran. ``passed`` is true: a check that returned let the deployment go on."""
    alarms = document.get("alarms")
    analysis = verdict_of(document)
    if not isinstance(alarms, dict) and analysis is None:
        return None
    analysis = analysis or {}
    return {
        "passed": True,
        "alarms": dict(alarms) if isinstance(alarms, dict) else {},
        "verdict": analysis.get("verdict"),
        "rule": analysis.get("rule"),
        "reason": analysis.get("reason"),
        "new": version_numbers(analysis.get("new")),
        "stable": version_numbers(analysis.get("stable")),
        "latencyPercentile": (analysis.get("limits") or {}).get("latencyPercentile"),
    }


def failed(reason: str) -> dict:
    """A check that stopped the deployment: its reason (the failure's message) says why, with its numbers."""
    return {**dict.fromkeys(KEYS), "passed": False, "alarms": {}, "reason": reason}


def verdict_of(document: dict) -> dict | None:
    """The canary verdict in ``document``, if the check analysed (a verdict always names one)."""
    analysis = document.get("analysis")
    return analysis if isinstance(analysis, dict) and "verdict" in analysis else None


def version_numbers(stats: object) -> dict | None:
    """One version's numbers as the verdict gives them (rates in percent), without the bounds."""
    if not isinstance(stats, dict):
        return None
    return {key: stats.get(key) for key in VERSION_KEYS}


def encode(check: dict | None) -> str | None:
    """As the deployments table keeps it: compact JSON text (None: nothing to record)."""
    return json.dumps(check, separators=(",", ":")) if check is not None else None


def decode(text: str | None) -> dict | None:
    try:
        value = json.loads(text) if text else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
