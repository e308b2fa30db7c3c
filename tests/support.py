"""Helpers shared by the tests: a sample world on the emulator, and bounded polling.

(Imported by name: ``from support import make_world``; pytest puts ``tests/`` on the path.)
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from botocore.exceptions import ClientError

from deployer.local import sample
from deployer.local.emulator import Emulator
from deployer.local.invocations import Behaviour
from handlers.domain import previews
from handlers.domain.images import digest_of, pinned_image


@dataclass
class World:
    """The sample function ``orders-api`` with version 1 live on ``live``, and images v2, v3 pushed."""

    emulator: Emulator
    fn: sample.SampleFunction
    v1: str
    v2: str
    v3: str

    def request(self, digest: str, **extra) -> dict:
        return {"function": self.fn.name, "image": self.fn.image(digest), **extra}

    def alias(self) -> dict:
        return self.emulator.client("lambda").get_alias(FunctionName=self.fn.name, Name=self.fn.alias)

    def weights(self) -> dict:
        return (self.alias().get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}

    def preview_alias(self, branch: str) -> dict | None:
        """The alias of ``branch``'s preview, or None when there is none."""
        try:
            return self.emulator.client("lambda").get_alias(FunctionName=self.fn.name, Name=previews.alias_for(branch))
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            return None

    def version_digest(self, version: str) -> str | None:
        code = self.emulator.client("lambda").get_function(FunctionName=self.fn.name, Qualifier=version)["Code"]
        return digest_of(pinned_image(code))

    def latest_digest(self) -> str | None:
        return digest_of(pinned_image(self.emulator.client("lambda").get_function(FunctionName=self.fn.name)["Code"]))

    def tag_digest(self, tag: str | None = None) -> str | None:
        images = self.emulator.client("ecr").batch_get_image(
            repositoryName=self.fn.repository_uri.rsplit("/", 1)[-1], imageIds=[{"imageTag": tag or self.fn.name}],
        )["images"]
        return images[0]["imageId"]["imageDigest"] if images else None

    def versions(self) -> list[str]:
        listed = self.emulator.client("lambda").list_versions_by_function(FunctionName=self.fn.name)["Versions"]
        return [v["Version"] for v in listed if v["Version"] != "$LATEST"]

    def writes(self, execution, *, task: str | None = None) -> list[str]:
        """The writes an execution made to the function and its images (not to the deployer's own table)."""
        return [call.operation for call in self.emulator.api.calls_of(execution.arn, mutating=True)
                if call.service in ("lambda", "ecr", "s3") and call.fault is None
                and (task is None or call.task == task)]

    def set_alarm(self, state: str = "ALARM") -> None:
        self.emulator.client("cloudwatch").set_alarm_state(AlarmName=self.fn.alarm, StateValue=state,
                                                           StateReason="set by the test")

    def settled_on(self) -> str:
        """The invariant after any deployment: one version, empty routing, tag and $LATEST on its image.
        Returns that version."""
        alias = self.alias()
        assert not self.weights(), f"alias left weighted: {alias.get('RoutingConfig')}"
        version = alias["FunctionVersion"]
        digest = self.version_digest(version)
        assert self.tag_digest() == digest, "function-name tag does not follow the live version"
        assert self.latest_digest() == digest, "$LATEST does not follow the live version"
        return version


@dataclass
class ZipWorld(World):
    """The zip function ``quotes-api`` (code from ``s3://artifacts/functions/quotes-api.zip``) with version 1 live
    on ``live``, and releases v2, v3 uploaded; ``v1``..``v3`` are their ``s3://`` URIs, and a "digest" is a
    CodeSha256 (base64 SHA-256): the function-named key's object, $LATEST and the live version must agree."""

    fn: sample.ZipFunction

    def request(self, code: str, **extra) -> dict:
        return {"function": self.fn.name, "code": code, **extra}

    def version_digest(self, version: str) -> str | None:
        lam = self.emulator.client("lambda")
        return lam.get_function_configuration(FunctionName=self.fn.name, Qualifier=version)["CodeSha256"]

    def latest_digest(self) -> str | None:
        return self.emulator.client("lambda").get_function_configuration(FunctionName=self.fn.name)["CodeSha256"]

    def tag_digest(self, tag: str | None = None) -> str | None:
        """The SHA-256 of what the function-named key holds (computed from its bytes, not from a checksum)."""
        body = self.emulator.client("s3").get_object(Bucket=self.fn.bucket, Key=f"functions/{self.fn.name}.zip")
        return base64.b64encode(hashlib.sha256(body["Body"].read()).digest()).decode()

    def sha_of(self, uri: str) -> str:
        key = uri.removeprefix(f"s3://{self.fn.bucket}/").split("?", 1)[0]
        body = self.emulator.client("s3").get_object(Bucket=self.fn.bucket, Key=key)["Body"].read()
        return base64.b64encode(hashlib.sha256(body).digest()).decode()


def make_zip_world(emulator: Emulator, name: str = "quotes-api", *, fail: tuple[str, ...] = ()) -> ZipWorld:
    """``fail``: the releases (of v2, v3) whose handler fails every request."""
    fn = sample.create_zip_function(emulator, name)
    for label in ("v2", "v3"):
        sample.upload_release(emulator, fn, label, fail=label in fail)
    return ZipWorld(emulator, fn, fn.uri("v1"), fn.uri("v2"), fn.uri("v3"))


