"""One managed-scaling provider's pass: what its group and tasks are (`read`), the
reservation it publishes, and the group changes it makes (`apply`).

Scaling is done here, with target tracking's arithmetic (reservation.py), not through a
target tracking policy on the group: the desired capacity steps toward
ceil(100 * M / targetCapacity) once a metric period, within the provider's step sizes and the
group's MinSize..MaxSize. Growth is measured from the group's desired capacity (instances
still launching are already counted); an instance counts in N once it has been registered for
the provider's instanceWarmupPeriod, and no scale-in happens while one is warming up,
launching, while tasks wait, or until the group has been bigger than it needs for
SCALE_IN_AFTER periods in a row (the scale-in alarm of a target tracking policy).

Scale-in with managedTerminationProtection ENABLED: ECS keeps every instance that runs a task
protected from scale in, and lets go only instances that run none: in one transaction it
checks they still run nothing, drains them when managedDraining is ENABLED (nothing more is
placed there), clears their protection and lowers the desired capacity by as many, so the
group's termination policy can pick no other. Without termination protection the group picks
which instances go, as it does on AWS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portside.autoscaling import capacity
from portside.autoscaling import records as asg_records
from portside.autoscaling.groups import template_spec
from portside.controllers.managed_scaling import reservation as rsv
from portside.controllers.managed_scaling.provisioning import waiting
from portside.ec2.launch_templates import resolve
from portside.errors import PortsideError
from portside.model.capacity_provider import ENABLED, CapacityProvider
from portside.model.cluster import Cluster
from portside.model.states import InstanceStatus, TaskStatus
from portside.ops import instances as inst_ops
from portside.ops.context import Op
from portside.ops.instance_types import size_of
from portside.store.base import Tx

DEFAULT_SIZE = rsv.Size(2 * 1024, 4096)  # an instance type the table lacks (hosts/simulated)
# Periods in a row the group must be bigger than it needs before it shrinks: the scale-in
# alarm of a target tracking policy (15 datapoints of 15; ECS: "after 15 minutes").
SCALE_IN_AFTER = 15


@dataclass(frozen=True, slots=True)
class Host:
    """One registered instance of the group, in the provider's cluster."""

    instance_id: str
    container_instance_arn: str
    busy: bool  # runs (or is stopping) a task
    protected: bool
    warm: bool  # registered for the warm-up period
    active: bool  # ACTIVE, not DRAINING


@dataclass(frozen=True, slots=True)
class Facts:
    group_name: str
    desired: int
    min_size: int
    max_size: int
    hosts: tuple[Host, ...]
    launching: int  # members not yet registered here (Pending, or InService unregistered)
    waiting: tuple[rsv.Need, ...]
    size: rsv.Size


def busy(tx: Tx, instance_arn: str) -> bool:
    tally = tx.tally("tasks", ("status",), where={"instance": instance_arn})
    return any(status != TaskStatus.STOPPED for (status,), n in tally.items() if n)


def _size(tx: Tx, op: Op, group_doc: dict[str, Any], hosts: list[tuple[int, int]]) -> rsv.Size:
    """What one instance of the group registers: its instances', else its template's type."""
    if hosts:
        cpu, memory = max(hosts)
        return rsv.Size(cpu, memory)
    try:
        spec, override = template_spec(group_doc)
        _, version = resolve(tx, op, spec)
    except PortsideError:
        return DEFAULT_SIZE
    kind = override or (version.get("LaunchTemplateData") or {}).get("InstanceType") or ""
    found = size_of(kind)
    return rsv.Size(found[0] * 1024, found[1]) if found else DEFAULT_SIZE


