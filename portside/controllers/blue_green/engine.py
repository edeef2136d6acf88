"""One CodeDeploy ECS deployment's next move, as a pure function of where it stands (its
`engine` state), what the store shows of its task sets, and the time (DESIGN.md rule 2).
loop.py reads the facts, calls `decide` and applies the Decision.

The phases, after CodeDeploy's ECS lifecycle (Install, AllowTestTraffic, AllowTraffic, then
the original task set's termination):

START             the green (replacement) task set is made at 100 % behind the pair's other
                  target group; the test listener forwards to it; the production listener
                  forwards to both groups, green at weight 0
WAIT_GREEN        until the green task set is STEADY_STATE (its tasks running, their targets
                  healthy); GREEN_FAILURES of its tasks stopped for failing health checks or
                  failing to start fail the deployment
READY             deploymentReadyOption STOP_DEPLOYMENT: wait for ContinueDeployment, or the
                  wait's end (then Stopped)
SHIFT             production weights moved by the configuration's routing (shift.py); green
                  becomes the PRIMARY task set once it has everything
TERMINATION_WAIT  blue kept for terminationWaitTimeInMinutes, then drained (TERMINATE), and
                  the deployment Succeeded
ROLLBACK          on failure (with automatic rollback) or StopDeployment with rollback: all
                  traffic back to blue, blue PRIMARY, green drained; Failed or Stopped
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from portside.controllers.blue_green import shift

START = "START"
WAIT_GREEN = "WAIT_GREEN"
READY = "READY"
SHIFT = "SHIFT"
TERMINATION_WAIT = "TERMINATION_WAIT"
DONE = "DONE"
# Tasks of the green task set stopped for failing health checks or failing to start before
# the deployment fails (Portside's rule: ECS would keep replacing them).
GREEN_FAILURES = 2
# How long the green task set may take to reach a steady state (not scaled: it waits for
# real tasks).
GREEN_TIMEOUT = 3600.0


@dataclass(frozen=True, slots=True)
class Facts:
    service_active: bool
    blue_exists: bool
    green_exists: bool
    green_steady: bool = False
    green_failures: int = 0


@dataclass(slots=True)
class Decision:
    phase: str
    status: str  # CodeDeploy's deployment status
    create_green: bool = False
    green_share: int | None = None  # production weight of green (blue gets the rest)
    test_to: str | None = None  # "green" | "blue": where the test listener forwards
    primary: str | None = None  # "green" | "blue"
    drain: list[str] = field(default_factory=list)  # "blue" | "green"
    error: tuple[str, str] | None = None  # (code, message)
    rollback_message: str | None = None
    complete: bool = False
    wake_at: float | None = None
    notes: dict[str, Any] = field(default_factory=dict)  # engine members to set


def _rollback(state: dict[str, Any], status: str, code: str, message: str) -> Decision:
    d = Decision(DONE, status, green_share=0, test_to="blue", primary="blue", complete=True)
    d.drain = ["green"] if state.get("green") else []
    d.error = (code, message)
    d.rollback_message = message
    return d


def failed(state: dict[str, Any], code: str, message: str) -> Decision:
    """The deployment fails: rolled back when automatic rollback covers failures."""
    if state.get("autoRollback"):
        return _rollback(state, "Failed", code, message)
    return Decision(DONE, "Failed", error=(code, message), complete=True)


def decide(state: dict[str, Any], facts: Facts, now: float, scale: float = 1.0) -> Decision:
    phase = state["phase"]
    request = state.get("request")
    if not facts.service_active:
        return Decision(
            DONE,
            "Failed",
            error=("ECS_UPDATE_ERROR", "The ECS service is no longer ACTIVE."),
            complete=True,
        )
    if request == "rollback":
        return _rollback(
            state,
            "Stopped",
            "MANUAL_STOP",
            "The deployment was stopped and rolled back by StopDeployment.",
        )
    if request == "stop":
        return Decision(
            DONE,
            "Stopped",
            error=("MANUAL_STOP", "The deployment was stopped by StopDeployment."),
            complete=True,
        )
    if phase == START:
        return Decision(
            WAIT_GREEN,
            "InProgress",
            create_green=True,
            green_share=0,
            test_to="green",
            notes={"greenSince": now},
        )
    if phase == WAIT_GREEN:
        if not facts.green_exists:
            return failed(state, "ECS_UPDATE_ERROR", "The replacement task set is gone.")
        if facts.green_failures >= GREEN_FAILURES:
            return failed(
                state,
                "ECS_UPDATE_ERROR",
                "The replacement task set's tasks failed to become healthy "
                f"({facts.green_failures} tasks stopped for failing their health checks or "
                "failing to start).",
            )
        if now - float(state.get("greenSince") or now) > GREEN_TIMEOUT:
            return failed(
                state, "TIMEOUT", "The replacement task set did not reach a steady state in time."
            )
        if not facts.green_steady:
            return Decision(WAIT_GREEN, "InProgress", wake_at=now + 1.0)
        wait = state.get("readyWaitMinutes")
        if wait is not None:
            return Decision(READY, "Ready", notes={"readyUntil": now + float(wait) * 60 * scale})
        return Decision(SHIFT, "InProgress", notes={"shiftBegan": now}, wake_at=now)
    if phase == READY:
        if request == "continue":
            return Decision(
                SHIFT, "InProgress", notes={"shiftBegan": now, "request": None}, wake_at=now
            )
        until = float(state.get("readyUntil") or now)
        if now >= until:
            return _rollback(
                state,
                "Stopped",
                "TIMEOUT",
                "The deployment was not continued before the ready wait ended.",
            )
        return Decision(READY, "Ready", wake_at=until)
    if phase == SHIFT:
        if facts.green_failures >= GREEN_FAILURES or not facts.green_exists:
            return failed(
                state,
                "ECS_UPDATE_ERROR",
                "The replacement task set's tasks failed their health checks during the "
                "traffic shift.",
            )
        step = shift.at(
            shift.Routing.of(state.get("routing")), float(state["shiftBegan"]), now, scale
        )
        if step.next_at is not None:
            return Decision(SHIFT, "InProgress", green_share=step.green, wake_at=step.next_at)
        wait = float(state.get("terminationWaitMinutes") or 0) * 60 * scale
        return Decision(
            TERMINATION_WAIT,
            "InProgress",
            green_share=100,
            primary="green",
            notes={"trafficOnGreenAt": now, "terminateAt": now + wait},
            wake_at=now + wait,
        )
    if phase == TERMINATION_WAIT:
        until = float(state.get("terminateAt") or now)
        if request != "continue" and now < until:
            return Decision(TERMINATION_WAIT, "InProgress", wake_at=until)
        d = Decision(DONE, "Succeeded", complete=True, notes={"request": None})
        if state.get("terminate", True):
            d.drain = ["blue"]
        return d
    return Decision(DONE, state.get("status") or "Succeeded", complete=True)
