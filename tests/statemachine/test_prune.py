"""Pruning on the emulator: exactly the versions nothing uses go, in batches, and the report says why."""

from __future__ import annotations

import io
import zipfile

import pytest
from support import wait_for

from deployer.local import sample
from deployer.local.faults import THROTTLE, Fault
from handlers.aws import deployments
from handlers.domain import pruning, tags


def publish(world, count: int) -> None:
    """``count`` more versions of the sample function, each its own image (as count deployments would leave)."""
    lam, ecr = world.emulator.client("lambda"), world.emulator.client("ecr")
    for index in range(count):
        digest = sample.push_image(ecr, world.fn.repository, f"{world.fn.name}:extra-{index}")
        lam.update_function_code(FunctionName=world.fn.name, ImageUri=world.fn.image(digest))
        lam.publish_version(FunctionName=world.fn.name)


def prune(world, **extra):
    return world.emulator.run({"action": "prune", "function": world.fn.name, **extra}, timeout=120)


@pytest.fixture
def thirty(fast_world):
    """Versions 1 to 30 with uses on some: alias live on 25 routing 10% to 26, a preview on 12, alias batch on 3
    with an event source mapping on it, an event source mapping on version 5, provisioned concurrency on 8."""
    world = fast_world
    publish(world, 29)
    lam, sqs = world.emulator.client("lambda"), world.emulator.client("sqs")
    lam.update_alias(FunctionName=world.fn.name, Name="live", FunctionVersion="25",
                     RoutingConfig={"AdditionalVersionWeights": {"26": 0.1}})
    lam.create_alias(FunctionName=world.fn.name, Name="preview-feature-x", FunctionVersion="12")
    lam.create_alias(FunctionName=world.fn.name, Name="batch", FunctionVersion="3")
    for qualifier, queue in (("5", "orders"), ("batch", "nightly")):
        queue_arn = sqs.get_queue_attributes(QueueUrl=sqs.create_queue(QueueName=queue)["QueueUrl"],
                                             AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        lam.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=f"{world.fn.name}:{qualifier}")
    lam.put_provisioned_concurrency_config(FunctionName=world.fn.name, Qualifier="8",
                                           ProvisionedConcurrentExecutions=1)
    return world


IN_USE = {"3", "5", "8", "12", "25", "26"}
NEWEST_3 = {"28", "29", "30"}


def test_with_thirty_versions_exactly_the_unused_old_ones_go_and_a_second_run_deletes_nothing(thirty):
    execution = prune(thirty, keep=3)

    assert execution.status == "SUCCEEDED", execution.cause
    report = execution.output
    expected = sorted(set(map(str, range(1, 31))) - IN_USE - NEWEST_3, key=int)
    assert report["deleted"] == expected and len(expected) == 21
    assert set(thirty.versions()) == IN_USE | NEWEST_3
    assert set(report["kept"]) == IN_USE | NEWEST_3 and report["notDeleted"] == {}
    assert report["kept"]["26"] == ["alias live routes 10% to it"]
    assert report["kept"]["5"] == [f"event source mapping {mapping_on(thirty, '5')}"]
    assert report["kept"]["3"][0] == "alias batch" and "event source mapping" in report["kept"]["3"][1]
    assert report["kept"]["8"] == ["provisioned concurrency"]
    assert report["kept"]["29"] == ["one of the newest 3"]
    # 21 deletions in batches of 10: three Prune tasks, a pause after each
    assert execution.states_entered().count("Prune") == 3
    assert report["freedBytes"] == 0  # image versions: their code is in ECR, not in Lambda's code storage
    assert report["codeStorage"]["quotaBytes"] == 75 * 1024**3

    again = prune(thirty, keep=3)
    assert again.status == "SUCCEEDED" and again.output["deleted"] == [] and again.output["toDelete"] == []
    assert "Prune" not in again.states_entered()


def mapping_on(world, qualifier: str) -> str:
    mappings = world.emulator.client("lambda").list_event_source_mappings()["EventSourceMappings"]
    return next(m["UUID"] for m in mappings if m["FunctionArn"].endswith(f":{qualifier}"))


def test_a_dry_run_reports_what_would_go_and_deletes_nothing(thirty):
    execution = prune(thirty, keep=3, dryRun=True)

    assert execution.status == "SUCCEEDED", execution.cause
    assert len(execution.output["toDelete"]) == 21 and execution.output["deleted"] == []
    assert len(thirty.versions()) == 30
    assert not thirty.emulator.api.calls_of(execution.arn, mutating=True)


