"""Domain errors.

The class name is the error name Step Functions sees (the Lambda runtime reports ``type(exc).__name__``),
so the state machine's ``Retry`` and ``Catch`` match on these names. Renaming one is a contract change.
"""


class DeployerError(Exception):
    """Base class for every error the state machine is expected to handle by name."""


class InvalidDeploymentRequest(DeployerError):
    """The request cannot be carried out as given; nothing has been changed."""


class DeploymentInProgress(DeployerError):
    """Another deployment of the same function holds the lock; nothing has been changed."""


class DeploymentUnhealthy(DeployerError):
    """An alarm watched by the deployment went to ALARM (or disappeared) during a bake."""


class DeploymentInconclusive(DeployerError):
    """A step ended, extensions included, without enough evidence for a verdict, and the request says that
    means roll back (``analysis.inconclusive``)."""


class SyntheticCheckFailed(DeployerError):
    """A synthetic invocation of the new version (``preTraffic``) failed or did not answer as expected."""


class HookFailed(DeployerError):
    """A hook function of the request failed, or answered ``{"status": "fail"}``."""


class CodeUpdateInProgress(DeployerError):
    """``$LATEST`` is still being updated; the state machine retries after a pause."""


class CodeUpdateFailed(DeployerError):
    """Lambda reported ``LastUpdateStatus=Failed`` for the new image."""


class VersionNotReady(DeployerError):
    """The published version is not ``Active`` yet (``Pending``: e.g. a SnapStart snapshot); the state machine
    retries after a pause, and no traffic moves before it is Active."""


class VersionNotInvocable(DeployerError):
    """The published version ended ``Failed`` (or ``Inactive``): Lambda would not invoke it."""


class CapacityNotReady(DeployerError):
    """The alias' provisioned concurrency is still being allocated (``IN_PROGRESS``); the bake waits for it."""


class CapacityFailed(DeployerError):
    """Lambda could not allocate the alias' provisioned concurrency (``FAILED``)."""


class ConcurrentModification(DeployerError):
    """Someone else changed the function or alias while the deployment ran; their change is kept."""


class TransientAwsError(DeployerError):
    """Throttling, a 5xx or a resource conflict from an AWS API; safe to retry the whole task."""


class RollbackIncomplete(DeployerError):
    """Rollback could not restore everything; the message lists what is left."""
