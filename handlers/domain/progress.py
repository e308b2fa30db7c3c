"""Where a deployment is in its plan: the cursor the bake loop advances, no AWS calls.

The state machine's ``NextStep`` choice routes on ``next``: ``shift`` (ShiftTraffic to the step's
weight), ``bake`` (Wait ``waitSeconds`` then CheckHealth) or ``promote``; ``done`` after promotion. Extending
an inconclusive step is one more ``bake``: the state machine needs no state of its own for it.

A ``check`` (a :class:`~handlers.domain.checks.Checkpoint`) is due first when present: NextStep sends the
deployment to RunChecks, which clears it, and ``next`` then goes on as it says. The cursor carries a check only
where the request configured one (``start``, ``shifted``, ``promoted``), so a deployment without checks takes
exactly the states it took before checks existed.

``approve`` (an approval gate of the plan, handlers.domain.approval) sends the deployment to AwaitApproval,
which waits for a person while traffic stays where it is; approved, the state machine sets ``next`` to ``then``
(``shift`` or ``promote``). A promote request read by CheckHealth (``promote_requested``) moves on early and is
kept on the cursor (``promotedBy``, ``skipped``) for the record.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from handlers.domain import approval
from handlers.domain.analysis import DISABLED, ROLLBACK, AnalysisSettings
from handlers.domain.checks import AFTER_PROMOTE, AFTER_SHIFT, BEFORE_TRAFFIC, NO_CHECKS, Checkpoint, Checks
from handlers.domain.errors import DeploymentInconclusive
from handlers.domain.strategy import Plan, check_schedule

SHIFT, BAKE, PROMOTE, DONE, APPROVE = "shift", "bake", "promote", "done", "approve"


@dataclass(frozen=True)
class Traffic:
    """The state document's ``traffic``: where the plan stands and what the state machine does next."""

    next: str
    step: int = 0  # index of the plan step being (or about to be) served
    weight: float = 0.0  # percent of traffic on the new version now
    checks_left: int = 0  # health checks left in this step's bake
    wait_seconds: int = 0  # pause before the next health check
    alias_revision_id: str | None = None  # last alias revision this deployment wrote or saw
    extensions: int = 0  # checks added to this step's bake because its last check was inconclusive
    check: Checkpoint | None = None  # pre- or post-traffic checks due before ``next``
    traffic_since: str | None = None  # ISO time traffic first moved to the new version: the analysis window's start
    then: str | None = None  # where an approved gate goes on (``next`` is ``approve``)
    promoted_by: str | None = None  # who asked to move on early (lambda-deployer promote), and how
    promote_request: str | None = None  # the time of the promote request applied (each applies once)
    skipped: tuple[int, ...] = ()  # plan steps (from 1) a ``promote --full`` skipped

    def to_json(self) -> dict:
        found = {
            "next": self.next,
            "step": self.step,
            "weight": self.weight,
            "checksLeft": self.checks_left,
            "waitSeconds": self.wait_seconds,
            "aliasRevisionId": self.alias_revision_id,
            "extensions": self.extensions,
            "trafficSince": self.traffic_since,
        }
        if self.check:  # absent, not null: NextStep routes on its presence
            found["check"] = self.check.to_json()
        if self.next == APPROVE:
            found["then"] = self.then
        if self.promote_request:  # only after a promote request: other deployments' cursors stay as they were
            found.update(promotedBy=self.promoted_by, promoteRequest=self.promote_request, skipped=list(self.skipped))
        return found

    @classmethod
    def from_json(cls, data: dict) -> Traffic:
        return cls(data["next"], data["step"], data["weight"], data["checksLeft"], data["waitSeconds"],
                   data.get("aliasRevisionId"), data.get("extensions", 0), Checkpoint.from_json(data.get("check")),
                   traffic_since=data.get("trafficSince"), then=data.get("then"),
                   promoted_by=data.get("promotedBy"), promote_request=data.get("promoteRequest"),
                   skipped=tuple(data.get("skipped", ())))


def start(plan: Plan, alias_revision_id: str | None, checks: Checks = NO_CHECKS) -> Traffic:
    first = _gated(plan, Traffic(next=SHIFT if plan.steps else PROMOTE, alias_revision_id=alias_revision_id), 0)
    return _checking(first, checks, BEFORE_TRAFFIC, 0)


