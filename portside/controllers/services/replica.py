"""The REPLICA reconciler: keeps desiredCount tasks of the PRIMARY deployment running and rolls
older deployments out within minimumHealthyPercent and maximumPercent (ECS developer guide,
"Amazon ECS services", "Deploy Amazon ECS services by replacing tasks", "Container instance
draining"). Pure (DESIGN.md rule 2): `compute(service, tasks, instances, now)`.

What the loop must honour:

- `tasks` holds the service's unstopped tasks, and its STOPPED tasks of the PRIMARY deployment
  that stopped within circuit_breaker.FACTS_WINDOW seconds (the circuit breaker and the
  throttle count them), with `stopped_reason` filled in.
- `instances` holds the cluster's registered container instances; a task on an instance not
  in it is on a lost host.
- Stops first, then starts: a StopTask sets the task's desiredStatus to STOPPED (with the
  reason as stoppedReason), so it no longer counts as live, and the starts use that room.
- StartTasks is for the PRIMARY deployment only; the placer chooses the instances.
- DeploymentUpdate fields left None stay as they are. `rollback`: create the new PRIMARY with
  that task definition, `rollback_of` the failed PRIMARY, and the given reason as its
  rolloutStateReason; the failed one becomes ACTIVE and is drained on later passes.
- `events` are in ECS's words, oldest first; the "has started/stopped N tasks" events are the
  loop's. `steady`, `launch_failures`, `launch_backoff_until`: None leaves them as they are.
- `recheck_in`: a grace period, a back-off or a task's first 40 healthy seconds end then,
  with no change in the store to announce it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from portside.controllers.services import circuit_breaker as cb
from portside.controllers.services import protection
from portside.controllers.services import service_events as words
from portside.controllers.services.facts import (
    DeploymentUpdate,
    InstanceFact,
    Plan,
    StartTasks,
    StopTask,
    TaskFact,
)
from portside.controllers.services.rebalance import rebalance
from portside.controllers.services.rolling import (
    HEALTHY_AFTER_RUNNING,
    Fleet,
    Limits,
    counts_healthy,
    failed_health,
    roll,
)
from portside.model.service import (
    ACTIVE,
    COMPLETED,
    DEPLOYMENT_INACTIVE,
    FAILED,
    IN_PROGRESS,
    Deployment,
    Service,
)
from portside.model.states import InstanceStatus

# A task whose container instance has been disconnected this long is lost: it is stopped and
# replaced (DESIGN choice; ECS itself waits for the instance to come back or terminate).
LOST_INSTANCE_GRACE = 300.0
# Instance statuses whose tasks may still run.
SERVING = frozenset({InstanceStatus.ACTIVE, InstanceStatus.DRAINING})


def compute(
    service: Service,
    tasks: Sequence[TaskFact],
    instances: Mapping[str, InstanceFact],
    now: float,
    *,
    lost_grace: float = LOST_INSTANCE_GRACE,
) -> Plan:
    """What to do for a REPLICA service now. The plan is complete: the loop applies it as is.
    `lost_grace`: seconds an instance's agent may be silent before its tasks are replaced."""
    return _Pass(service, tasks, instances, now, lost_grace).run()


