"""The `autoscaling-groups` loop: each group converged to its desired capacity.

Each pass, per group: its instances' lifecycle follows their EC2 state (Pending ->
InService once running; a Terminating one leaves the group once terminated, and its
activity ends), then `decide.compute` says what to launch and terminate, which is applied in
one transaction: new instances through EC2 (`ec2/instance_launch.launch`, the group's template,
its zone's subnet, its propagated tags and `aws:autoscaling:groupName`), terminations as
EC2 terminations with the instance Terminating; each with its scaling activity. A group
read as needing nothing costs one read; a ForceDelete'd group goes once its instances have.

A launch that fails (the template deleted, a subnet full) is a Failed activity with the
reason, retried after `RETRY` seconds, as AWS retries a failed launch.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from portside.autoscaling import activities, decide, records, tracking
from portside.autoscaling.groups import template_spec
from portside.autoscaling.members import begin_termination
from portside.autoscaling.names import GROUPS, REQUESTER, op_for
from portside.autoscaling.tags import propagated
from portside.cloudwatch.runtime import CloudWatchRuntime
from portside.controllers.loop import Loop, Loops
from portside.ec2.instance_launch import launch, spec_of
from portside.ec2.instance_records import INSTANCES, state_of
from portside.ec2.instance_records import put as put_instance
from portside.ec2.launch_templates import resolve
from portside.errors import PortsideError
from portside.ops.context import Op, World
from portside.store.base import Document, Tx

log = logging.getLogger("portside.autoscaling-groups")

INTERVAL = 0.5
RETRY = 10.0  # seconds before a failed launch is tried again
EXPIRE_EVERY = 3600.0


@dataclass(slots=True)
class Changes:
    """What one pass changes in a group's instances (before the plan)."""

    lifecycle: list[tuple[Document, str]] = field(default_factory=list)
    left: list[Document] = field(default_factory=list)  # terminated: out of the group

    @property
    def empty(self) -> bool:
        return not (self.lifecycle or self.left)


def lifecycle_changes(instances: list[Document]) -> Changes:
    """Lifecycle moves the instances' EC2 states call for (pure)."""
    out = Changes()
    for inst in instances:
        asg, state = inst["_Asg"], state_of(inst)
        if state == "terminated":
            out.left.append(inst)
        elif asg["LifecycleState"] == decide.PENDING and state == "running":
            out.lifecycle.append((inst, decide.IN_SERVICE))
    return out


def _uuid(op: Op) -> str:
    return str(uuid.UUID(op.world.new_id()[:32].ljust(32, "0")))


