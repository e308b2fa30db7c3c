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
from handlers.domain.code import CodeRef
from handlers.domain.images import parse_image_uri
from handlers.domain.model import ROLLBACK, Deployment, Release, Stable
from handlers.domain.progress import APPROVE, BAKE, Traffic
from handlers.domain.strategy import Plan, Step

IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:" + "cd" * 32
OTHER = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:" + "ef" * 32

CHECKS = Checks(
    synthetic=parse_pre_traffic({"invocations": 4, "payload": {"path": "/health"}, "afterEachShift": True,
                                 "expect": {"statusCode": 204, "fields": {"body.status": "ok", "n": 1.5}}}),
    hooks=(("beforeTraffic", "arn:aws:lambda:eu-west-1:123456789012:function:smoke:live"),),
    notes=("hook x (afterPromote) not run",),
)

ANALYSIS = parse_analysis({"minInvocations": 250, "confidence": 0.9, "errorRate": {"ceiling": 4, "ratio": 3,
                                                                                    "difference": 2},
                           "latency": {"percentile": "p90", "ratio": 2, "ms": 10}, "throttles": "any",
                           "inconclusive": "promote", "maxExtensions": 1, "insufficientData": "healthy"})
PLAN = Plan("Custom", (Step(12.5, 30), Step(50.0, 0)), (1,))  # a gate before step 2

SAMPLES = [
    Deployment(
        function_name="orders", function_arn="arn:aws:lambda:eu-west-1:123456789012:function:orders",
        alias="blue", alias_exists=True, target=parse_image_uri(IMAGE),
        stable=Stable("3", OTHER, "sha256:" + "ef" * 32), latest_image=OTHER,
        plan=PLAN, check_interval_seconds=7, alarms=("a", "c"),
        ignored_alarms=("b",), noop=True, requested_by="ci run 42", kind=ROLLBACK, latest_revision_id="rev-1",
        current_version="4", analysis=ANALYSIS, checks=CHECKS, function_timeout_seconds=30,
        preview="feature/x", latest_digest="c2hh", wait_for_capacity=True, approval=ApprovalSettings(900, "promote"),
    ),
    Deployment(  # a zip function: the target is a package in S3, pinned by object version and SHA-256
        function_name="quotes", function_arn="arn:aws:lambda:eu-west-1:123456789012:function:quotes",
        alias="blue", alias_exists=True, target=CodeRef("artifacts", "quotes/2.zip", "v/2", "U0hB" * 10 + "abc="),
        stable=Stable("3", "s3://artifacts/quotes/1.zip?versionId=v1", "b2xk"), latest_image="s3://a/b.zip",
        plan=Plan("Custom", (Step(12.5, 30),), (0,)), check_interval_seconds=7, alarms=("a",), ignored_alarms=("b",),
        noop=True, requested_by="ci", kind=ROLLBACK, latest_revision_id="rev-1", current_version="4",
        analysis=ANALYSIS, checks=CHECKS, function_timeout_seconds=45, preview="feature/y", latest_digest="bGF0",
        wait_for_capacity=True, approval=ApprovalSettings(600, "promote"),
    ),
    Traffic(next=APPROVE, step=2, weight=37.5, checks_left=3, wait_seconds=11, alias_revision_id="rev-9",
             extensions=2, check=Checkpoint(AFTER_SHIFT, 2), traffic_since="2026-11-22T12:03:13.482Z", then=BAKE,
             promoted_by="carol (next)", promote_request="2026-12-01T21:00:00.000+00:00", skipped=(3, 4)),
    Plan("Gated", (Step(10.0, 60),), (0, 1)),
    CHECKS,
    Checkpoint(AFTER_SHIFT, 3),
    Stable("8", OTHER, "sha256:" + "12" * 32),
    Release(code_sha256="ab" * 32, revision_id="rev-2", version="9", state="Pending"),
    PLAN,
]
# Fields no sample can set to a non-default value: a request with analysis settings enables the analysis
# (``false`` has its own round trip in test_analysis_settings), and a pinned image has no tag.
UNSETTABLE = {"Deployment": {"analysis.enabled", "target.tag"}}


