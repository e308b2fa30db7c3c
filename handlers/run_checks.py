"""RunChecks: the checks due at this checkpoint (before traffic, after a shift, after promotion).

First the synthetic invocations of the new version, by its version number, each answer judged against the
request's ``expect``; then the hook, given the deployment's context. Any failure raises (SyntheticCheckFailed,
HookFailed) and the state machine rolls back. No waiting here: each invocation answers when it has run.
"""

from __future__ import annotations

from handlers.aws.invoking import invoke
from handlers.aws.task import count, logger, task
from handlers.domain import checks, progress
from handlers.domain.errors import HookFailed, SyntheticCheckFailed
from handlers.domain.model import Deployment, Release


@task
def handler(event: dict) -> dict:
    deployment = Deployment.from_json(event["deployment"])
    version = Release.from_json(event["release"]).version
    traffic = progress.Traffic.from_json(event["traffic"])
    checkpoint = traffic.check
    if checkpoint is None:
        raise ValueError("RunChecks was reached without a checkpoint in traffic.check")
    configured, when = deployment.checks, checkpoint.describe(traffic.weight, len(deployment.plan.steps))
    ran: dict = checkpoint.to_json()
    if configured.synthetic_at(checkpoint.phase):
        synthetic = configured.synthetic
        for number in range(1, synthetic.invocations + 1):
            answer = invoke(deployment.function_arn, version, synthetic.payload)
            if problem := checks.invocation_problem(synthetic.expect, answer.failed, answer.payload):
                count("SyntheticCheckFailed")
                raise SyntheticCheckFailed(f"{when}: synthetic invocation {number} of {synthetic.invocations} of "
                                           f"version {version} {problem}")
        ran["invocations"] = synthetic.invocations
    if hook := configured.hook(checkpoint.phase):
        answer = invoke(hook, None, checks.hook_event(deployment, version, checkpoint, traffic.weight,
                                                       event["executionId"]))
        if problem := checks.hook_problem(answer.failed, answer.payload):
            count("HookFailed")
            raise HookFailed(f"{when}: hook {hook} ({checkpoint.phase}) {problem}")
        ran["hook"] = hook
    logger.info("checks passed", **ran)
    return {"traffic": progress.checks_passed(traffic).to_json(), "checks": [*event.get("checks", []), ran]}