def test_the_running_deployment_and_the_last_deployments_rollback_target_are_kept(fast_world):
    world = fast_world
    assert world.emulator.run(world.request(world.v2)).status == "SUCCEEDED"  # 1 -> 2: a rollback returns to 1
    publish(world, 4)  # 3..6, unused
    running = world.emulator.start_execution(world.request(world.v3, strategy={"steps": [
        {"weight": 10, "bakeSeconds": 600}]}, checkIntervalSeconds=600))
    wait_for(world.weights, what="the canary")
    canary = next(iter(world.weights()))

    execution = prune(world, keep=1)

    assert execution.status == "SUCCEEDED", execution.cause
    kept = execution.output["kept"]
    assert "1" in kept and any("moved from it" in reason for reason in kept["1"])
    assert "2" in kept and canary in kept
    assert set(world.versions()) == {"1", "2", canary}
    world.emulator.client("stepfunctions").stop_execution(executionArn=running)


def test_a_zip_function_frees_the_code_storage_its_versions_took(fast_emulator):
    lam = fast_emulator.client("lambda")
    arn = sample.create_python_function(fast_emulator, "zipped", "def handler(e, c):\n    return 1\n", hook=False)
    lam.tag_resource(Resource=arn, Tags={tags.MANAGED: "true"})
    sizes = {}
    for index in range(4):
        package = io.BytesIO()
        with zipfile.ZipFile(package, "w") as archive:
            archive.writestr("main.py", f"def handler(e, c):\n    return {index}\n" + "#" * 100 * index)
        lam.update_function_code(FunctionName="zipped", ZipFile=package.getvalue())
        published = lam.publish_version(FunctionName="zipped")
        sizes[published["Version"]] = published["CodeSize"]
    before = lam.get_account_settings()["AccountUsage"]["TotalCodeSize"]

    execution = fast_emulator.run({"action": "prune", "function": "zipped", "keep": 2})

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["deleted"] == ["1", "2"]
    assert execution.output["freedBytes"] == sizes["1"] + sizes["2"] > 0
    assert execution.output["codeStorage"]["usedBytes"] == before - execution.output["freedBytes"]


def test_deleting_a_preview_deletes_its_alias_and_its_version_unless_something_else_uses_it(fast_world):
    world = fast_world
    for branch, digest in (("feature/a", world.v2), ("feature/b", world.v3)):
        assert world.emulator.run(world.request(digest, preview=branch)).status == "SUCCEEDED"
    lam = world.emulator.client("lambda")
    lam.create_alias(FunctionName=world.fn.name, Name="qa", FunctionVersion="3")  # someone tests b's version too

    gone = world.emulator.run({"action": "deletePreview", "function": world.fn.name, "preview": "feature/a"})
    kept = world.emulator.run({"action": "deletePreview", "function": world.fn.name, "preview": "feature/b"})

    assert gone.status == kept.status == "SUCCEEDED", (gone.cause, kept.cause)
    assert gone.output["deletedAliases"] == ["preview-feature-a-" + gone.output["deletedAliases"][0][-8:]]
    assert gone.output["deleted"] == ["2"]
    assert kept.output["deleted"] == [] and kept.output["kept"] == {"3": ["alias qa"]}
    aliases = {a["Name"] for a in lam.list_aliases(FunctionName=world.fn.name)["Aliases"]}
    assert aliases == {"live", "qa"} and set(world.versions()) == {"1", "3"}
    assert world.settled_on() == "1"


def test_a_prune_request_is_validated_before_any_mutation(fast_world):
    world = fast_world
    for request in ({"action": "prune", "function": world.fn.name, "keep": 0},
                    {"action": "prune", "function": world.fn.name, "keep": 3, "image": "x"},
                    {"action": "prune", "function": "no-such-function"},
                    {"action": "deletePreview", "function": world.fn.name, "preview": "never-previewed"}):
        execution = world.emulator.run(request)
        assert execution.error == "InvalidDeploymentRequest", (request, execution.cause)
        assert not world.emulator.api.calls_of(execution.arn, mutating=True)


def test_a_prune_of_more_versions_than_one_run_takes_says_how_many_wait(monkeypatch, fast_world):
    monkeypatch.setattr(pruning, "MAX_PER_RUN", 4)
    publish(fast_world, 8)
    execution = prune(fast_world, keep=1, dryRun=True)
    assert execution.output["toDelete"] == ["2", "3", "4", "5"] and execution.output["more"] == 3  # 1 is live
    assert deployments.holder(fast_world.fn.name) is None


def tags_of(world, digest: str) -> list[str]:
    ecr = world.emulator.client("ecr")
    try:
        details = ecr.describe_images(repositoryName=world.fn.repository, imageIds=[{"imageDigest": digest}])
    except ecr.exceptions.ImageNotFoundException:
        return []
    return sorted(details["imageDetails"][0].get("imageTags") or [])


