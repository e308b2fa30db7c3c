"""Execution names: what it is, and the same name for the same request in the same CI run."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from deployer import naming

REQUEST = {"function": "orders-api", "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders@sha256:" + "ab" * 32}
GITHUB = {"GITHUB_RUN_ID": "77", "GITHUB_RUN_ATTEMPT": "1", "GITHUB_ACTOR": "ana", "GITHUB_REPOSITORY": "acme/orders"}


def test_a_retry_of_the_same_ci_run_gets_the_same_key_and_another_run_another():
    first = naming.request_key(REQUEST, naming.ci_run(GITHUB))
    assert naming.request_key(REQUEST, naming.ci_run({**GITHUB, "GITHUB_RUN_ATTEMPT": "2"})) == first
    assert naming.request_key(REQUEST, naming.ci_run({**GITHUB, "GITHUB_RUN_ID": "78"})) != first
    assert naming.request_key({**REQUEST, "strategy": "Canary10Percent5Minutes"}, naming.ci_run(GITHUB)) != first
    assert re.fullmatch(r"[0-9a-f]{8}", first)


def test_the_name_says_function_and_image_and_fits_step_functions_limits():
    key = naming.request_key(REQUEST, None)
    assert key == "653c3ac6"  # sha256sum of the request's sorted, compact JSON and a newline (no CI run)
    what = naming.image_part(REQUEST["image"])
    assert naming.execution_name("orders-api", what, key) == "orders-api-abababababab-653c3ac6"
    long = naming.execution_name("f" * 64, what, key, naming.redeploy_suffix(datetime(2025, 5, 1, 12, tzinfo=UTC)))
    assert len(long) == 80 and long.endswith(f"-abababababab-{key}-20250501T120000")
    assert re.fullmatch(r"[A-Za-z0-9_-]+", naming.execution_name("fn", naming.image_part("x/r:v1.2+b"), key))


def test_who_asked_is_the_ci_run_or_the_person():
    assert naming.requested_by(GITHUB) == "ana via GitHub Actions run 77 (acme/orders)"
    assert naming.requested_by({"CI_PIPELINE_ID": "9", "CI_PROJECT_PATH": "acme/orders",
                                "GITLAB_USER_LOGIN": "bo"}) == "bo via GitLab pipeline 9 (acme/orders)"
    assert naming.requested_by({"USER": "cy"}).startswith("cy@")
    assert naming.ci_run({"CI": "true"}) is None  # no run identity: a retry cannot be told from a redeploy