def _same_as_default(value, path: str = "") -> list[str]:
    """Fields of ``value`` (nested dataclasses included) equal to their defaults: a round trip cannot tell
    those apart from a field to_json or from_json forgot."""
    found = []
    for f in dataclasses.fields(value):
        current = getattr(value, f.name)
        if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            if current == default:
                found.append(f"{path}{f.name}")
        if dataclasses.is_dataclass(current):
            found += _same_as_default(current, f"{path}{f.name}.")
        elif isinstance(current, tuple):
            for index, item in enumerate(current):
                if dataclasses.is_dataclass(item):
                    found += _same_as_default(item, f"{path}{f.name}[{index}].")
    return found


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: type(s).__name__)
def test_every_field_survives_a_json_round_trip(sample):
    same_as_default = set(_same_as_default(sample)) - UNSETTABLE.get(type(sample).__name__, set())
    assert same_as_default == set(), "give these fields non-default values, or the round trip cannot tell"
    assert type(sample).from_json(sample.to_json()) == sample


def test_the_state_document_has_the_keys_the_state_machine_and_the_cli_read():
    """A key renamed on both sides still round-trips; the ASL's paths and the CLI would not find it."""
    deployment, _, progress, _, checks, checkpoint, release, new_version, plan = SAMPLES
    digest = "sha256:" + "ef" * 32
    assert plan.to_json() == {"name": "Custom", "steps": [{"weight": 12.5, "bakeSeconds": 30},
                                                          {"weight": 50.0, "bakeSeconds": 0}], "approvals": [1]}
    assert progress.to_json() == {"next": "approve", "step": 2, "weight": 37.5, "checksLeft": 3, "waitSeconds": 11,
                                  "aliasRevisionId": "rev-9", "extensions": 2,
                                  "trafficSince": "2026-11-22T12:03:13.482Z",
                                  "check": {"phase": "afterShift", "step": 2}, "then": "bake",
                                  "promotedBy": "carol (next)", "promoteRequest": "2026-12-01T21:00:00.000+00:00",
                                  "skipped": [3, 4]}
    assert checkpoint.to_json() == {"phase": "afterShift", "step": 3}
    assert release.to_json() == {"version": "8", "image": OTHER, "digest": "sha256:" + "12" * 32}
    assert new_version.to_json() == {"codeSha256": "ab" * 32, "revisionId": "rev-2", "version": "9",
                                     "state": "Pending"}
    assert checks.to_json() == {
        "preTraffic": {"invocations": 4, "payload": {"path": "/health"}, "afterEachShift": True,
                       "expect": {"statusCode": 204, "fields": {"body.status": "ok", "n": 1.5}}},
        "hooks": {"beforeTraffic": "arn:aws:lambda:eu-west-1:123456789012:function:smoke:live"},
        "notes": ["hook x (afterPromote) not run"]}
    assert deployment.to_json() == {
        "functionName": "orders", "functionArn": "arn:aws:lambda:eu-west-1:123456789012:function:orders",
        "alias": "blue", "aliasExists": True, "target": IMAGE,
        "stable": {"version": "3", "image": OTHER, "digest": digest}, "latestImage": OTHER,
        "plan": plan.to_json(), "checkIntervalSeconds": 7, "alarms": ["a", "c"], "ignoredAlarms": ["b"],
        "noop": True, "requestedBy": "ci run 42", "kind": "rollback", "latestRevisionId": "rev-1",
        "currentVersion": "4",
        "analysis": {"minInvocations": 250, "confidence": 0.9, "errorRate": {"ceiling": 4, "ratio": 3,
                                                                            "difference": 2},
                     "latency": {"percentile": "p90", "ratio": 2, "ms": 10}, "throttles": "any",
                     "inconclusive": "promote", "maxExtensions": 1, "insufficientData": "healthy"},
        "checks": checks.to_json(), "functionTimeoutSeconds": 30, "preview": "feature/x", "latestDigest": "c2hh",
        "waitForCapacity": True,
        # the gate's timeout, and a heartbeat at every check (7 s) plus the 300 s margin
        "approval": {"timeoutSeconds": 900, "heartbeatSeconds": 307, "onTimeout": "promote"},
        # a rollback moves from the version the alias serves now to the stable one, and its image
        "fromVersion": "4", "toVersion": "3", "toImage": OTHER,
    }
