"""A sample world for the emulator: an ECR repository with images, an image function, an alarm.

Used by the demo and the tests; the same calls work against ``local serve`` or real AWS.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


def manifest(content: str) -> str:
    """A Docker image manifest whose layers (hence digest) are derived from ``content``."""
    def blob(kind: str) -> str:
        return "sha256:" + hashlib.sha256(f"{kind}:{content}".encode()).hexdigest()

    return json.dumps({
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1469,
                   "digest": blob("config")},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 31_415_926,
                    "digest": blob("layer")}],
    })


def push_image(ecr, repository: str, content: str, tag: str | None = None) -> str:
    """Push an image (as CI would) and return its digest."""
    params = {"repositoryName": repository, "imageManifest": manifest(content),
              "imageManifestMediaType": MANIFEST_TYPE}
    if tag:
        params["imageTag"] = tag
    return ecr.put_image(**params)["image"]["imageId"]["imageDigest"]


@dataclass(frozen=True)
class SampleFunction:
    name: str
    repository_uri: str
    alias: str
    alarm: str

    def image(self, digest: str) -> str:
        return f"{self.repository_uri}@{digest}"


def create_function(emulator, name: str = "orders-api", *, repository: str | None = None,
                    alias: str | None = "live", first_image: str = "v1",
                    tags: dict[str, str] | None = None) -> SampleFunction:
    """An image function as its IaC would create it: image ``repo:<name>``, version 1 live on ``alias``,
    tagged ``lambda-deployer:managed=true`` (plus ``tags``), and an error alarm for it (state OK)."""
    ecr, lam, iam = emulator.client("ecr"), emulator.client("lambda"), emulator.client("iam")
    cloudwatch = emulator.client("cloudwatch")
    repository = repository or name
    try:
        repository_uri = ecr.create_repository(repositoryName=repository)["repository"]["repositoryUri"]
    except ecr.exceptions.RepositoryAlreadyExistsException:
        repository_uri = ecr.describe_repositories(repositoryNames=[repository])["repositories"][0]["repositoryUri"]
    push_image(ecr, repository, f"{name}:{first_image}", tag=f"{name}-{first_image}")
    push_image(ecr, repository, f"{name}:{first_image}", tag=name)  # the function-name tag IaC refers to
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                 "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]["Arn"]
    lam.create_function(FunctionName=name, Role=role, PackageType="Image", Publish=True,
                        Code={"ImageUri": f"{repository_uri}:{name}"}, Architectures=["arm64"],
                        Tags={"lambda-deployer:managed": "true", **(tags or {})})
    if alias:
        lam.create_alias(FunctionName=name, Name=alias, FunctionVersion="1")
    alarm = f"{name}-errors"
    cloudwatch.put_metric_alarm(
        AlarmName=alarm, Namespace="AWS/Lambda", MetricName="Errors", Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
        Dimensions=[{"Name": "FunctionName", "Value": name}, {"Name": "Resource", "Value": f"{name}:{alias}"}],
        TreatMissingData="notBreaching",
    )
    return SampleFunction(name, repository_uri, alias or "live", alarm)


def create_fleet(emulator, count: int, *, repository: str = "shop", track: str = "main",
                 strategy: str = "Canary10Percent1Minute", check_interval: int = 10) -> list[SampleFunction]:
    """``count`` functions sharing ``repository``, each tracking ``repository:track`` with its own alarm:
    one push of that tag deploys them all."""
    functions = []
    for index in range(count):
        name = f"{repository}-{index:02d}"
        tags = {"lambda-deployer:track": f"{repository}:{track}", "lambda-deployer:strategy": strategy,
                "lambda-deployer:check-interval": str(check_interval), "lambda-deployer:alarms": f"{name}-errors"}
        functions.append(create_function(emulator, name, repository=repository, tags=tags))
    return functions
