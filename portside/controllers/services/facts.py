"""What the service reconcilers read and what they decide: plain values, so `compute`
functions stay pure (DESIGN.md rule 2). service_facts.py builds the facts from the store,
apply.py applies the plan."""

from __future__ import annotations

from dataclasses import dataclass, field

from portside.model.states import InstanceStatus, TaskStatus


@dataclass(frozen=True, slots=True)
class TaskFact:
    """One of the service's tasks as the reconciler needs it."""

    arn: str
    deployment_id: str  # the deployment that started it (task.startedBy)
    last_status: TaskStatus  # PROVISIONING ... STOPPED
    desired_status: TaskStatus  # RUNNING | STOPPED
    health_status: str  # HEALTHY | UNHEALTHY | UNKNOWN (the task's aggregate)
    has_health_check: bool  # some essential container defines a healthCheck
    instance_arn: str | None  # None for FARGATE
    zone: str | None
    started_at: float | None
    stopped_at: float | None = None
    stop_code: str | None = None
    # Stopped without ever reaching RUNNING (could not be placed, pulled or started).
    failed_to_start: bool = False
    # task.stoppedReason once a stop was asked for: the circuit breaker counts tasks the
    # scheduler stopped for failing their health checks ("Task failed ... health checks").
    stopped_reason: str | None = None
    # Its service has load balancers: it is healthy only once every target group has its
    # target healthy (`targets_healthy`); `unhealthy_in` names a group whose health checks it
    # fails (controllers/targets.py copies ELB's verdicts into `service_targets`).
    load_balanced: bool = False
    targets_healthy: bool = False
    unhealthy_in: str | None = None
    # UpdateTaskProtection's expiry: until then no scale-in or deployment stops it
    # (protection.py); None: not protected.
    protected_until: float | None = None

    @property
    def live(self) -> bool:
        """Counts toward the service: wanted running and not yet stopped."""
        return self.desired_status == TaskStatus.RUNNING and self.last_status != TaskStatus.STOPPED

    @property
    def running(self) -> bool:
        return self.live and self.last_status == TaskStatus.RUNNING

    @property
    def healthy(self) -> bool:
        """RUNNING, and HEALTHY when the task has health checks."""
        if not self.running:
            return False
        return (
            self.health_status == "HEALTHY"
            if self.has_health_check
            else (self.health_status != "UNHEALTHY")
        )


@dataclass(frozen=True, slots=True)
class InstanceFact:
    arn: str
    status: InstanceStatus  # ACTIVE | DRAINING | ...
    connected: bool
    zone: str | None = None
    disconnected_since: float | None = None
    # For DAEMON services: whether the service's placement constraints admit the instance.
    eligible: bool = True
    # For DAEMON services: live tasks of REPLICA services on the instance. On a DRAINING
    # instance the daemon task is the last to stop: it waits until this is 0.
    replica_tasks: int = 0


@dataclass(frozen=True, slots=True)
class StartTasks:
    deployment_id: str
    count: int
    # DAEMON: the instances to start one task each on (empty for REPLICA: the placer chooses).
    instances: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StopTask:
    task_arn: str
    reason: str  # ECS's stoppedReason, e.g. "Scaling activity initiated by (deployment X)"


@dataclass(slots=True)
class DeploymentUpdate:
    """New values for a deployment; None leaves a field as it is."""

    id: str
    status: str | None = None  # PRIMARY | ACTIVE | INACTIVE
    rollout_state: str | None = None
    rollout_state_reason: str | None = None
    failed_tasks: int | None = None
    running_count: int | None = None
    pending_count: int | None = None
    desired_count: int | None = None  # DAEMON: tracks the eligible instances


@dataclass(slots=True)
class Plan:
    start: list[StartTasks] = field(default_factory=list)
    stop: list[StopTask] = field(default_factory=list)
    deployments: list[DeploymentUpdate] = field(default_factory=list)
    # A new PRIMARY deployment the circuit breaker rolls back to: (task definition ARN, reason).
    rollback: tuple[str, str] | None = None
    events: list[str] = field(default_factory=list)  # ECS's wording, oldest first
    running_count: int = 0
    pending_count: int = 0
    steady: bool | None = None  # None: unchanged
    launch_backoff_until: float | None = None
    launch_failures: int | None = None
    # DAEMON: the service's computed desiredCount (the instances it should run on).
    desired_count: int | None = None
    # Seconds until the reconciler wants to look again even if nothing changes (grace
    # periods, back-off); None: only when something changes.
    recheck_in: float | None = None