def expire_untagged(world) -> list[str]:
    """What an "expire untagged images" lifecycle rule does (countType sinceImagePushed, 0 days): every image
    without a tag goes. Returns their digests."""
    ecr = world.emulator.client("ecr")
    images = [image for page in ecr.get_paginator("describe_images").paginate(repositoryName=world.fn.repository)
              for image in page["imageDetails"]]
    untagged = [image["imageDigest"] for image in images if not image.get("imageTags")]
    if untagged:
        ecr.batch_delete_image(repositoryName=world.fn.repository, imageIds=[{"imageDigest": d} for d in untagged])
    return untagged


def test_kept_image_versions_stay_tagged_so_a_rollback_survives_an_untagged_images_sweep(thirty):
    """Versions 2 to 30 run images pushed without a tag (as ``publish`` leaves them): only the prune's tags keep
    them. A deleted version's tag goes where its image has another tag (1: orders-api, 2: a release tag), and
    stays where it is the image's last, so the prune deletes no image."""
    world, ecr = thirty, thirty.emulator.client("ecr")
    digests = {v: world.version_digest(v) for v in map(str, range(1, 31))}
    own = {v: tags.version_tag(world.fn.name, v) for v in digests}
    assert all(tags_of(world, digests[v]) == [] for v in map(str, range(2, 31)))

    first = prune(world, keep=30)  # nothing goes: every version is kept, and its image tagged
    assert first.status == "SUCCEEDED", first.cause
    assert first.output["deleted"] == [] and first.output["imageTags"]["tagged"] == own
    release = ecr.batch_get_image(repositoryName=world.fn.repository, imageIds=[{"imageDigest": digests["2"]}])
    ecr.put_image(repositoryName=world.fn.repository, imageManifest=release["images"][0]["imageManifest"],
                  imageTag="release-2", imageManifestMediaType=sample.MANIFEST_TYPE)  # CI tagged it too
    never_deployed = sample.push_image(ecr, world.fn.repository, "orders-api:never-deployed")

    execution = prune(world, keep=3)

    assert execution.status == "SUCCEEDED", execution.cause
    kept, deleted = IN_USE | NEWEST_3, set(digests) - IN_USE - NEWEST_3
    report = execution.output["imageTags"]
    assert set(execution.output["deleted"]) == deleted and report["tagged"] == {}  # the first run tagged them
    assert report["untagged"] == {"1": own["1"], "2": own["2"]}
    assert report["left"] == {v: pruning.LAST_TAG for v in deleted - {"1", "2"}}
    assert tags_of(world, digests["1"]) == ["orders-api", "orders-api-v1"] and tags_of(world, digests["2"]) == [
        "release-2"]
    assert all(tags_of(world, digests[v]) == [own[v]] for v in kept)
    assert all(tags_of(world, digests[v]) == [own[v]] for v in deleted - {"1", "2"})  # no image deleted

    again = prune(world, keep=3)
    assert again.status == "SUCCEEDED" and again.output["toTag"] == again.output["toDelete"] == []
    assert [c.operation for c in world.emulator.api.calls_of(again.arn) if c.service == "ecr"] == ["BatchGetImage"]
    assert "Prune" not in again.states_entered()

    assert expire_untagged(world) == [never_deployed]  # the sweep deletes what nothing pins, and only that
    rollback = world.emulator.run({"action": "rollback", "function": world.fn.name, "toVersion": "12"})
    assert rollback.status == "SUCCEEDED", rollback.cause
    assert world.settled_on() == "12" and world.latest_digest() == digests["12"]


def test_without_the_prune_an_untagged_images_sweep_breaks_a_rollback_to_a_kept_version(thirty):
    """The control for the test above: the images are exposed, so the tags are what saves them."""
    world = thirty
    assert world.version_digest("12") in expire_untagged(world)
    rollback = world.emulator.run({"action": "rollback", "function": world.fn.name, "toVersion": "12"})
    assert rollback.error == "InvalidDeploymentRequest" and "is no longer in ECR" in rollback.cause


def test_a_dry_run_reports_the_tags_it_would_add_and_adds_none(thirty):
    execution = prune(thirty, keep=3, dryRun=True)
    assert execution.output["toTag"] == sorted(IN_USE | NEWEST_3, key=int)
    assert execution.output["imageTags"]["tagged"] == {}
    assert all(tags_of(thirty, thirty.version_digest(v)) == [] for v in IN_USE | NEWEST_3)


def test_a_zip_function_makes_no_ecr_call(fast_emulator):
    lam = fast_emulator.client("lambda")
    arn = sample.create_python_function(fast_emulator, "zipped", "def handler(e, c):\n    return 1\n", hook=False)
    lam.tag_resource(Resource=arn, Tags={tags.MANAGED: "true"})
    lam.publish_version(FunctionName="zipped")

    execution = fast_emulator.run({"action": "prune", "function": "zipped", "keep": 1})

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["imageTags"] is None and execution.output["toTag"] == []
    assert [c for c in fast_emulator.api.calls_of(execution.arn) if c.service == "ecr"] == []


