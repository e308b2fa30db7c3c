"""Durations from Step Functions timestamps."""

from __future__ import annotations

from datetime import UTC, datetime


def seconds_since(started_at: str | None) -> float | None:
    """Seconds since an ISO-8601 time such as ``$$.Execution.StartTime``; None when unknown."""
    if not started_at:
        return None
    try:
        start = datetime.fromisoformat(started_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    return round((datetime.now(UTC) - start).total_seconds(), 1)
