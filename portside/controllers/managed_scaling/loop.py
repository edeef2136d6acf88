"""The `managed-scaling` loop: ECS managed scaling for every capacity provider whose
managedScaling is ENABLED, in the cluster that names it.

Every pass (half a second), per such provider:
- the group's instances registered in the cluster are marked as the provider's (the custom
  attribute `portside.autoscaling-group` = the group's name, which placement reads: the EC2
  instance id of a container instance names its group);
- the cluster's tasks waiting PROVISIONING are offered to the placer (provisioning.py).
Once a metric period (World.metric_period), per provider: `CapacityProviderReservation`
(namespace `AWS/ECS/ManagedScaling`, dimensions ClusterName and CapacityProviderName) is
published through `cloudwatch.metrics.publish`, and the group's desired capacity and its
instances' protection are set (scaling.py).

A pass costs one scan of the ACTIVE capacity providers when none scales. A provider whose pass
fails does not stop the others; the pass then fails, so the loop's status shows it.
"""

from __future__ import annotations

import logging

from portside.cloudwatch import metrics
from portside.controllers.loop import Loop, Loops
from portside.controllers.managed_scaling import reservation as rsv
from portside.controllers.managed_scaling import scaling
from portside.controllers.managed_scaling.provisioning import place_waiting, waiting
from portside.model import arn as arns
from portside.model.capacity_provider import ACTIVE, ENABLED, CapacityProvider
from portside.model.cluster import Cluster
from portside.ops import attributes
from portside.ops.capacity_providers import GROUP_ATTRIBUTE, TABLE
from portside.ops.context import Caller, Op, World, root_principal
from portside.ops.managed_scaling import is_scaling
from portside.store.base import Tx

log = logging.getLogger("portside.managed-scaling")

INTERVAL = 0.5
NAMESPACE = "AWS/ECS/ManagedScaling"
METRIC = "CapacityProviderReservation"


def _op(world: World, arn: str) -> Op:
    parsed = arns.parse(arn)
    assert parsed is not None, arn
    return Op(world, Caller(parsed.account, parsed.region, "", root_principal(parsed.account)))


def _cluster_of(op: Op, tx: Tx, name: str) -> Cluster | None:
    """The ACTIVE cluster that names the provider (ECS: one at a time)."""
    prefix = arns.prefix(op.region, op.account, "cluster")
    for _, doc in tx.scan("clusters", prefix=prefix, where={"status": ACTIVE}):
        cluster = Cluster.from_doc(doc)
        if name in cluster.capacity_providers:
            return cluster
    return None


class ManagedScalingLoop:
    def __init__(self, world: World, interval: float = INTERVAL) -> None:
        self.world = world
        self.interval = interval
        self._scaled_at: dict[str, float] = {}  # provider ARN -> its last scaling pass
        self._marked: set[str] = set()  # container instances known to carry the attribute
        self._low: dict[str, int] = {}  # provider ARN -> periods in a row its group was too big

    def register(self, loops: Loops) -> Loop:
        return loops.add("managed-scaling", self.step, interval=self.interval, log=log)

    def step(self) -> None:
        with self.world.store.read() as tx:
            found = [
                CapacityProvider.from_doc(doc)
                for _, doc in tx.scan(TABLE, where={"status": ACTIVE})
            ]
        failures = []
        for provider in found:
            if not is_scaling(provider):
                continue
            try:
                self.provider_pass(provider)
            except Exception as exc:  # the other providers still get theirs
                log.warning("managed scaling of %s failed: %s", provider.name, exc)
                failures.append(f"{provider.name}: {exc}")
        if failures:
            raise RuntimeError("managed scaling failed for " + "; ".join(failures))

    def provider_pass(self, provider: CapacityProvider) -> None:
        op = _op(self.world, provider.arn)
        with self.world.store.read() as tx:
            cluster = _cluster_of(op, tx, provider.name)
            if cluster is None:
                return
            queued = bool(waiting(tx, cluster.arn))
        self._mark(op, provider, cluster)
        if queued:
            with self.world.store.transaction() as tx:
                placed = place_waiting(op, tx, cluster, waiting(tx, cluster.arn))
            if placed:
                log.info("%s: %d waiting tasks placed", provider.name, placed)
        now = self.world.clock()
        if now - self._scaled_at.get(provider.arn, 0.0) >= self.world.metric_period:
            self._scaled_at[provider.arn] = now
            self.scale(op, provider, cluster, now)

    def _mark(self, op: Op, provider: CapacityProvider, cluster: Cluster) -> None:
        """The group's registered instances carry the provider's group attribute."""
        asg = provider.auto_scaling_group_provider
        assert asg is not None
        with self.world.store.read() as tx:
            group = scaling.capacity.group_in(tx, op, asg.group_name)
            if group is None:
                return
            todo = []
            for member in group.instances:
                arn = member.container_instance_arn
                if not arn or arn in self._marked or member.lifecycle == "Terminating":
                    continue
                doc = tx.get("container_instances", arn)
                if doc is None or doc.get("clusterArn") != cluster.arn:
                    continue
                given = {a["name"]: a.get("value") for a in doc.get("attributes") or ()}
                custom = {
                    a["name"]: a.get("value")
                    for a in attributes.instance_attributes(tx, cluster.arn, arn)
                }
                if {**given, **custom}.get(GROUP_ATTRIBUTE) == asg.group_name:
                    self._marked.add(arn)
                    continue
                todo.append(arn)
        if todo:
            attributes.put_attributes(
                op,
                cluster.arn,
                [{"name": GROUP_ATTRIBUTE, "value": asg.group_name, "targetId": a} for a in todo],
            )
            self._marked.update(todo)

    def scale(self, op: Op, provider: CapacityProvider, cluster: Cluster, now: float) -> None:
        asg = provider.auto_scaling_group_provider
        assert asg is not None
        with self.world.store.read() as tx:
            facts = scaling.read(op, tx, provider, cluster)
        if facts is None:
            return
        first = scaling.decide(provider, facts, 0)
        over = rsv.wanted(first.m, asg.managed_scaling.target_capacity) < facts.desired
        low = self._low.get(provider.arn, 0) + 1 if over else 0
        self._low[provider.arn] = low
        decision = scaling.decide(provider, facts, low)
        guarded = asg.managed_termination_protection == ENABLED
        exposed = guarded and any(h.busy and not h.protected for h in facts.hosts)
        if decision.desired != facts.desired or decision.release or exposed:
            with self.world.store.transaction() as tx:
                fresh = scaling.read(op, tx, provider, cluster)
                if fresh is not None:
                    changed = scaling.decide(provider, fresh, low)
                    desired = scaling.apply(op, tx, provider, fresh, changed)
                    if desired != fresh.desired:
                        log.info(
                            "%s: reservation %.0f%% (M=%d, N=%d): group %s desired %d -> %d",
                            provider.name,
                            changed.value,
                            changed.m,
                            changed.n,
                            fresh.group_name,
                            fresh.desired,
                            desired,
                        )
        self.publish(op, provider, cluster, decision.value, now)

    def publish(
        self, op: Op, provider: CapacityProvider, cluster: Cluster, value: float, now: float
    ) -> None:
        datum = {
            "MetricName": METRIC,
            "Dimensions": [
                {"Name": "ClusterName", "Value": cluster.name},
                {"Name": "CapacityProviderName", "Value": provider.name},
            ],
            "Value": value,
            "Unit": "Percent",
            "Timestamp": now,
        }
        metrics.publish(op, NAMESPACE, [datum])
