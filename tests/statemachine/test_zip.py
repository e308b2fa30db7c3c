"""Zip functions deployed from S3 on the emulator: the same flow, strategies, rollback and invariant as images.

The invariant for a zip function: one version on the alias with empty routing, and the function-named key
``functions/<name>.zip``, ``$LATEST`` and that version all on the same package (CodeSha256).
"""

from __future__ import annotations

import json

import pytest
from support import fire_alarm_once_weighted, make_zip_world, wait_for

from deployer.local.emulator import Emulator
from deployer.local.faults import Crash
from deployer.local.traffic import Traffic
from handlers.aws import deployments


@pytest.fixture
def world(emulator):
    return make_zip_world(emulator, fail=("v3",))


def invoke(world, qualifier: str) -> dict:
    answer = world.emulator.client("lambda").invoke(FunctionName=world.fn.name, Qualifier=qualifier)
    return json.loads(answer["Payload"].read())


def test_a_canary_deploys_the_package_and_the_function_named_key_follows(world):
    execution = world.emulator.run(world.request(world.v2, strategy="Canary50Percent2Seconds", checkIntervalSeconds=1,
                                                 alarms=[world.fn.alarm], analysis=False))

    assert execution.status == "SUCCEEDED", execution.cause
    assert world.settled_on() == "2"
    assert world.latest_digest() == world.tag_digest() == world.sha_of(world.v2)
    assert invoke(world, "live") == {"statusCode": 200, "release": "v2"}  # the emulator runs the package's handler
    version_id = world.emulator.client("s3").head_object(Bucket="artifacts", Key="quotes-api/v2.zip")["VersionId"]
    assert execution.output["code"] == f"{world.v2}?versionId={version_id}"
    assert execution.output["codeSha256"] == world.sha_of(world.v2)
    assert execution.output["codeKey"] == "s3://artifacts/functions/quotes-api.zip"
    description = world.emulator.client("lambda").get_function_configuration(
        FunctionName=world.fn.name, Qualifier="2")["Description"]
    assert description == f"lambda-deployer {execution.output['code']}"  # what a rollback to it restores
    writes = world.writes(execution)
    assert writes.count("CopyObject") == 1 and "PutImage" not in writes


def test_an_alarm_rolls_back_alias_latest_and_key_onto_the_stable_package(world):
    world.emulator.api.inject(Crash("AlarmFired", times=None))  # the check's backstop decides, as in test_deploy
    stable = world.tag_digest()
    fire_alarm_once_weighted(world)

    execution = world.emulator.run(world.request(world.v2, strategy="Canary10Percent30Seconds", checkIntervalSeconds=1,
                                                 alarms=[world.fn.alarm], analysis=False), timeout=30)

    assert (execution.status, execution.error) == ("FAILED", "DeploymentRolledBack"), execution.cause
    assert world.settled_on() == "1"
    assert world.latest_digest() == world.tag_digest() == stable
    assert invoke(world, "live") == {"statusCode": 200, "release": "v1"}


def test_a_pinned_object_version_is_deployed_even_after_the_key_was_overwritten(world):
    s3 = world.emulator.client("s3")
    pinned = s3.head_object(Bucket="artifacts", Key="quotes-api/v2.zip")["VersionId"]
    world.emulator.client("s3").put_object(Bucket="artifacts", Key="quotes-api/v2.zip", Body=b"not the release")

    execution = world.emulator.run(world.request(f"{world.v2}?versionId={pinned}", analysis=False))

    assert execution.status == "SUCCEEDED", execution.cause
    assert world.settled_on() == "2"
    assert invoke(world, "live") == {"statusCode": 200, "release": "v2"}


def test_a_rollback_request_returns_to_the_package_the_iac_deployed(world):
    stable = world.tag_digest()
    assert world.emulator.run(world.request(world.v2, analysis=False)).status == "SUCCEEDED"

    execution = world.emulator.run({"action": "rollback", "function": world.fn.name})

    assert execution.status == "SUCCEEDED", execution.cause
    assert world.settled_on() == "1"
    assert world.latest_digest() == world.tag_digest() == stable
    assert invoke(world, "live") == {"statusCode": 200, "release": "v1"}


