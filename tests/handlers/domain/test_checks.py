"""Pre- and post-traffic checks as pure rules: what a request may say, where a deployment stops, what passes."""

from __future__ import annotations

import json

import pytest

from handlers.domain import checks
from handlers.domain.checks import (
    AFTER_PROMOTE,
    AFTER_SHIFT,
    BEFORE_TRAFFIC,
    Checkpoint,
    Checks,
    Expectation,
    hook_problem,
    invocation_problem,
    lookup,
    parse_hooks,
    parse_pre_traffic,
    same,
)
from handlers.domain.errors import InvalidDeploymentRequest
from handlers.domain.images import parse_image_uri
from handlers.domain.model import Deployment, Stable
from handlers.domain.strategy import Plan, Step

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/orders@sha256:" + "ab" * 32


def answer(value) -> bytes:
    return json.dumps(value).encode()


# --- preTraffic ---------------------------------------------------------------------------------------------

def test_an_empty_pre_traffic_is_one_invocation_with_an_empty_payload_expecting_no_function_error():
    synthetic = parse_pre_traffic({})
    assert (synthetic.invocations, synthetic.payload, synthetic.expect, synthetic.after_each_shift) == (
        1, {}, Expectation(), False)


def test_a_full_pre_traffic_is_kept_as_given():
    synthetic = parse_pre_traffic({"invocations": 3, "payload": {"path": "/health"}, "afterEachShift": True,
                                   "expect": {"statusCode": 200, "fields": {"body.status": "ok"}}})
    assert synthetic.invocations == 3 and synthetic.after_each_shift
    assert synthetic.expect == Expectation(200, (("body.status", "ok"),))
    assert parse_pre_traffic(synthetic.to_json()) == synthetic


@pytest.mark.parametrize(("value", "problem"), [
    ([], "'preTraffic' must be an object"),
    ({"invocation": 3}, "unknown key(s) invocation in 'preTraffic'"),
    ({"invocations": 0}, "'preTraffic.invocations' 0 must be an integer from 1 to 10"),
    ({"invocations": 11}, "'preTraffic.invocations' 11 must be an integer from 1 to 10"),
    ({"invocations": True}, "'preTraffic.invocations' True"),
    ({"invocations": "3"}, "'preTraffic.invocations' '3'"),
    ({"afterEachShift": "yes"}, "'preTraffic.afterEachShift' must be true or false"),
    ({"payload": {"blob": "x" * 40_000}}, "'preTraffic.payload' is 40011 bytes as JSON; at most 32768"),
    ({"payload": float("nan")}, "'preTraffic.payload' must be JSON (NaN and Infinity are not)"),
    ({"expect": 200}, "'preTraffic.expect' must be an object"),
    ({"expect": {"noFunctionError": True}}, "unknown key(s) noFunctionError in 'preTraffic.expect'"),
    ({"expect": {"statusCode": 99}}, "'preTraffic.expect.statusCode' 99 must be an HTTP status code"),
    ({"expect": {"statusCode": "200"}}, "'preTraffic.expect.statusCode' '200'"),
    ({"expect": {"fields": ["status"]}}, "'preTraffic.expect.fields' must be an object"),
    ({"expect": {"fields": {"body..status": "ok"}}},
     "'preTraffic.expect.fields' path 'body..status' has an empty segment"),
    ({"expect": {"fields": {"": "ok"}}}, "'preTraffic.expect.fields' path '' must have 1 to 256 characters"),
    ({"expect": {"fields": {"a\x1bb": 1}}},
     "'preTraffic.expect.fields' path 'a\\\\x1bb' must not contain control characters (\\x1b)"),
    ({"expect": {"fields": {f"f{n}": n for n in range(21)}}}, "'preTraffic.expect.fields' has 21 paths; at most 20"),
])
def test_a_malformed_pre_traffic_is_refused_naming_the_problem(value, problem):
    with pytest.raises(InvalidDeploymentRequest) as refused:
        parse_pre_traffic(value)
    assert problem in str(refused.value)


def test_every_pre_traffic_problem_is_reported_at_once():
    with pytest.raises(InvalidDeploymentRequest) as refused:
        parse_pre_traffic({"invocations": 0, "afterEachShift": 1, "expect": {"statusCode": 1}, "extra": 1})
    message = str(refused.value)
    assert all(part in message for part in ("unknown key(s) extra", "invocations", "afterEachShift", "statusCode"))


# --- hooks --------------------------------------------------------------------------------------------------

