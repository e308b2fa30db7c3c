"""Approval gates and promote requests as pure rules: parsing, where the cursor stops, what a promote skips."""

from __future__ import annotations

import pytest

from handlers.domain import approval, progress
from handlers.domain.errors import InvalidDeploymentRequest
from handlers.domain.model import parse_request
from handlers.domain.strategy import check_history_budget, parse_strategy

IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders@sha256:" + "ab" * 32
GATED = {"steps": [{"weight": 10, "bakeSeconds": 60}, {"approval": True}, {"weight": 50, "bakeSeconds": 60}]}


def walk(plan, interval: int = 60) -> list[str]:
    """Drive the cursor as the state machine would (an approved gate goes on to ``then``)."""
    trail, cursor = [], progress.start(plan, "rev-0")
    while cursor.next != progress.PROMOTE:
        if cursor.next == progress.APPROVE:
            trail.append(f"approve before {cursor.then} (step {cursor.step + 1}, {cursor.weight:g}%)")
            cursor = progress.Traffic.from_json({**cursor.to_json(), "next": cursor.then})  # the Approved state
        elif cursor.next == progress.SHIFT:
            cursor = progress.shifted(plan, cursor, interval, "rev")
            trail.append(f"shift {cursor.weight:g}%")
        else:
            cursor = progress.checked(plan, cursor, interval)
    return [*trail, "promote"]


def test_an_approval_step_stops_before_the_next_step_with_the_traffic_held():
    assert walk(parse_strategy(GATED)) == ["shift 10%", "approve before shift (step 2, 10%)", "shift 50%", "promote"]


def test_an_approval_first_stops_before_any_traffic_and_one_last_before_promotion():
    plan = parse_strategy({"steps": [{"approval": True}, {"weight": 10, "bakeSeconds": 0}, {"approval": True}]})
    assert plan.approvals == (0, 1)
    assert walk(plan) == ["approve before shift (step 1, 0%)", "shift 10%", "approve before promote (step 1, 10%)",
                          "promote"]


def test_before_promote_gates_any_strategy_even_all_at_once():
    canary = parse_request({"function": "orders", "image": IMAGE, "strategy": "Canary10Percent5Minutes",
                            "approval": "beforePromote"})
    assert canary.plan.approvals == (1,)
    assert walk(canary.plan)[-2:] == ["approve before promote (step 1, 10%)", "promote"]
    at_once = parse_request({"function": "orders", "image": IMAGE, "approval": "beforePromote"})
    assert walk(at_once.plan) == ["approve before promote (step 1, 0%)", "promote"]


@pytest.mark.parametrize(("request_keys", "problem"), [
    ({"approval": "always"}, "'approval' must be 'beforePromote'"),
    ({"strategy": {"steps": [{"approval": "yes"}]}}, "exactly {\"approval\": true}"),
    ({"strategy": {"steps": [{"approval": True}, {"approval": True}]}}, "two approval gates in a row"),
    ({"approvalTimeoutSeconds": 1}, "'approvalTimeoutSeconds' 1 must be an integer"),
    ({"onApprovalTimeout": "approve"}, "'onApprovalTimeout' must be 'rollback' or 'promote'"),
    ({"approvalTimeoutSeconds": 100, "checkIntervalSeconds": 60}, "at least twice checkIntervalSeconds"),
])
def test_a_bad_gate_is_refused_before_anything_changes(request_keys, problem):
    with pytest.raises(InvalidDeploymentRequest, match=problem.replace("{", r"\{").replace("}", r"\}")):
        parse_request({"function": "orders", "image": IMAGE, **request_keys})


def test_waiting_is_counted_against_the_execution_history():
    plan = parse_strategy(GATED)
    settings = approval.ApprovalSettings(timeout_seconds=7 * 24 * 3600)
    with pytest.raises(InvalidDeploymentRequest, match="approval gate"):
        check_history_budget(plan, 10, watch_checks=approval.watch_checks(1, settings, 10))
    check_history_budget(plan, 60, watch_checks=approval.watch_checks(1, approval.DEFAULTS, 60))  # a day, by minutes


def test_the_heartbeat_outlasts_a_check_and_stays_below_the_timeout():
    assert approval.ApprovalSettings(86400).heartbeat_seconds(60) == 60 + approval.HEARTBEAT_MARGIN_SECONDS
    assert approval.ApprovalSettings(120).heartbeat_seconds(60) == 119  # HeartbeatSeconds < TimeoutSeconds


THREE = parse_strategy({"steps": [{"weight": 10, "bakeSeconds": 600}, {"weight": 30, "bakeSeconds": 600},
                                  {"weight": 60, "bakeSeconds": 600}]})


def baking_first_step() -> progress.Traffic:
    return progress.shifted(THREE, progress.start(THREE, "rev"), 60, "rev")


def test_promote_next_cuts_the_bake_short_and_applies_once():
    checked = progress.checked(THREE, baking_first_step(), 60)
    moved = progress.promote_requested(THREE, checked, mode=approval.NEXT, by="carol", at="t1")

    assert (moved.next, moved.step, moved.promoted_by) == (progress.SHIFT, 1, "carol (next)")
    baking = progress.checked(THREE, progress.shifted(THREE, moved, 60, "rev"), 60)
    assert progress.promote_requested(THREE, baking, mode=approval.NEXT, by="carol", at="t1") == baking  # same one


def test_promote_full_skips_the_step_baking_and_every_later_one():
    checked = progress.checked(THREE, baking_first_step(), 60)
    full = progress.promote_requested(THREE, checked, mode=approval.FULL, by="dave", at="t2")

    assert (full.next, full.skipped, full.promoted_by) == (progress.PROMOTE, (1, 2, 3), "dave (full)")


def test_promote_full_skips_a_gate_too():
    plan = parse_strategy(GATED)
    cursor = progress.checked(plan, progress.shifted(plan, progress.start(plan, "r"), 60, "r"), 60)
    assert (cursor.next, cursor.then) == (progress.APPROVE, progress.SHIFT)
    full = progress.promote_requested(plan, cursor, mode=approval.FULL, by="erin", at="t3")
    assert (full.next, full.then, full.skipped) == (progress.PROMOTE, None, (2,))