@pytest.fixture
def five(fast_world):
    """Versions 1 (live) to 4, every image tagged by a first prune; version 2's image also has a release tag;
    then version 5 (untagged): the next prune tags and untags."""
    world = fast_world
    publish(world, 3)
    assert prune(world, keep=4).output["imageTags"]["tagged"].keys() == {"1", "2", "3", "4"}
    ecr = world.emulator.client("ecr")
    image = ecr.batch_get_image(repositoryName=world.fn.repository,
                                imageIds=[{"imageDigest": world.version_digest("2")}])["images"][0]
    ecr.put_image(repositoryName=world.fn.repository, imageManifest=image["imageManifest"], imageTag="release-2",
                  imageManifestMediaType=sample.MANIFEST_TYPE)
    lam = world.emulator.client("lambda")
    lam.update_function_code(FunctionName=world.fn.name,
                             ImageUri=world.fn.image(sample.push_image(ecr, world.fn.repository, "orders-api:5")))
    lam.publish_version(FunctionName=world.fn.name)
    world.digests = {v: world.version_digest(v) for v in map(str, range(1, 6))}
    assert tags_of(world, world.digests["5"]) == []
    return world


def pruned_to_one(world) -> tuple:
    """Prune to the newest version: what the report and the repository say afterwards."""
    execution = prune(world, keep=1)
    report = execution.output["imageTags"] if execution.status == "SUCCEEDED" else {}
    own = {v: tags.version_tag(world.fn.name, v) for v in world.digests}
    return (execution.status, execution.output and execution.output["deleted"], report.get("tagged"),
            report.get("untagged"), sorted(report.get("left") or {}),
            {v: tags_of(world, d) for v, d in world.digests.items()}, own, world.alias()["FunctionVersion"])


def test_a_prune_tags_and_untags_in_one_run(five):
    status, deleted, tagged, untagged, left, images, own, live = pruned_to_one(five)
    assert (status, deleted, live) == ("SUCCEEDED", ["2", "3", "4"], "1")
    assert tagged == {"5": own["5"]} and untagged == {"2": own["2"]} and left == ["3", "4"]
    assert images == {"1": sorted(["orders-api", "orders-api-v1", own["1"]]), "2": ["release-2"], "3": [own["3"]],
                      "4": [own["4"]], "5": [own["5"]]}


IMAGE_CALLS = ["GetFunction", "BatchGetImage", "PutImage", "DescribeImages", "BatchDeleteImage"]


@pytest.mark.parametrize("operation", IMAGE_CALLS)
def test_a_throttled_image_call_is_tried_again_and_the_prune_ends_as_without_it(five, operation):
    """Throttled beyond the client's own retries (five attempts): the batch leaves the rest for the next one,
    or (nothing done) fails with TransientAwsError, which the state machine retries."""
    five.emulator.api.inject(Fault(THROTTLE, task="Prune", operation=operation, times=6))
    status, deleted, tagged, untagged, left, images, own, live = pruned_to_one(five)
    assert (status, deleted, live) == ("SUCCEEDED", ["2", "3", "4"], "1")
    assert tagged == {"5": own["5"]} and untagged == {"2": own["2"]} and left == ["3", "4"]
    assert images["5"] == [own["5"]] and images["2"] == ["release-2"]


REFUSED_LEAVES = {"GetFunction": {"5"}, "PutImage": {"5"}, "BatchGetImage": {"5", "2"}, "DescribeImages": {"2"},
                  "BatchDeleteImage": {"2"}}  # the versions whose tag could not be added or removed


@pytest.mark.parametrize("operation", IMAGE_CALLS)
def test_an_image_call_refused_for_good_is_reported_and_breaks_nothing(five, operation):
    five.emulator.api.inject(Fault((403, "AccessDeniedException"), task="Prune", operation=operation, times=None))
    status, deleted, tagged, untagged, left, _, _, live = pruned_to_one(five)
    assert (status, deleted, live) == ("SUCCEEDED", ["2", "3", "4"], "1")  # the versions go all the same
    assert set(left) == {"3", "4"} | REFUSED_LEAVES[operation]
    assert ("5" in tagged) != ("5" in REFUSED_LEAVES[operation]) and ("2" in untagged) != ("2" in left)
    assert all(exists(five, digest) for digest in five.digests.values())  # no image deleted


def exists(world, digest: str) -> bool:
    ecr = world.emulator.client("ecr")
    return bool(ecr.batch_get_image(repositoryName=world.fn.repository, imageIds=[{"imageDigest": digest}])["images"])
