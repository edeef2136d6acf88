"""One task's run on this host, as a one-step state machine.

`next_action(run)` looks at what the control plane wants (the task, as the protocol's
AgentTask) and what this host knows (container states), and names the single next thing to
do. It never does it: the worker executes the action through the driver, records the outcome
in the TaskRun (`apply_state` for what the driver says of a container), and asks again. Pure,
so every lifecycle rule is tested without Docker or a clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from portside.agent.driver import ContainerState, TaskResources
from portside.gateway.protocol import AgentTask, TaskSecrets
from portside.gateway.protocol.secrets import takes_secrets

# ECS's wording for why a task stopped.
ESSENTIAL_EXITED = "Essential container in task exited"
OOM_REASON = "OutOfMemoryError: Container killed due to memory usage"
DEFAULT_STOP_TIMEOUT = 30.0


@dataclass(slots=True)
class ContainerRun:
    name: str
    definition: dict[str, Any]  # container definition with overrides applied
    token: str  # metadata endpoint token
    runtime_id: str | None = None
    state: str = "none"  # none | pulled | created | running | exited
    exit_code: int | None = None
    reason: str | None = None
    health: str | None = None
    digest: str | None = None
    bindings: list[dict[str, Any]] = field(default_factory=list)
    created_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    stop_sent: bool = False

    @property
    def essential(self) -> bool:
        return bool(self.definition.get("essential", True))

    @property
    def started(self) -> bool:
        return self.state in ("running", "exited") and self.started_at is not None

    def ecs_status(self) -> str:
        if self.state == "running":
            return "RUNNING"
        if self.state == "exited":
            return "STOPPED"
        return "PENDING"


@dataclass(slots=True)
class TaskRun:
    arn: str
    task: AgentTask  # the task as the control plane last sent it
    containers: dict[str, ContainerRun]
    status: str = "PENDING"  # what this host knows: PROVISIONING ... STOPPED
    resources: TaskResources | None = None
    torn_down: bool = False
    pull_started_at: float | None = None
    pull_stopped_at: float | None = None
    execution_stopped_at: float | None = None
    stop_code: str | None = None  # set when this host decides the task must stop
    stopped_reason: str | None = None
    stopped_at: float | None = None
    # The task's secrets, asked of the control plane at its start and kept in memory only
    # (never written to the state directory) until its last container is created.
    secrets: TaskSecrets | None = field(
        default=None, repr=False, compare=False, metadata={"stored": False}
    )

    @property
    def definition(self) -> Mapping[str, Any]:
        """The task definition (ECS's document shape)."""
        return self.task.definition

    @property
    def network_mode(self) -> str:
        return str(self.definition.get("networkMode") or "bridge")

    @property
    def wants_stop(self) -> bool:
        return self.task.desired_status == "STOPPED" or self.stop_code is not None

    @property
    def creating(self) -> bool:
        """Whether a container is still to be pulled or created (and may need secrets)."""
        return any(c.state in ("none", "pulled") for c in self.containers.values())

    @property
    def needs_secrets(self) -> bool:
        """Whether the task's start waits for the control plane's answer on its secrets: it
        takes some, or it has an execution role, whose right to pull its images and write
        its logs the control plane checks then (ECS's execution resources)."""
        wanted = takes_secrets(self.definition) or bool(self.task.execution_role_arn)
        return self.secrets is None and self.creating and wanted


@dataclass(frozen=True, slots=True)
class Action:
    kind: str  # secrets | setup | pull | launch | start | stop | teardown | finish | fail
    container: str | None = None
    timeout: float = 0.0
    stop_code: str | None = None
    reason: str | None = None


def _dependency_state(run: TaskRun, dep: dict[str, Any]) -> str:
    """'ok' when the dependency is met, 'wait' while it may still be, 'never' when it can't."""
    target = run.containers.get(dep.get("containerName", ""))
    if target is None:
        return "never"
    condition = dep.get("condition", "START")
    if condition == "START":
        if target.started:
            return "ok"
        return "never" if target.state == "exited" else "wait"  # it failed to start
    if condition == "COMPLETE":
        return "ok" if target.state == "exited" else "wait"
    if condition == "SUCCESS":
        if target.state != "exited":
            return "wait"
        return "ok" if target.exit_code == 0 else "never"
    if condition == "HEALTHY":
        if target.health == "HEALTHY":
            return "ok"
        if target.health == "UNHEALTHY" or target.state == "exited":
            return "never"
        return "wait"
    return "never"


def stop_timeout(c: ContainerRun) -> float:
    value = c.definition.get("stopTimeout")
    return float(value) if value is not None else DEFAULT_STOP_TIMEOUT


def next_action(run: TaskRun) -> Action | None:
    """The one next step for this task, or None when there is nothing to do until something
    changes (a container exits, the control plane sends a new desired status)."""
    if run.status == "STOPPED":
        return None
    if run.wants_stop:
        return _stopping(run)
    if run.needs_secrets:
        # Before anything of the task is made: a secret that cannot be had stops it bare.
        return Action("secrets")
    if run.resources is None:
        return Action("setup")
    for c in run.containers.values():
        if c.state == "none":
            return Action("pull", c.name)
    for c in run.containers.values():
        if c.state == "exited" and c.essential:
            return Action(
                "fail", c.name, stop_code="EssentialContainerExited", reason=ESSENTIAL_EXITED
            )
    for c in run.containers.values():
        # Created but never started: the agent stopped between the two (a restart adopts it).
        if c.state == "created" and not c.stop_sent:
            return Action("start", c.name)
    for c in run.containers.values():
        if c.state != "pulled":
            continue
        deps = [_dependency_state(run, d) for d in c.definition.get("dependsOn") or ()]
        if "never" in deps:
            return Action(
                "fail",
                c.name,
                stop_code="TaskFailedToStart",
                reason=f"Container {c.name} dependency can never be met",
            )
        if all(d == "ok" for d in deps):
            return Action("launch", c.name)
    return None


def _stopping(run: TaskRun) -> Action | None:
    for c in run.containers.values():
        if c.state in ("running", "created") and not c.stop_sent:
            return Action("stop", c.name, timeout=stop_timeout(c))
    if any(c.state in ("running", "created") for c in run.containers.values()):
        return None  # stops are under way; the worker re-inspects
    if run.resources is not None and not run.torn_down:
        return Action("teardown")
    return Action("finish")


def task_status(run: TaskRun) -> str:
    """The lifecycle status this host reports for the task now."""
    if run.status == "STOPPED":
        return "STOPPED"
    live = any(c.state in ("running", "created") for c in run.containers.values())
    if run.wants_stop:
        if live:
            return "STOPPING"
        if run.network_mode == "awsvpc" and run.resources is not None and not run.torn_down:
            return "DEPROVISIONING"
        return run.status
    if run.resources is None:
        return "PROVISIONING" if run.network_mode == "awsvpc" else "PENDING"
    # A non-essential container that failed to start does not hold the task back (an
    # essential one stops the task).
    if all(c.started or c.state == "exited" for c in run.containers.values()):
        return "RUNNING"
    return "PENDING"


def apply_state(c: ContainerRun, st: ContainerState, clock: Callable[[], float]) -> None:
    """Record what the driver says of a container in its run."""
    if st.status == "running":
        c.state = "running"
    elif st.status in ("exited", "missing"):
        c.state = "exited"
        c.finished_at = st.finished_at or clock()
        if st.status == "missing" and st.exit_code is None:
            c.reason = c.reason or "Container no longer exists"
    if st.exit_code is not None and c.state == "exited":
        c.exit_code = st.exit_code
    if st.oom_killed:
        c.reason = OOM_REASON
        c.exit_code = st.exit_code if st.exit_code is not None else 137
    if st.error and not c.reason:
        c.reason = st.error
    if st.health is not None:
        c.health = st.health
    if st.started_at and not c.started_at:
        c.started_at = st.started_at
    if st.network_bindings:
        c.bindings = st.network_bindings
    if st.image_digest:
        c.digest = st.image_digest
