"""Prune: the next batch of what ResolvePrune chose: aliases, then kept versions' image tags, then versions (oldest
first), then the deleted versions' image tags.

At most ``pruning.BATCH`` Lambda requests a task (deletions, and GetFunction to learn a kept version's image);
the state machine pauses between batches, so a prune of thousands of versions takes a bounded share of the
account's Lambda control-plane rate, and at most ``BATCH`` PutImage requests a second (ECR allows 10/s). Each
batch first reads the lock: a deployment that started since ResolvePrune keeps the versions it moves between.
Lambda itself refuses to delete a version an alias references ("You can't delete a version that an alias
references", DeleteFunction ``Qualifier``; ResourceConflictException): such a version stays, and the report says why.

Image tags (docs/pruning.md): every kept version's image gets ``<function>.v<N>.previous`` before any version is
deleted, so an image shared by a kept and a deleted version keeps a tag when the deleted one's goes. Tags are
only added before the deletions, and a deleted version's tag goes only when its image keeps another tag
(``pruning.untagging``): a failed or throttled ECR call leaves at worst a tag too many, never a function without its
image. A throttled call is tried again in the next batch; another failure is reported under ``imageTags.left``.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from handlers.aws import deployments, registry, versions
from handlers.aws.clients import client, describe, error_code, is_transient
from handlers.aws.task import count, logger, task
from handlers.domain import pruning, tags
from handlers.domain.errors import TransientAwsError
from handlers.domain.images import ImageRef, parse_image_uri, parse_repository_uri, pinned_image


@task
def handler(event: dict) -> dict:
    state = dict(event["prune"])
    lam = client("lambda")
    lock = deployments.holder(state["function"])
    running = pruning.Uses().running(lock.execution, lock.deployment).reasons if lock else {}
    batch = Batch(state)
    while batch.budget and state["deleteAliases"]:
        alias = state["deleteAliases"][0]
        try:
            lam.delete_alias(FunctionName=state["functionArn"], Name=alias)
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
        state["deleteAliases"] = state["deleteAliases"][1:]
        state["deletedAliases"] = [*state["deletedAliases"], alias]
        batch.spent()
    batch.tag_kept(lam)
    deleted, not_deleted, freed = list(state["deleted"]), dict(state["notDeleted"]), state["freedBytes"]
    queue, untag = list(state["toDelete"]), list(state.get("toUntag") or [])
    images = state.get("imageTags") is not None
    while batch.budget and queue and not batch.throttled and not state.get("toTag"):
        version = queue[0]
        if version in running:
            not_deleted[version] = "; ".join(running[version])
            queue.pop(0)
            continue
        try:
            lam.delete_function(FunctionName=state["functionArn"], Qualifier=version)
        except ClientError as exc:
            code = error_code(exc)
            if code == "ResourceConflictException":  # an alias references it (now), or an update runs
                not_deleted[version] = f"in use: {exc.response.get('Error', {}).get('Message', code)}"
            elif code == "ResourceNotFoundException":
                not_deleted[version] = "already deleted"
                untag.append(version)  # an earlier attempt may have deleted it before its tag went
            elif is_transient(exc):
                batch.throttled = exc  # the pause before the next batch gives the rate room; the version is tried again
                break
            else:
                raise
        else:
            deleted.append(version)
            freed += state["zipBytes"].get(version, 0)
            untag.append(version)
        queue.pop(0)
        batch.spent()
    state.update(toDelete=queue, deleted=deleted, notDeleted=not_deleted, freedBytes=freed,
                 toUntag=batch.untag_deleted(untag) if images else [])
    if batch.throttled is not None and not batch.progressed:
        raise TransientAwsError(describe(batch.throttled))  # nothing done: the state machine's Retry backs off
    state["pending"] = len(state["deleteAliases"]) + len(queue) + len(state.get("toTag") or []) + len(state["toUntag"])
    if not state["pending"]:
        state["codeStorage"] = versions.code_storage(lam)
    count("VersionsPruned", len(deleted) - len(event["prune"]["deleted"]))
    logger.info("pruned a batch", deleted=len(deleted), left=state["pending"],
                tagged=len((state.get("imageTags") or {}).get("tagged") or {}))
    return {"prune": state}


def repository_of(image: ImageRef) -> ImageRef:
    return ImageRef(image.account, image.region, image.repository)


class Batch:
    """One task's share of the rate, and what it did: the ECR work of the batch works on ``state``."""

    def __init__(self, state: dict) -> None:
        self.state, self.budget, self.progressed = state, pruning.BATCH, False
        self.throttled: ClientError | None = None
        self.report: dict = {}
        if state.get("imageTags") is not None:
            self.report = {key: dict(value) if isinstance(value, dict) else value
                           for key, value in state["imageTags"].items()}
            state["imageTags"] = self.report

    def spent(self, *, progress: bool = True) -> None:
        """One Lambda request of the batch's share; ``progress``: it settled an item of the queues."""
        self.budget -= 1
        self.progressed = self.progressed or progress

    def failed(self, exc: ClientError, versions: list[str]) -> bool:
        """True when the versions are tried again next batch (throttled); otherwise they are reported as left."""
        if is_transient(exc):
            self.throttled = exc
            return True
        self.report["left"].update({v: describe(exc) for v in versions})
        self.progressed = True
        return False

    def tag_kept(self, lam) -> None:
        """GetFunction for each kept version still to tag (its ``ResolvedImageUri``), then one BatchGetImage per
        repository and a PutImage per version: ``<function>.v<N>.previous`` on the digest the version pins."""
        queue = list(self.state.get("toTag") or [])
        function, pinned, done = self.state["function"], {}, set()
        for version in queue[:self.budget]:
            try:
                code = lam.get_function(FunctionName=function, Qualifier=version)["Code"]
            except ClientError as exc:
                self.spent(progress=False)
                if error_code(exc) == "ResourceNotFoundException":  # deleted by someone else meanwhile
                    self.progressed = True
                    done.add(version)
                elif not self.failed(exc, [version]):
                    done.add(version)  # reported
                if self.throttled:
                    break
                continue
            self.spent(progress=False)  # a read: the version is settled once its tag is there
            image = parse_image_uri(pinned_image(code))
            if image.digest:
                pinned[version] = image
            else:
                self.report["left"][version] = f"Lambda reports no digest for its image {image.uri}"
                self.progressed = True
                done.add(version)
        by_repository: dict[ImageRef, dict[str, ImageRef]] = {}
        for version, image in pinned.items():
            by_repository.setdefault(repository_of(image), {})[version] = image
        for repository, images in by_repository.items():
            try:
                manifests = registry.get(repository, digests=[image.digest for image in images.values()])
            except ClientError as exc:
                if not self.failed(exc, list(images)):
                    done.update(images)
                continue
            for version, image in images.items():
                tag = tags.version_tag(function, version)
                try:
                    if image.digest not in manifests:
                        self.report["left"][version] = f"its image {image.uri} is not in its repository"
                    else:
                        registry.put_tag(repository, manifests[image.digest], tag)  # False: put by a retry
                        self.report["tagged"][version] = tag
                    self.progressed = True
                except ClientError as exc:
                    if self.failed(exc, [version]):
                        break  # ECR's PutImage rate: the others wait for the next batch
                done.add(version)
        self.state["toTag"] = [v for v in queue if v not in done]

    def untag_deleted(self, untag: list[str]) -> list[str]:
        """Remove the deleted versions' tags whose image keeps another tag; the versions to try again next batch."""
        if not untag:
            return []
        repository = parse_repository_uri(self.report["repository"])
        wanted = {version: tags.version_tag(self.state["function"], version) for version in untag}
        try:
            found = registry.tagged(repository, list(wanted.values()))
            image_tags = registry.image_tags(repository, list(dict.fromkeys(found.values())))
            remove, left = pruning.untagging(wanted, found, image_tags)
            removed = set(registry.remove_tags(repository, list(remove.values())))
        except ClientError as exc:
            return untag if self.failed(exc, untag) else []
        self.report["untagged"].update({v: t for v, t in remove.items() if t in removed})
        self.report["left"].update(left)
        self.progressed = True
        return []
