"""Every invalid request fails InvalidDeploymentRequest before the first mutation: zero mutating calls."""

from __future__ import annotations

import pytest

from deployer.local import sample

OTHER_REGION_IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders-api@sha256:" + "1" * 64
UNKNOWN_DIGEST = "sha256:" + "0" * 64


def zip_function(world):
    lam = world.emulator.client("lambda")
    role = world.emulator.client("iam").get_role(RoleName="orders-api-role")["Role"]["Arn"]
    lam.create_function(FunctionName="zippy", Runtime="python3.13", Handler="app.handler", Role=role,
                        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18}, Tags={"lambda-deployer:managed": "true"})


def unmanaged_function(world):
    """An image function without the opt-in tag: the deployer's roles may not even read it (ABAC)."""
    lam = world.emulator.client("lambda")
    arn = lam.get_function(FunctionName=world.fn.name)["Configuration"]["FunctionArn"]
    lam.tag_resource(Resource=arn, Tags={"lambda-deployer:managed": "false"})


NOOP_HOOK = "def handler(event, context):\n    return None\n"


def untagged_hook(world):
    """A function of the user's that is not opted in as a hook: the deployer's roles may not even read it."""
    sample.create_python_function(world.emulator, "smoke", NOOP_HOOK, hook=False)


def slow_hook(world):
    sample.create_python_function(world.emulator, "smoke", NOOP_HOOK, timeout=900)


def deployed_function_as_hook(world):
    lam = world.emulator.client("lambda")
    lam.tag_resource(Resource=lam.get_function(FunctionName=world.fn.name)["Configuration"]["FunctionArn"],
                     Tags={"lambda-deployer:hook": "true"})


def other_repository(world):
    world.emulator.client("ecr").create_repository(repositoryName="elsewhere")
    return sample.push_image(world.emulator.client("ecr"), "elsewhere", "elsewhere:v1", tag="v1")


def immutable_repository(world):
    world.emulator.client("ecr").put_image_tag_mutability(repositoryName="orders-api",
                                                          imageTagMutability="IMMUTABLE")


def alias_on_latest(world):
    world.emulator.client("lambda").update_alias(FunctionName="orders-api", Name="live", FunctionVersion="$LATEST")


def weighted_alias(world):
    lam = world.emulator.client("lambda")
    lam.publish_version(FunctionName="orders-api")  # no change since v1: Lambda returns version 1
    lam.update_function_code(FunctionName="orders-api", ImageUri=world.fn.image(world.v3))
    lam.publish_version(FunctionName="orders-api")
    lam.update_alias(FunctionName="orders-api", Name="live", RoutingConfig={"AdditionalVersionWeights": {"2": 0.2}})


