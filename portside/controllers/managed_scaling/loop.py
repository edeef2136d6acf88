"""The `managed-scaling` loop: ECS managed scaling for every capacity provider whose
managedScaling is ENABLED, in the cluster that names it.

Every pass (half a second) while tasks wait, else once a metric period, per such provider:
- the group's instances registered in the cluster are marked as the provider's (the custom
  attribute `portside.autoscaling-group` = the group's name, which placement reads: the EC2
  instance id of a container instance names its group);
- the cluster's tasks waiting PROVISIONING are offered to the placer (provisioning.py).
Once a metric period (World.metric_period), per provider: the target tracking policy ECS
puts on its group is made or brought in line with the provider (policy.py),
`CapacityProviderReservation` (namespace `AWS/ECS/ManagedScaling`, dimensions ClusterName and
CapacityProviderName) is published through `cloudwatch.metrics.publish`, and under
termination protection the instances' protection is kept and idle ones are let go when the
policy shrank the group (scaling.py). Then ECS's policies on groups no provider scales any
more are removed.

A pass costs one scan of the ACTIVE capacity providers when none scales. A provider whose pass
fails does not stop the others; the pass then fails, so the loop's status shows it.
"""

from __future__ import annotations

import logging

from portside.cloudwatch import metrics
from portside.controllers.loop import Loop, Loops
from portside.controllers.managed_scaling import policy, scaling
from portside.controllers.managed_scaling.provisioning import place_waiting, waiting
from portside.controllers.services.service_facts import ParsedInstances
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
NAMESPACE = policy.NAMESPACE
METRIC = policy.METRIC


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
        # (account, region, group, policy) of every provider's policy, for `policy.prune`
        self._policies: dict[str, tuple[str, str, str, str]] = {}
        self._pruned_at = 0.0
        self._instances = ParsedInstances()  # the clusters' instances, parsed once per text

    def register(self, loops: Loops) -> Loop:
        return loops.add("managed-scaling", self.step, interval=self.interval, log=log)

    def step(self) -> None:
        with self.world.store.read() as tx:
            found = [
                CapacityProvider.from_doc(doc)
                for _, doc in tx.scan(TABLE, where={"status": ACTIVE})
            ]
        failures = []
        scaling_now = {p.arn for p in found if is_scaling(p)}
        for arn in set(self._policies) - scaling_now:
            del self._policies[arn]
        for provider in found:
            if provider.arn not in scaling_now:
                continue
            try:
                self.provider_pass(provider)
            except Exception as exc:  # the other providers still get theirs
                log.warning("managed scaling of %s failed: %s", provider.name, exc)
                failures.append(f"{provider.name}: {exc}")
        now = self.world.clock()
        if not failures and now - self._pruned_at >= self.world.metric_period:
            self._pruned_at = now
            gone = policy.prune(self.world, self._policies.values())
            if gone:
                log.info("%d scaling policies of providers no longer scaling removed", gone)
        if failures:
            raise RuntimeError("managed scaling failed for " + "; ".join(failures))

    def provider_pass(self, provider: CapacityProvider) -> None:
        op = _op(self.world, provider.arn)
        with self.world.store.read() as tx:
            cluster = _cluster_of(op, tx, provider.name)
            if cluster is None:
                self._policies.pop(provider.arn, None)
                return
            queued = bool(waiting(tx, cluster.arn))
        now = self.world.clock()
        due = now - self._scaled_at.get(provider.arn, 0.0) >= self.world.metric_period
        # New instances are looked for every pass while tasks wait for them, else once a
        # period (reading a big group's members costs what the group holds).
        if queued or due:
            self._mark(op, provider, cluster)
        if queued:
            with self.world.store.transaction() as tx:
                placed = place_waiting(op, tx, cluster, waiting(tx, cluster.arn))
            if placed:
                log.info("%s: %d waiting tasks placed", provider.name, placed)
        if due:
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
            facts = scaling.read(op, tx, provider, cluster, self._instances)
        if facts is None:
            return
        name = policy.ensure(op, provider, cluster.name)
        self._policies[provider.arn] = (op.account, op.region, asg.group_name, name)
        decision = scaling.decide(provider, facts)
        guarded = asg.managed_termination_protection == ENABLED
        exposed = guarded and any(h.busy and not h.protected for h in facts.hosts)
        if decision.release or exposed:
            with self.world.store.transaction() as tx:
                fresh = scaling.read(op, tx, provider, cluster, self._instances)
                if fresh is not None:
                    let_go = scaling.apply(op, tx, provider, fresh, scaling.decide(provider, fresh))
            if fresh is not None and let_go:
                log.info(
                    "%s: group %s at desired %d: %d idle instances let go",
                    provider.name,
                    fresh.group_name,
                    fresh.desired,
                    let_go,
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
        if self.world.metric_period < 60:  # a shortened period: its policy's alarms read it
            datum["StorageResolution"] = 1
        metrics.publish(op, NAMESPACE, [datum])
