"""Who may answer an approval gate or promote early: a policy of its own, separate from CI's.

Deploying and approving are different decisions. The CI policy (infra/ci_access.py) starts deployments; this
one answers the gates they wait at (``lambda-deployer approve`` / ``reject``, SendTaskSuccess/SendTaskFailure)
and asks a running deployment to move on (``promote``). Attach it to the people (or the chat bot's role) who
may say go; a pipeline holding only the CI policy cannot approve its own deployment.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.grants import Targets
from infra.nag import acknowledge
from infra.permissions import APPROVER_PERMISSIONS


class ApproverAccess(Construct):
    """A customer-managed policy for approvers (``policy``)."""

    def __init__(self, scope: Construct, id: str, *, targets: Targets) -> None:
        super().__init__(scope, id)
        self.policy = iam.ManagedPolicy(
            self, "Policy", description="lambda-deployer approvers: approve, reject and promote running deployments",
            statements=[targets.statement(allow) for allow in APPROVER_PERMISSIONS],
        )
        acknowledge(self.policy, targets.findings(APPROVER_PERMISSIONS))
