"""EventBridge as AWS documents it, where moto 5.2.5 differs (MOTO_GAPS.md, "EventBridge")."""

from __future__ import annotations

import copy

from moto.events.models import Rule

from deployer.local.fidelity import deliver_later
from deployer.local.patching import Patch, original


def patches() -> list[Patch]:
    moto_send = original(Rule, "send_to_targets")

    # AWS: EventBridge delivers to Step Functions (StartExecution) and Lambda (asynchronous Invoke)
    # targets; moto supports neither for PutEvents. Delivery is asynchronous, as in AWS. A rule with a
    # schedule runs on its schedule only (moto matches every event against its empty pattern). moto's own
    # targets (SQS, event buses, log groups) of the same rule still get the event from moto.
    def send_to_targets(self, original_event, transform_input=True):
        if self.scheduled_expression:
            return None
        ours = [t for t in self.targets if t["Arn"].split(":")[2] in ("states", "lambda")]
        if not ours:
            return moto_send(self, original_event, transform_input)
        if self.event_pattern.matches_event(original_event):
            for target in ours:
                deliver_later(self.region_name, target, original_event)
            if others := [t for t in self.targets if t not in ours]:
                rest = copy.copy(self)  # the same rule with moto's targets only (its list is not shared)
                rest.targets = others
                moto_send(rest, original_event, transform_input)
        return None

    return [
        Patch(Rule, "send_to_targets", send_to_targets, ("self", "original_event", "transform_input"),
              why="Lambda and Step Functions targets receive matching events; scheduled rules ignore events"),
    ]
