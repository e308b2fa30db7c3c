"""lambda-deployer's AWS infrastructure (CDK): ``LambdaDeployer`` for any CDK app, ``LambdaDeployerStack`` for this one.

    from infra import DeployerSettings, LambdaDeployer

    LambdaDeployer(self, "Deployer", settings=DeployerSettings(repositories=("orders",),
                                                               auto_deploy={"orders": ["main"]}))
"""

from infra.ci_access import GithubOidc
from infra.deployer import LambdaDeployer
from infra.errors import ConfigurationError
from infra.settings import DeployerSettings, cdk_json_context
from infra.stack import LambdaDeployerStack

__all__ = [
    "ConfigurationError",
    "DeployerSettings",
    "GithubOidc",
    "LambdaDeployer",
    "LambdaDeployerStack",
    "cdk_json_context",
]
