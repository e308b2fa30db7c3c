"""Traffic-shifting strategies: parse a strategy into a plan of weighted steps, no AWS calls.

A plan is the list of intermediate steps; promotion to 100 % (primary version = new) follows the last
one. ``AllAtOnce`` is the empty plan. Weights are percentages of traffic routed to the new version.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from handlers.domain.errors import InvalidDeploymentRequest

_UNIT_SECONDS = {"Second": 1, "Minute": 60, "Hour": 3600}
_PREFIX = r"(?:CodeDeployDefault\.Lambda)?"
_CANARY = re.compile(rf"^{_PREFIX}Canary(?P<percent>\d+)Percent(?P<n>\d+)(?P<unit>Second|Minute|Hour)s?$")
_LINEAR = re.compile(rf"^{_PREFIX}Linear(?P<percent>\d+)PercentEvery(?P<n>\d+)(?P<unit>Second|Minute|Hour)s?$")
_ALL_AT_ONCE = {"AllAtOnce", "CodeDeployDefault.LambdaAllAtOnce"}

MAX_STEPS = 100
MAX_BAKE_SECONDS = 7 * 24 * 3600

# Step Functions fails a Standard execution at 25,000 history events. These counts mirror
# statemachine/deploy.asl.json (tests/statemachine/test_history_budget.py checks them against real runs):
MAX_HISTORY_EVENTS = 25_000
EVENTS_FIXED = 62  # start, Resolve … Publish, VersionReady, Promote, Finalize, end
EVENTS_PER_SHIFT = 9  # ShiftTraffic task (5) + CapacityReady choice (2) + NextStep choice (2)
EVENTS_PER_CHECK = 9  # Bake wait (2) + CheckHealth task (5) + NextStep choice (2)
EVENTS_PER_CHECKPOINT = 7  # RunChecks task (5) + NextStep choice (2): synthetic invocations and hooks
EVENTS_PER_GATE = 20  # NextStep (2), AwaitApproval parallel (4), its two branches' ends and the wait task (14)
EVENTS_RESERVED = 1_000  # task retries along the way (waiting for a Pending version or provisioned concurrency
# too: about 3 events a retry) and a hard-retried rollback


@dataclass(frozen=True)
class Step:
    weight: float  # percent of traffic on the new version, 0 < weight <= 100
    bake_seconds: int

    def to_json(self) -> dict:
        return {"weight": self.weight, "bakeSeconds": self.bake_seconds}


@dataclass(frozen=True)
class Plan:
    name: str
    steps: tuple[Step, ...]
    approvals: tuple[int, ...] = ()  # approval gates: before step n+1 (n), or before promotion (len(steps))

    @property
    def bake_seconds(self) -> int:
        return sum(step.bake_seconds for step in self.steps)

    def to_json(self) -> dict:
        found = {"name": self.name, "steps": [step.to_json() for step in self.steps]}
        if self.approvals:  # absent without gates: plans recorded before gates existed read the same
            found["approvals"] = list(self.approvals)
        return found

    @classmethod
    def from_json(cls, data: dict) -> Plan:
        return cls(data["name"], tuple(Step(s["weight"], s["bakeSeconds"]) for s in data["steps"]),
                   tuple(data.get("approvals", ())))

    def gated(self, position: int) -> Plan:
        """This plan with an approval gate at ``position`` as well (``len(steps)``: before promotion)."""
        return Plan(self.name, self.steps, tuple(sorted({*self.approvals, position})))


def parse_strategy(strategy: object) -> Plan:
    """A plan from a strategy name (CodeDeploy style) or ``{"steps": [{"weight", "bakeSeconds"}, …]}``."""
    if strategy is None or (isinstance(strategy, str) and strategy in _ALL_AT_ONCE):
        return Plan("AllAtOnce", ())
    if isinstance(strategy, dict):
        return _explicit(strategy)
    if not isinstance(strategy, str):
        raise InvalidDeploymentRequest("'strategy' must be a strategy name or an object with 'steps'")
    if match := _CANARY.match(strategy):
        percent, bake = _percent_and_bake(match, strategy)
        return Plan(strategy, (Step(float(percent), bake),))
    if match := _LINEAR.match(strategy):
        percent, bake = _percent_and_bake(match, strategy)
        weights = range(percent, 100, percent)
        return Plan(strategy, tuple(Step(float(w), bake) for w in weights))
    raise InvalidDeploymentRequest(
        f"unknown strategy {strategy!r}; use AllAtOnce, Canary{{P}}Percent{{N}}{{Seconds|Minutes|Hours}} "
        "(e.g. Canary10Percent5Minutes), Linear{P}PercentEvery{N}{Second(s)|Minute(s)|Hour(s)} "
        "(e.g. Linear10PercentEvery1Minute) or {\"steps\": [{\"weight\": 5, \"bakeSeconds\": 60}]}"
    )


def _percent_and_bake(match: re.Match, strategy: str) -> tuple[int, int]:
    percent, n = int(match["percent"]), int(match["n"])
    if not 0 < percent <= 100:
        raise InvalidDeploymentRequest(f"strategy {strategy!r}: the percentage must be in (0, 100]")
    if n < 1:
        raise InvalidDeploymentRequest(f"strategy {strategy!r}: the interval must be at least 1")
    bake = n * _UNIT_SECONDS[match["unit"]]
    if bake > MAX_BAKE_SECONDS:
        raise InvalidDeploymentRequest(f"strategy {strategy!r}: a step may bake at most {MAX_BAKE_SECONDS} s")
    return percent, bake


def _explicit(strategy: dict) -> Plan:
    if set(strategy) != {"steps"} or not isinstance(strategy["steps"], list) or not strategy["steps"]:
        raise InvalidDeploymentRequest("an explicit strategy is {\"steps\": [{\"weight\": 5, \"bakeSeconds\": 60}, …]} "
                                       "with at least one step")
    raw_steps = strategy["steps"]
    if len(raw_steps) > MAX_STEPS:
        raise InvalidDeploymentRequest(f"an explicit strategy has at most {MAX_STEPS} steps")
    steps, approvals = [], []
    for index, raw in enumerate(raw_steps, start=1):
        where = f"strategy step {index}"
        if isinstance(raw, dict) and "approval" in raw:
            if raw != {"approval": True}:
                raise InvalidDeploymentRequest(f"{where}: an approval gate is exactly {{\"approval\": true}}")
            if approvals and approvals[-1] == len(steps):
                raise InvalidDeploymentRequest(f"{where}: two approval gates in a row")
            approvals.append(len(steps))  # before the next weighted step, or before promotion after the last
            continue
        if not isinstance(raw, dict) or set(raw) - {"weight", "bakeSeconds"} or "weight" not in raw:
            raise InvalidDeploymentRequest(f"{where}: expected {{\"weight\": <percent>, \"bakeSeconds\": <int>}}")
        weight, bake = raw["weight"], raw.get("bakeSeconds", 0)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 < weight <= 100:
            raise InvalidDeploymentRequest(f"{where}: weight {weight!r} is outside (0, 100]")
        if isinstance(bake, bool) or not isinstance(bake, int) or not 0 <= bake <= MAX_BAKE_SECONDS:
            raise InvalidDeploymentRequest(f"{where}: bakeSeconds {bake!r} must be an integer in "
                                           f"[0, {MAX_BAKE_SECONDS}]")
        steps.append(Step(float(weight), bake))
    return Plan("Steps", tuple(steps), tuple(approvals))


def check_schedule(step: Step, interval: int) -> list[int]:
    """The waits before each health check while a step bakes: full intervals, then the remainder."""
    full, rest = divmod(step.bake_seconds, interval)
    return [interval] * full + ([rest] if rest else [])


def health_checks(plan: Plan, interval: int, max_extensions: int = 0) -> int:
    """Checks in the worst case: every check of the schedule, and every step with a bake extended
    ``max_extensions`` times by one more check (an inconclusive canary, ``analysis.maxExtensions``)."""
    baking = sum(1 for step in plan.steps if step.bake_seconds)
    return sum(len(check_schedule(step, interval)) for step in plan.steps) + baking * max_extensions


def history_events(plan: Plan, interval: int, max_extensions: int = 0, checkpoints: int = 0,
                   watch_checks: int = 0) -> int:
    """Upper estimate of the execution history a deployment of ``plan`` produces, retries reserved.
    An extension is one more Bake → CheckHealth → NextStep loop, so it costs what a check costs;
    ``checkpoints`` are the stops for pre- and post-traffic checks (``Checks.checkpoints``); ``watch_checks``
    the checks while approval gates wait (``approval.watch_checks``), a Wait, a Task and a Choice each too."""
    return (EVENTS_FIXED + EVENTS_RESERVED + EVENTS_PER_SHIFT * len(plan.steps)
            + EVENTS_PER_CHECKPOINT * checkpoints + EVENTS_PER_GATE * len(plan.approvals)
            + EVENTS_PER_CHECK * (health_checks(plan, interval, max_extensions) + watch_checks))


def check_history_budget(plan: Plan, interval: int, max_extensions: int = 0, checkpoints: int = 0,
                         watch_checks: int = 0) -> None:
    """Refuse a plan whose bake (extensions, checkpoints and approval waits included) would exceed Step
    Functions' execution history limit."""
    if history_events(plan, interval, max_extensions, checkpoints, watch_checks) <= MAX_HISTORY_EVENTS:
        return
    if watch_checks and history_events(plan, interval, max_extensions, checkpoints) <= MAX_HISTORY_EVENTS:
        raise InvalidDeploymentRequest(
            f"the approval gate(s) of strategy {plan.name!r} would be checked up to {watch_checks} times while "
            f"waiting at checkIntervalSeconds={interval}, more than one Step Functions execution can record "
            f"({MAX_HISTORY_EVENTS} history events); use a shorter approvalTimeoutSeconds or a longer "
            "checkIntervalSeconds")
    spare = (MAX_HISTORY_EVENTS - EVENTS_FIXED - EVENTS_RESERVED - EVENTS_PER_SHIFT * len(plan.steps)
             - EVENTS_PER_CHECKPOINT * checkpoints - EVENTS_PER_GATE * len(plan.approvals)
             - EVENTS_PER_CHECK * watch_checks)
    # Each step may need one extra check for its remainder, hence the steps subtracted; extensions are fixed.
    extensions = sum(1 for step in plan.steps if step.bake_seconds) * max_extensions
    # (At most 100 steps with 20 extensions each always leave room for one check per step.)
    affordable = max(spare // EVENTS_PER_CHECK - len(plan.steps) - extensions, 1)
    checks = health_checks(plan, interval, max_extensions)
    suggestion = math.ceil(plan.bake_seconds / affordable)
    with_extensions = f" (with up to {max_extensions} extension(s) per step)" if max_extensions else ""
    raise InvalidDeploymentRequest(
        f"strategy {plan.name!r} would check health {checks} times at "
        f"checkIntervalSeconds={interval}{with_extensions}, more than one Step Functions execution can record "
        f"({MAX_HISTORY_EVENTS} history events); use checkIntervalSeconds >= {suggestion} or a shorter bake"
    )
