"""The daemon controller: each daemon that changed (its document, its tasks, its cluster's
instances) is reconciled by the DAEMON service scheduler, in one transaction per daemon.

The decisions are controllers/services/daemon.py's `compute`, the one DAEMON services use,
over the daemon's scheduler `Service` (ops/daemons_scheduler.py) and facts read as for a
service, with an instance eligible when it belongs to one of the daemon's capacity providers.
The plan's stops, counts, deployments and rollback are applied by the services' `apply`; its
starts are made here, with the daemon task definition and each task pinned to its instance
(launch.launch_tasks, as StartTask does). The daemon deployments then follow their scheduler
deployments (rollout.py). A deleted daemon's tasks are stopped, then the daemon is forgotten.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping

import orjson

from portside.controllers.daemons import critical, rollout
from portside.controllers.loop import Loop, Loops
from portside.controllers.services import circuit_breaker as cb
from portside.controllers.services import daemon as daemon_scheduler
from portside.controllers.services.apply import apply
from portside.controllers.services.facts import InstanceFact, StartTasks, TaskFact
from portside.controllers.services.service_facts import (
    ParsedInstances,
    health_checks,
    instance_facts,
    task_facts,
)
from portside.errors import PortsideError
from portside.model.cluster import Cluster
from portside.model.container_instance import ACTIVE, DRAINING
from portside.model.launch import Launch
from portside.model.service import COMPLETED, Deployment, Service
from portside.model.states import TaskStatus
from portside.model.task_definition import TaskDefinition
from portside.ops import capacity_providers as providers
from portside.ops import daemons_scheduler as scheduler
from portside.ops import instances as inst_ops
from portside.ops import launch as launches
from portside.ops import tasks as task_ops
from portside.ops.clusters import get_active
from portside.ops.context import Caller, Op, World, root_principal
from portside.ops.daemons_model import (
    DAEMONS,
    DELETE_IN_PROGRESS,
    DEPLOYMENTS,
    REVISIONS,
    Daemon,
    DaemonDeployment,
    DaemonRevision,
)
from portside.ops.tags import get_tags
from portside.scheduler import strategies
from portside.store.base import RawChange, Tx, WriteRefused

log = logging.getLogger("portside.daemons")

RESYNC_EVERY = 30.0
RETRY_AFTER = 1.0  # seconds before a daemon whose reconcile failed is tried again
_WATCHED = (DAEMONS, "tasks", "container_instances", "capacity_providers")
_FEED_PAGE = 20000


def _cluster_of_instance(key: str, doc: str) -> str:
    prefix, _, rest = key.partition(":container-instance/")
    name, slash, _ = rest.partition("/")
    if slash and name:
        return f"{prefix}:cluster/{name}"
    return str(orjson.loads(doc).get("clusterArn", ""))


class DaemonController:
    def __init__(self, world: World, account: str) -> None:
        self.world = world
        self.account = account
        self._after = world.store.last_seq()
        self._due: dict[str, float] = {}
        self._last_resync = 0.0
        self._instances = ParsedInstances()

    # -- what to look at -----------------------------------------------------------------

    def dirty(self, changes: Iterable[RawChange]) -> set[str]:
        found: set[str] = set()
        clusters: set[str] = set()
        everything = False
        for change in changes:
            if change.doc is None:
                continue
            if change.table == DAEMONS:
                found.add(change.key)
            elif change.table == "tasks":
                if '"service:daemon:' not in change.doc:
                    continue  # cheap: most tasks are no daemon's
                doc = orjson.loads(change.doc)
                name = scheduler.name_in_group(str(doc.get("group") or ""))
                cluster = str(doc.get("clusterArn") or "")
                if name:
                    prefix, _, cname = cluster.rpartition(":cluster/")
                    found.add(f"{prefix}:daemon/{cname}/{name}")
            elif change.table == "container_instances":
                clusters.add(_cluster_of_instance(change.key, change.doc))
            else:  # a capacity provider: which instances it names may have changed
                everything = True
        if everything:
            return found | self._everything()
        if clusters:
            with self.world.store.read() as tx:
                for cluster in clusters:
                    found.update(r[0] for r in tx.index(DAEMONS, where={"cluster": cluster}))
        return found

    def _everything(self) -> set[str]:
        with self.world.store.read() as tx:
            return {row[0] for row in tx.index(DAEMONS, ordered=False)}

    def run_once(self) -> int:
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
        failed: list[str] = []
        for arn in sorted(todo):
            self._due.pop(arn, None)
            try:
                self.reconcile(arn)
            except WriteRefused:
                self._last_resync = 0.0  # the next term's first pass looks at every daemon
                raise
            except Exception as exc:
                log.exception("reconciling daemon %s failed", arn)
                failed.append(f"{arn}: {exc}")
                self._due[arn] = now + RETRY_AFTER
        if failed:
            # The others were reconciled; the loop's status says which failed (and they are
            # tried again in RETRY_AFTER seconds).
            raise RuntimeError(f"{len(failed)} daemon(s) not reconciled: {failed[0]}")
        return len(todo)

    def step(self) -> float:
        self.world.store.wait(self._after, 1.0, tables=_WATCHED)
        while self.run_once():
            pass
        return 0.0

    def register(self, loops: Loops) -> Loop:
        return loops.add("daemons", self.step, interval=0.0, retry_after=1.0, log=log)

    # -- one daemon ----------------------------------------------------------------------

    def reconcile(self, arn: str) -> None:
        region = arn.split(":")[3]
        op = Op(self.world, Caller(self.account, region, "", root_principal(self.account)))
        recheck: list[float] = []
        with op.store.transaction() as tx:
            doc = tx.get(DAEMONS, arn)
            if doc is None:
                return
            daemon = Daemon.from_doc(doc)
            try:
                cluster = get_active(op, tx, daemon.cluster_arn)
            except PortsideError:
                return
            now = op.now()
            service = scheduler.load(daemon)
            tasks = task_facts(tx, service, health_checks(tx, service), now)
            instances, provider_of = self._eligible(op, tx, daemon, service)
            if self._critical(tx, daemon, tasks, instances, now):
                instances, provider_of = self._eligible(op, tx, daemon, service)
            plan = daemon_scheduler.compute(service, tasks, instances, now)
            starts, plan.start = plan.start, []
            apply(op, tx, cluster, service, plan, now)
            for start in starts:
                self._start(op, tx, cluster, daemon, service, start, provider_of)
            self._map_rollbacks(daemon, service)
            recheck += self._follow(tx, daemon, service, now)
            if plan.recheck_in is not None:
                recheck.append(plan.recheck_in)
            if daemon.status == DELETE_IN_PROGRESS and not _holding(tasks, instances):
                tx.delete(DAEMONS, arn)
                return
            scheduler.store(daemon, service)
            if daemon.to_doc() != doc:
                tx.put(DAEMONS, arn, daemon.to_doc())
        if recheck:
            self._due[arn] = self.world.clock() + max(0.05, min(recheck))

    def _eligible(
        self, op: Op, tx: Tx, daemon: Daemon, service: Service
    ) -> tuple[dict[str, InstanceFact], dict[str, str | None]]:
        """The scheduler's instance facts, an instance eligible when it belongs to one of
        the daemon's capacity providers; and each instance's provider."""
        names = {a.rpartition("/")[2] for a in daemon.capacity_provider_arns}
        provider = scheduler.provider_names(
            tx,
            daemon.cluster_arn,
            self._instances.of_cluster(tx, daemon.cluster_arn),
            providers.load_active(op, tx),
        )
        facts = instance_facts(tx, service, self._instances)
        eligible = {
            a: dataclasses.replace(f, eligible=f.eligible and provider.get(a) in names)
            for a, f in facts.items()
        }
        return eligible, provider

    def _start(
        self,
        op: Op,
        tx: Tx,
        cluster: Cluster,
        daemon: Daemon,
        service: Service,
        start: StartTasks,
        provider_of: Mapping[str, str | None],
    ) -> None:
        """One task on each of the start's instances, of the deployment's definition."""
        dep = next((d for d in service.deployments if d.id == start.deployment_id), None)
        if dep is None:
            return
        td_doc = tx.get("task_definitions", dep.task_definition)
        if td_doc is None:
            daemon.last_failure = f"daemon task definition {dep.task_definition} is missing"
            return
        rev_doc = tx.get(REVISIONS, daemon.revision_of.get(dep.id, ""))
        revision = DaemonRevision.from_doc(rev_doc) if rev_doc else None
        tags: tuple[dict[str, str], ...] = ()
        if revision is not None and revision.propagate_tags == "DAEMON":
            tags = tuple(get_tags(tx, daemon.arn))
        launch = Launch(
            task_definition=dep.task_definition,
            cluster=cluster.arn,
            launch_type=None,
            started_by=dep.id,
            group=scheduler.group_of(daemon.name),
            tags=tags,
            enable_execute_command=bool(revision and revision.enable_execute_command),
        )
        pinned = [i for a in start.instances if (i := inst_ops.load(tx, a)) is not None]
        plan = [("EC2", provider_of.get(i.arn)) for i in pinned]
        try:
            views, failures = launches.launch_tasks(
                op,
                tx,
                cluster,
                TaskDefinition.from_doc(td_doc),
                launch,
                plan,
                pinned=pinned,
                default_strategy=strategies.SERVICE_DEFAULT,
            )
        except PortsideError as exc:
            daemon.last_failure = exc.message
            return
        if failures:
            daemon.last_failure = "; ".join(
                f"{f.get('arn', '')}: {f.get('reason', '')}" for f in failures
            )
        elif views:
            daemon.last_failure = None

    def _critical(
        self,
        tx: Tx,
        daemon: Daemon,
        tasks: list[TaskFact],
        instances: Mapping[str, InstanceFact],
        now: float,
    ) -> bool:
        """Drain the instances where a critical daemon task failed, and stop their tasks
        that no service will move (critical.py). Whether any instance was drained."""
        done = set(daemon.critical_handled)
        stopped = {t.deployment_id for t in tasks if critical.failed(t) and t.arn not in done}
        deployments = {
            d
            for d in stopped
            if (doc := tx.get(REVISIONS, daemon.revision_of.get(d, ""))) is not None
            and DaemonRevision.from_doc(doc).critical
        }
        found = critical.failures(tasks, instances, deployments, done)
        for failure in found:
            inst = inst_ops.load(tx, failure.instance_arn)
            if inst is None or inst.status != ACTIVE:
                continue
            inst.status = DRAINING
            inst_ops.save(tx, inst)
            reason = f"Critical daemon {daemon.name} task failed: {failure.why}"[:255]
            for key, *_ in tx.index("tasks", where={"instance": inst.arn}):
                task = task_ops.load(tx, key)
                if task is None or (task.group or "").startswith("service:"):
                    continue  # a service moves it off the draining instance itself
                task_ops.stop(tx, task, code=task_ops.SCHEDULER, reason=reason, now=now)
            log.warning(
                "daemon %s: critical task %s failed on %s (%s): the instance is draining",
                daemon.arn, failure.task_arn, inst.arn, failure.why,
            )  # fmt: skip
        handled = [*daemon.critical_handled, *(f.task_arn for f in found)]
        daemon.critical_handled = critical.still_shown(handled, tasks)
        return bool(found)

    @staticmethod
    def _map_rollbacks(daemon: Daemon, service: Service) -> None:
        """A rollback the breaker made belongs to the daemon deployment it rolls back, and
        runs the revision of the last deployment that completed."""
        for d in service.deployments:
            if d.id in daemon.deployment_of or d.rollback_of is None:
                continue
            daemon.deployment_of[d.id] = daemon.deployment_of.get(d.rollback_of, "")
            back = next(
                (
                    x
                    for x in service.deployments
                    if x.id != d.id
                    and x.rollout_state == COMPLETED
                    and x.task_definition == d.task_definition
                ),
                None,
            )
            if back is not None and back.id in daemon.revision_of:
                daemon.revision_of[d.id] = daemon.revision_of[back.id]

    def _follow(self, tx: Tx, daemon: Daemon, service: Service, now: float) -> list[float]:
        """Each daemon deployment moved on from its scheduler deployment(s); bake times."""
        waits: list[float] = []
        runs: dict[str, Deployment] = {}
        rollbacks: dict[str, Deployment] = {}
        for d in service.deployments:
            arn = daemon.deployment_of.get(d.id)
            if not arn:
                continue
            if d.rollback_of is not None:
                rollbacks[arn] = d
            else:
                runs[arn] = d
        breaker = service.deployment_configuration.circuit_breaker
        for arn, runs_it in runs.items():
            doc = tx.get(DEPLOYMENTS, arn)
            if doc is None:
                continue
            deployment = DaemonDeployment.from_doc(doc)
            back = rollbacks.get(arn)
            step = rollout.advance(
                deployment,
                runs_it,
                rollback=back,
                rollback_target=daemon.revision_of.get(back.id) if back else None,
                threshold=cb.threshold(breaker, service.desired_count),
                now=now,
            )
            if step.changed:
                tx.put(DEPLOYMENTS, arn, deployment.to_doc())
            if step.recheck_in is not None:
                waits.append(step.recheck_in)
        return waits


def _holding(tasks: Iterable[TaskFact], instances: Mapping[str, InstanceFact]) -> bool:
    """Some task of the deleted daemon is not STOPPED yet where an agent will report it (as
    a deleted service waits: ServiceController._holding)."""
    for t in tasks:
        if t.last_status == TaskStatus.STOPPED:
            continue
        inst = instances.get(t.instance_arn) if t.instance_arn else None
        if t.live or t.instance_arn is None or (inst is not None and inst.connected):
            return True
    return False
