"""The service controller: watches the store, reconciles each service that changed, applies
the plan. The decisions are the reconcilers' (replica.py, daemon.py, pure); this loop only
reads, computes and applies (DESIGN.md rule 2), one service per transaction."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from portside.controllers import service_events as words
from portside.controllers.facts import InstanceFact, Plan, TaskFact
from portside.controllers.service_facts import group, health_checks, instance_facts, task_facts
from portside.errors import PortsideError
from portside.model import arn as arns
from portside.model.cluster import Cluster
from portside.model.doc import from_doc, to_doc
from portside.model.service import (
    ACTIVE,
    DAEMON,
    DEPLOYMENT_ACTIVE,
    DRAINING,
    INACTIVE,
    PRIMARY,
    Deployment,
    Service,
)
from portside.ops import instances as inst_ops
from portside.ops import task_definitions as taskdefs
from portside.ops import tasks as task_ops
from portside.ops.clusters import get_active
from portside.ops.context import Caller, Op, World, root_principal
from portside.ops.services import new_deployment_id
from portside.ops.tags import get_tags
from portside.ops.task_reports import release
from portside.scheduler import strategies
from portside.scheduler.capacity_split import split
from portside.scheduler.demand import task_demand
from portside.store.base import RawChange, Tx

log = logging.getLogger("portside.services")

TABLE = "services"
RESYNC_EVERY = 30.0  # seconds: look at every service now and then, whatever changed
# The changes that can make a service's reconcile come out differently (`dirty`).
_WATCHED = (TABLE, "tasks", "container_instances", "attributes")
_FEED_PAGE = 20000
REPEAT_AFTER = 300.0  # an identical event is not repeated within this many seconds


def service_arn_for_task(doc: dict[str, Any]) -> str | None:
    grp = str(doc.get("group") or "")
    if not grp.startswith("service:"):
        return None
    cluster = str(doc.get("clusterArn", ""))
    prefix, _, cluster_name = cluster.rpartition(":cluster/")
    return f"{prefix}:service/{cluster_name}/{grp.removeprefix('service:')}"


def _cluster_of_instance(arn: str) -> str | None:
    """The cluster ARN a container instance ARN names (arn:...:container-instance/CLUSTER/ID),
    or None for the old format without the cluster."""
    prefix, _, rest = arn.partition(":container-instance/")
    name, slash, _ = rest.partition("/")
    return f"{prefix}:cluster/{name}" if slash and name else None


def _cluster_in(doc: str) -> str:
    return str(orjson.loads(doc).get("clusterArn", ""))


class ServiceController:
    def __init__(self, world: World, account: str, *, lost_grace: float = 300.0) -> None:
        self.world = world
        self.account = account
        self.lost_grace = lost_grace
        self._after = world.store.last_seq()
        self._due: dict[str, float] = {}
        self._last_resync = 0.0

    # -- what to look at -----------------------------------------------------------------

    def _services_of_cluster(self, tx: Tx, cluster_arn: str) -> list[str]:
        return [
            row[0]
            for row in tx.index(TABLE, where={"cluster": cluster_arn}, ordered=False)
            if row[2] != INACTIVE
        ]

    def dirty(self, changes: Iterable[RawChange]) -> set[str]:
        """The services these changes may reconcile differently. A document is parsed only
        where its key does not say enough: a task's once per key (its group), never an
        instance's (its ARN names its cluster)."""
        found: set[str] = set()
        clusters: set[str] = set()
        tasks: dict[str, str] = {}
        for change in changes:
            if change.doc is None:
                continue
            if change.table == TABLE:
                found.add(change.key)
            elif change.table == "tasks":
                tasks[change.key] = change.doc
            elif change.table == "container_instances":
                clusters.add(_cluster_of_instance(change.key) or _cluster_in(change.doc))
            elif change.table == "attributes":
                clusters.add(change.key.split("|", 1)[0])
        for text in tasks.values():
            arn = service_arn_for_task(orjson.loads(text))
            if arn:
                found.add(arn)
        if clusters:
            with self.world.store.read() as tx:
                for cluster in clusters:
                    found.update(self._services_of_cluster(tx, cluster))
        return found

    def _everything(self) -> set[str]:
        with self.world.store.read() as tx:
            return {row[0] for row in tx.index(TABLE, ordered=False) if row[2] != INACTIVE}

    def run_once(self) -> int:
        """One pass: every service touched since the last pass, or due, or all on resync."""
        now = self.world.clock()
        store = self.world.store
        upto = store.last_seq()
        changes = store.changes_raw(self._after, limit=_FEED_PAGE, tables=_WATCHED, upto=upto)
        todo = self.dirty(changes)
        self._after = changes[-1].seq if len(changes) == _FEED_PAGE else max(self._after, upto)
        if now - self._last_resync >= RESYNC_EVERY:
            todo |= self._everything()
            self._last_resync = now
        todo |= {arn for arn, when in self._due.items() if when <= now}
        for arn in sorted(todo):
            self._due.pop(arn, None)
            try:
                self.reconcile(arn)
            except Exception:
                log.exception("reconciling %s failed", arn)
        return len(todo)

    def _wait_and_run(self) -> None:
        """Wait (up to 1 s) for a change, then reconcile until nothing is left: one thread
        hop per wake-up."""
        self.world.store.wait(self._after, 1.0)
        while self.run_once():
            pass

    async def run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self._wait_and_run)
            except Exception:
                log.exception("service controller pass failed")
                await asyncio.sleep(1.0)

    # -- one service ---------------------------------------------------------------------

    def _op(self, service_arn: str) -> Op:
        region = service_arn.split(":")[3]
        return Op(self.world, Caller(self.account, region, "", root_principal(self.account)))

    def reconcile(self, service_arn: str) -> None:
        from portside.controllers import daemon, replica

        op = self._op(service_arn)
        with op.store.transaction() as tx:
            doc = tx.get(TABLE, service_arn)
            if doc is None:
                return
            service = from_doc(Service, doc)
            if service.status == INACTIVE:
                return
            try:
                cluster = get_active(op, tx, service.cluster_arn)
            except PortsideError:
                return
            now = op.now()
            tasks = task_facts(tx, service, health_checks(tx, service), now)
            instances = instance_facts(tx, service)
            if service.scheduling_strategy == DAEMON:
                plan = daemon.compute(service, tasks, instances, now)
            else:
                plan = replica.compute(service, tasks, instances, now, lost_grace=self.lost_grace)
            self._apply(op, tx, cluster, service, plan, now)
            if (
                service.status == DRAINING
                and not plan.start
                and not self._holding(tasks, instances)
            ):
                service.status = INACTIVE
                service.deleted_at = service.deleted_at or now
            after = to_doc(service)
            if after != doc:
                service.version += 1
                tx.put(TABLE, service.arn, to_doc(service))
        if plan.recheck_in is not None:
            self._due[service_arn] = self.world.clock() + max(0.05, plan.recheck_in)

    @staticmethod
    def _holding(tasks: Iterable[TaskFact], instances: Mapping[str, InstanceFact]) -> bool:
        """Some task is not STOPPED yet where an agent will report it: a deleted service
        is INACTIVE only once its tasks have stopped (DeleteService)."""
        for t in tasks:
            if t.last_status == "STOPPED":
                continue
            inst = instances.get(t.instance_arn) if t.instance_arn else None
            if t.live or t.instance_arn is None or (inst is not None and inst.connected):
                return True
        return False

    def _event(self, service: Service, now: float, message: str) -> None:
        recent = service.events[0] if service.events else None
        if recent and recent.message == message and now - recent.created_at < REPEAT_AFTER:
            return
        raw = self.world.new_id()
        # ECS's event ids are UUIDs; the id source gives 32 hex digits.
        event_id = "-".join((raw[:8], raw[8:12], raw[12:16], raw[16:20], raw[20:32]))
        service.add_event(event_id, now, message)

    def _apply(
        self, op: Op, tx: Tx, cluster: Cluster, service: Service, plan: Plan, now: float
    ) -> None:
        if plan.rollback is not None:
            self._roll_back(service, plan.rollback, now)
        for message in plan.events:
            self._event(service, now, message)
        desired = getattr(plan, "desired_count", None)
        if desired is not None and service.scheduling_strategy == DAEMON:
            service.desired_count = desired
        stopped = self._stop(op, tx, service, plan, now)
        if stopped:
            self._event(service, now, words.stopped(service.name, stopped))
        unplaced: dict[str, int] = {}
        for start in plan.start:
            placed = self._start(
                op,
                tx,
                cluster,
                service,
                start.deployment_id,
                start.count,
                list(start.instances),
                now,
            )
            if service.scheduling_strategy != DAEMON:
                # The REPLICA plan counts its starts as pending; a task that could not be
                # placed was never created and is no PENDING task (ECS's pendingCount).
                unplaced[start.deployment_id] = (
                    unplaced.get(start.deployment_id, 0) + start.count - placed
                )
        self._update_deployments(service, plan, unplaced, now)
        service.running_count = plan.running_count
        service.pending_count = max(0, plan.pending_count - sum(unplaced.values()))
        if plan.steady is not None:
            service.steady = plan.steady
        if plan.launch_backoff_until is not None:
            service.launch_backoff_until = plan.launch_backoff_until
        if plan.launch_failures is not None:
            service.launch_failures = plan.launch_failures

    @staticmethod
    def _update_deployments(
        service: Service, plan: Plan, unplaced: Mapping[str, int], now: float
    ) -> None:
        by_id = {d.id: d for d in service.deployments}
        for update in plan.deployments:
            d = by_id.get(update.id)
            if d is None:
                continue
            if update.pending_count is not None:
                update.pending_count = max(0, update.pending_count - unplaced.get(d.id, 0))
            for field in (
                "status",
                "rollout_state",
                "rollout_state_reason",
                "failed_tasks",
                "running_count",
                "pending_count",
                "desired_count",  # DAEMON: the instances it runs on
            ):
                value = getattr(update, field)
                if value is not None and getattr(d, field) != value:
                    setattr(d, field, value)
                    d.updated_at = now

    def _roll_back(self, service: Service, rollback: tuple[str, str], now: float) -> None:
        task_definition, reason = rollback
        old = service.primary
        old.status = DEPLOYMENT_ACTIVE
        old.updated_at = now
        new = Deployment(
            id=new_deployment_id(self.world),
            status=PRIMARY,
            task_definition=task_definition,
            desired_count=service.desired_count,
            created_at=now,
            updated_at=now,
            launch_type=old.launch_type,
            capacity_provider_strategy=list(old.capacity_provider_strategy),
            network_configuration=old.network_configuration,
            platform_version=old.platform_version,
            rollback_of=old.id,
            rollout_state_reason=reason,
            sources=[d.id for d in service.deployments if d.status != "INACTIVE"],
        )
        service.deployments.insert(0, new)
        service.task_definition = task_definition

    def _stop(self, op: Op, tx: Tx, service: Service, plan: Plan, now: float) -> list[str]:
        done: list[str] = []
        for stop in plan.stop:
            task = task_ops.load(tx, stop.task_arn)
            if task is None or task.desired_status == "STOPPED":
                continue
            task.desired_status = "STOPPED"
            task.stop_code = task.stop_code or "ServiceSchedulerInitiated"
            task.stopped_reason = task.stopped_reason or stop.reason
            task.stopping_at = task.stopping_at or now
            task.version += 1
            inst = inst_ops.load(tx, task.instance_arn)
            if inst is None or not inst.agent_connected or inst.status == "INACTIVE":
                # No agent will ever report this one stopped: its host is gone.
                task.last_status = "STOPPED"
                task.stopped_at = now
                task.execution_stopped_at = task.execution_stopped_at or now
                for c in task.containers:
                    if c.last_status != "STOPPED":
                        c.last_status = "STOPPED"
                task_ops.save(tx, task)
                release(tx, task)
            else:
                task_ops.save(tx, task)
            done.append(task.arn)
        return done

    def _start(
        self,
        op: Op,
        tx: Tx,
        cluster: Cluster,
        service: Service,
        deployment_id: str,
        count: int,
        on: list[str],
        now: float,
    ) -> int:
        """Start up to `count` tasks of the deployment; how many were placed."""
        dep = next((d for d in service.deployments if d.id == deployment_id), None)
        if dep is None or count <= 0:
            return 0
        td = taskdefs.find(op, tx, dep.task_definition)
        if td is None:
            self._event(
                service,
                now,
                f"(service {service.name}) failed to launch a task: "
                f"task definition {dep.task_definition} not found.",
            )
            return 0
        plan = self._launch_plan(tx, service, dep, count)
        params: dict[str, Any] = {
            "group": group(service),
            "startedBy": dep.id,
            "placementConstraints": service.placement_constraints,
            "placementStrategy": service.placement_strategy,
            "networkConfiguration": dep.network_configuration,
            "enableExecuteCommand": service.enable_execute_command,
        }
        tags: list[dict[str, str]] = []
        if service.propagate_tags == "SERVICE":
            tags = get_tags(tx, service.arn)
        elif service.propagate_tags == "TASK_DEFINITION":
            params["propagateTags"] = "TASK_DEFINITION"
        pinned = None
        if on:
            pinned = [i for a in on if (i := inst_ops.load(tx, a)) is not None]
            plan = plan[: len(pinned)]
        try:
            views, failures = task_ops.place_and_save(
                op,
                tx,
                cluster,
                td,
                plan,
                task_demand(td.spec),
                params,
                tags,
                pinned,
                default_strategy=strategies.SERVICE_DEFAULT,
            )
        except PortsideError as exc:
            if "No Container Instances" in exc.message:
                self._event(service, now, words.unable_to_place(service.name, []))
            else:
                self._event(
                    service,
                    now,
                    f"(service {service.name}) was unable to place a "
                    f"task. Reason: {exc.message} {words.TROUBLESHOOTING}",
                )
            return 0
        if views:
            self._event(service, now, words.started(service.name, [v.task.arn for v in views]))
        if failures and len(views) < len(plan) and not self._stopping(tx, service):
            self._event(service, now, words.unable_to_place(service.name, failures))
        return len(views)

    def _stopping(self, tx: Tx, service: Service) -> bool:
        """Some of the service's tasks are stopping on a connected instance: their resources
        come free when they report STOPPED, and that report brings another pass. A start that
        waits for them (a rolling deployment on a full cluster) is not "unable to place"."""
        for _, doc in tx.scan(
            "tasks", where={"cluster": service.cluster_arn, "grp": group(service)}
        ):
            if doc.get("desiredStatus") != "STOPPED" or doc.get("lastStatus") == "STOPPED":
                continue
            inst = inst_ops.load(tx, str(doc.get("instanceArn") or ""))
            if inst is not None and inst.agent_connected and inst.status != "INACTIVE":
                return True
        return False

    def _launch_plan(
        self, tx: Tx, service: Service, dep: Deployment, count: int
    ) -> list[tuple[str, str | None]]:
        if dep.launch_type:
            return [(dep.launch_type, None)] * count
        strategy = dep.capacity_provider_strategy
        if not strategy:
            return [("EC2", None)] * count
        already: dict[str, int] = {}
        for _, doc in tx.scan(
            "tasks", where={"cluster": service.cluster_arn, "grp": group(service)}
        ):
            if doc.get("lastStatus") != "STOPPED" and doc.get("capacityProviderName"):
                name = doc["capacityProviderName"]
                already[name] = already.get(name, 0) + 1
        out: list[tuple[str, str | None]] = []
        for name in split(strategy, count, already):
            out.append(("FARGATE" if name in ("FARGATE", "FARGATE_SPOT") else "EC2", name))
        return out


def cluster_of(service_arn: str) -> str:
    parsed = arns.parse(service_arn)
    assert parsed is not None
    return arns.cluster(parsed.region, parsed.account, parsed.path.split("/")[0])


__all__ = ["ACTIVE", "ServiceController", "cluster_of"]
