"""Lambda as AWS documents it, where moto 5.2.5 differs (MOTO_GAPS.md, "Lambda").

Revision ids: moto keeps one per alias (``LambdaAlias.revision_id``, set at creation) and none per function;
the emulator changes the alias' own on every update and keeps one per function object ($LATEST and each
version) beside moto's attributes.
"""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from urllib.parse import unquote

from moto.awslambda import exceptions as lambda_errors
from moto.awslambda.models import LambdaAlias, LambdaFunction, LambdaStorage, _s3_content
from moto.awslambda.responses import LambdaResponse
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.ecr.models import ecr_backends
from moto.s3.exceptions import MissingBucket
from moto.s3.models import s3_backends

from deployer.local import invocations
from deployer.local.faults import task_scope
from deployer.local.invocations import Invoker
from deployer.local.patching import Patch, original
from deployer.local.readiness import Readiness
from handlers.domain.images import parse_image_uri


class ResourceConflictException(lambda_errors.LambdaClientError):
    def __init__(self, message: str):
        super().__init__("ResourceConflictException", message)


_revisions = threading.Lock()  # executions run in threads: two first reads must not mint two revisions


def _revision(fn: LambdaFunction) -> str:
    """A function's RevisionId (moto has none): minted at first read, changed by every update."""
    with _revisions:
        if not getattr(fn, "_emulator_revision", None):
            fn._emulator_revision = str(uuid.uuid4())
        return fn._emulator_revision


def _bump(fn: LambdaFunction) -> None:
    with _revisions:
        fn._emulator_revision = str(uuid.uuid4())


def _updating(fn: LambdaFunction) -> bool:
    return time.monotonic() < getattr(fn, "_emulator_busy_until", 0.0)


def _check_latest(response: LambdaResponse) -> tuple[LambdaFunction, dict]:
    """What PublishVersion and UpdateFunctionCode refuse: a running update (409), a stale RevisionId (412)."""
    latest = response.backend.get_function(unquote(response.path.split("/")[-2]))
    body = json.loads(response.body or "{}")
    if _updating(latest):
        raise ResourceConflictException(
            f"The operation cannot be performed at this time. An update is in progress for resource: "
            f"{latest.function_arn}"
        )
    if body.get("RevisionId") and body["RevisionId"] != _revision(latest):
        raise lambda_errors.PreconditionFailedException(
            "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API "
            "to retrieve the latest Revision Id"
        )
    return latest, body


def _get_object_error(code: str, message: str) -> lambda_errors.InvalidParameterValueException:
    """How Lambda reports an S3 object it cannot read: InvalidParameterValueException naming S3's error."""
    return lambda_errors.InvalidParameterValueException(
        f"Error occurred while GetObject. S3 Error Code: {code}. S3 Error Message: {message}"
    )


def _set_s3_code(fn: LambdaFunction, spec: dict) -> None:
    """AWS: Lambda reads the package from "an Amazon S3 bucket in the same AWS Region as your function", and
    ``S3ObjectVersion`` is "the version of the deployment package object to use" (UpdateFunctionCode and
    FunctionCode API references); CodeSha256 is the base64 SHA-256 of that object. moto reads the key's current
    object whatever the version asked for and never checks the bucket's region (its own FIXME)."""
    s3 = s3_backends[fn.account_id][fn.partition]
    try:
        bucket = s3.get_bucket(spec["S3Bucket"])
    except MissingBucket:
        raise _get_object_error("NoSuchBucket", "The specified bucket does not exist") from None
    if bucket.region_name != fn.region:
        raise _get_object_error("PermanentRedirect", f"The bucket is in this region: {bucket.region_name}. "
                                                     "Please use this region to retry the request")
    version = spec.get("S3ObjectVersion")
    key = s3.get_object(spec["S3Bucket"], spec["S3Key"], version_id=version)
    if key is None:
        if version:
            raise _get_object_error("NoSuchVersion", "The specified version does not exist.")
        raise _get_object_error("NoSuchKey", "The specified key does not exist.")
    fn.code_bytes, fn.code_size, fn.code_sha_256, fn.code_digest = _s3_content(key)
    if spec is not fn.code:
        for name in ("ZipFile", "S3ObjectVersion"):
            fn.code.pop(name, None)
        fn.code.update({name: spec[name] for name in ("S3Bucket", "S3Key", "S3ObjectVersion") if name in spec})


