"""A target tracking policy run: what one of its alarms' actions does when it reaches a group.

The run reads the alarm's latest datapoints afresh (as Application Auto Scaling's runs do):
if they no longer breach, nothing happens. Otherwise the capacity is the group's desired
capacity scaled by metric / target (rounded up; a scale-in removes at most a tenth of the
group, at least one, per run, as Application Auto Scaling's target tracking does), from zero
one instance when the metric is over the target, clamped to [MinSize, MaxSize]; DisableScaleIn
keeps it from shrinking. A successful change is written as the group's DesiredCapacity and a
scaling activity naming the alarm and policy.

CloudWatch calls an action when its alarm enters ALARM; `rerun` (the groups loop, every metric
period) calls the policies whose alarm stays in ALARM again, as AWS keeps acting on it.
"""

from __future__ import annotations

import logging
import uuid

from portside.applicationautoscaling.decide import tracking_capacity
from portside.autoscaling import activities, policies, runtime
from portside.autoscaling.names import GROUPS, POLICIES
from portside.cloudwatch import alarm_data
from portside.cloudwatch.actions import AlarmAction, Handler
from portside.cloudwatch.alarm_config import alarm_period
from portside.cloudwatch.evaluation import ALARM, Rule, evaluate, window
from portside.cloudwatch.evaluator import settle
from portside.cloudwatch.runtime import CloudWatchRuntime
from portside.ops.context import World

log = logging.getLogger("portside.autoscaling-groups")


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
        wanted = wanted_capacity(
            current, present[0], float(cfg["TargetValue"]), bool(cfg.get("DisableScaleIn"))
        )
        wanted = min(max(wanted, int(group["MinSize"])), int(group["MaxSize"]))
        if wanted == current:
            return None
        group["DesiredCapacity"] = wanted
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