CASES = {
    # name: (request changes, setup, phrase in the cause)
    "missing function": (lambda w: {"image": w.fn.image(w.v2)}, None, "'function' is required"),
    "missing image": (lambda w: {"function": "orders-api"}, None,
                      "exactly one of 'image' (an image function) and 'code'"),
    "malformed image": (lambda w: w.request(w.v2) | {"image": "orders-api:v2"}, None,
                        "'image' 'orders-api:v2' is not an ECR image URI"),
    "malformed alias": (lambda w: w.request(w.v2, alias="12"), None, "'alias' '12'"),
    "malformed interval": (lambda w: w.request(w.v2, checkIntervalSeconds="often"), None,
                           "'checkIntervalSeconds' 'often' must be an integer"),
    "unknown key": (lambda w: w.request(w.v2, alarm="x"), None, "unknown key(s) alarm"),
    "escape sequence in requestedBy": (lambda w: w.request(w.v2, requestedBy="ci\x1b[2J\x1b[1A"), None,
                                       "'requestedBy' must not contain control characters (\\x1b)"),
    "unknown function": (lambda w: w.request(w.v2) | {"function": "nope"}, None, "function nope was not found"),
    "function not managed": (lambda w: w.request(w.v2), unmanaged_function,
                             "function orders-api was not found (or this deployer may not manage it)"),
    "zip-packaged function": (lambda w: w.request(w.v2) | {"function": "zippy"}, zip_function, "zip-packaged"),
    "image in another region": (lambda w: w.request(w.v2) | {"image": OTHER_REGION_IMAGE}, None,
                                "is in eu-west-1 but function orders-api is in us-east-1"),
    "function in another region": (
        lambda w: w.request(w.v2) | {"function": "arn:aws:lambda:eu-west-1:123456789012:function:orders-api"},
        None, "this deployer manages functions in us-east-1"),
    "digest not in the repository": (lambda w: w.request(UNKNOWN_DIGEST), None, "is not in repository orders-api"),
    "tag not in the repository": (lambda w: w.request(w.v2) | {"image": f"{w.fn.repository_uri}:v9"}, None,
                                  "is not in repository orders-api"),
    "image from another repository": (
        lambda w: w.request(w.v2) | {"image": w.fn.repository_uri.replace("orders-api", "elsewhere") + ":v1"},
        other_repository, "runs images from"),
    "unknown strategy": (lambda w: w.request(w.v2, strategy="BlueGreen"), None, "unknown strategy 'BlueGreen'"),
    "weight zero": (lambda w: w.request(w.v2, strategy={"steps": [{"weight": 0, "bakeSeconds": 5}]}), None,
                    "strategy step 1: weight 0 is outside (0, 100]"),
    "weight above 100": (lambda w: w.request(w.v2, strategy={"steps": [{"weight": 5}, {"weight": 101}]}), None,
                         "strategy step 2: weight 101 is outside (0, 100]"),
    "history too long": (lambda w: w.request(w.v2, strategy="Linear10PercentEvery10Minutes", checkIntervalSeconds=1),
                         None, "25000 history events"),
    "unknown alarm": (lambda w: w.request(w.v2, alarms=["orders-api-errors", "no-such-alarm"]), None,
                      "unknown alarm(s): no-such-alarm"),
    "alarm already firing": (lambda w: w.request(w.v2, alarms=["orders-api-errors"]),
                             lambda w: w.set_alarm("ALARM"), "already in ALARM"),
    "immutable repository": (lambda w: w.request(w.v2), immutable_repository, "immutable tags"),
    "alias on $LATEST": (lambda w: w.request(w.v2), alias_on_latest, "points at $LATEST"),
    "stable version inactive": (lambda w: w.request(w.v2),
                                lambda w: w.emulator.readiness.set_state("orders-api", "1", "Inactive", "idle"),
                                "version 1 of orders-api, which a rollback would return to, is Inactive (idle)"),
    "alias already weighted": (lambda w: w.request(w.v2), weighted_alias, "already weighted (20% to version 2)"),
    "malformed preTraffic": (lambda w: w.request(w.v2, preTraffic={"invocations": 0, "expect": {"status": 200}}),
                             None, "'preTraffic.invocations' 0 must be an integer from 1 to 10; unknown key(s) "
                                   "status in 'preTraffic.expect'"),
    "unknown hook phase": (lambda w: w.request(w.v2, hooks={"beforePromote": "smoke"}), None,
                           "unknown key(s) beforePromote in 'hooks'"),
    "unknown hook function": (lambda w: w.request(w.v2, hooks={"afterShift": "no-such-hook"}), None,
                              "'hooks.afterShift': function no-such-hook was not found, or is not opted in as a "
                              "hook (tag lambda-deployer:hook=true)"),
    "hook not opted in": (lambda w: w.request(w.v2, hooks={"beforeTraffic": "smoke"}), untagged_hook,
                          "'hooks.beforeTraffic': function smoke was not found, or is not opted in as a hook"),
    "hook in another region": (
        lambda w: w.request(w.v2, hooks={"afterPromote": "arn:aws:lambda:eu-west-1:123456789012:function:smoke"}),
        None, "function arn:aws:lambda:eu-west-1:123456789012:function:smoke is in eu-west-1; hooks run in us-east-1"),
    "the deployed function as its own hook": (lambda w: w.request(w.v2, hooks={"beforeTraffic": "orders-api"}),
                                              deployed_function_as_hook, "is the function being deployed"),
    "checks that could outlast their task": (
        lambda w: w.request(w.v2, hooks={"beforeTraffic": "smoke"}, preTraffic={"invocations": 2}), slow_hook,
        "the checks at beforeTraffic could take 906 s (2 invocation(s) of orders-api (timeout 3 s) and hook smoke "
        "(timeout 900 s)), more than the 840 s one checkpoint may take"),
}


@pytest.mark.parametrize("case", CASES)
def test_invalid_request_changes_nothing(world, case):
    build, setup, phrase = CASES[case]
    if setup:
        setup(world)
    alias_before, latest_before, tag_before = world.alias(), world.latest_digest(), world.tag_digest()

    execution = world.emulator.run(build(world))

    assert (execution.status, execution.error) == ("FAILED", "InvalidDeploymentRequest")
    assert phrase in execution.cause
    assert world.emulator.api.calls_of(execution.arn, mutating=True) == []
    assert world.alias()["RevisionId"] == alias_before["RevisionId"]
    assert (world.latest_digest(), world.tag_digest()) == (latest_before, tag_before)
    assert execution.states_entered() == ["Route", "Resolve", "ExplainRefusal", "Refused"]


def test_a_request_that_is_not_even_an_object_is_refused(world):
    execution = world.emulator.run(["deploy", "please"])
    assert execution.error == "InvalidDeploymentRequest" and "must be a JSON object" in execution.cause


def test_a_hotfix_may_start_while_an_alarm_fires_and_is_judged_by_the_others(world):
    cloudwatch = world.emulator.client("cloudwatch")
    cloudwatch.put_metric_alarm(AlarmName="latency", Namespace="AWS/Lambda", MetricName="Duration",
                                Statistic="Average", Period=60, EvaluationPeriods=1, Threshold=1000,
                                ComparisonOperator="GreaterThanThreshold")
    world.set_alarm("ALARM")
    execution = world.emulator.run(world.request(world.v2, alarms=[world.fn.alarm, "latency"],
                                                 allowFiringAlarms=True, strategy="Canary10Percent1Second",
                                                 checkIntervalSeconds=1, analysis=False))
    assert execution.status == "SUCCEEDED", execution.cause
    resolved = execution.state_outputs("Resolve")[0]["deployment"]
    assert resolved["ignoredAlarms"] == [world.fn.alarm]
