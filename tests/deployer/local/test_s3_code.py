"""Lambda code from S3 on the emulator, as AWS documents it (deployer/local/fidelity/lambda_.py, _set_s3_code):
moto reads the key's current object whatever S3ObjectVersion says and never checks the bucket's region."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from botocore.exceptions import ClientError

from deployer.local import sample
from deployer.local.emulator import Emulator


@pytest.fixture(scope="module")
def emulator():
    with Emulator() as emu:
        yield emu


@pytest.fixture(scope="module")
def fn(emulator):
    return sample.create_zip_function(emulator, "s3-code")


def sha(package: bytes) -> str:
    return base64.b64encode(hashlib.sha256(package).digest()).decode()


def upload(emulator, key: str, label: str) -> tuple[str, bytes]:
    package = sample.zip_package(sample.release_source(label))
    return emulator.client("s3").put_object(Bucket="artifacts", Key=key, Body=package)["VersionId"], package


def test_code_sha256_is_the_base64_sha256_of_the_object(emulator, fn):
    """AWS: CodeSha256 is "The SHA256 hash of the function's deployment package" (FunctionConfiguration API
    reference); the reference does not name the encoding: Lambda's answers carry it base64-encoded, which is what
    the deployer compares with S3's ChecksumSHA256 (base64 too)."""
    _, package = upload(emulator, "s3-code/a.zip", "a")
    updated = emulator.client("lambda").update_function_code(FunctionName=fn.name, S3Bucket="artifacts",
                                                             S3Key="s3-code/a.zip")
    assert updated["CodeSha256"] == sha(package)


def test_the_object_version_asked_for_is_the_code_that_runs(emulator, fn):
    lam = emulator.client("lambda")
    first, package = upload(emulator, "s3-code/b.zip", "first")
    upload(emulator, "s3-code/b.zip", "overwritten")

    updated = lam.update_function_code(FunctionName=fn.name, S3Bucket="artifacts", S3Key="s3-code/b.zip",
                                       S3ObjectVersion=first)
    version = lam.publish_version(FunctionName=fn.name)["Version"]

    assert updated["CodeSha256"] == sha(package)
    answer = lam.invoke(FunctionName=fn.name, Qualifier=version)
    assert json.loads(answer["Payload"].read()) == {"statusCode": 200, "release": "first"}


@pytest.mark.parametrize(("params", "phrase"), [
    ({"S3Key": "s3-code/none.zip"}, "S3 Error Code: NoSuchKey"),
    ({"S3Key": "functions/s3-code.zip", "S3ObjectVersion": "no-such-version"}, "S3 Error Code: NoSuchVersion"),
    ({"S3Bucket": "no-such-bucket", "S3Key": "x.zip"}, "S3 Error Code: NoSuchBucket"),
    ({"S3Bucket": "eu-artifacts", "S3Key": "x.zip"},
     "S3 Error Code: PermanentRedirect. S3 Error Message: The bucket is in this region: eu-west-1"),
])
def test_code_lambda_cannot_read_is_refused_as_lambda_refuses_it(emulator, fn, params, phrase):
    s3 = emulator.client("s3")
    buckets = [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]
    if params.get("S3Bucket") == "eu-artifacts" and "eu-artifacts" not in buckets:
        s3.create_bucket(Bucket="eu-artifacts", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        s3.put_object(Bucket="eu-artifacts", Key="x.zip", Body=sample.zip_package(sample.release_source("eu")))
    lam = emulator.client("lambda")
    before = lam.get_function_configuration(FunctionName=fn.name)["CodeSha256"]

    with pytest.raises(ClientError) as refused:
        lam.update_function_code(FunctionName=fn.name, **{"S3Bucket": "artifacts", **params})

    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert phrase in refused.value.response["Error"]["Message"]
    assert lam.get_function_configuration(FunctionName=fn.name)["CodeSha256"] == before
