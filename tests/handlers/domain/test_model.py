"""The deploy request contract: validation before anything else happens."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.domain.analysis import DISABLED, AnalysisSettings, ErrorRateLimits, LatencyLimits, parse_analysis
from handlers.domain.checks import Checks
from handlers.domain.errors import InvalidDeploymentRequest
from handlers.domain.images import parse_image_uri
from handlers.domain.model import (
    ROLLBACK_REQUESTED,
    Deployment,
    FunctionRef,
    Stable,
    parse_prune_request,
    parse_request,
    stop_cause,
    stopped_by,
)
from handlers.domain.strategy import parse_strategy

IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:" + "cd" * 32
TUNED = {"minInvocations": 200, "confidence": 0.95, "errorRate": {"ceiling": 2.5, "ratio": 2, "difference": 0.5},
         "latency": {"percentile": "p95", "ratio": 1.2, "ms": 20}, "throttles": "ignore", "inconclusive": "promote",
         "maxExtensions": 5, "insufficientData": "healthy"}


def test_minimal_request_gets_the_documented_defaults():
    request = parse_request({"function": "orders", "image": IMAGE})
    assert request.alias == "live" and request.plan.name == "AllAtOnce"
    assert request.check_interval_seconds == 60 and request.alarms == () and not request.allow_firing_alarms


def test_function_by_arn_remembers_region_and_account():
    request = parse_request({"function": "arn:aws:lambda:eu-west-1:123456789012:function:orders", "image": IMAGE})
    assert request.function == FunctionRef("orders", "eu-west-1", "123456789012")


def test_strategy_may_arrive_as_json_text():
    strategy = '{"steps": [{"weight": 5, "bakeSeconds": 9}]}'
    request = parse_request({"function": "f", "image": IMAGE, "strategy": strategy})
    assert request.plan.steps[0].weight == 5


def test_every_problem_is_reported_at_once():
    with pytest.raises(InvalidDeploymentRequest) as refused:
        parse_request({"image": "nope", "alias": "7", "checkIntervalSeconds": 0, "alarm": ["x"]})
    message = str(refused.value)
    for expected in ("unknown key(s) alarm", "'function' is required", "'image' 'nope'", "'alias' '7'",
                     "'checkIntervalSeconds' 0"):
        assert expected in message


@pytest.mark.parametrize(("request_", "problem"), [
    (None, "the request must be a JSON object"),
    ([], "the request must be a JSON object"),
    ("deploy", "the request must be a JSON object"),
    ({"function": "orders"}, "exactly one of 'image' (an image function) and 'code'"),
    ({"function": "orders", "image": IMAGE, "code": "s3://artifacts/orders/1.zip"}, "exactly one of 'image'"),
    ({"function": "orders", "code": "artifacts/orders/1.zip"}, "'code' 'artifacts/orders/1.zip' must be an S3 URI"),
    ({"function": "orders", "code": "s3://Artifacts/orders/1.zip"}, "'Artifacts' is not a valid S3 bucket name"),
    ({"function": "orders", "code": "s3://artifacts/orders/1.tar.gz"}, "a Lambda deployment package is a .zip file"),
    ({"function": "orders", "code": "s3://artifacts/orders/1.zip?version=3"}, "the only query parameter allowed"),
    ({"function": "orders", "code": "s3://artifacts/"}, "the object key must be 1 to 1024 bytes"),
    ({"function": "bad name!", "image": IMAGE}, "'function' 'bad name!'"),
    ({"function": "arn:aws:lambda:eu-west-1:123456789012:function:orders:live", "image": IMAGE},
     "names a version or alias"),
    ({"function": "f", "image": IMAGE, "alias": "$LATEST"}, "'alias' '$LATEST' is not a valid alias name"),
    ({"function": "f", "image": IMAGE, "alarms": [1]}, "'alarms' must be a list of CloudWatch alarm names"),
    ({"function": "f", "image": IMAGE, "alarms": ["a"] * 101}, "at most 100 alarms"),
    ({"function": "f", "image": IMAGE, "checkIntervalSeconds": "60"}, "'checkIntervalSeconds' '60' must be an integer"),
    ({"function": "f", "image": IMAGE, "checkIntervalSeconds": 3601}, "'checkIntervalSeconds' 3601 must be"),
    ({"function": "f", "image": IMAGE, "allowFiringAlarms": "yes"}, "'allowFiringAlarms' must be true or false"),
    ({"function": "f", "image": IMAGE, "strategy": "{not json"}, "'strategy' looks like JSON but does not parse"),
    ({"function": "f", "image": IMAGE, "strategy": "Linear10PercentEvery10Minutes", "checkIntervalSeconds": 1},
     "25000 history events"),
])
def test_malformed_requests_are_refused_naming_the_problem(request_, problem):
    with pytest.raises(InvalidDeploymentRequest) as refused:
        parse_request(request_)
    assert problem in str(refused.value)


def test_a_zip_request_names_its_package_and_its_object_version():
    request = parse_request({"function": "orders", "code": "s3://artifacts/orders/1.2.3.zip?versionId=a%2Bb"})
    assert (request.image, request.code.bucket, request.code.key, request.code.version_id) == (
        None, "artifacts", "orders/1.2.3.zip", "a+b")
    assert request.artifact is request.code
    assert request.code.uri == "s3://artifacts/orders/1.2.3.zip?versionId=a%2Bb"
    assert request.code.location == {"S3Bucket": "artifacts", "S3Key": "orders/1.2.3.zip", "S3ObjectVersion": "a+b"}


def test_duplicate_alarms_are_watched_once():
    assert parse_request({"function": "f", "image": IMAGE, "alarms": ["a", "b", "a"]}).alarms == ("a", "b")


def test_deployment_round_trips_through_json():
    deployment = Deployment(
        function_name="orders", function_arn="arn:aws:lambda:eu-west-1:123456789012:function:orders",
        alias="live", alias_exists=True, target=parse_image_uri(IMAGE),
        stable=Stable("3", IMAGE.replace("cd", "ef"), "sha256:" + "ef" * 32), latest_image=None,
        plan=parse_strategy("Linear50PercentEvery1Second"), check_interval_seconds=1, alarms=("a",),
        ignored_alarms=("b",), requested_by="ci",
    )
    assert Deployment.from_json(deployment.to_json()) == deployment


@pytest.mark.parametrize(("requested_by", "escaped"), [
    ("ci\x1b[2J\x1b[31mall good", "\\x1b"),  # clear the screen, recolour
    ("job 42\n::add-mask::x", "\\n"),  # a new line a CI log would read as a command
    ("bob\x07", "\\x07"),
    ("user\u202egnp.exe", "\\u202e"),  # right-to-left override: shows other text than was sent
    ("tab\there", "\\t"),
])
def test_requested_by_with_control_characters_is_refused_naming_them(requested_by, escaped):
    with pytest.raises(InvalidDeploymentRequest, match="'requestedBy' must not contain control characters") as refused:
        parse_request({"function": "orders", "image": IMAGE, "requestedBy": requested_by})
    assert escaped in str(refused.value) and requested_by not in str(refused.value)


def test_requested_by_may_be_any_printable_text():
    request = parse_request({"function": "orders", "image": IMAGE, "requestedBy": "José ✓ via CI run 7 (acme/orders)"})
    assert request.requested_by == "José ✓ via CI run 7 (acme/orders)"


def test_alarm_names_with_control_characters_are_refused():
    with pytest.raises(InvalidDeploymentRequest, match=r"alarm names must not .* characters: bad\\x1b\[0m$"):
        parse_request({"function": "orders", "image": IMAGE, "alarms": ["ok-alarm", "bad\x1b[0m"]})


# --- the analysis settings the request carries -------------------------------------------------------------

def test_a_request_is_analysed_by_default_and_may_turn_it_off_or_tune_it():
    assert parse_request({"function": "f", "image": IMAGE}).analysis == AnalysisSettings()
    assert parse_request({"function": "f", "image": IMAGE, "analysis": False}).analysis == DISABLED
    tuned = parse_request({"function": "f", "image": IMAGE, "analysis": TUNED}).analysis
    assert tuned == AnalysisSettings(
        min_invocations=200, confidence=0.95, error_rate=ErrorRateLimits(ceiling=2.5, ratio=2, difference=0.5),
        latency=LatencyLimits(percentile="p95", ratio=1.2, ms=20), throttles="ignore", inconclusive="promote",
        max_extensions=5, insufficient_data="healthy")


def test_analysis_problems_are_reported_with_the_requests_other_problems():
    with pytest.raises(InvalidDeploymentRequest) as refused:
        parse_request({"function": "f", "image": IMAGE, "alias": "7", "analysis": {"maxExtensions": -1}})
    assert "'alias' '7'" in str(refused.value) and "'analysis.maxExtensions' -1" in str(refused.value)


def test_the_history_budget_counts_the_extensions_the_request_allows():
    request = {"function": "f", "image": IMAGE, "strategy": "Linear1PercentEvery10Minutes"}
    parse_request(request)
    with pytest.raises(InvalidDeploymentRequest,
                       match=r"^strategy 'Linear1PercentEvery10Minutes' would check health \d+ times at "
                             r"checkIntervalSeconds=60 \(with up to 20 extension\(s\) per step\), more than .* "
                             r"\(25000 history events\); use checkIntervalSeconds >= \d+ or a shorter bake$"):
        parse_request({**request, "analysis": {"maxExtensions": 20}})
    parse_request({**request, "analysis": False})


def test_a_deployment_carries_tuned_analysis_settings_through_json():
    deployment = Deployment(
        function_name="orders", function_arn="arn:aws:lambda:eu-west-1:123456789012:function:orders",
        alias="live", alias_exists=True, target=parse_image_uri(IMAGE), stable=None, latest_image=None,
        plan=parse_strategy("Canary10Percent5Minutes"), check_interval_seconds=60, analysis=parse_analysis(TUNED),
    )
    assert deployment.to_json()["analysis"] == TUNED
    assert Deployment.from_json(deployment.to_json()) == deployment


def test_a_deployment_started_before_analysis_existed_is_judged_by_alarms_alone():
    deployment = Deployment(
        function_name="orders", function_arn="arn:aws:lambda:eu-west-1:123456789012:function:orders",
        alias="live", alias_exists=True, target=parse_image_uri(IMAGE), stable=None, latest_image=None,
        plan=parse_strategy("Canary10Percent5Minutes"), check_interval_seconds=60, analysis=parse_analysis(TUNED),
    )
    older = deployment.to_json()
    del older["analysis"]
    assert Deployment.from_json(older).analysis == DISABLED


# --- pre- and post-traffic checks ----------------------------------------------------------------------------

def test_a_request_carries_its_synthetic_checks_and_hooks():
    request = parse_request({"function": "f", "image": IMAGE,
                             "preTraffic": {"invocations": 3, "expect": {"statusCode": 200}},
                             "hooks": {"afterPromote": "notify", "beforeTraffic": "smoke"}})
    assert request.checks.synthetic.invocations == 3
    assert request.checks.hooks == (("beforeTraffic", "smoke"), ("afterPromote", "notify"))
    assert parse_request({"function": "f", "image": IMAGE}).checks == Checks()


def test_check_problems_are_reported_with_the_requests_other_problems():
    with pytest.raises(InvalidDeploymentRequest) as refused:
        parse_request({"function": "f", "image": IMAGE, "alias": "7", "preTraffic": {"invocations": 0},
                       "hooks": {"afterShfit": "smoke"}})
    message = str(refused.value)
    assert "'alias' '7'" in message and "'preTraffic.invocations' 0" in message
    assert "unknown key(s) afterShfit in 'hooks'" in message


def test_the_history_budget_counts_the_checkpoints_the_request_adds():
    # 2,505 checks: 24,507 history events by the estimate, under the limit; checks before traffic, after each
    # of the 100 shifts and after promotion add 102 checkpoints of 7 events each, which tip it over.
    steps = [{"weight": 10, "bakeSeconds": 25}] * 99 + [{"weight": 20, "bakeSeconds": 30}]
    request = {"function": "f", "image": IMAGE, "strategy": {"steps": steps}, "checkIntervalSeconds": 1,
               "analysis": False}
    parse_request(request)
    with pytest.raises(InvalidDeploymentRequest, match="25000 history events"):
        parse_request({**request, "preTraffic": {"afterEachShift": True}, "hooks": {"afterPromote": "notify"}})
    parse_request({**request, "preTraffic": {}})  # one checkpoint still fits

@given(st.from_regex(r"[A-Za-z0-9_.-]{1,80}", fullmatch=True),
       st.one_of(st.none(), st.text(min_size=1, max_size=256)))
def test_the_rollback_that_stopped_a_deployment_is_read_back_from_its_cause(rollback, requested_by):
    cause = stop_cause(rollback, requested_by)

    assert stopped_by(ROLLBACK_REQUESTED, cause) == rollback
    assert stopped_by("States.Timeout", cause) is None  # only a rollback request's stop names one
    assert stopped_by(ROLLBACK_REQUESTED, "stopped by hand") is None


def test_a_stop_cause_names_the_rollback_and_who_asked_for_it():
    assert stop_cause("orders-rollback-1", "alarm errors") == (
        "stopped by rollback request orders-rollback-1, requested by alarm errors")
    assert stop_cause("orders-rollback-1", None) == "stopped by rollback request orders-rollback-1"
    assert stopped_by(ROLLBACK_REQUESTED, "stopped by rollback request orders-rollback-1, requested by a, b") == (
        "orders-rollback-1")


def test_a_preview_request_carries_the_branch_and_is_judged_by_nothing():
    request = parse_request({"function": "orders", "image": IMAGE, "preview": "feature/x"})
    assert request.preview == "feature/x" and not request.analysis.enabled and request.plan.steps == ()


def test_a_preview_refuses_what_only_production_traffic_gives_meaning_to():

    with pytest.raises(InvalidDeploymentRequest) as refused:
        parse_request({"function": "orders", "image": IMAGE, "preview": "x", "strategy": "AllAtOnce",
                       "alarms": ["a"], "analysis": {"minInvocations": 5}})
    assert "strategy, alarms do not apply" in str(refused.value) and "'analysis'" in str(refused.value)


def test_prune_and_preview_deletion_requests():
    assert parse_prune_request({"action": "prune", "function": "orders"}).keep == 10
    deletion = parse_prune_request({"action": "deletePreview", "function": "orders", "preview": "b", "dryRun": True})
    assert (deletion.preview, deletion.dry_run, deletion.keep) == ("b", True, None)
    with pytest.raises(InvalidDeploymentRequest, match="'preview' is required"):
        parse_prune_request({"action": "deletePreview", "function": "orders"})
    with pytest.raises(InvalidDeploymentRequest, match="unknown key"):
        parse_prune_request({"action": "prune", "function": "orders", "preview": "b"})


def test_a_preview_of_a_zip_package_is_refused_before_anything_moves_the_function_named_key():
    with pytest.raises(InvalidDeploymentRequest) as refused:
        parse_request({"function": "orders", "code": "s3://artifacts/orders/2.zip", "preview": "feature/x"})
    assert "previews are for image functions: a zip function ('code') has no preview yet" in str(refused.value)