class _Pass:
    def __init__(
        self,
        service: Service,
        tasks: Sequence[TaskFact],
        instances: Mapping[str, InstanceFact],
        now: float,
        lost_grace: float = LOST_INSTANCE_GRACE,
    ) -> None:
        self.service = service
        self.tasks = tasks
        self.instances = instances
        self.now = now
        self.lost_grace = lost_grace
        self.primary = service.primary
        self.limits = Limits.of(service)
        self.grace = float(service.health_check_grace_period_seconds or 0)
        self.live = [t for t in tasks if t.live]
        self.plan = Plan()
        self.stops: dict[str, StopTask] = {}
        self.sick: dict[str, str] = {}  # task ARN -> the event of its failed health checks

    # -- facts about one task ------------------------------------------------------------

    def zone_of(self, task: TaskFact) -> str | None:
        if task.zone is not None or task.instance_arn is None:
            return task.zone
        inst = self.instances.get(task.instance_arn)
        return inst.zone if inst else None

    def is_lost(self, task: TaskFact) -> bool:
        if task.instance_arn is None:
            return False
        inst = self.instances.get(task.instance_arn)
        if inst is None or inst.status not in SERVING:
            return True
        if inst.connected:
            return False
        since = inst.disconnected_since
        return since is None or self.now - since >= self.lost_grace

    def on_draining(self, task: TaskFact) -> bool:
        inst = self.instances.get(task.instance_arn) if task.instance_arn else None
        return inst is not None and inst.status == InstanceStatus.DRAINING

    # -- the pass ------------------------------------------------------------------------

    def run(self) -> Plan:
        service, plan = self.service, self.plan
        verdict = cb.evaluate(service, self.primary, self.tasks, self.now)
        rollout = self._breaker(verdict)
        backoff = self._throttle()

        for task in self.live:
            if self.is_lost(task):
                self._stop(task, words.lost(task.instance_arn or "", self.lost_grace))
            elif self.on_draining(task) and not task.running:
                self._stop(task, words.draining(service.name))
        rest = [t for t in self.live if t.arn not in self.stops]

        starts = 0
        reason = words.scaling(self.primary.id)
        if service.status != ACTIVE or self.limits.desired == 0:
            for task in rest:
                # Scaled to zero: protected tasks stay (a deleted service stops them all).
                if service.status != ACTIVE or not protection.is_protected(task, self.now):
                    self._stop(task, reason)
        else:
            can_launch = rollout != FAILED and self.now >= backoff
            fleet = self._fleet(rest, stall=rollout == FAILED)
            if not self.stops:
                plan.events += rebalance(service, fleet, self.instances, self.zone_of, self.now)
            stops, starts = roll(
                self.limits,
                fleet,
                can_launch=can_launch,
                scaling_reason=reason,
                zone_of=self.zone_of,
                now=self.now,
            )
            for stop in stops:
                self.stops[stop.task_arn] = stop
        plan.events += [self.sick[arn] for arn in self.stops if arn in self.sick]
        plan.stop = list(self.stops.values())
        if starts:
            plan.start.append(StartTasks(self.primary.id, starts))
        self._settle(rollout, verdict, starts)
        plan.recheck_in = self._recheck(backoff, starts)
        return plan

    def _stop(self, task: TaskFact, reason: str) -> None:
        self.stops.setdefault(task.arn, StopTask(task.arn, reason))

    def _fleet(self, rest: list[TaskFact], *, stall: bool) -> Fleet:
        fleet = Fleet()
        for task in rest:
            sick = failed_health(task, self.grace, self.now)
            if sick:  # its stop's reason, and the event said if it is stopped for it
                reason, self.sick[task.arn] = words.health_failure(self.service.name, task)
            why = (
                reason
                if sick
                else words.draining(self.service.name)
                if self.on_draining(task)
                else words.scaling(self.primary.id)
            )
            if stall:
                # A FAILED deployment launches nothing: nothing is replaced either.
                mine = task.deployment_id == self.primary.id and not sick
                (fleet.keep if mine else fleet.hold).append(task)
            elif task.deployment_id != self.primary.id:
                if protection.is_protected(task, self.now) and not sick:
                    fleet.hold.append(task)  # the deployment waits for its protection to end
                else:
                    fleet.retire.append((task, why))
            elif sick:
                fleet.unhealthy.append((task, why))
            elif self.on_draining(task):
                fleet.retire.append((task, why))
            else:
                fleet.keep.append(task)
        return fleet

    def _breaker(self, verdict: cb.Verdict | None) -> str:
        """The PRIMARY's rollout state after this pass's failure count."""
        service, plan, primary = self.service, self.plan, self.primary
        if verdict is None or not verdict.tripped:
            return primary.rollout_state
        plan.events.append(
            f"(service {service.name}) (deployment {primary.id}) deployment failed: "
            "tasks failed to start."
        )
        target = verdict.rollback_to
        if target is not None:
            plan.rollback = (
                target.task_definition,
                f"ECS deployment circuit breaker: rolling back to deploymentId {target.id}.",
            )
            plan.events.append(f"(service {service.name}) rolling back to deployment {target.id}.")
        return FAILED

    def _throttle(self) -> float:
        """No PRIMARY launch before the returned time."""
        service, plan = self.service, self.plan
        if plan.rollback is not None:
            # A new deployment: the service is back to normal, non-throttled launching.
            plan.launch_failures, plan.launch_backoff_until = 0, 0.0
            return 0.0
        state = cb.throttle(service, self.tasks, self.now)
        if state.failures != service.launch_failures:
            plan.launch_failures = state.failures
        if state.until != service.launch_backoff_until:
            plan.launch_backoff_until = state.until
        if service.launch_failures < cb.THROTTLE_AFTER <= state.failures:
            plan.events.append(words.throttled(service.name))
        return state.until

    # -- counts, completion, steady state -----------------------------------------------

    def _settle(self, rollout: str, verdict: cb.Verdict | None, starts: int) -> None:
        service, plan, primary = self.service, self.plan, self.primary
        after = [t for t in self.live if t.arn not in self.stops]
        mine = [t for t in after if t.deployment_id == primary.id]
        others = [t for t in after if t.deployment_id != primary.id]
        status = {d.id: d.status for d in service.deployments}
        reason = None
        if (
            rollout == IN_PROGRESS
            and service.status == ACTIVE
            and not others
            and not starts
            and len(mine) == self.limits.desired
            and all(counts_healthy(t, self.now) for t in mine)
        ):
            rollout, reason = COMPLETED, f"ECS deployment {primary.id} completed."
            plan.events.append(words.deployment_completed(service.name, primary.id))
            for d in service.deployments:
                if d.id != primary.id:
                    status[d.id] = DEPLOYMENT_INACTIVE
        elif rollout == FAILED and rollout != primary.rollout_state:
            reason = cb.FAILED_REASON

        for d in service.deployments:
            running = sum(t.running for t in after if t.deployment_id == d.id)
            pending = sum(not t.running for t in after if t.deployment_id == d.id)
            fields: dict[str, object] = {"running_count": running, "pending_count": pending}
            if d is primary:
                fields["pending_count"] = pending + starts
                fields["rollout_state"] = rollout
                if reason is not None:
                    fields["rollout_state_reason"] = reason
                if verdict is not None:
                    fields["failed_tasks"] = verdict.failed_tasks
            fields["status"] = status[d.id]
            update = _changes(d, fields)
            if update is not None:
                plan.deployments.append(update)

        plan.running_count = sum(t.running for t in after)
        plan.pending_count = sum(not t.running for t in after) + starts
        standing = [d for d in service.deployments if status[d.id] != DEPLOYMENT_INACTIVE]
        steady = (
            service.status == ACTIVE
            and plan.rollback is None
            and len(standing) == 1
            and rollout != IN_PROGRESS
            and plan.running_count == self.limits.desired
            and plan.pending_count == 0
            # A pass that stops tasks (a scale-in, say) is not steady yet: the next one is.
            and not self.stops
            # Behind a load balancer, not before every task's targets are healthy.
            and all(counts_healthy(t, self.now) for t in after if t.load_balanced)
        )
        if steady and not service.steady:
            plan.events.append(f"(service {service.name}) has reached a steady state.")
        if steady != service.steady:
            plan.steady = steady

    def _recheck(self, backoff: float, starts: int) -> float | None:
        """Seconds until something changes with time alone."""
        now, waits = self.now, []
        for task in self.live:
            if task.arn in self.stops:
                continue
            if task.running and task.started_at is not None:
                ran = now - task.started_at
                if not task.has_health_check and ran < HEALTHY_AFTER_RUNNING:
                    waits.append(HEALTHY_AFTER_RUNNING - ran)
                sick = task.health_status == "UNHEALTHY" or task.unhealthy_in is not None
                if sick and ran < self.grace:
                    waits.append(self.grace - ran)
            inst = self.instances.get(task.instance_arn) if task.instance_arn else None
            if inst is not None and not inst.connected and inst.disconnected_since is not None:
                waits.append(inst.disconnected_since + self.lost_grace - now)
        expiry = protection.next_expiry((t for t in self.live if t.arn not in self.stops), now)
        if expiry is not None:
            waits.append(expiry)
        mine = sum(t.deployment_id == self.primary.id for t in self.live)
        if backoff > now and mine + starts < self.limits.desired:
            waits.append(backoff - now)
        waits = [w for w in waits if w > 0]
        return min(waits) if waits else None


def _changes(d: Deployment, fields: Mapping[str, object]) -> DeploymentUpdate | None:
    update = DeploymentUpdate(id=d.id)
    changed = False
    for name, value in fields.items():
        if getattr(d, name) != value:
            setattr(update, name, value)
            changed = True
    return update if changed else None
