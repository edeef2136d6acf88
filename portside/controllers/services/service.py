"""The service controller: watches the store, reconciles each service that changed, applies
the plan. The decisions are the reconcilers' (replica.py, daemon.py, pure); this loop only
reads (service_facts.py), computes and applies (apply.py), one service per transaction
(DESIGN.md rule 2)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from portside.controllers.loop import Loop, Loops
from portside.controllers.services.apply import apply
from portside.controllers.services.facts import InstanceFact, TaskFact
from portside.controllers.services.service_facts import (
    ParsedInstances,
    health_checks,
    instance_facts,
    task_facts,
)
from portside.errors import PortsideError
from portside.model import arn as arns
from portside.model.doc import from_doc, to_doc
from portside.model.service import ACTIVE, DAEMON, DRAINING, INACTIVE, Service
from portside.model.states import TaskStatus
from portside.ops.clusters import get_active
from portside.ops.context import Caller, Op, World, root_principal
from portside.ops.services import save
from portside.store.base import RawChange, Tx, WriteRefused

log = logging.getLogger("portside.services")

TABLE = "services"
RESYNC_EVERY = 30.0  # seconds: look at every service now and then, whatever changed
# The changes that can make a service's reconcile come out differently (`dirty`).
# `service_targets`: a load balanced task's targets registered, or their health changed.
_WATCHED = (
    TABLE,
    "tasks",
    "container_instances",
    "attributes",
    "service_targets",
    "ecs_task_sets",  # EXTERNAL and CODE_DEPLOY services: task_sets.py
)
_FEED_PAGE = 20000


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
        self._instances = ParsedInstances()  # the clusters' instances, parsed once per change

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
            elif change.table in ("service_targets", "ecs_task_sets"):
                found.add(str(orjson.loads(change.doc)["serviceArn"]))
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
            except WriteRefused:
                self._last_resync = 0.0  # the next term's first pass looks at every service
                raise
            except Exception:
                log.exception("reconciling %s failed", arn)
        return len(todo)

    def step(self) -> float:
        """The loop's pass (controllers/loop.py): wait up to 1 s for a change, then reconcile
        until nothing is left: one thread hop per wake-up, and no pause after it."""
        self.world.store.wait(self._after, 1.0, tables=_WATCHED)
        while self.run_once():
            pass
        return 0.0

    def register(self, loops: Loops) -> Loop:
        return loops.add("services", self.step, interval=0.0, retry_after=1.0, log=log)

    # -- one service ---------------------------------------------------------------------

    def _op(self, service_arn: str) -> Op:
        region = service_arn.split(":")[3]
        return Op(self.world, Caller(self.account, region, "", root_principal(self.account)))

    def reconcile(self, service_arn: str) -> None:
        from portside.controllers.native_deployments import runner as native
        from portside.controllers.services import daemon, replica
        from portside.controllers.services import task_sets as task_set_pass
        from portside.ops import task_sets

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
            instances = instance_facts(tx, service, self._instances)
            if task_sets.has_task_sets(service):
                plan = task_set_pass.run(op, tx, cluster, service, now)
            elif native.runs(service):  # ECS's BLUE_GREEN, LINEAR, CANARY
                plan = native.run(op, tx, cluster, service, tasks, instances, now, self.lost_grace)
            else:
                if service.scheduling_strategy == DAEMON:
                    plan = daemon.compute(service, tasks, instances, now)
                else:
                    plan = replica.compute(
                        service, tasks, instances, now, lost_grace=self.lost_grace
                    )
                apply(op, tx, cluster, service, plan, now)
            if (
                service.status == DRAINING
                and not plan.start
                and not self._holding(tasks, instances)
            ):
                service.status = INACTIVE
                service.deleted_at = service.deleted_at or now
            if to_doc(service) != doc:
                save(tx, service)
        if plan.recheck_in is not None:
            self._due[service_arn] = self.world.clock() + max(0.05, plan.recheck_in)

    @staticmethod
    def _holding(tasks: Iterable[TaskFact], instances: Mapping[str, InstanceFact]) -> bool:
        """Some task is not STOPPED yet where an agent will report it: a deleted service
        is INACTIVE only once its tasks have stopped (DeleteService)."""
        for t in tasks:
            if t.last_status == TaskStatus.STOPPED:
                continue
            inst = instances.get(t.instance_arn) if t.instance_arn else None
            if t.live or t.instance_arn is None or (inst is not None and inst.connected):
                return True
        return False


def cluster_of(service_arn: str) -> str:
    parsed = arns.parse(service_arn)
    assert parsed is not None
    return arns.cluster(parsed.region, parsed.account, parsed.path.split("/")[0])


__all__ = ["ACTIVE", "ServiceController", "cluster_of"]
