"""A scaling policy run: what an alarm's action does when it reaches Application Auto Scaling,
and the one way capacity changes (`set_capacity`), shared with scheduled actions.

An alarm calls with its policy's ARN. The run reads the alarm's latest datapoints afresh
(the alarm's own reason data is as old as its last state change, and CloudWatch calls a
scaling action again every period while the alarm stays in ALARM): if they no longer breach,
or there are none (insufficient data), nothing happens. Otherwise the policy's capacity is
computed (`decide.py`) from the service's desired count, and in one transaction the service's
desiredCount is set through ECS's operations, the activity written and the target's
cooldown clock moved.
"""

from __future__ import annotations

import logging
from typing import Any

from portside.applicationautoscaling import activities, decide, names, records
from portside.applicationautoscaling.runtime import ScalingRuntime
from portside.cloudwatch import alarm_data
from portside.cloudwatch.alarm_config import alarm_period
from portside.cloudwatch.evaluation import ALARM, Rule, evaluate, window
from portside.cloudwatch.evaluator import settle
from portside.cloudwatch.runtime import CloudWatchRuntime
from portside.model import arn as arns
from portside.ops import services as ecs_services
from portside.ops.context import World
from portside.store.base import Document, Tx

log = logging.getLogger("portside.applicationautoscaling")


def service_arn(target: Document) -> str:
    cluster, service = names.service_of(target["ResourceId"])
    where = names.where_of_arn(target["ScalableTargetARN"])
    return arns.ecs(where.region, where.account, f"service/{cluster}/{service}")


def set_capacity(
    world: World,
    tx: Tx,
    target: Document,
    capacity: int,
    cause: str,
    now: float,
    *,
    direction: str | None = None,
) -> bool:
    """Set the target's service to `capacity` and write the activity; False when there is
    no ACTIVE service to scale. `direction` ("out"/"in") moves the cooldown clock."""
    activity = activities.make(target, world.new_id(), now, activities.desired(capacity), cause)
    before = ecs_services.set_desired_count_by_scaling(
        world, tx, service_arn(target), capacity, now, activities.service_event(activity)
    )
    if before is None:
        return False
    records.save_activity(tx, target, activity)
    if direction is not None:
        target["_LastScaleOut" if direction == "out" else "_LastScaleIn"] = now
    tx.put(names.TARGETS, records.target_key_of(target), target)
    return True


def run(
    world: World,
    cloudwatch: CloudWatchRuntime,
    scaling: ScalingRuntime,
    policy_arn: str,
    alarm_name: str,
    now: float,
) -> decide.Decision:
    """Run the policy for the alarm's latest datapoints; the decision taken."""
    where = names.where_of_arn(policy_arn)
    scope = f"{where.account}|{where.region}"
    alarm = cloudwatch.alarms.get(scope, alarm_name)
    if alarm is None:
        return decide.Decision(None, "AlarmGone")
    period = alarm_period(alarm)
    rule = Rule.of(alarm, period)
    starts = window(now - settle(period), period, rule.periods)
    values = alarm_data.values(cloudwatch.metrics, scope, alarm, starts, period)
    outcome = evaluate(rule, starts, values, alarm["StateValue"], now)
    present = [v for v in values if v is not None]
    if outcome is None or outcome.state != ALARM or not present:
        return decide.Decision(None, "NotBreaching")
    with scaling.lock:
        # Decided on a read first: most calls (an idle service's AlarmLow at MinCapacity, a
        # cooldown) change nothing and need no write transaction.
        with world.store.read() as tx:
            decision, _, _ = _decide(tx, policy_arn, now, present, rule.threshold)
        if decision.capacity is None:
            return decision
        with world.store.transaction() as tx:
            decision, target, policy = _decide(tx, policy_arn, now, present, rule.threshold)
            if decision.capacity is None:
                return decision
            current = ecs_services.scaling_facts(tx, service_arn(target))
            before = current.desired_count if current else 0
            direction = "out" if decision.capacity > before else "in"
            cause = activities.alarm_cause(alarm_name, policy["PolicyName"])
            set_capacity(world, tx, target, decision.capacity, cause, now, direction=direction)
        log.info("%s: desired count %d -> %d (%s)", target["ResourceId"], before,
                 decision.capacity, cause)  # fmt: skip
        return decision


