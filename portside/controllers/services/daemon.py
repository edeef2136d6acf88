"""The DAEMON reconciler: exactly one task of the service on each ACTIVE, connected container
instance that the service's placement constraints admit (ECS developer guide, "Daemon
scheduling strategy", "Container instance draining"). Pure (DESIGN.md rule 2):
`compute(service, tasks, instances, now)`.

What the loop must honour:

- `tasks` holds the service's unstopped tasks and the PRIMARY deployment's tasks that stopped
  within FACTS_WINDOW seconds, also once it is COMPLETED (an instance that joins later may
  fail too), with `stopped_reason` filled in: failed starts drive the per-instance back-off,
  and the circuit breaker counts failures.
- `instances` holds the cluster's registered instances, `eligible` and `replica_tasks` set.
- A StopTask sets the task's desiredStatus to STOPPED. The instance stays taken until the task
  is STOPPED and its replacement comes on a later pass (maximumPercent is 100 for daemons:
  stop first, then start), so an instance never holds two unstopped tasks of the service.
- StartTasks carries the PRIMARY deployment and the instances to start one task each on.
- A task that fails its container's or a target group's health checks (`unhealthy_in`) once
  healthCheckGracePeriodSeconds have passed is stopped; its replacement starts on the same
  instance when it has STOPPED. A replacement counts as healthy (and the service as steady)
  only once its targets are.
- `desired_count`: the service's computed desiredCount; DeploymentUpdate.desired_count the
  deployment's. `rollback`, events, `steady`, `launch_*`: as for REPLICA (replica.py).
- `recheck_in`: a grace period, a back-off or a task's first healthy seconds end then, with
  no change in the store to announce it.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence

from portside.controllers.services import circuit_breaker as cb
from portside.controllers.services import service_events as words
from portside.controllers.services.facts import (
    DeploymentUpdate,
    InstanceFact,
    Plan,
    StartTasks,
    StopTask,
    TaskFact,
)
from portside.controllers.services.rolling import (
    HEALTHY_AFTER_RUNNING,
    counts_healthy,
    failed_health,
)
from portside.model import container_instance as ci
from portside.model.service import (
    COMPLETED,
    DEPLOYMENT_INACTIVE,
    DRAINING,
    FAILED,
    IN_PROGRESS,
    PRIMARY,
    Deployment,
    Service,
)
from portside.model.states import TaskStatus

BACKOFF_BASE = 5.0  # seconds before trying an instance again after one failed start
BACKOFF_MAX = cb.THROTTLE_CAP  # ECS's throttle: "up to a maximum of 27 minutes"
FACTS_WINDOW = cb.FACTS_WINDOW  # over twice BACKOFF_MAX: a run's last two failures show
WAIT_RECHECK = 5.0  # while a daemon task waits for a draining instance's other tasks

# Stops that say nothing about the task itself: the scheduler, a user or the host ended it.
NOT_THE_TASK = frozenset(
    {"ServiceSchedulerInitiated", "UserInitiated", "SpotInterruption", "TerminationNotice"}
)

CONSTRAINTS = "Task no longer meets the placement constraints of its service"


def compute(
    service: Service,
    tasks: Sequence[TaskFact],
    instances: Mapping[str, InstanceFact],
    now: float,
) -> Plan:
    """What to do for a DAEMON service now. The plan is complete: the loop applies it as is."""
    return _Pass(service, tasks, instances, now).run()


def backoff(failures: int) -> float:
    """Seconds to wait before the next start on an instance after `failures` in a row."""
    if failures <= 0:
        return 0.0
    return min(BACKOFF_MAX, BACKOFF_BASE * 2.0 ** min(failures - 1, 20))


def launch_failed(t: TaskFact) -> bool:
    """Stopped without ever running, for a reason of its own."""
    return (
        t.last_status == TaskStatus.STOPPED
        and t.failed_to_start
        and t.stop_code not in NOT_THE_TASK
    )


def failed_run(tasks: Sequence[TaskFact], since: float) -> tuple[list[float], float]:
    """When the failed starts since `since` that no started task follows happened, newest
    first; and where the run begins: the start that ends it, or `since`."""
    marks: list[tuple[float, bool]] = []
    for t in tasks:
        if t.started_at is not None:
            marks.append((t.started_at, True))
        elif launch_failed(t) and (t.stopped_at or since) >= since:
            marks.append((t.stopped_at or since, False))
    marks.sort(reverse=True)  # newest first; a start wins a tie
    times: list[float] = []
    for when, started in marks:
        if started:
            return times, max(when, since)
        times.append(when)
    return times, since


def retry_at(tasks: Sequence[TaskFact], since: float) -> float | None:
    """When an instance whose tasks keep failing to start may be tried again (None: now).
    The wait doubles with each failure; since the facts reach back FACTS_WINDOW only, it is
    also at least twice the last gap, so a long run keeps its pace."""
    times, _ = failed_run(tasks, since)
    if not times:
        return None
    wait = backoff(len(times))
    if len(times) > 1:
        wait = min(BACKOFF_MAX, max(wait, 2.0 * (times[0] - times[1])))
    return times[0] + wait


class _Pass:
    """One compute call's scratch: the facts sorted by instance and the plan being built."""

    def __init__(
        self,
        service: Service,
        tasks: Sequence[TaskFact],
        instances: Mapping[str, InstanceFact],
        now: float,
    ) -> None:
        self.service = service
        self.tasks = tasks
        self.instances = instances
        self.now = now
        self.plan = Plan()
        self.primary = next((d for d in service.deployments if d.status == PRIMARY), None)
        self.targets = sorted(
            arn
            for arn, i in instances.items()
            if i.status == ci.ACTIVE and i.connected and i.eligible
        )
        self.desired = len(self.targets)
        # Tasks on instances the service still deals with; the rest are gone or orphaned.
        self.known = [
            t
            for t in tasks
            if (i := instances.get(t.instance_arn or "")) is not None
            and i.status in (ci.ACTIVE, ci.DRAINING)
        ]
        self.present: dict[str, list[TaskFact]] = defaultdict(list)  # not yet STOPPED
        self.history: dict[str, list[TaskFact]] = defaultdict(list)
        for t in self.known:
            self.history[str(t.instance_arn)].append(t)
            if t.last_status != TaskStatus.STOPPED:
                self.present[str(t.instance_arn)].append(t)
        self.stopping: set[str] = set()
        self.updates: dict[str, DeploymentUpdate] = {}
        self.rechecks: list[float] = []
        self.held_until: list[float] = []  # instances backed off, until when
        self.waiting = False  # a daemon task waits for its draining instance's other tasks

    def healthy(self, t: TaskFact) -> bool:
        return t.arn not in self.stopping and counts_healthy(t, self.now)

    # -- the pass ------------------------------------------------------------------------

    def run(self) -> Plan:
        kept: dict[str, TaskFact] = {}
        halted = True
        if self.service.status == DRAINING:
            for t in self.tasks:
                if t.live:
                    self._stop(t, self._scaling())
            self.desired = 0
        elif self.primary is not None:
            halted = self._circuit_breaker(self.primary)
            kept = self._evict()
            if not halted:
                self._replace_unhealthy(kept)
                self._roll_out(self.primary, kept)
                self._start(self.primary)
            self._throttle(self.primary)
        self._finish(kept, halted)
        return self.plan

    def _circuit_breaker(self, primary: Deployment) -> bool:
        """The REPLICA rules (circuit_breaker.py) against the computed desired count; True
        when the PRIMARY must launch nothing (FAILED)."""
        if primary.rollout_state == FAILED:
            return True
        now_desired = dataclasses.replace(self.service, desired_count=self.desired)
        verdict = cb.evaluate(now_desired, primary, self.tasks, self.now)
        if verdict is None:
            return False
        self._update(primary.id).failed_tasks = verdict.failed_tasks
        if not verdict.tripped:
            return False
        update = self._update(primary.id)
        update.rollout_state = FAILED
        update.rollout_state_reason = cb.FAILED_REASON
        name = self.service.name
        self.plan.events.append(
            f"(service {name}) (deployment {primary.id}) deployment failed: tasks failed to start."
        )
        back = verdict.rollback_to
        if back is not None:
            reason = f"ECS deployment circuit breaker: rolling back to deploymentId {back.id}."
            self.plan.rollback = (back.task_definition, reason)
            self.plan.events.append(f"(service {name}) rolling back to deployment {back.id}.")
        return True

    def _evict(self) -> dict[str, TaskFact]:
        """Stops what may not stay; returns the one task kept on each ACTIVE eligible instance."""
        kept: dict[str, TaskFact] = {}
        for arn in sorted(self.present):
            inst = self.instances[arn]
            live = [t for t in self.present[arn] if t.live]
            if inst.status == ci.DRAINING:
                # Pending tasks go at once; a running daemon task is the last task to stop.
                for t in live:
                    if t.running and inst.replica_tasks > 0:
                        self.waiting = True
                    else:
                        self._stop(t, words.draining(self.service.name))
            elif not inst.eligible:
                for t in live:
                    self._stop(t, CONSTRAINTS)
            elif live:
                keep = max(live, key=self._rank)
                kept[arn] = keep
                for t in live:
                    if t is not keep:
                        self._stop(t, self._scaling())
        return kept

    def _replace_unhealthy(self, kept: Mapping[str, TaskFact]) -> None:
        """A task failing its container's or a target group's health checks once the grace
        period is over: stop first, start on a later pass, on the same instance (there is no
        room for both: maximumPercent is 100)."""
        grace = float(self.service.health_check_grace_period_seconds or 0)
        for arn in self.targets:
            t = kept.get(arn)
            if t is None or not failed_health(t, 0.0, self.now):
                continue  # not failing any health check
            if not failed_health(t, grace, self.now):
                self.rechecks.append((t.started_at or self.now) + grace - self.now)
                continue
            reason, event = words.health_failure(self.service.name, t)
            self._stop(t, reason)
            self.plan.events.append(event)

    def _roll_out(self, primary: Deployment, kept: Mapping[str, TaskFact]) -> None:
        """Stops older deployments' tasks, keeping minimumHealthyPercent of the instances
        healthy; their PRIMARY replacements start once they have stopped."""
        targets = set(self.targets)
        old = [
            (arn, t)
            for arn, t in kept.items()
            if t.deployment_id != primary.id and t.arn not in self.stopping
        ]
        if not old:
            return
        healthy = sum(1 for a in self.targets if (t := kept.get(a)) and self.healthy(t))
        config = self.service.deployment_configuration
        percent = min(100, max(0, int(config.minimum_healthy_percent or 0)))
        budget = healthy - math.ceil(self.desired * percent / 100)
        if budget <= 0 and healthy == self.desired:
            # The floor (rounded up) would stall the deployment for good, e.g. one instance
            # at 50%: replace one instance at a time instead.
            budget = 1
        # Tasks holding no healthy capacity (or out of reach) go first, for free.
        for arn, t in sorted(old, key=lambda p: (p[0] in targets and self.healthy(p[1]), p[0])):
            if arn in targets and self.healthy(t):
                if budget <= 0:
                    break
                budget -= 1
            self._stop(t, words.scaling(primary.id))

    def _start(self, primary: Deployment) -> None:
        free: list[str] = []
        for arn in self.targets:
            if self.present.get(arn):
                continue
            retry = retry_at(self.history.get(arn, []), primary.created_at)
            if retry is not None and self.now < retry:
                self.held_until.append(retry)
                self.rechecks.append(retry - self.now)
                continue
            free.append(arn)
        if free:
            self.plan.start.append(StartTasks(primary.id, len(free), tuple(free)))

    def _throttle(self, primary: Deployment) -> None:
        """ECS's service throttle bookkeeping: consecutive failed starts, one event."""
        plan, service = self.plan, self.service
        if plan.rollback is not None:
            # A new deployment: the service is back to normal, non-throttled launching.
            plan.launch_failures, plan.launch_backoff_until = 0, 0.0
            return
        times, begins = failed_run(self.known, primary.created_at)
        failures = len(times)
        previous = service.launch_failures
        if begins < self.now - FACTS_WINDOW and 0 < failures < previous:
            failures = previous  # the run reaches back past the facts: keep its count
        if failures != previous:
            plan.launch_failures = failures
        if previous < cb.THROTTLE_AFTER <= failures:
            plan.events.append(words.throttled(service.name))
        until = max(self.held_until, default=0.0)
        if until != service.launch_backoff_until:
            plan.launch_backoff_until = until

    def _finish(self, kept: Mapping[str, TaskFact], halted: bool) -> None:
        """Counts, deployment completion and the steady state."""
        plan, service, primary = self.plan, self.service, self.primary
        live = [t for t in self.known if t.live and t.arn not in self.stopping]
        plan.running_count = sum(1 for t in live if t.running)
        plan.pending_count = len(live) - plan.running_count
        plan.desired_count = self.desired
        for d in service.deployments:
            if d.status == DEPLOYMENT_INACTIVE:
                continue
            mine = [t for t in live if t.deployment_id == d.id]
            update = self._update(d.id)
            update.running_count = sum(1 for t in mine if t.running)
            update.pending_count = len(mine) - update.running_count
            update.desired_count = self.desired if d is primary else len(mine)
        for a in self.targets:
            t = kept.get(a)
            if t is None or t.has_health_check or t.load_balanced:
                continue  # healthy when its checks or its targets say so, not with time
            if t.running and t.started_at:
                ran = self.now - t.started_at
                if ran < HEALTHY_AFTER_RUNNING:
                    self.rechecks.append(HEALTHY_AFTER_RUNNING - ran)
        settled = (
            primary is not None
            and service.status != DRAINING
            and not halted
            and not plan.start
            and not plan.stop
            and not self.waiting
            and not any(self._stopping_within_reach(t) for t in self.known)
            and all(t.deployment_id == primary.id for t in live)
            and all((t := kept.get(a)) is not None and self.healthy(t) for a in self.targets)
        )
        if settled and primary is not None and primary.rollout_state == IN_PROGRESS:
            update = self._update(primary.id)
            update.rollout_state = COMPLETED
            update.rollout_state_reason = f"ECS deployment {primary.id} completed."
            plan.events.append(words.deployment_completed(service.name, primary.id))
            for d in service.deployments:
                if d is not primary and d.status != DEPLOYMENT_INACTIVE:
                    self._update(d.id).status = DEPLOYMENT_INACTIVE
        if settled and not service.steady:
            plan.steady = True
            plan.events.append(f"(service {service.name}) has reached a steady state.")
        elif not settled and service.steady:
            plan.steady = False
        plan.deployments = list(self.updates.values())
        waits = [w for w in self.rechecks if w > 0]
        if waits:
            plan.recheck_in = min(waits)
        elif self.waiting:
            plan.recheck_in = WAIT_RECHECK

    # -- helpers -------------------------------------------------------------------------

    def _stopping_within_reach(self, t: TaskFact) -> bool:
        """Asked to stop, not yet STOPPED, on an instance whose agent will report it."""
        inst = self.instances[str(t.instance_arn)]
        return t.last_status != TaskStatus.STOPPED and not t.live and inst.connected

    def _stop(self, t: TaskFact, reason: str) -> None:
        if t.arn not in self.stopping:
            self.stopping.add(t.arn)
            self.plan.stop.append(StopTask(t.arn, reason))

    def _update(self, deployment_id: str) -> DeploymentUpdate:
        if deployment_id not in self.updates:
            self.updates[deployment_id] = DeploymentUpdate(deployment_id)
        return self.updates[deployment_id]

    def _scaling(self) -> str:
        if self.primary is None:
            return f"Scaling activity initiated by (service {self.service.name})"
        return words.scaling(self.primary.id)

    def _rank(self, t: TaskFact) -> tuple[bool, bool, bool, float, str]:
        """Which of two tasks on one instance to keep: the PRIMARY's, healthy, running, the
        longest running."""
        primary = self.primary is not None and t.deployment_id == self.primary.id
        started = -t.started_at if t.started_at is not None else -math.inf
        return (primary, counts_healthy(t, self.now), t.running, started, t.arn)
