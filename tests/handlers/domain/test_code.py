"""Zip package references (handlers.domain.code): what a version records of its source, and reads back."""

from __future__ import annotations

import pytest

from handlers.domain.code import (
    CodeRef,
    description,
    full_object_sha256,
    function_key,
    parse_code_uri,
    recorded_source,
)

SHA = "up7Fb0pjN7Z7ZVUl8q3/M2xE0ATgUZpiSdS6sm+plkI="


def test_a_version_reads_back_the_source_it_was_published_from():
    code = CodeRef("artifacts", "orders/1 2+3%41.zip", "v/1+2", SHA)
    recorded = recorded_source(description(code), SHA)
    assert recorded == code
    assert description(code) == "lambda-deployer s3://artifacts/orders/1 2+3%41.zip?versionId=v%2F1%2B2"


@pytest.mark.parametrize("text", [None, "", "deployed by hand", "lambda-deployer sha256:" + "a" * 64,
                                  "lambda-deployer s3://Bad_Bucket/x.zip"])
def test_a_version_lambda_deployer_did_not_publish_from_s3_records_no_source(text):
    assert recorded_source(text, SHA) is None


def test_only_a_whole_object_checksum_is_a_code_sha256():
    assert full_object_sha256(SHA) == SHA
    assert full_object_sha256("abcd1234-3") is None  # a multipart upload's checksum of part checksums
    assert full_object_sha256(None) is None


def test_the_function_named_key():
    assert function_key("orders-api") == "functions/orders-api.zip"
    assert parse_code_uri("s3://artifacts/functions/orders-api.zip").location == {
        "S3Bucket": "artifacts", "S3Key": "functions/orders-api.zip"}
