"""Which published versions of a function may go: the pruning rules, no AWS calls.

A version is kept when it is one of the newest ``keep``, or when something still uses it:

- an alias (previews included) names it as its primary version or in its routing (``AdditionalVersionWeights``);
- a provisioned concurrency configuration is on it (or on an alias that points at it);
- an event source mapping invokes it: its ``FunctionArn`` is the version's ARN (a mapping on an alias keeps the
  alias' versions, one on the unqualified function runs ``$LATEST``);
- the deployment holding the function's lock moves traffic from or to it (its stable and current versions);
- a recent deployment's record names it: the version a rollback request without ``toVersion`` returns to is the
  ``fromVersion`` of the last deployment to the live version (``handlers.resolve_rollback``).

``$LATEST`` is never a candidate. Everything else is deleted, oldest first, at most ``MAX_PER_RUN`` per run
(a second run takes the rest), so the execution's state and history stay bounded.

Image versions: every kept version's image carries the tag ``<function>.v<N>.previous`` (``tags.version_tag``),
so an "expire untagged images" lifecycle rule cannot delete an image a kept version still pins; a deleted
version's tag goes, unless it is the image's last tag (``untagging``): removing an image's last tag deletes the
image (ECR BatchDeleteImage: "When you remove the last tag from an image, the image is deleted from your
repository"), and the deployer never deletes an image.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from handlers.domain.errors import InvalidDeploymentRequest

DEFAULT_KEEP = 10
MAX_KEEP = 1000
MAX_PER_RUN = 2000
"""Versions one execution deletes at most (each is a string in the state; 2,000 keep it far under 256 KB)."""
BATCH = 10
"""Deletions per Prune task: with the state machine's 1 s pause between batches, at most ~10 requests a second
of the account's shared Lambda control-plane rate (about 15/s), so deployments running meanwhile keep room."""
RECENT_RECORDS = 10
"""How many of the newest deployment records keep the versions they moved from and to."""
ECR_IDS_PER_CALL = 100
"""BatchGetImage, DescribeImages and BatchDeleteImage take at most 100 image ids a request (ECR API reference)."""
ZIP, IMAGE = "Zip", "Image"


@dataclass(frozen=True)
class Version:
    version: str
    code_size: int = 0
    package_type: str = ZIP

    @classmethod
    def from_configuration(cls, config: dict) -> Version:
        """One entry of ListVersionsByFunction (a FunctionConfiguration: ``CodeSize`` per version)."""
        return cls(config["Version"], int(config.get("CodeSize") or 0), config.get("PackageType") or ZIP)


@dataclass
class Uses:
    """Why each version is still in use: version -> reasons, in the order they were found."""

    reasons: dict[str, list[str]] = field(default_factory=dict)

    def add(self, version: str | None, reason: str) -> None:
        if version and version != "$LATEST" and reason not in self.reasons.setdefault(version, []):
            self.reasons[version].append(reason)

    def aliases(self, aliases: list[dict], *, skip: frozenset[str] = frozenset()) -> Uses:
        for alias in aliases:
            if alias["Name"] in skip:
                continue
            self.add(alias["FunctionVersion"], f"alias {alias['Name']}")
            for version, weight in ((alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}).items():
                self.add(version, f"alias {alias['Name']} routes {weight * 100:g}% to it")
        return self

    def qualified(self, function_arn: str, arn: str, aliases: list[dict], what: str) -> None:
        """A resource on ``function_arn:<qualifier>``: a version itself, or an alias' versions."""
        if not arn.startswith(function_arn + ":"):
            return
        qualifier = arn[len(function_arn) + 1:]
        if qualifier.isdigit():
            self.add(qualifier, what)
            return
        for alias in aliases:
            if alias["Name"] == qualifier:
                self.add(alias["FunctionVersion"], f"{what} (on alias {qualifier})")
                for version in ((alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}):
                    self.add(version, f"{what} (on alias {qualifier})")

    def provisioned(self, function_arn: str, configs: list[dict], aliases: list[dict]) -> Uses:
        for config in configs:
            self.qualified(function_arn, config["FunctionArn"], aliases, "provisioned concurrency")
        return self

    def mappings(self, function_arn: str, mappings: list[dict], aliases: list[dict]) -> Uses:
        for mapping in mappings:
            self.qualified(function_arn, mapping.get("FunctionArn", ""), aliases,
                           f"event source mapping {mapping.get('UUID', '')}".rstrip())
        return self

    def running(self, execution: str | None, deployment: dict | None) -> Uses:
        """The deployment holding the lock: what it returns to and what it moves traffic to or from."""
        if not deployment:
            return self
        name = (execution or "").rsplit(":", 1)[-1]
        self.add((deployment.get("stable") or {}).get("version"), f"deployment {name} is running")
        self.add(deployment.get("currentVersion"), f"deployment {name} is running")
        return self

    def recent(self, records: list[dict]) -> Uses:
        """Production's recent moves (a preview's record names only its own alias' versions)."""
        for record in records[:RECENT_RECORDS]:
            if record.get("kind") == "preview":
                continue
            name = record.get("execution", "").rsplit(":", 1)[-1]
            self.add(record.get("fromVersion"), f"deployment {name} moved from it (a rollback returns there)")
            self.add(record.get("toVersion"), f"deployment {name} moved to it")
        return self


