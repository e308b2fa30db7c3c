"""lambda-deployer's AWS infrastructure (CDK): ``LambdaDeployer`` for any CDK app, ``LambdaDeployerStack`` for this one.

    from infra import DeployerSettings, LambdaDeployer

    LambdaDeployer(self, "Deployer", settings=DeployerSettings(repositories=("orders",),
                                                               auto_deploy={"orders": ["main"]}))

The exports load on first use (PEP 562), so importing the CDK-free ``infra.permissions`` (as the local
emulator does) does not import aws_cdk.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "ConfigurationError": "infra.errors",
    "DeployerSettings": "infra.settings",
    "GithubOidc": "infra.ci_access",
    "LambdaDeployer": "infra.deployer",
    "LambdaDeployerStack": "infra.stack",
    "cdk_json_context": "infra.settings",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'infra' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