def test_hooks_may_name_functions_by_name_qualified_name_or_arn():
    hooks = {"beforeTraffic": "smoke", "afterShift": "smoke:live",
             "afterPromote": "arn:aws:lambda:us-east-1:123456789012:function:notify:3"}
    assert parse_hooks(hooks) == hooks


@pytest.mark.parametrize(("value", "problem"), [
    ("smoke", "'hooks' must be an object"),
    ({"beforePromote": "smoke"}, "unknown key(s) beforePromote in 'hooks'; allowed: beforeTraffic, afterShift, "
                                 "afterPromote"),
    ({"afterShift": "smoke test"}, "'hooks.afterShift' 'smoke test' is not a Lambda function name or ARN"),
    ({"afterShift": 7}, "'hooks.afterShift' 7"),
    ({"afterShift": "arn:aws:s3:::bucket"}, "is not a Lambda function name or ARN"),
])
def test_malformed_hooks_are_refused_naming_the_problem(value, problem):
    with pytest.raises(InvalidDeploymentRequest) as refused:
        parse_hooks(value)
    assert problem in str(refused.value)


@pytest.mark.parametrize(("reference", "split"), [
    ("smoke", ("smoke", None, None)),
    ("smoke:live", ("smoke", "live", None)),
    ("smoke:$LATEST", ("smoke", "$LATEST", None)),
    ("arn:aws:lambda:eu-west-1:123456789012:function:smoke:4",
     ("arn:aws:lambda:eu-west-1:123456789012:function:smoke", "4", "eu-west-1")),
])
def test_a_hook_reference_splits_into_function_qualifier_and_region(reference, split):
    assert checks.split_function(reference) == split


# --- where a deployment stops ----------------------------------------------------------------------------

def test_checkpoints_run_only_where_something_is_configured():
    synthetic_only = Checks(parse_pre_traffic({}))
    assert [synthetic_only.runs_at(p) for p in checks.PHASES] == [True, False, False]
    every_shift = Checks(parse_pre_traffic({"afterEachShift": True}))
    assert [every_shift.runs_at(p) for p in checks.PHASES] == [True, True, False]
    promote_hook = Checks().with_hooks({AFTER_PROMOTE: "notify"})
    assert [promote_hook.runs_at(p) for p in checks.PHASES] == [False, False, True]
    assert not any(Checks().runs_at(p) for p in checks.PHASES)


def test_the_number_of_checkpoints_counts_every_shift_for_checks_after_a_shift():
    assert Checks().checkpoints(5) == 0
    assert Checks(parse_pre_traffic({})).checkpoints(5) == 1
    assert Checks(parse_pre_traffic({"afterEachShift": True})).checkpoints(5) == 6
    assert Checks().with_hooks({AFTER_SHIFT: "h", AFTER_PROMOTE: "h"}).checkpoints(3) == 4


def test_checks_serialise_only_what_is_configured_so_the_state_machine_can_route_on_presence():
    assert Checks().to_json() == {}
    assert Checks().with_hooks({AFTER_PROMOTE: "arn"}).to_json() == {"hooks": {"afterPromote": "arn"}}
    assert Checks.from_json(None) == Checks()  # a deployment started before checks existed


def test_a_checkpoint_says_when_it_runs():
    assert Checkpoint(BEFORE_TRAFFIC).describe(0, 2) == "before any traffic moved"
    assert Checkpoint(AFTER_SHIFT, 1).describe(12.5, 2) == "after shifting 12.5% of traffic (step 1 of 2)"
    assert Checkpoint(AFTER_PROMOTE, 2).describe(100, 2) == "after promotion"


# --- judging a synthetic answer ----------------------------------------------------------------------------

PROXY_OK = {"statusCode": 200, "body": json.dumps({"status": "ok", "items": [{"id": 7}]})}
EXPECT = Expectation(200, (("body.status", "ok"), ("body.items.0.id", 7)))


def test_an_answer_meeting_every_expectation_passes():
    assert invocation_problem(EXPECT, False, answer(PROXY_OK)) is None


def test_a_function_error_always_fails_even_without_expectations():
    error = {"errorType": "OrderStoreError", "errorMessage": "the order store refused the write"}
    assert invocation_problem(Expectation(), True, answer(error)) == (
        "failed (OrderStoreError: the order store refused the write)")


def test_any_answer_passes_when_only_no_function_error_is_expected():
    assert invocation_problem(Expectation(), False, answer(None)) is None
    assert invocation_problem(Expectation(), False, b"not json at all") is None


