"""One native deployment's next move, as a pure function of where it stands (its `native`
state), the service's tasks counted (`Facts`), its hooks and the time (DESIGN.md rule 2).
runner.py reads the facts, calls `decide` and applies the Decision.

The stages, ECS's ServiceDeploymentLifecycleStage (a stage's own work first, then its
hooks, hooks.py):

RECONCILE_SERVICE        the production rule forwards to both groups, green at weight 0 (so
                         the alternate group's targets are health-checked)
PRE_SCALE_UP             hooks only
SCALE_UP                 green tasks started to the desired count; on when all are running
                         with their targets healthy
POST_SCALE_UP            hooks only
TEST_TRAFFIC_SHIFT       the test listener rule forwards to green
POST_TEST_TRAFFIC_SHIFT  hooks only
PRE_PRODUCTION_...       hooks only (shown as PRODUCTION_TRAFFIC_SHIFT: the API's stage list
                         has no PRE_ stage)
PRODUCTION_TRAFFIC_SHIFT the production weights move by the strategy (blue_green/shift.py)
POST_PRODUCTION_...      hooks only
BAKE_TIME                both revisions up for bakeTimeInMinutes
CLEAN_UP                 blue stopped; the deployment COMPLETED once its tasks are gone

Green tasks that keep failing (the circuit breaker's count reaching its threshold, enabled
or not: blue still serves, so going back is always safe) or a hook's ROLLBACK roll the
deployment back. A rollback deployment (ROLLBACK) takes blue's tasks as its own: production
back on blue's groups, green stopped, blue topped up to the desired count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from portside.controllers.blue_green import shift
from portside.controllers.native_deployments import hooks

RECONCILE_SERVICE = "RECONCILE_SERVICE"
PRE_SCALE_UP = "PRE_SCALE_UP"
SCALE_UP = "SCALE_UP"
POST_SCALE_UP = "POST_SCALE_UP"
TEST_TRAFFIC_SHIFT = "TEST_TRAFFIC_SHIFT"
POST_TEST_TRAFFIC_SHIFT = "POST_TEST_TRAFFIC_SHIFT"
PRE_PRODUCTION_TRAFFIC_SHIFT = "PRE_PRODUCTION_TRAFFIC_SHIFT"
PRODUCTION_TRAFFIC_SHIFT = "PRODUCTION_TRAFFIC_SHIFT"
POST_PRODUCTION_TRAFFIC_SHIFT = "POST_PRODUCTION_TRAFFIC_SHIFT"
BAKE_TIME = "BAKE_TIME"
CLEAN_UP = "CLEAN_UP"
ORDER = (
    RECONCILE_SERVICE,
    PRE_SCALE_UP,
    SCALE_UP,
    POST_SCALE_UP,
    TEST_TRAFFIC_SHIFT,
    POST_TEST_TRAFFIC_SHIFT,
    PRE_PRODUCTION_TRAFFIC_SHIFT,
    PRODUCTION_TRAFFIC_SHIFT,
    POST_PRODUCTION_TRAFFIC_SHIFT,
    BAKE_TIME,
    CLEAN_UP,
)
# Engine-only stages: a rollback deployment's, and a deployment with nothing (more) to shift.
ROLLBACK = "ROLLBACK"
DONE = "DONE"


def shown(stage: str) -> str | None:
    """The lifecycleStage DescribeServiceDeployments shows."""
    if stage == PRE_PRODUCTION_TRAFFIC_SHIFT:
        return PRODUCTION_TRAFFIC_SHIFT
    return stage if stage in ORDER else None


@dataclass(frozen=True, slots=True)
class Facts:
    desired: int
    mine_live: int  # this deployment's live tasks not being stopped (a rollback: with blue's)
    mine_ready: int  # of those, running with healthy targets
    others_live: int  # every other live task of the service
    failed: bool = False  # green keeps failing: roll back


@dataclass(frozen=True, slots=True)
class Settings:
    routing: shift.Routing
    bake_minutes: float
    hooks: Sequence[Mapping[str, Any]] = ()
    scale: float = 1.0


@dataclass(slots=True)
class Decision:
    stage: str
    start: int = 0
    stop_others: bool = False
    green_share: int | None = None  # production weight of this deployment's groups
    test_to_mine: bool = False
    records: list[dict[str, Any]] = field(default_factory=list)  # its lifecycle hooks
    rollback: str | None = None
    complete: bool = False
    wake_at: float | None = None
    notes: dict[str, Any] = field(default_factory=dict)  # state members to set


def decide(
    state: Mapping[str, Any],
    facts: Facts,
    settings: Settings,
    records: Sequence[Mapping[str, Any]],
    now: float,
) -> Decision:
    stage = str(state["stage"])
    d = Decision(stage, records=[dict(r) for r in records])
    if stage == ROLLBACK:
        return _rollback_stage(d, facts)
    if stage == DONE:
        return d
    if facts.failed:
        d.rollback = "tasks in the new service revision failed to start or to become healthy."
        return d
    notes = dict(state)
    while True:
        if not _work(d, notes, facts, settings, now):
            return d
        verdict = hooks.at_stage(d.stage, settings.hooks, d.records, now, settings.scale)
        if verdict.rollback is not None:
            d.rollback = verdict.rollback
            return d
        if not verdict.done:
            d.wake_at = _sooner(d.wake_at, verdict.wake_at)
            return d
        if d.stage == CLEAN_UP:
            d.stage, d.complete = DONE, True
            return d
        d.stage = ORDER[ORDER.index(d.stage) + 1]
        d.notes["stageSince"] = notes["stageSince"] = now


def _sooner(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _work(d: Decision, notes: dict[str, Any], facts: Facts, s: Settings, now: float) -> bool:
    """The stage's own work; True once it is done."""
    stage = d.stage
    if stage == RECONCILE_SERVICE:
        d.green_share = 0
    elif stage == SCALE_UP:
        d.start = max(0, facts.desired - facts.mine_live)
        return facts.mine_ready >= facts.desired and d.start == 0
    elif stage == TEST_TRAFFIC_SHIFT:
        d.test_to_mine = True
    elif stage == PRODUCTION_TRAFFIC_SHIFT:
        began = notes.get("shiftBegan")
        if began is None:
            began = d.notes["shiftBegan"] = notes["shiftBegan"] = now
        step = shift.at(s.routing, float(began), now, s.scale)
        d.green_share = step.green
        if step.next_at is not None:
            d.wake_at = step.next_at
            return False
    elif stage == BAKE_TIME:
        until = notes.get("bakeUntil")
        if until is None:
            until = d.notes["bakeUntil"] = notes["bakeUntil"] = now + s.bake_minutes * 60 * s.scale
        if now < float(until):
            d.wake_at = float(until)
            return False
    elif stage == CLEAN_UP:
        d.stop_others = True
        return facts.others_live == 0
    return True


def _rollback_stage(d: Decision, facts: Facts) -> Decision:
    d.green_share, d.test_to_mine, d.stop_others = 100, True, True
    d.start = max(0, facts.desired - facts.mine_live)
    if facts.others_live == 0 and d.start == 0 and facts.mine_ready >= facts.desired:
        d.stage, d.complete = DONE, True
    return d
