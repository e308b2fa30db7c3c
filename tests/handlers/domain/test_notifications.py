"""Notification details: one schema for every type, and text that is safe in a message template."""

from __future__ import annotations

from dataclasses import replace

import pytest

from handlers.domain import notifications as n
from handlers.domain.code import CodeRef
from handlers.domain.images import parse_image_uri
from handlers.domain.model import ROLLBACK, Deployment, Stable
from handlers.domain.strategy import Plan, Step

REPOSITORY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders"
OLD, NEW = f"{REPOSITORY}@sha256:{'a' * 64}", f"{REPOSITORY}@sha256:{'b' * 64}"
EXECUTION = "arn:aws:states:eu-west-1:123456789012:execution:lambda-deployer:run-1"
DEPLOYMENT = Deployment(
    function_name="orders-api", function_arn="arn:aws:lambda:eu-west-1:123456789012:function:orders-api",
    alias="live", alias_exists=True, target=parse_image_uri(NEW), stable=Stable("1", OLD, f"sha256:{'a' * 64}"),
    latest_image=OLD, plan=Plan("Linear50PercentEvery1Minute", (Step(50, 60), Step(100, 0))),
    check_interval_seconds=60, requested_by="alice",
)
FIRST = replace(DEPLOYMENT, stable=None, alias_exists=False, plan=Plan("AllAtOnce", ()))
EVERY_TYPE = {
    n.STARTED: n.started(DEPLOYMENT, EXECUTION),
    n.TRAFFIC_SHIFTED: n.traffic_shifted(DEPLOYMENT, "2", 50, 0, EXECUTION),
    n.APPROVAL_NEEDED: n.approval_needed(DEPLOYMENT, "2", EXECUTION, weight=10.0, gate=1,
                                         timeout_at="2026-12-02T12:00:00+00:00", on_timeout="rollback"),
    n.PROMOTED: n.promoted(DEPLOYMENT, "2", EXECUTION),
    n.ROLLED_BACK: n.rolled_back(DEPLOYMENT, EXECUTION, reason="r", error="DeploymentUnhealthy", restored=[],
                                 left_version="2"),
    n.FAILED: n.failed(DEPLOYMENT, EXECUTION, reason="r", error="RollbackFailed"),
    n.RESCUED: n.rescued(DEPLOYMENT, EXECUTION, reason="r", error="ABORTED", restored=[]),
}


def test_every_type_has_the_same_keys_and_the_schema_version():
    assert set(EVERY_TYPE) == set(n.DETAIL_TYPES)
    for notification in EVERY_TYPE.values():
        detail = notification.detail()
        assert list(detail) == list(n.DETAIL_KEYS) and detail["schemaVersion"] == n.SCHEMA_VERSION
        assert (detail["function"], detail["alias"], detail["execution"]) == ("orders-api", "live", EXECUTION)


def test_the_weight_is_what_the_to_version_serves_after_the_change():
    weights = {kind: (e.detail()["toVersion"], e.detail()["weight"]) for kind, e in EVERY_TYPE.items()}
    assert weights == {n.STARTED: (None, None), n.TRAFFIC_SHIFTED: ("2", 50), n.PROMOTED: ("2", 100.0),
                       n.APPROVAL_NEEDED: ("2", 10.0),
                       n.ROLLED_BACK: ("1", 100.0), n.FAILED: ("1", None), n.RESCUED: ("1", 100.0)}
    assert EVERY_TYPE[n.TRAFFIC_SHIFTED].detail()["step"] == 1  # counted from 1, as people count


def test_a_first_deployment_has_nothing_to_come_from_and_rolls_back_to_how_it_was():
    started = n.started(FIRST, EXECUTION).detail()
    rolled_back = n.rolled_back(FIRST, EXECUTION, reason="boom", error="CodeUpdateFailed", restored=["$LATEST"],
                                left_version=None).detail()

    assert (started["fromVersion"], started["fromImage"], started["steps"]) == (None, None, 0)
    assert "(first deployment)" in started["summary"]
    assert (rolled_back["toVersion"], rolled_back["weight"], rolled_back["toImage"]) == (None, None, OLD)
    assert "rolled back to how it was before (first deployment): boom" in rolled_back["summary"]


def test_a_rollback_request_goes_from_the_version_it_leaves_to_the_one_asked_for():
    request = replace(DEPLOYMENT, kind=ROLLBACK, current_version="3", plan=Plan("Rollback", ()))

    started = n.started(request, EXECUTION).detail()
    done = n.rolled_back(request, EXECUTION, reason="rollback requested", error=None, restored=[],
                         left_version="3").detail()

    assert (started["kind"], started["fromVersion"], started["toVersion"]) == ("rollback", "3", "1")
    assert started["summary"] == "orders-api:live: rolling back from version 3 to version 1, requested by alice"
    assert done["summary"] == "orders-api:live: rolled back to version 1: rollback requested, requested by alice"


def test_a_kept_alias_names_no_version_it_did_not_choose():
    kept = n.rolled_back(DEPLOYMENT, EXECUTION, reason="r", error="ConcurrentModification", restored=[],
                         left_version="2", kept_alias=True).detail()

    assert (kept["toVersion"], kept["toImage"], kept["weight"]) == (None, None, None)
    assert "the alias as someone else changed it" in kept["summary"]


@pytest.mark.parametrize("reason", ['alarm "orders-errors" fired\nsecond line\x1b[2J', "x" * 5000])
def test_the_summary_is_one_line_without_double_quotes_and_every_text_is_bounded(reason):
    detail = n.rolled_back(DEPLOYMENT, EXECUTION, reason=reason, error="DeploymentUnhealthy", restored=[],
                           left_version="2").detail()

    assert '"' not in detail["summary"] and "\n" not in detail["summary"] and "\x1b" not in detail["summary"]
    assert len(detail["summary"]) <= n.MAX_REASON and len(detail["reason"]) <= n.MAX_REASON


def test_the_event_is_about_the_function_and_the_execution():
    assert EVERY_TYPE[n.PROMOTED].resources == [DEPLOYMENT.function_arn, EXECUTION]
    repair = n.rescued(DEPLOYMENT, None, reason="r", error=None, restored=[], kind=n.REPAIR)
    assert repair.resources == [DEPLOYMENT.function_arn] and repair.detail()["kind"] == "repair"


def test_a_zip_deployment_is_announced_by_its_package():
    package = CodeRef("artifacts", "orders/2.zip", "v2", "c2hh")
    started = n.started(replace(DEPLOYMENT, target=package), EXECUTION)
    assert started.summary == ("orders-api:live: deploying s3://artifacts/orders/2.zip?versionId=v2 "
                               "(Linear50PercentEvery1Minute) over version 1, requested by alice")
