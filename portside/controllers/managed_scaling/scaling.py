"""One managed-scaling provider's pass: what its group and tasks are (`read`), the
reservation it publishes (`decide`), and what it does to the group's instances (`apply`).

The group's size is not set here: the target tracking policy ECS puts on the group
(policy.py) moves its desired capacity once the published CapacityProviderReservation breaches
the target (its alarms, the group's target tracking runs). N is the group's instances
InService for the provider's instanceWarmupPeriod, the ones that policy counts as its current
capacity (it takes the warm-up as its EstimatedInstanceWarmup), so the two agree: the policy
takes the group to ceil(100 * M / targetCapacity), within the step sizes M is held to.

Under managedTerminationProtection ENABLED, ECS keeps every instance that runs a task
protected from scale in (the group's NewInstancesProtectedFromScaleIn protects them from
launch), so a scale-in the policy asks for leaves the group above its desired capacity until
ECS lets instances go: only idle ones, and only while no task waits; in one transaction it
checks they still run nothing, drains them when managedDraining is ENABLED (nothing more is
placed there) and clears their protection, so the group's termination policy can pick no
other. Without termination protection the group picks which instances go, as it does on AWS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portside.autoscaling import capacity
from portside.autoscaling import records as asg_records
from portside.autoscaling.groups import template_spec
from portside.controllers.managed_scaling import reservation as rsv
from portside.controllers.managed_scaling.provisioning import waiting
from portside.controllers.services.service_facts import ParsedInstances
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
    ready: int = 0  # N: members InService for the warm-up period

    @property
    def counted(self) -> int:
        """The group's capacity as it counts it: its registered and launching members."""
        return len(self.hosts) + self.launching


def busy_instances(tx: Tx, cluster_arn: str) -> set[str]:
    """The cluster's instances that run (or are stopping) a task."""
    tally = tx.tally("tasks", ("instance", "status"), where={"cluster": cluster_arn})
    return {arn for (arn, status), n in tally.items() if n and arn and status != TaskStatus.STOPPED}


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


def read(
    op: Op,
    tx: Tx,
    provider: CapacityProvider,
    cluster: Cluster,
    parsed: ParsedInstances | None = None,
) -> Facts | None:
    """The provider's facts. `parsed` keeps the cluster's instances parsed between passes (a
    pass reads all of them: at 10,000 instances, parsing them again each second was most of
    the metric's cost)."""
    asg = provider.auto_scaling_group_provider
    assert asg is not None
    group = capacity.group_in(tx, op, asg.group_name)
    doc = asg_records.find(tx, op, asg.group_name)
    if group is None or doc is None:
        return None
    now = op.now()
    warmup = asg.managed_scaling.instance_warmup_period
    guarded = asg.managed_termination_protection == ENABLED
    hosts: list[Host] = []
    sizes: list[tuple[int, int]] = []
    launching = 0
    ready = 0
    # The cluster's instances and busy ones in two reads, whatever the group's size.
    loaded = {
        inst.arn: inst for inst, _ in (parsed or ParsedInstances()).of_cluster(tx, cluster.arn)
    }
    working = busy_instances(tx, cluster.arn)
    for member in group.instances:
        if member.lifecycle == "Terminating":
            continue
        # N: ready as the group's target tracking counts them (autoscaling/tracking.py), but
        # for instances let go under termination protection (the group's desired capacity
        # already left them out; they only wait for their termination).
        ready += (
            member.healthy
            and member.in_service_at is not None
            and member.in_service_at <= now
            and now - member.launched_at >= warmup
            and (member.protected or not guarded)
        )
        arn = member.container_instance_arn
        inst = (loaded.get(arn) or inst_ops.load(tx, arn)) if arn else None
        if inst is None or inst.cluster_arn != cluster.arn or inst.status == "INACTIVE":
            launching += member.lifecycle == "Pending" or inst is None
            continue
        sizes.append((inst.cpu, inst.memory))
        hosts.append(
            Host(
                instance_id=member.instance_id,
                container_instance_arn=inst.arn,
                busy=inst.arn in working,
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
        ready=ready,
    )


@dataclass(frozen=True, slots=True)
class Decision:
    m: int  # as published: within the step sizes above N
    n: int
    value: float  # CapacityProviderReservation
    release: tuple[Host, ...]  # instances let go (termination protection)


def decide(provider: CapacityProvider, facts: Facts) -> Decision:
    """What the provider publishes and which instances it lets go this period (pure)."""
    asg = provider.auto_scaling_group_provider
    assert asg is not None
    s = asg.managed_scaling
    n = facts.ready
    need = rsv.needed(sum(h.busy for h in facts.hosts), facts.waiting, facts.size)
    m = rsv.bounded(need, n, s.minimum_scaling_step_size, s.maximum_scaling_step_size)
    release: tuple[Host, ...] = ()
    surplus = facts.counted - facts.desired  # a scale-in the group has not made yet
    if surplus > 0 and not facts.waiting and asg.managed_termination_protection == ENABLED:
        # Those let go already (awaiting their termination) first: none more than needed.
        idle = sorted(
            (h for h in facts.hosts if not h.busy), key=lambda h: (h.protected, h.instance_id)
        )
        release = tuple(idle[:surplus])
    return Decision(m, n, rsv.reservation(m, n), release)


def apply(op: Op, tx: Tx, provider: CapacityProvider, facts: Facts, decision: Decision) -> int:
    """The decision applied in `tx` (termination protection): protection kept on busy
    instances, idle ones chosen to go drained and let go. Returns how many were let go."""
    asg = provider.auto_scaling_group_provider
    assert asg is not None
    if asg.managed_termination_protection != ENABLED:
        return 0
    name = facts.group_name
    exposed = [h.instance_id for h in facts.hosts if h.busy and not h.protected]
    if exposed:
        capacity.set_protection_in(tx, op, name, exposed, True)
    # Only instances still running nothing go (a task may have come meanwhile).
    going = [h for h in decision.release if not busy(tx, h.container_instance_arn)]
    for host in going:
        inst = inst_ops.load(tx, host.container_instance_arn)
        if asg.managed_draining == ENABLED and inst is not None and inst.status == "ACTIVE":
            inst.status = InstanceStatus.DRAINING
            inst_ops.save(tx, inst)
    unprotect = [h.instance_id for h in going if h.protected]
    if unprotect:
        capacity.set_protection_in(tx, op, name, unprotect, False)
    return len(going)