def read(op: Op, tx: Tx, provider: CapacityProvider, cluster: Cluster) -> Facts | None:
    asg = provider.auto_scaling_group_provider
    assert asg is not None
    group = capacity.group_in(tx, op, asg.group_name)
    doc = asg_records.find(tx, op, asg.group_name)
    if group is None or doc is None:
        return None
    now = op.now()
    warmup = asg.managed_scaling.instance_warmup_period
    hosts: list[Host] = []
    sizes: list[tuple[int, int]] = []
    launching = 0
    for member in group.instances:
        if member.lifecycle == "Terminating":
            continue
        inst = (
            inst_ops.load(tx, member.container_instance_arn)
            if member.container_instance_arn
            else None
        )
        if inst is None or inst.cluster_arn != cluster.arn or inst.status == "INACTIVE":
            launching += member.lifecycle == "Pending" or inst is None
            continue
        sizes.append((inst.cpu, inst.memory))
        hosts.append(
            Host(
                instance_id=member.instance_id,
                container_instance_arn=inst.arn,
                busy=busy(tx, inst.arn),
                protected=member.protected,
                warm=now - inst.registered_at >= warmup,
                active=inst.status == InstanceStatus.ACTIVE,
            )
        )
    needs = tuple(
        rsv.Need(t.reservation.cpu, t.reservation.memory)
        for t in waiting(tx, cluster.arn)
        if t.capacity_provider_name == provider.name and t.desired_status == TaskStatus.RUNNING
    )
    return Facts(
        group_name=group.name,
        desired=group.desired,
        min_size=group.min_size,
        max_size=group.max_size,
        hosts=tuple(hosts),
        launching=launching,
        waiting=needs,
        size=_size(tx, op, doc, sizes),
    )


@dataclass(frozen=True, slots=True)
class Decision:
    m: int
    n: int
    value: float  # CapacityProviderReservation
    desired: int  # the group's next desired capacity
    release: tuple[Host, ...]  # instances let go (termination protection)


def decide(provider: CapacityProvider, facts: Facts, low_periods: int = SCALE_IN_AFTER) -> Decision:
    """What the provider does with its group this period (pure). `low_periods`: how many
    periods in a row, this one included, the group has been bigger than it needs."""
    asg = provider.auto_scaling_group_provider
    assert asg is not None
    s = asg.managed_scaling
    m = rsv.needed(sum(h.busy for h in facts.hosts), facts.waiting, facts.size)
    n = sum(1 for h in facts.hosts if h.warm)
    value = rsv.reservation(m, n)
    steady = (
        low_periods >= SCALE_IN_AFTER
        and not facts.waiting
        and not facts.launching
        and all(h.warm for h in facts.hosts)
    )
    bounds = rsv.Bounds(
        s.minimum_scaling_step_size, s.maximum_scaling_step_size, facts.min_size, facts.max_size
    )
    desired = rsv.next_desired(
        facts.desired, rsv.wanted(m, s.target_capacity), bounds, can_shrink=steady
    )
    release: tuple[Host, ...] = ()
    if desired < facts.desired and asg.managed_termination_protection == ENABLED:
        idle = sorted((h for h in facts.hosts if not h.busy), key=lambda h: h.instance_id)
        release = tuple(idle[: facts.desired - desired])
        desired = facts.desired - len(release)
    return Decision(m, n, value, desired, release)


def apply(op: Op, tx: Tx, provider: CapacityProvider, facts: Facts, decision: Decision) -> int:
    """The decision applied in `tx`: protection kept on busy instances (termination
    protection), idle ones drained and let go, the desired capacity set. Returns the desired
    capacity written."""
    asg = provider.auto_scaling_group_provider
    assert asg is not None
    name = facts.group_name
    desired = decision.desired
    if asg.managed_termination_protection == ENABLED:
        exposed = [h.instance_id for h in facts.hosts if h.busy and not h.protected]
        if exposed:
            capacity.set_protection_in(tx, op, name, exposed, True)
        # Only instances still running nothing go (a task may have come meanwhile).
        going = [h for h in decision.release if not busy(tx, h.container_instance_arn)]
        desired = facts.desired - len(going) if decision.release else desired
        for host in going:
            inst = inst_ops.load(tx, host.container_instance_arn)
            if asg.managed_draining == ENABLED and inst is not None and inst.status == "ACTIVE":
                inst.status = InstanceStatus.DRAINING
                inst_ops.save(tx, inst)
        if going:
            capacity.set_protection_in(tx, op, name, [h.instance_id for h in going], False)
    if desired != facts.desired:
        capacity.set_desired_in(tx, op, name, desired)
    return desired