def shifted(plan: Plan, progress: Traffic, interval: int, alias_revision_id: str | None,
            checks: Checks = NO_CHECKS, *, at: str | None = None) -> Traffic:
    """After the alias took the current step's weight: bake it, or move on when it has no bake (after the
    step's checks, if the request has any after a shift).

    ``at`` is when this shift began; the first shift's is kept as ``traffic_since``, where every check's
    analysis window starts (later steps add traffic to the same window, so verdicts only get surer).
    """
    step = plan.steps[progress.step]
    schedule = check_schedule(step, interval)
    moved = replace(progress, weight=step.weight, alias_revision_id=alias_revision_id, extensions=0,
                    traffic_since=progress.traffic_since or at)
    if not schedule:
        following = _advance(plan, moved)
    else:
        following = replace(moved, next=BAKE, checks_left=len(schedule), wait_seconds=schedule[0])
    return _checking(following, checks, AFTER_SHIFT, progress.step + 1)


def promoted(plan: Plan, progress: Traffic, alias_revision_id: str | None, checks: Checks = NO_CHECKS) -> Traffic:
    """All traffic on the new version; what is left is the hook after promotion, if the request has one."""
    done = replace(progress, next=DONE, weight=100.0, alias_revision_id=alias_revision_id)
    return _checking(done, checks, AFTER_PROMOTE, len(plan.steps))


def checks_passed(progress: Traffic) -> Traffic:
    return replace(progress, check=None)


def _checking(progress: Traffic, checks: Checks, phase: str, step: int) -> Traffic:
    return replace(progress, check=Checkpoint(phase, step)) if checks.runs_at(phase) else progress


def checked(plan: Plan, progress: Traffic, interval: int, *, inconclusive: str | None = None,
            analysis: AnalysisSettings = DISABLED) -> Traffic:
    """After a check that did not fail: another wait in this bake, or the next step, or promotion.

    ``inconclusive`` is the reason when the check could not conclude (too few invocations, an alarm without
    data). Mid-bake that changes nothing: later checks see more traffic. At the end of the step, the bake is
    extended by one interval, up to ``analysis.max_extensions`` times; then ``analysis.inconclusive`` decides:
    ``promote`` moves on as after a pass, ``rollback`` raises :class:`DeploymentInconclusive`.
    """
    schedule = check_schedule(plan.steps[progress.step], interval)
    left = progress.checks_left - 1
    if left > 0:
        return replace(progress, next=BAKE, checks_left=left, wait_seconds=schedule[len(schedule) - left])
    if inconclusive is None:
        return _advance(plan, progress)
    if progress.extensions < analysis.max_extensions:
        return replace(progress, next=BAKE, checks_left=1, wait_seconds=interval, extensions=progress.extensions + 1)
    if analysis.inconclusive != ROLLBACK:
        return _advance(plan, progress)
    extended = f" and {progress.extensions} extension(s) of {interval} s" if progress.extensions else ""
    raise DeploymentInconclusive(
        f"still inconclusive at the end of step {progress.step + 1} of {len(plan.steps)} "
        f"({progress.weight:g}% of traffic on the new version, after its bake{extended}): {inconclusive}; "
        "analysis.inconclusive is rollback"
    )


def _advance(plan: Plan, progress: Traffic) -> Traffic:
    following = progress.step + 1
    if following < len(plan.steps):
        return _gated(plan, replace(progress, next=SHIFT, step=following, checks_left=0, wait_seconds=0,
                                    extensions=0), following)
    return _gated(plan, replace(progress, next=PROMOTE, checks_left=0, wait_seconds=0, extensions=0), len(plan.steps))


def _gated(plan: Plan, progress: Traffic, position: int) -> Traffic:
    """Through the approval gate at ``position`` first, if the plan has one there."""
    if position in plan.approvals:
        return replace(progress, next=APPROVE, then=progress.next)
    return progress


def promote_requested(plan: Plan, progress: Traffic, *, mode: str, by: str, at: str) -> Traffic:
    """After a check that passed (``progress`` is where it goes next), with a promote request not applied yet.

    ``next`` cuts this step's bake short and goes to the next step (through its gate, if any); when the
    deployment was moving on anyway, the request only is recorded. ``full`` goes straight to promotion:
    ``skipped`` lists (from 1) the step whose bake was cut short and every step not served yet, and the
    remaining checks and gates are skipped with them."""
    if at == progress.promote_request or progress.next not in (BAKE, SHIFT, PROMOTE, APPROVE):
        return progress
    asked = replace(progress, promoted_by=f"{by} ({mode})", promote_request=at)
    if mode == approval.FULL:
        heading = progress.then if progress.next == APPROVE else progress.next
        skipped = tuple(range(progress.step + 1, len(plan.steps) + 1)) if heading in (BAKE, SHIFT) else ()
        return replace(asked, next=PROMOTE, then=None, checks_left=0, wait_seconds=0, extensions=0,
                       skipped=(*progress.skipped, *skipped))
    if progress.next == BAKE:
        return _advance(plan, asked)
    return asked