@dataclass(frozen=True)
class Plan:
    delete: tuple[str, ...]  # oldest first
    kept: dict[str, list[str]]  # version -> why
    zip_bytes: dict[str, int]  # code storage each zip version to delete takes (image versions take none)
    total: int  # published versions found
    more: int  # versions that could go but wait for the next run (MAX_PER_RUN)
    images: frozenset[str] = frozenset()  # the image-packaged versions among those considered

    @property
    def kept_images(self) -> list[str]:
        """Kept image versions, oldest first: each one's image keeps a deployer tag."""
        return sorted((v for v in self.kept if v in self.images), key=int)


def plan(versions: list[Version], keep: int | None, uses: Uses, *, only: frozenset[str] | None = None) -> Plan:
    """What to delete and what to keep, and why. ``keep`` newest are kept (None: no such rule, for deleting a
    preview's version); ``only``: consider these versions alone (the preview's)."""
    published = sorted((v for v in versions if v.version.isdigit()), key=lambda v: int(v.version))
    newest = {v.version for v in published[-keep:]} if keep else set()
    kept: dict[str, list[str]] = {}
    candidates: list[Version] = []
    for version in published:
        if only is not None and version.version not in only:
            continue
        reasons = ([f"one of the newest {keep}"] if version.version in newest else []) + uses.reasons.get(
            version.version, [])
        if reasons:
            kept[version.version] = reasons
        else:
            candidates.append(version)
    chosen = candidates[:MAX_PER_RUN]
    return Plan(
        delete=tuple(v.version for v in chosen),
        kept=kept,
        zip_bytes={v.version: v.code_size for v in chosen if v.package_type == ZIP},
        total=len(published),
        more=len(candidates) - len(chosen),
        images=frozenset(v.version for v in published if v.package_type == IMAGE),
    )


LAST_TAG = ("its tag is the image's last: removing it would delete the image (BatchDeleteImage), which the "
            "deployer never does; delete the image yourself if nothing needs it")


def untagging(wanted: dict[str, str], found: dict[str, str],
              image_tags: dict[str, list[str]]) -> tuple[dict[str, str], dict[str, str]]:
    """Which deleted versions' tags may go without deleting an image.

    ``wanted``: deleted version -> its tag; ``found``: tag -> digest, for those of the tags that exist;
    ``image_tags``: digest -> every tag of that image (DescribeImages). A tag goes when its image keeps another
    tag that is not going too; otherwise one of them (the newest version's) stays. Returns (version -> tag to
    remove, version -> why its tag stays).
    """
    by_digest: dict[str, list[str]] = {}
    for version, tag in sorted(wanted.items(), key=lambda item: int(item[0])):
        if (digest := found.get(tag)) and digest in image_tags:
            by_digest.setdefault(digest, []).append(version)
    remove: dict[str, str] = {}
    left: dict[str, str] = {}
    for digest, versions in by_digest.items():
        going = {wanted[v] for v in versions}
        if not set(image_tags[digest]) - going:
            *versions, last = versions
            left[last] = LAST_TAG
        remove.update({v: wanted[v] for v in versions})
    return remove, left


def parse_keep(value: object) -> int:
    if value is None:
        return DEFAULT_KEEP
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_KEEP:
        raise InvalidDeploymentRequest(f"'keep' {value!r} must be an integer from 1 to {MAX_KEEP}")
    return value
