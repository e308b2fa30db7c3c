"""EventBridge as AWS documents it, where moto 5.2.5 differs (MOTO_GAPS.md, "EventBridge")."""

from __future__ import annotations

from moto.events.models import Rule

from deployer.local.fidelity import deliver_later
from deployer.local.patching import Patch, original


def patches() -> list[Patch]:
    moto_send = original(Rule, "send_to_targets")

    # AWS: EventBridge delivers to Step Functions (StartExecution) and Lambda (asynchronous Invoke)
    # targets; moto supports neither for PutEvents. Delivery is asynchronous, as in AWS. A rule with a
    # schedule runs on its schedule only (moto matches every event against its empty pattern).
    def send_to_targets(self, original_event, transform_input=True):
        if self.scheduled_expression:
            return None
        ours = [t for t in self.targets if t["Arn"].split(":")[2] in ("states", "lambda")]
        if not ours:
            return moto_send(self, original_event, transform_input)
        if self.event_pattern.matches_event(original_event):
            for target in ours:
                deliver_later(self.region_name, target, original_event)
        return None

    return [
        Patch(Rule, "send_to_targets", send_to_targets, ("self", "original_event", "transform_input"),
              why="Lambda and Step Functions targets receive matching events; scheduled rules ignore events"),
    ]
