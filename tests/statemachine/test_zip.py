"""Zip functions deployed from S3 on the emulator: the same flow, strategies, rollback and invariant as images.

The invariant for a zip function: one version on the alias with empty routing, and the function-named key
``functions/<name>.zip``, ``$LATEST`` and that version all on the same package (CodeSha256).
"""

from __future__ import annotations

import pytest
from support import fire_alarm_once_weighted, make_zip_world

from deployer.local.faults import Crash


@pytest.fixture
def world(emulator):
    return make_zip_world(emulator, fail=("v3",))


def invoke(world, qualifier: str) -> dict:
    import json
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
