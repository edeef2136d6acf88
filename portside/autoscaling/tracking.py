"""A target tracking policy run: what one of its alarms' actions does when it reaches a group.

The run reads the alarm's latest datapoints afresh (as Application Auto Scaling's runs do):
if they no longer breach, nothing happens. Otherwise the capacity is the group's desired
capacity scaled by metric / target (rounded up; a scale-in removes at most a tenth of the
group, at least one, per run, as Application Auto Scaling's target tracking does), from zero
one instance when the metric is over the target, clamped to [MinSize, MaxSize]; DisableScaleIn
keeps it from shrinking. A successful change is written as the group's DesiredCapacity and a
scaling activity naming the alarm and policy.

Instance warm-up (the policy's EstimatedInstanceWarmup, else the group's
DefaultInstanceWarmup; neither set: none is considered): an instance adds to the metric once
it is InService and the warm-up has passed since its launch (ready). While fewer instances
were ready when the datapoint was taken (the start of its period) than the desired capacity,
the capacity is scaled from those ready instances alone, and the desired capacity only grows
(AWS: a warming instance counts toward the desired capacity, not toward the current one, and
no scale-in happens meanwhile). Readiness is taken at the datapoint's time, not the run's, so
an instance that came up in between is not counted against a metric that did not see it.
Without this a metric that waits for new instances (ECS's CapacityProviderReservation) would
grow the group once more each period until they are up. Nor does a run act on a datapoint
taken before the group's last change by a policy run: that observation was acted on already.

CloudWatch calls an action when its alarm enters ALARM; `rerun` (the groups loop, every metric
period) calls the policies whose alarm stays in ALARM again, as AWS keeps acting on it.
"""

from __future__ import annotations

import logging
import uuid

from portside.applicationautoscaling.decide import tracking_capacity
from portside.autoscaling import activities, policies, records, runtime
from portside.autoscaling.decide import Member
from portside.autoscaling.names import GROUPS, POLICIES
from portside.cloudwatch import alarm_data
from portside.cloudwatch.actions import AlarmAction, Handler
from portside.cloudwatch.alarm_config import alarm_period
from portside.cloudwatch.evaluation import ALARM, Rule, evaluate, window
from portside.cloudwatch.evaluator import settle
from portside.cloudwatch.runtime import CloudWatchRuntime
from portside.ops.context import World
from portside.store.base import Document

log = logging.getLogger("portside.autoscaling-groups")


def is_ready(member: Member, warmup: float, at: float) -> bool:
    """InService by `at`, and launched at least the warm-up before it."""
    return (
        member.healthy
        and member.in_service_at is not None
        and member.in_service_at <= at
        and at - member.launched_at >= warmup
    )


def ready_capacity(members: list[Member], warmup: float, at: float) -> int:
    """How many of the group's instances were ready (`is_ready`) at `at`."""
    return sum(1 for m in members if is_ready(m, warmup, at))


def _warmup(policy: Document, group: Document) -> float | None:
    for value in (policy.get("EstimatedInstanceWarmup"), group.get("DefaultInstanceWarmup")):
        if value is not None:
            return float(value)
    return None


def wanted_capacity(current: int, metric: float, target: float, disable_scale_in: bool) -> int:
    if current == 0:
        return 1 if metric > target else 0
    wanted = tracking_capacity(current, metric, target)
    if wanted < current and disable_scale_in:
        return current
    return wanted


def run(
    world: World, cloudwatch: CloudWatchRuntime, policy_arn: str, alarm_name: str, now: float
) -> int | None:
    """Run the policy for the alarm's latest datapoints; the new desired capacity, or None."""
    with world.store.read() as tx:
        policy = policies.by_arn(tx, policy_arn)
    if policy is None or not policy.get("Enabled", True):
        return None
    account, region, _ = policy["_GroupKey"].split("|", 2)
    scope = f"{account}|{region}"
    alarm = cloudwatch.alarms.get(scope, alarm_name)
    if alarm is None:
        return None
    period = alarm_period(alarm)
    rule = Rule.of(alarm, period)
    starts = window(now - settle(period), period, rule.periods)
    values = alarm_data.values(cloudwatch.metrics, scope, alarm, starts, period)
    outcome = evaluate(rule, starts, values, alarm["StateValue"], now)
    present = [v for v in values if v is not None]
    if outcome is None or outcome.state != ALARM or not present:
        return None
    cfg = policy["TargetTrackingConfiguration"]
    with world.store.transaction() as tx:
        group = tx.get(GROUPS, policy["_GroupKey"])
        if group is None or group.get("_Deleting"):
            return None
        current = int(group["DesiredCapacity"])
        target = float(cfg["TargetValue"])
        taken = next(t for t, v in zip(starts, values, strict=True) if v is not None)
        if taken < float(group.get("_TrackedAt") or 0.0):
            return None  # the datapoint predates the last change: wait for one that saw it
        warmup = _warmup(policy, group)
        ready, warming = 0, False
        if warmup is not None:
            members = [records.member(i) for i in records.members(tx, group["_Key"])]
            ready = ready_capacity(members, warmup, taken)
            warming = ready < current
        if warming:
            wanted = wanted_capacity(ready, present[0], target, True)
            if wanted <= current:
                return None  # what is warming up already stands for it
        else:
            wanted = wanted_capacity(current, present[0], target, bool(cfg.get("DisableScaleIn")))
        wanted = min(max(wanted, int(group["MinSize"])), int(group["MaxSize"]))
        if wanted == current:
            return None
        group["DesiredCapacity"] = wanted
        group["_TrackedAt"] = now
        tx.put(GROUPS, group["_Key"], group)
        stamp = activities.stamp(now)
        activities.record(
            tx,
            group,
            str(uuid.uuid4()),
            f"Setting desired capacity of {group['AutoScalingGroupName']} to {wanted}",
            f"At {stamp} a monitor alarm {alarm_name} in state ALARM triggered policy "
            f"{policy['PolicyName']} changing the desired capacity from {current} to {wanted}.",
            now,
            status="Successful",
        )
    log.info(
        "group %s: desired capacity %d -> %d (%s)",
        group["AutoScalingGroupName"],
        current,
        wanted,
        alarm_name,
    )
    return wanted


def handler_for(world: World, cloudwatch: CloudWatchRuntime) -> Handler:
    def handle(action: AlarmAction) -> None:
        if action.new_state == ALARM:
            run(world, cloudwatch, action.arn, action.alarm["AlarmName"], action.at)

    return handle


def rerun(world: World, cloudwatch: CloudWatchRuntime, now: float) -> None:
    """Run every target tracking policy whose alarm is in ALARM (called once a period)."""
    with world.store.read() as tx:
        docs = [d for _, d in tx.scan(POLICIES) if d["PolicyType"] == "TargetTrackingScaling"]
    for doc in docs:
        account, region, _ = doc["_GroupKey"].split("|", 2)
        for alarm in doc.get("Alarms") or ():
            found = cloudwatch.alarms.get(f"{account}|{region}", alarm["AlarmName"])
            if found is not None and found.get("StateValue") == ALARM:
                run(world, cloudwatch, doc["PolicyARN"], alarm["AlarmName"], now)


def watch_all(world: World) -> None:
    """Route every stored target tracking policy's alarms here (at start)."""
    with world.store.read() as tx:
        arns = [
            d["PolicyARN"]
            for _, d in tx.scan(POLICIES)
            if d["PolicyType"] == "TargetTrackingScaling"
        ]
    for arn in arns:
        runtime.watch_policy(world.store, arn)