@pytest.mark.parametrize(("response", "problem"), [
    ({"statusCode": 503, "body": "{}"}, "answered statusCode 503, expected 200"),
    ({"status": 200}, "answered no statusCode (expected 200)"),
    ("200", "answered no statusCode (expected 200)"),
    ({"statusCode": 200, "body": json.dumps({"status": "degraded", "items": [{"id": 7}]})},
     "answered body.status = \"degraded\", expected \"ok\""),
    ({"statusCode": 200, "body": json.dumps({"status": "ok", "items": []})},
     "answered no field 'body.items.0.id' (expected 7)"),
    ({"statusCode": 200, "body": "<html>oops</html>"}, "answered no field 'body.status'"),
    ({"statusCode": 200, "body": json.dumps({"status": "ok", "items": [{"id": "7"}]})},
     "answered body.items.0.id = \"7\", expected 7"),
])
def test_an_answer_that_misses_an_expectation_fails_saying_which(response, problem):
    assert problem in invocation_problem(EXPECT, False, answer(response))


def test_a_long_answer_is_quoted_shortened_and_escaped():
    problem = invocation_problem(Expectation(200), False, answer({"html": "\x1b[2J" + "x" * 1000}))
    assert "\x1b" not in problem and "\\u001b" in problem and len(problem) < 400


def test_lookup_reads_object_keys_list_indexes_and_json_held_in_strings():
    document = {"a": {"b": [10, {"c": json.dumps({"d": True})}]}}
    assert lookup(document, "a.b.0") == (True, 10)
    assert lookup(document, "a.b.1.c.d") == (True, True)
    assert lookup(document, "a.b.2") == (False, None)
    assert lookup(document, "a.x") == (False, None)
    assert lookup({"n": None}, "n") == (True, None)


@pytest.mark.parametrize(("found", "wanted", "equal"), [
    (1, 1.0, True), (True, 1, False), (1, True, False), (False, 0, False), ("1", 1, False), (None, None, True),
    ({"a": [1, True]}, {"a": [1.0, True]}, True), ({"a": [1, True]}, {"a": [1, 1]}, False),
    ({"a": 1}, {"a": 1, "b": 2}, False), ([1, 2], [1], False),
])
def test_values_are_compared_as_json_not_as_python(found, wanted, equal):
    assert same(found, wanted) is equal


# --- judging a hook's answer -------------------------------------------------------------------------------

@pytest.mark.parametrize("response", [None, {}, {"status": "pass"}, {"ok": True}, "done", [1, 2]])
def test_a_hook_passes_unless_it_fails_or_says_it_failed(response):
    assert hook_problem(False, answer(response)) is None


def test_a_hook_that_raises_fails_with_its_error():
    error = {"errorType": "AssertionError", "errorMessage": "GET /orders answered 500"}
    assert hook_problem(True, answer(error)) == "failed (AssertionError: GET /orders answered 500)"


def test_a_hook_answering_fail_fails_with_its_reason():
    assert hook_problem(False, answer({"status": "fail", "reason": "checkout flow broken"})) == (
        "answered fail: checkout flow broken")
    assert hook_problem(False, answer({"status": "fail"})) == "answered fail (no reason given)"


def test_a_hook_answering_another_status_than_pass_or_fail_fails_rather_than_passing():
    problem = hook_problem(False, answer({"status": "FAILED", "reason": "nope"}))
    assert problem.startswith('answered status "FAILED": nope; a hook answers')


def test_a_hooks_reason_is_shortened_and_escaped():
    problem = hook_problem(False, answer({"status": "fail", "reason": "\x1b[31m" + "r" * 1000}))
    assert "\x1b" not in problem and len(problem) < 350


# --- what a hook is told -----------------------------------------------------------------------------------

def test_a_hook_is_told_the_function_the_versions_the_step_the_weight_and_the_execution():
    deployment = Deployment(
        function_name="orders", function_arn="arn:aws:lambda:us-east-1:123456789012:function:orders",
        alias="live", alias_exists=True, target=parse_image_uri(IMAGE), stable=Stable("4", IMAGE, None),
        latest_image=IMAGE, plan=Plan("Steps", (Step(10, 60), Step(50, 60))), check_interval_seconds=60,
    )
    event = checks.hook_event(deployment, "5", Checkpoint(AFTER_SHIFT, 1), 10.0, "arn:…:execution:x")
    assert event == {
        "phase": "afterShift", "function": "orders", "functionArn": deployment.function_arn, "alias": "live",
        "newVersion": "5", "stableVersion": "4", "step": 1, "steps": 2, "weight": 10.0, "image": IMAGE,
        "execution": "arn:…:execution:x",
    }
