"""A sample world for the emulator: an ECR repository with images, an image function, an alarm.

Used by the demo and the tests; the same calls work against ``local serve`` or real AWS. What each sample
image does when invoked is its ``Behaviour`` (the emulator cannot run images), registered with an in-process
emulator by ``create_function`` and ``push_version``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass

from deployer.local.invocations import Behaviour
from handlers.domain import tags as deployer_tags

MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"

HEALTHY = Behaviour(duration_ms=40, jitter_ms=30, result={"statusCode": 200})
FAILING = Behaviour(error_rate=0.25, duration_ms=40, jitter_ms=30, result={"statusCode": 200},
                    error_type="OrderStoreError", error_message="the order store refused the write")
SLOW = Behaviour(duration_ms=900, jitter_ms=400, result={"statusCode": 200})


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

    @property
    def repository(self) -> str:
        return self.repository_uri.rsplit("/", 1)[-1]


def register(emulator, digest: str, behaviour: Behaviour | None) -> None:
    """Say what an image does when invoked (only an in-process emulator runs behaviours)."""
    if behaviour is not None and hasattr(emulator, "behaviours"):
        emulator.behaviours.register(digest, behaviour)


def push_version(emulator, fn: SampleFunction, label: str, behaviour: Behaviour | None = HEALTHY) -> str:
    """Push the image ``<name>:<label>`` tagged ``label`` (as CI would), with its behaviour; returns its digest."""
    digest = push_image(emulator.client("ecr"), fn.repository, f"{fn.name}:{label}", tag=label)
    register(emulator, digest, behaviour)
    return digest


def create_function(emulator, name: str = "orders-api", *, repository: str | None = None,
                    alias: str | None = "live", first_image: str = "v1",
                    tags: dict[str, str] | None = None, behaviour: Behaviour | None = HEALTHY) -> SampleFunction:
    """An image function as its IaC would create it: image ``repo:<name>``, version 1 live on ``alias``,
    tagged ``lambda-deployer:managed=true`` (plus ``tags``), and an error alarm for it (INSUFFICIENT_DATA
    until its first evaluation, then OK: no errors reported are not breaching). Its first image behaves as
    ``behaviour``."""
    ecr, lam, iam = emulator.client("ecr"), emulator.client("lambda"), emulator.client("iam")
    cloudwatch = emulator.client("cloudwatch")
    repository = repository or name
    try:
        repository_uri = ecr.create_repository(repositoryName=repository)["repository"]["repositoryUri"]
    except ecr.exceptions.RepositoryAlreadyExistsException:
        repository_uri = ecr.describe_repositories(repositoryNames=[repository])["repositories"][0]["repositoryUri"]
    first = push_image(ecr, repository, f"{name}:{first_image}", tag=f"{name}-{first_image}")
    register(emulator, first, behaviour)
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


def create_python_function(emulator, name: str, source: str, *, hook: bool = True, timeout: int = 3) -> str:
    """A zip function whose ``handler`` is defined in ``source`` (module ``main``), tagged as a hook the deployer
    may invoke (``lambda-deployer:hook=true``) unless ``hook=False``; returns its ARN. The emulator runs it."""
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("main.py", source)
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "lambda.amazonaws.com"}}]}
    role = emulator.client("iam").create_role(RoleName=f"{name}-role",
                                              AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    return emulator.client("lambda").create_function(
        FunctionName=name, Runtime="python3.13", Handler="main.handler", Role=role, Timeout=timeout,
        Code={"ZipFile": package.getvalue()}, Tags={deployer_tags.HOOK: "true"} if hook else {},
    )["FunctionArn"]


def zip_package(source: str) -> bytes:
    """A Python deployment package: ``source`` as module ``main`` (handler ``main.handler``)."""
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("main.py", source)
    return package.getvalue()


def release_source(label: str, *, fail: bool = False) -> str:
    """A release's handler: answers which release it is, or fails every request (a bad release)."""
    if fail:
        return f"def handler(event, context):\n    raise RuntimeError('release {label} is broken')\n"
    return f"def handler(event, context):\n    return {{'statusCode': 200, 'release': {label!r}}}\n"


@dataclass(frozen=True)
class ZipFunction:
    """A zip function whose IaC points at ``s3://<bucket>/functions/<name>.zip``."""

    name: str
    bucket: str
    alias: str
    alarm: str

    def release(self, label: str) -> str:
        return f"{self.name}/{label}.zip"

    def uri(self, label: str) -> str:
        return f"s3://{self.bucket}/{self.release(label)}"


def upload_release(emulator, fn: ZipFunction, label: str, *, fail: bool = False) -> str:
    """Upload ``s3://<bucket>/<name>/<label>.zip`` as CI would; returns its object version id."""
    return emulator.client("s3").put_object(Bucket=fn.bucket, Key=fn.release(label),
                                            Body=zip_package(release_source(label, fail=fail)))["VersionId"]


def create_zip_function(emulator, name: str = "quotes-api", *, bucket: str = "artifacts", alias: str | None = "live",
                        tags: dict[str, str] | None = None) -> ZipFunction:
    """A Python zip function as its IaC would create it: code from ``s3://<bucket>/functions/<name>.zip`` (a
    versioned bucket; release v1 uploaded there and under ``<name>/v1.zip``), version 1 live on ``alias``,
    tagged managed, and an error alarm as ``create_function`` makes one."""
    s3, lam, iam = emulator.client("s3"), emulator.client("lambda"), emulator.client("iam")
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):  # several functions share a bucket
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    fn = ZipFunction(name, bucket, alias or "live", f"{name}-errors")
    upload_release(emulator, fn, "v1")
    s3.put_object(Bucket=bucket, Key=f"functions/{name}.zip", Body=zip_package(release_source("v1")))
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                 "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]["Arn"]
    lam.create_function(FunctionName=name, Role=role, Runtime="python3.13", Handler="main.handler", Publish=True,
                        Code={"S3Bucket": bucket, "S3Key": f"functions/{name}.zip"}, Architectures=["arm64"],
                        Tags={"lambda-deployer:managed": "true", **(tags or {})})
    if alias:
        lam.create_alias(FunctionName=name, Name=alias, FunctionVersion="1")
    emulator.client("cloudwatch").put_metric_alarm(
        AlarmName=fn.alarm, Namespace="AWS/Lambda", MetricName="Errors", Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
        Dimensions=[{"Name": "FunctionName", "Value": name}, {"Name": "Resource", "Value": f"{name}:{fn.alias}"}],
        TreatMissingData="notBreaching",
    )
    return fn


def create_fleet(emulator, count: int, *, analysis: bool, repository: str = "shop", track: str = "main",
                 strategy: str = "Canary10Percent1Minute", check_interval: int = 10) -> list[SampleFunction]:
    """``count`` functions sharing ``repository``, each tracking ``repository:track`` with its own alarm:
    one push of that tag deploys them all. ``analysis`` is their ``lambda-deployer:analysis`` tag: without
    traffic on them, say False (alarms alone judge), or every canary would roll back as inconclusive."""
    functions = []
    for index in range(count):
        name = f"{repository}-{index:02d}"
        tags = {"lambda-deployer:track": f"{repository}:{track}", "lambda-deployer:strategy": strategy,
                "lambda-deployer:check-interval": str(check_interval), "lambda-deployer:alarms": f"{name}-errors",
                "lambda-deployer:analysis": str(analysis).lower()}
        functions.append(create_function(emulator, name, repository=repository, tags=tags))
    return functions