def make_world(emulator: Emulator, name: str = "orders-api") -> World:
    fn = sample.create_function(emulator, name)
    ecr = emulator.client("ecr")
    v1 = ecr.describe_images(repositoryName=fn.name, imageIds=[{"imageTag": fn.name}])["imageDetails"][0]["imageDigest"]
    v2 = sample.push_image(ecr, fn.name, f"{name}:v2", tag="v2")
    v3 = sample.push_image(ecr, fn.name, f"{name}:v3", tag="v3")
    return World(emulator, fn, v1, v2, v3)


def split_function(emulator: Emulator, behaviour: Behaviour) -> sample.SampleFunction:
    """``orders-api`` with version 1 healthy and version 2 behaving as ``behaviour``, alias ``live`` half on each."""
    fn = sample.create_function(emulator)
    digest = sample.push_version(emulator, fn, "v2", behaviour)
    lam = emulator.client("lambda")
    lam.update_function_code(FunctionName=fn.name, ImageUri=fn.image(digest))
    lam.publish_version(FunctionName=fn.name)
    lam.update_alias(FunctionName=fn.name, Name=fn.alias, RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    return fn


class Inbox:
    """An SQS queue behind an EventBridge rule on the default bus, as a subscriber would set one up."""

    def __init__(self, emulator: Emulator, name: str, pattern: dict) -> None:
        self.sqs, bridge = emulator.client("sqs"), emulator.client("events")
        self.url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        bridge.put_rule(Name=name, EventPattern=json.dumps(pattern))
        bridge.put_targets(Rule=name, Targets=[{"Id": "inbox", "Arn": arn}])
        self.events: list[dict] = []

    def received(self) -> list[dict]:
        """Every event that arrived so far (the queue is drained into ``events``), in arrival order."""
        while messages := self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                self.events.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return self.events


def notifications_inbox(emulator: Emulator, name: str = "notifications") -> Inbox:
    """Every lifecycle notification of the deployer (docs/events.md)."""
    return Inbox(emulator, name, {"source": ["lambda-deployer"]})


def notified(inbox: Inbox, function: str) -> list[tuple[str, dict]]:
    """(detail-type, detail) of each notification about ``function``, in the order they were sent."""
    about = [e for e in inbox.received() if e["detail"]["function"] == function]
    return [(e["detail-type"], e["detail"]) for e in sorted(about, key=lambda e: e["detail"]["time"])]


def wait_for(condition, timeout: float = 10.0, what: str = "condition", every: float = 0.02):
    """Poll ``condition`` every ``every`` seconds until it is truthy (returned) or ``timeout`` passes
    (assertion error). With quotas on, poll slowly enough for the API's refill rate."""
    deadline, pause = time.monotonic() + timeout, threading.Event()
    while not (result := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        pause.wait(every)
    return result


@dataclass(frozen=True)
class Call:
    """One call of the alias as its client saw it: when (between ``sent`` and ``answered``, UTC), which version ran."""

    sent: datetime
    answered: datetime
    version: str | None
    failed: bool


class Traffic:
    """Clients calling the alias in a background thread: ``rate`` invocations a second, until ``count`` were made,
    ``seconds`` passed or ``stop()``; then the thread ends by itself. ``with Traffic(world, …) as traffic:``.

    Paced by the clock (a late call is made at once, not skipped), so the rate holds while the emulator is busy
    and a slow machine sends the same calls a little later. ``calls`` is what the clients saw, call by call.
    """

    def __init__(self, world: World, *, rate: float, count: int, seconds: float = 60.0) -> None:
        self.world, self.rate, self.count, self.seconds = world, rate, count, seconds
        self.calls: list[Call] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drive, daemon=True, name="traffic")

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def of(self, version: str) -> list[Call]:
        return [call for call in list(self.calls) if call.version == version]

    def _drive(self) -> None:
        lam = self.world.emulator.client("lambda")
        started = time.monotonic()
        while len(self.calls) < self.count and time.monotonic() - started < self.seconds:
            due = started + len(self.calls) / self.rate
            if self._stop.wait(max(0.0, due - time.monotonic())):
                return
            sent = datetime.now(UTC)
            answer = lam.invoke(FunctionName=self.world.fn.name, Qualifier=self.world.fn.alias, Payload=b"{}")
            self.calls.append(Call(sent, datetime.now(UTC), answer.get("ExecutedVersion"),
                                   bool(answer.get("FunctionError"))))


def deploy_args(world: World, digest: str, *extra: str) -> tuple[str, ...]:
    """``deploy --function orders-api --image …@digest --alarm orders-api-errors EXTRA``"""
    return ("deploy", "--function", world.fn.name, "--image", world.fn.image(digest), "--alarm", world.fn.alarm,
            *extra)


def fire_alarm_once_weighted(world: World) -> threading.Thread:
    """Like an error spike from a bad canary: the alarm goes off once the new version takes traffic."""
    def fire() -> None:
        wait_for(world.weights, what="the canary")
        world.set_alarm("ALARM")

    thread = threading.Thread(target=fire, daemon=True)
    thread.start()
    return thread


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> dict:
        return json.loads(self.out)


FOLLOWING_COMMANDS = ("deploy", "rollback", "prune", "preview-delete")


def run_cli(capsys, *args: str) -> CliResult:
    """``lambda-deployer --region us-east-1 ARGS`` in process (the emulator intercepts its AWS calls);
    deploy and rollback poll every 50 ms instead of 2 s."""
    from deployer.cli import COMMANDS, main

    argv = ["--region", "us-east-1", *args]
    command = next((i for i, arg in enumerate(argv) if arg in COMMANDS), None)
    if command is not None and argv[command] in FOLLOWING_COMMANDS:
        argv.insert(command + 1, "--poll-interval=0.05")
    capsys.readouterr()
    code = main(argv)
    out, err = capsys.readouterr()
    return CliResult(code, out, err)