def _decide(
    tx: Tx, policy_arn: str, now: float, present: list[float], threshold: float
) -> tuple[decide.Decision, Document, Document]:
    """The decision for the policy as the store stands, with the target and the policy."""
    found = records.policy_by_arn(tx, policy_arn)
    if found is None:
        raise LookupError(f"No scaling policy {policy_arn}")
    _, policy = found
    target = tx.get(names.TARGETS, policy["_TargetKey"])
    if target is None:
        raise LookupError(f"No scalable target for {policy_arn}")
    facts = ecs_services.scaling_facts(tx, service_arn(target))
    if facts is None:
        return decide.Decision(None, "ServiceNotActive"), target, policy
    situation = _situation(target, facts, now)
    wanted, out_cd, in_cd = _wanted(policy, situation.current, present, threshold)
    return decide.decide(situation, wanted, out_cd, in_cd), target, policy


def _situation(target: Document, facts: ecs_services.ScalingFacts, now: float) -> decide.Situation:
    suspended = target.get("SuspendedState") or {}
    return decide.Situation(
        current=facts.desired_count,
        minimum=int(target["MinCapacity"]),
        maximum=int(target["MaxCapacity"]),
        now=now,
        last_out=target.get("_LastScaleOut"),
        last_in=target.get("_LastScaleIn"),
        deploying=facts.deploying,
        out_suspended=bool(suspended.get("DynamicScalingOutSuspended")),
        in_suspended=bool(suspended.get("DynamicScalingInSuspended")),
    )


def _wanted(
    policy: Document, current: int, newest_first: list[float], threshold: float
) -> tuple[int, float, float]:
    """(capacity wanted, scale-out cooldown, scale-in cooldown) for the policy."""
    if policy["PolicyType"] == "TargetTrackingScaling":
        cfg = policy["TargetTrackingScalingPolicyConfiguration"]
        wanted = decide.tracking_capacity(current, newest_first[0], float(cfg["TargetValue"]))
        if wanted < current and cfg.get("DisableScaleIn"):
            wanted = current
        return wanted, float(cfg["ScaleOutCooldown"]), float(cfg["ScaleInCooldown"])
    cfg = policy["StepScalingPolicyConfiguration"]
    cooldown = float(cfg.get("Cooldown", 300))
    value = _aggregate(cfg.get("MetricAggregationType") or "Average", newest_first)
    steps = [
        decide.Step(
            int(s["ScalingAdjustment"]),
            s.get("MetricIntervalLowerBound"),
            s.get("MetricIntervalUpperBound"),
        )
        for s in cfg["StepAdjustments"]
    ]
    step = decide.find_step(steps, value - threshold)
    if step is None:
        return current, cooldown, cooldown
    wanted = decide.step_capacity(
        current, cfg["AdjustmentType"], step.adjustment, cfg.get("MinAdjustmentMagnitude")
    )
    return wanted, cooldown, cooldown


def _aggregate(kind: str, values: list[float]) -> float:
    if kind == "Minimum":
        return min(values)
    if kind == "Maximum":
        return max(values)
    return sum(values) / len(values)


def handler_for(world: World, cloudwatch: CloudWatchRuntime, scaling: ScalingRuntime) -> Any:
    """The alarm action handler for `arn:aws:autoscaling:` (cloudwatch/actions.py)."""
    from portside.cloudwatch.actions import AlarmAction

    def handle(action: AlarmAction) -> None:
        if action.new_state != ALARM:
            return
        name = action.alarm["AlarmName"]
        where = names.where_of_arn(action.arn)
        scaling.calls[(f"{where.account}|{where.region}", name, action.arn)] = action.at
        run(world, cloudwatch, scaling, action.arn, name, action.at)

    return handle