def patches(*, code_update_seconds: float, invoker: Invoker, readiness: Readiness | None = None) -> list[Patch]:
    """``code_update_seconds``: how long ``UpdateFunctionCode`` keeps ``LastUpdateStatus=InProgress`` (AWS
    takes seconds to minutes; during it ``PublishVersion`` and another update are refused with 409).
    ``invoker`` runs every invocation (``deployer.local.invocations``); ``readiness`` holds the versions that are
    not Active and the provisioned concurrency allocations (``deployer.local.readiness``)."""
    readiness = readiness or Readiness()
    moto = {
        "get_configuration": original(LambdaFunction, "get_configuration"),
        "get_code": original(LambdaFunction, "get_code"),
        "set_code": original(LambdaFunction, "_set_function_code"),
        "update_code": original(LambdaFunction, "update_function_code"),
        "update_config": original(LambdaFunction, "update_configuration"),
        "publish": original(LambdaStorage, "publish_version"),
        "alias_update": original(LambdaAlias, "update"),
        "r_update_alias": original(LambdaResponse, "update_alias"),
        "r_publish": original(LambdaResponse, "publish_version"),
        "r_update_code": original(LambdaResponse, "update_function_code"),
    }

    # AWS: a function has a RevisionId that changes with every code or configuration update, and
    # LastUpdateStatus is InProgress until an update has been applied.
    def get_configuration(self, on_create=False):
        config = moto["get_configuration"](self, on_create)
        config["RevisionId"] = _revision(self)
        if str(self.version) != "$LATEST" and (held := readiness.state(self.function_name, str(self.version))):
            config["State"], config["StateReason"] = held
            config["StateReasonCode"] = {"Pending": "Creating", "Inactive": "Idle"}.get(held[0], "InternalError")
        if _updating(self):
            config["LastUpdateStatus"] = "InProgress"
            config["LastUpdateStatusReason"] = "The function is being updated."
        return config

    def update_code(self, updated_spec):
        moto["update_code"](self, updated_spec)
        _bump(self)
        self._emulator_busy_until = time.monotonic() + code_update_seconds
        return get_configuration(self)

    def update_config(self, config_updates):
        moto["update_config"](self, config_updates)
        _bump(self)
        return get_configuration(self)

    # AWS: Lambda resolves an image URI against ECR: the image must exist (InvalidParameterValueException
    # otherwise), CodeSha256 is the image digest, and ResolvedImageUri pins it. moto stubs all three.
    def set_code(self, updated_spec):
        if updated_spec.get("DryRun"):
            return moto["set_code"](self, updated_spec)
        if "S3Bucket" in updated_spec and "S3Key" in updated_spec:
            return _set_s3_code(self, updated_spec)
        if "ImageUri" not in updated_spec:
            return moto["set_code"](self, updated_spec)
        image = parse_image_uri(updated_spec["ImageUri"])
        ecr = ecr_backends[image.account][image.region]
        image_id = {"imageDigest": image.digest} if image.digest else {"imageTag": image.tag}
        try:
            found = ecr.batch_get_image(repository_name=image.repository, image_ids=[image_id])["images"]
        except Exception:
            found = []
        if not found:
            raise lambda_errors.InvalidParameterValueException(
                f"Source image {updated_spec['ImageUri']} does not exist. Provide a valid source image."
            )
        self.code_sha_256 = found[0].image_id["imageDigest"].removeprefix("sha256:")
        self.code_size = json.loads(found[0].image_manifest).get("config", {}).get("size", 0)
        if updated_spec is not self.code:
            self.code["ImageUri"] = updated_spec["ImageUri"]
        return None

    def get_code(self):
        code = moto["get_code"](self)
        if "ImageUri" in self.code:
            image = parse_image_uri(self.code["ImageUri"])
            code["Code"]["ResolvedImageUri"] = f"{image.repository_uri}@sha256:{self.code_sha_256}"
        return code

    # AWS: a published version keeps the code it was published with (moto's shallow copy shares the
    # code dict with $LATEST, so a later update rewrote every version's ImageUri).
    def publish(self, name_or_arn, description=""):
        version = moto["publish"](self, name_or_arn, description)
        if version is not None:
            version.code = copy.deepcopy(version.code)
            readiness.published(version.function_name, str(version.version))
        return version

    # AWS: every alias update issues a new RevisionId (moto keeps the one it minted at creation, and
    # LambdaAlias.to_json reports it); UpdateAlias, PublishVersion and UpdateFunctionCode refuse a stale
    # RevisionId with 412 PreconditionFailedException; PublishVersion refuses a CodeSha256 that is not
    # $LATEST's; both refuse while an update is in progress (409).
    def alias_update(self, description, function_version, routing_config):
        moto["alias_update"](self, description, function_version, routing_config)
        self.revision_id = str(uuid.uuid4())
        readiness.routing_changed(self.arn.rsplit(":", 1)[0], self.name,  # the alias ARN is the function's + name
                                  (routing_config or {}).get("AdditionalVersionWeights") or {})

    def r_update_alias(self):
        function_name = unquote(self.path.rsplit("/")[-3])
        alias_name = unquote(self.path.rsplit("/", 2)[-1])
        expected = json.loads(self.body or "{}").get("RevisionId")
        current = self.backend.get_alias(name=alias_name, function_name=function_name)
        if expected and expected != current.revision_id:
            raise lambda_errors.PreconditionFailedException(
                "The Revision Id provided does not match the latest Revision Id. Call the GetAlias API to "
                "retrieve the latest Revision Id"
            )
        return moto["r_update_alias"](self)

    def r_publish(self):
        latest, body = _check_latest(self)
        if body.get("CodeSha256") and body["CodeSha256"] != latest.code_sha_256:
            raise lambda_errors.InvalidParameterValueException(
                f"CodeSHA256 ({body['CodeSha256']}) is different from current CodeSHA256 in $LATEST "
                f"({latest.code_sha_256}). Please try again with the CodeSHA256 in $LATEST."
            )
        return moto["r_publish"](self)

    def r_update_code(self):
        _check_latest(self)
        return moto["r_update_code"](self)

    # AWS: invoking a function runs its code, the alias' routing picks the version, and Lambda records
    # its metrics; moto's docker-less backend answers with a canned payload (deployer.local.invocations).
    # The invoked code runs outside its caller's task scope (a task invoking a user's hook or the function it
    # deploys): on AWS its own calls are made with its own role, so they are neither the caller's calls nor
    # judged by the caller's permissions. A deployer task function sets its own scope.
    def invoke(self, function_name, qualifier, body, headers, response_headers):
        with task_scope(None):
            return invoker.invoke(self, function_name, qualifier, body, headers, response_headers)

    return [
        Patch(LambdaFunction, "get_configuration", get_configuration, ("self", "on_create"),
              why="RevisionId and LastUpdateStatus=InProgress"),
        Patch(LambdaFunction, "get_code", get_code, ("self",), why="ResolvedImageUri"),
        Patch(LambdaFunction, "_set_function_code", set_code, ("self", "updated_spec"),
              why="image URIs resolved against ECR: must exist, CodeSha256 is the digest; S3 code read from "
                  "S3ObjectVersion, in the function's region"),
        Patch(LambdaFunction, "update_function_code", update_code, ("self", "updated_spec"),
              why="a code update changes the RevisionId and stays InProgress for a while"),
        Patch(LambdaFunction, "update_configuration", update_config, ("self", "config_updates"),
              why="a configuration update changes the RevisionId"),
        Patch(LambdaStorage, "publish_version", publish, ("self", "name_or_arn", "description"),
              why="a version keeps its own code"),
        Patch(LambdaAlias, "update", alias_update, ("self", "description", "function_version", "routing_config"),
              why="an alias update changes the alias' RevisionId"),
        Patch(LambdaResponse, "update_alias", r_update_alias, ("self",), uses=("backend",),
              why="UpdateAlias refuses a stale RevisionId (412)"),
        Patch(LambdaResponse, "publish_version", r_publish, ("self",), uses=("backend",),
              why="PublishVersion refuses a stale RevisionId (412), another CodeSha256, a running update (409)"),
        Patch(LambdaResponse, "update_function_code", r_update_code, ("self",), uses=("backend",),
              why="UpdateFunctionCode refuses a stale RevisionId (412) and a running update (409)"),
        Patch(LambdaResponse, "invoke", invocations.respond, ("self",), uses=("backend",),
              why="Invoke reads the Qualifier query parameter (moto reads 'qualifier' and runs $LATEST)"),
        Patch(LambdaSimpleBackend, "invoke", invoke,
              ("self", "function_name", "qualifier", "body", "headers", "response_headers"),
              why="an invocation runs the code of the version the alias routes it to"),
    ]