def other_region_bucket(world) -> str:
    s3 = world.emulator.client("s3")
    s3.create_bucket(Bucket="artifacts-eu", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_versioning(Bucket="artifacts-eu", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket="artifacts-eu", Key="quotes-api/v2.zip", Body=b"PK")
    return "s3://artifacts-eu/quotes-api/v2.zip"


def unversioned_bucket(world) -> str:
    s3 = world.emulator.client("s3")
    s3.create_bucket(Bucket="scratch")
    s3.put_object(Bucket="scratch", Key="quotes-api/v2.zip", Body=b"PK")
    return "s3://scratch/quotes-api/v2.zip"


def image_function(world) -> str:
    from deployer.local import sample
    fn = sample.create_function(world.emulator, "orders-api")
    return fn.image(world.emulator.client("ecr").describe_images(repositoryName="orders-api")["imageDetails"][0][
        "imageDigest"])


def unknown_stable_package(world) -> str:
    """Someone replaced the function-named key: version 1's package is known from nowhere."""
    world.emulator.client("s3").put_object(Bucket="artifacts", Key="functions/quotes-api.zip", Body=b"PK other")
    return world.v2


ZIP_CASES = {
    # name: (request, phrase in the cause)
    "object missing": (lambda w: w.request("s3://artifacts/quotes-api/v9.zip"),
                       "s3://artifacts/quotes-api/v9.zip does not exist"),
    "object version missing": (lambda w: w.request(f"{w.v2}?versionId=nope"), "?versionId=nope does not exist"),
    "bucket missing": (lambda w: w.request("s3://no-such-bucket/x.zip"), "bucket no-such-bucket does not exist"),
    "bucket in another region": (lambda w: w.request(other_region_bucket(w)),
                                 "bucket artifacts-eu is in eu-west-1 but the function is in us-east-1"),
    "bucket not versioned": (lambda w: w.request(unversioned_bucket(w)), "enable versioning on bucket scratch"),
    "image for a zip function": (lambda w: {"function": w.fn.name, "image": image_function(w)},
                                 "function quotes-api is zip-packaged; deploy it with 'code'"),
    "code for an image function": (lambda w: (image_function(w), {"function": "orders-api", "code": w.v2})[1],
                                   "function orders-api runs a container image; deploy it with 'image', not 'code'"),
    "stable package unknown": (lambda w: w.request(unknown_stable_package(w)),
                               "the code of version 1 of quotes-api (the stable version, which a rollback returns to) "
                               "is not known"),
    "key too long to record": (lambda w: w.request("s3://artifacts/" + "k" * 250 + ".zip"),
                               "is too long to be recorded"),
}


@pytest.mark.parametrize("case", ZIP_CASES)
def test_an_invalid_zip_request_is_refused_naming_the_problem_and_changes_nothing(world, case):
    build, phrase = ZIP_CASES[case]
    request = build(world)
    alias_before, latest_before, key_before = world.alias(), world.latest_digest(), world.tag_digest()

    execution = world.emulator.run(request)

    assert (execution.status, execution.error) == ("FAILED", "InvalidDeploymentRequest")
    assert phrase in execution.cause
    assert world.emulator.api.calls_of(execution.arn, mutating=True) == []
    assert world.alias()["RevisionId"] == alias_before["RevisionId"]
    assert (world.latest_digest(), world.tag_digest()) == (latest_before, key_before)


def test_the_cli_deploys_a_zip_package_with_code_and_plans_it(world, cli):
    planned = cli("--output", "json", "plan", "--function", world.fn.name, "--code", world.v2,
                  "--strategy", "Canary50Percent2Seconds", "--check-interval", "1", "--no-analysis")
    assert planned.code == 0, planned.out + planned.err
    assert planned.json()["changes"][0].startswith("key functions/quotes-api.zip in artifacts ← a copy of "
                                                   f"{world.v2}?versionId=")

    done = cli("deploy", "--function", world.fn.name, "--code", world.v2, "--strategy", "Canary50Percent2Seconds",
               "--check-interval", "1", "--no-analysis")

    assert done.code == 0, done.out + done.err
    assert f"deploy quotes-api: code {world.v2}" in done.out
    assert "version 2 of quotes-api (s3://artifacts/quotes-api/v2.zip?versionId=" in done.out
    assert world.settled_on() == "2"
    both = cli("deploy", "--function", world.fn.name, "--code", world.v2, "--image", "x")
    assert both.code == 2 and "not allowed with argument" in both.err


def test_a_broken_release_is_rolled_back_by_its_real_errors():
    """Real traffic: the failing release's own handler raises, Lambda's metrics count the errors, the alarm is
    evaluated from them and its event rolls the deployment back (alias, key and $LATEST), before any check."""
    with Emulator(time_scale=0.05, seed=3) as emu:
        broken = make_zip_world(emu, fail=("v3",))
        stable = broken.tag_digest()
        arn = emu.start_execution(broken.request(broken.v3, strategy={"steps": [{"weight": 50, "bakeSeconds": 3000}]},
                                                 checkIntervalSeconds=300, alarms=[broken.fn.alarm], analysis=False))
        wait_for(broken.weights, what="the canary")
        with Traffic(emu.client("lambda"), broken.fn.name, "live", rate=40, seconds=15) as traffic:
            wait_for(lambda: not broken.weights(), timeout=15, what="traffic restored")
        deployment = emu.wait(arn, timeout=30)

        assert deployment.status == "ABORTED" and "CheckHealth" not in deployment.states_entered()
        seen = traffic.by_version()
        assert seen["2"].errors == seen["2"].invocations > 0  # every call of the broken release (version 2) failed
        assert seen["1"].errors == 0
        wait_for(lambda: deployments.holder(broken.fn.name) is None, timeout=20, what="the rollback's end")
        assert broken.settled_on() == "1"
        assert broken.latest_digest() == broken.tag_digest() == stable


def test_status_shows_the_key_and_latest_of_a_zip_function_and_the_reconciler_repairs_its_alias(world, cli):
    assert world.emulator.run(world.request(world.v2, analysis=False)).status == "SUCCEEDED"
    shown = cli("--output", "json", "status", world.fn.name)
    assert shown.code == 0, shown.err
    state = shown.json()
    assert state["settled"] and state["tagDigest"] == state["latestDigest"] == world.sha_of(world.v2)

    lam = world.emulator.client("lambda")  # someone splits the alias by hand, with no deployment running
    lam.update_function_code(FunctionName=world.fn.name, S3Bucket="artifacts", S3Key="quotes-api/v3.zip")
    lam.publish_version(FunctionName=world.fn.name)
    lam.update_alias(FunctionName=world.fn.name, Name="live", RoutingConfig={"AdditionalVersionWeights": {"3": 0.4}})

    report = world.emulator.reconcile()

    assert report["repairedAliases"] == ["quotes-api:live"] and report["problems"] == []
    assert (world.alias()["FunctionVersion"], world.weights()) == ("2", {})
