"""The emulator throttles as AWS does: token buckets per account, Region and API group (deployer/local/quotas.py).

The clock is frozen in these tests so a bucket refills only when the test says; every client here makes one
attempt (no retries), so each answer is the service's own.
"""

from __future__ import annotations

from collections import Counter

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from deployer.local.emulator import Emulator
from deployer.local.quotas import LAMBDA_CONTROL_PLANE, Quota, Quotas, mark_internal
from deployer.local.sample import push_image

ONE_ATTEMPT = Config(retries={"total_max_attempts": 1})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def account(clock):
    """An emulator with quotas on a frozen clock."""
    with Emulator(quotas=Quotas(clock=clock)) as emulator:
        yield emulator


def client(service: str, region: str = "us-east-1", **credentials):
    return boto3.client(service, region_name=region, config=ONE_ATTEMPT, **credentials)


def answer(call, *args, **kwargs) -> tuple[int, str]:
    """(HTTP status, error code or "ok")"""
    try:
        call(*args, **kwargs)
        return 200, "ok"
    except ClientError as exc:
        return exc.response["ResponseMetadata"]["HTTPStatusCode"], exc.response["Error"]["Code"]


def test_a_bucket_lets_its_size_through_at_once_then_its_refill_rate(clock):
    quotas = Quotas(clock=clock, table=lambda *_: Quota("test", size=3, refill=2))
    admitted = [quotas.admit("1", "r", "s", "Op") is None for _ in range(4)]
    clock.now += 0.5  # one token back
    admitted += [quotas.admit("1", "r", "s", "Op") is None for _ in range(2)]
    clock.now += 60  # a full bucket holds its size, no more
    admitted += [quotas.admit("1", "r", "s", "Op") is None for _ in range(4)]
    assert admitted == [True, True, True, False, True, False, True, True, True, False]
    assert quotas.throttled() == Counter({"test": 3})


def test_every_lambda_api_but_get_function_get_policy_and_invoke_shares_15_requests_a_second(account, clock):
    lam = client("lambda")
    resolve = f"{account.state_machine_name}-Resolve"
    spent = [answer(lam.list_functions) for _ in range(5)]
    spent += [answer(lam.list_aliases, FunctionName=resolve) for _ in range(5)]
    spent += [answer(lam.get_function_configuration, FunctionName=resolve) for _ in range(5)]
    assert spent == [(200, "ok")] * 15

    with pytest.raises(ClientError) as throttled:
        lam.list_versions_by_function(FunctionName=resolve)
    assert throttled.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert throttled.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert (throttled.value.response["Reason"], throttled.value.response["Type"]) == ("CallerRateLimitExceeded", "User")
    assert throttled.value.response["Error"]["Message"] == "Rate exceeded"

    assert answer(lam.get_function, FunctionName=resolve) == (200, "ok")  # GetFunction: a budget of its own
    assert answer(lam.invoke, FunctionName=account.function_arns["Reconcile"], Payload=b"{}") == (200, "ok")
    clock.now += 1 / 15
    assert [answer(lam.list_functions) for _ in range(2)] == [(200, "ok"), (429, "TooManyRequestsException")]
    assert account.quotas.throttled() == Counter({LAMBDA_CONTROL_PLANE: 2})


def test_provisioned_concurrency_calls_spend_the_same_budget(account):
    """moto answers them (deployer/local/fidelity/lambda_versions.py), so they meet the quota as any Lambda API."""
    lam = client("lambda")
    resolve = f"{account.state_machine_name}-Resolve"
    spent = [answer(lam.list_provisioned_concurrency_configs, FunctionName=resolve) for _ in range(15)]
    assert spent == [(200, "ok")] * 15
    assert answer(lam.get_provisioned_concurrency_config, FunctionName=resolve, Qualifier="1") == \
        (429, "TooManyRequestsException")


def test_each_region_and_each_account_has_its_own_buckets(account):
    lam = client("lambda")
    while answer(lam.list_functions) == (200, "ok"):
        pass
    assert answer(client("lambda", "eu-west-1").list_functions) == (200, "ok")
    credentials = client("sts").assume_role(RoleArn="arn:aws:iam::111111111111:role/other",
                                            RoleSessionName="quota-test")["Credentials"]
    other = client("lambda", aws_access_key_id=credentials["AccessKeyId"],
                   aws_secret_access_key=credentials["SecretAccessKey"], aws_session_token=credentials["SessionToken"])
    assert answer(other.list_functions) == (200, "ok")
    assert answer(lam.list_functions) == (429, "TooManyRequestsException")


def test_step_functions_buckets_are_larger_in_the_three_large_regions(account):
    answers = {}
    for region in ("eu-central-1", "us-east-1"):
        sfn = client("stepfunctions", region)
        machine = sfn.create_state_machine(name="waits", roleArn="arn:aws:iam::123456789012:role/sfn", definition=(
            '{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}'))["stateMachineArn"]
        answers[region] = Counter(answer(sfn.list_executions, stateMachineArn=machine) for _ in range(201))
    # ListExecutions: a bucket of 100 elsewhere, 200 in us-east-1, us-west-2 and eu-west-1
    assert answers["eu-central-1"] == Counter({(200, "ok"): 100, (400, "ThrottlingException"): 101})
    assert answers["us-east-1"] == Counter({(200, "ok"): 200, (400, "ThrottlingException"): 1})


def test_cloudwatch_and_ecr_answer_their_own_throttling_errors(account):
    cloudwatch, ecr = client("cloudwatch"), client("ecr")
    assert Counter(answer(cloudwatch.describe_alarms) for _ in range(10)) == \
        Counter({(200, "ok"): 9, (400, "Throttling"): 1})  # DescribeAlarms: 9 TPS
    ecr.create_repository(repositoryName="images")
    pushes = Counter(answer(push_image, ecr, "images", f"images:{n}", tag=f"v{n}") for n in range(11))
    assert pushes == Counter({(200, "ok"): 10, (400, "ThrottlingException"): 1})  # PutImage: 10/s
    assert answer(ecr.batch_get_image, repositoryName="images", imageIds=[{"imageTag": "v1"}]) == (200, "ok")


def test_a_services_own_calls_spend_none_of_the_accounts_budget(account):
    """Step Functions' clients (the interpreter invoking Lambda, polling child executions) are marked."""
    internal = client("lambda")
    mark_internal(internal)
    assert {answer(internal.list_functions) for _ in range(30)} == {(200, "ok")}
    assert Counter(answer(client("lambda").list_functions) for _ in range(16)) == \
        Counter({(200, "ok"): 15, (429, "TooManyRequestsException"): 1})


@pytest.mark.slow
def test_quotas_that_only_record_throttle_nothing_but_count_the_peak(clock):
    with Emulator(quotas=Quotas(clock=clock, enforce=False)) as emulator:
        lam = client("lambda")
        assert {answer(lam.list_functions) for _ in range(20)} == {(200, "ok")}
        clock.now += 1.5
        answer(lam.list_functions)
        assert emulator.quotas.peak(LAMBDA_CONTROL_PLANE) == 20
        assert emulator.quotas.throttled() == Counter()
