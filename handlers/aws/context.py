"""Where a handler's AWS calls go: the region, the deployments table and one client per service.

An entry point builds it from its Lambda environment (``Aws.from_environment()``); the CLI builds one from
its own session, so ``plan`` runs Resolve's code without touching the process' environment or boto3's
default session.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from handlers.aws import clients
from handlers.domain.catalog import METRICS_LAG_SECONDS


@dataclass(frozen=True)
class Aws:
    region: str
    table: str
    client: Callable[[str], object]
    metrics_lag_seconds: float | None = None  # None: canary_metrics.lag_seconds of the deployment's function

    @classmethod
    def from_environment(cls) -> Aws:
        """The task function's own region and table (set by the stack), with the shared client cache."""
        lag = os.environ.get(METRICS_LAG_SECONDS)
        return cls(region=os.environ["AWS_REGION"], table=os.environ.get("DEPLOYMENTS_TABLE", ""),
                   client=clients.client, metrics_lag_seconds=float(lag) if lag else None)
