"""The state document survives JSON with every field set to something other than its default.

A field forgotten in ``to_json`` or ``from_json`` comes back as its default; a round trip of defaults would
not notice, so the samples below must differ from the defaults in every field (checked first).
"""

from __future__ import annotations

import dataclasses

import pytest

from handlers.domain.analysis import parse_analysis
from handlers.domain.approval import ApprovalSettings
from handlers.domain.checks import AFTER_SHIFT, Checkpoint, Checks, parse_pre_traffic
from handlers.domain.images import parse_image_uri
from handlers.domain.model import ROLLBACK, Deployment, NewVersion, Release
from handlers.domain.progress import APPROVE, BAKE, Progress
from handlers.domain.strategy import Plan, Step

IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:" + "cd" * 32
OTHER = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:" + "ef" * 32

CHECKS = Checks(
    synthetic=parse_pre_traffic({"invocations": 4, "payload": {"path": "/health"}, "afterEachShift": True,
                                 "expect": {"statusCode": 204, "fields": {"body.status": "ok", "n": 1.5}}}),
    hooks=(("beforeTraffic", "arn:aws:lambda:eu-west-1:123456789012:function:smoke:live"),),
    notes=("hook x (afterPromote) not run",),
)

SAMPLES = [
    Deployment(
        function_name="orders", function_arn="arn:aws:lambda:eu-west-1:123456789012:function:orders",
        alias="blue", alias_exists=True, target=parse_image_uri(IMAGE),
        stable=Release("3", OTHER, "sha256:" + "ef" * 32), latest_image=OTHER,
        plan=Plan("Custom", (Step(12.5, 30), Step(50.0, 0))), check_interval_seconds=7, alarms=("a", "c"),
        ignored_alarms=("b",), noop=True, requested_by="ci run 42", kind=ROLLBACK, latest_revision_id="rev-1",
        current_version="4", analysis=parse_analysis({"minInvocations": 250, "maxExtensions": 1}), checks=CHECKS,
        approval=ApprovalSettings(900, "promote"),
    ),
    Progress(next=APPROVE, step=2, weight=37.5, checks_left=3, wait_seconds=11, alias_revision_id="rev-9",
             extensions=2, check=Checkpoint(AFTER_SHIFT, 2), then=BAKE, promoted_by="carol (next)",
             promote_request="2026-12-01T21:00:00.000+00:00", skipped=(3, 4)),
    Plan("Gated", (Step(10.0, 60),), (0, 1)),
    CHECKS,
    Checkpoint(AFTER_SHIFT, 3),
    Release("8", OTHER, "sha256:" + "12" * 32),
    NewVersion(code_sha256="ab" * 32, revision_id="rev-2", version="9"),
]


def _defaults(cls) -> dict:
    return {f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
            for f in dataclasses.fields(cls)
            if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING}


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: type(s).__name__)
def test_every_field_survives_a_json_round_trip(sample):
    same_as_default = [name for name, default in _defaults(type(sample)).items()
                       if getattr(sample, name) == default]
    assert same_as_default == [], "give these fields non-default values, or the round trip cannot tell"
    assert type(sample).from_json(sample.to_json()) == sample