class GroupsLoop:
    def __init__(
        self, world: World, interval: float = INTERVAL, cloudwatch: CloudWatchRuntime | None = None
    ) -> None:
        self.world = world
        self.interval = interval
        self.cloudwatch = cloudwatch
        self._reran_at = 0.0
        self._retry_at: dict[str, float] = {}
        # What lets a pass skip a group nothing touched: the change feed's position at the
        # last pass, each instance's group (instance key -> group key) and the groups found
        # needing nothing (a group waiting to retry a launch is not idle).
        self._seq = 0
        self._group_of: dict[str, str] = {}
        self._idle: set[str] = set()
        self._expired_at: dict[str, float] = {}

    def register(self, loops: Loops) -> Loop:
        return loops.add("autoscaling-groups", self.step, interval=self.interval, log=log)

    def step(self) -> float | None:
        with self.world.store.read() as tx:
            seq = tx.feed_seq()
            keys = [row[0] for row in tx.index(GROUPS)]
            groups = tx.changed_keys(GROUPS, self._seq) if self._seq else None
            members = tx.changed_keys(INSTANCES, self._seq) if self._seq else None
        if groups is None or members is None:
            touched = set(keys)  # the first pass, or the feed trimmed: look at every group
        else:
            touched = groups | {self._group_of[k] for k in members if k in self._group_of}
        self._seq = seq
        for key in keys:
            if key in touched or key not in self._idle:
                self.converge(key)
        now = self.world.clock()
        if self.cloudwatch is not None and now - self._reran_at >= self.world.metric_period:
            self._reran_at = now
            tracking.rerun(self.world, self.cloudwatch, now)
        return None

    def _wanted(self, tx: Tx, key: str) -> tuple[Document | None, Changes, decide.Plan | None]:
        group = tx.get(GROUPS, key)
        if group is None:
            self._idle.discard(key)
            return None, Changes(), None
        instances = records.members(tx, key)
        for inst in instances:
            self._group_of[inst["_Key"]] = key
        changes = lifecycle_changes(instances)
        moved = {id(d): s for d, s in changes.lifecycle}
        gone = {id(d) for d in changes.left}
        members = [
            replace(records.member(d), lifecycle=moved.get(id(d), d["_Asg"]["LifecycleState"]))
            for d in instances
            if id(d) not in gone
        ]
        desired_template = _current_template(tx, op_for(self.world, key), group)
        zones = [z for z, _ in group["_Zones"]]
        plan = decide.compute(
            decide.Group(
                int(group["DesiredCapacity"]),
                zones,
                desired_template,
                deleting=bool(group.get("_Deleting")),
            ),
            members,
            self.world.clock(),
        )
        return group, changes, plan

    def converge(self, key: str) -> None:
        now = self.world.clock()
        with self.world.store.read() as tx:
            group, changes, plan = self._wanted(tx, key)
        if group is None or plan is None:
            return
        blocked = self._retry_at.get(key, 0.0) > now
        launching = bool(plan.launch) and not blocked
        deleting_done = bool(group.get("_Deleting"))
        if (
            changes.empty
            and not plan.replace
            and not plan.scale_in
            and not launching
            and not deleting_done
        ):
            if not plan.launch:
                self._idle.add(key)  # nothing to do until something of it changes
            self._expire(key, now)
            return
        self._idle.discard(key)
        op = op_for(self.world, key)
        with self.world.store.transaction() as tx:
            group, changes, plan = self._wanted(tx, key)
            if group is None or plan is None:
                return
            self._apply_lifecycle(tx, changes, now)
            if plan.replace or plan.scale_in:
                # One read of the members for every termination (a big group's scale-in or
                # deletion terminates thousands; one read each held the write lock for long).
                held = {d["InstanceId"]: d for d in records.members(tx, key)}
                for instance_id in plan.replace:
                    self._terminate(tx, group, held.get(instance_id), now, True, plan)
                for instance_id in plan.scale_in:
                    self._terminate(tx, group, held.get(instance_id), now, False, plan)
            if plan.launch and self._retry_at.get(key, 0.0) <= now:
                self._launch(tx, op, group, plan, now)
            if group.get("_Deleting") and not records.members(tx, key):
                from portside.autoscaling.groups import _delete

                _delete(self.world.store, tx, group)

    def _apply_lifecycle(self, tx: Tx, changes: Changes, now: float) -> None:
        for inst, state in changes.lifecycle:
            inst["_Asg"]["LifecycleState"] = state
            if state == decide.IN_SERVICE:
                inst["_Asg"]["InServiceAt"] = now  # target tracking's warm-up counts from it
            if inst["_Asg"].get("Activity"):
                activities.finish(tx, inst["_Asg"].pop("Activity"), now)
            put_instance(tx, inst)
        for inst in changes.left:
            self._group_of.pop(inst["_Key"], None)
            if inst["_Asg"].get("Activity"):
                activities.finish(tx, inst["_Asg"].pop("Activity"), now)
            inst["_Asg"]["LifecycleState"] = "Terminated"
            inst["_Group"] = ""
            put_instance(tx, inst)

    def _terminate(
        self, tx: Tx, group: Document, inst: Document | None, now: float, unhealthy: bool,
        plan: decide.Plan,
    ) -> None:  # fmt: skip
        if inst is None:
            return
        instance_id = inst["InstanceId"]
        if unhealthy:
            inst["_Asg"]["HealthStatus"] = decide.UNHEALTHY
            cause = activities.unhealthy_cause(now, instance_id)
        else:
            cause = activities.difference_cause(now, False, plan.before, plan.after)
        key = activities.record(
            tx,
            group,
            str(uuid.uuid4()),
            f"Terminating EC2 instance: {instance_id}",
            cause,
            now,
            details={
                "Subnet ID": inst.get("SubnetId") or "",
                "Availability Zone": inst["Placement"]["AvailabilityZone"],
            },
        )
        begin_termination(inst, key, f"Service ({activities.stamp(now)})")
        put_instance(tx, inst)

    def _launch(self, tx: Tx, op: Op, group: Document, plan: decide.Plan, now: float) -> None:
        spec_ref, override = template_spec(group)
        subnets = dict((z, s) for z, s in group["_Zones"])
        count = plan.before
        for zone, n in plan.launch.items():
            given: dict[str, Any] = (
                {"SubnetId": subnets[zone]}
                if subnets.get(zone)
                else {"Placement": {"AvailabilityZone": zone}}
            )
            if override:
                given["InstanceType"] = override
            try:
                spec = spec_of(tx, op, spec_ref, given)
                docs = launch(
                    tx,
                    op,
                    spec,
                    n,
                    n,
                    group_key=group["_Key"],
                    extra_tags=propagated(group),
                    requester=REQUESTER,
                )
            except PortsideError as exc:
                self._failed(tx, group, zone, str(exc) or exc.code, now)
                return
            for doc in docs:
                count += 1
                key = activities.record(
                    tx,
                    group,
                    _uuid(op),
                    f"Launching a new EC2 instance: {doc['InstanceId']}",
                    activities.difference_cause(now, True, plan.before, plan.after),
                    now,
                    details={
                        "Subnet ID": doc.get("SubnetId") or "",
                        "Availability Zone": zone,
                    },
                )
                doc["_Asg"] = {
                    "LifecycleState": decide.PENDING,
                    "HealthStatus": decide.HEALTHY,
                    "ProtectedFromScaleIn": bool(group.get("NewInstancesProtectedFromScaleIn")),
                    "LaunchTemplate": spec.template,
                    "Activity": key,
                }
                put_instance(tx, doc)
                self._group_of[doc["_Key"]] = group["_Key"]
        self._retry_at.pop(group["_Key"], None)

    def _failed(self, tx: Tx, group: Document, zone: str, why: str, now: float) -> None:
        """A launch that could not be made: a Failed activity, retried after RETRY."""
        self._retry_at[group["_Key"]] = now + RETRY
        activities.record(
            tx,
            group,
            str(uuid.uuid4()),
            "Launching a new EC2 instance.  Status Reason: " + why,
            f"At {activities.stamp(now)} an instance was started in response to a difference "
            "between desired and actual capacity.",
            now,
            status="Failed",
            message=why,
            details={"Availability Zone": zone},
        )
        log.info("group %s: launch failed: %s", group["AutoScalingGroupName"], why)

    def _expire(self, key: str, now: float) -> None:
        if now - self._expired_at.get(key, 0.0) < EXPIRE_EVERY:
            return
        self._expired_at[key] = now
        with self.world.store.transaction() as tx:
            activities.expire(tx, key, now)


def _current_template(tx: Tx, op: Op, group: Document) -> str:
    """ "ID:VERSION" the group launches from now (its version resolved)."""
    spec, _ = template_spec(group)
    try:
        template, version = resolve(tx, op, spec)
    except PortsideError:
        return ""
    return f"{template['LaunchTemplateId']}:{version['VersionNumber']}"
