"""PutScheduledAction, DescribeScheduledActions, DeleteScheduledAction, and running them.

A schedule is `at(yyyy-mm-ddThh:mm:ss)`, `rate(value unit)` or `cron(fields)` (EventBridge's
six-field cron, parsed by schedules/expressions.py), read in `Timezone` (UTC by default),
and runs only between StartTime and EndTime when they are given. A run sets the target's
MinCapacity and/or MaxCapacity (ScalableTargetAction) and then moves the desired count inside
them if it is outside, as AWS does: no cooldown or deployment holds that back. A target with
ScheduledScalingSuspended skips its runs. Missed runs (the server was down) are not caught
up: the next run is the next occurrence after now.

The next run is kept in the action (`_Next`, epoch seconds; None when there is none left),
computed when it is put and after each run.
"""

from __future__ import annotations

import logging
from typing import Any

from portside.applicationautoscaling import activities, names, records, runtime
from portside.applicationautoscaling.errors import no_scheduled_action
from portside.applicationautoscaling.operations import action
from portside.applicationautoscaling.scaling import service_arn
from portside.errors import ValidationException
from portside.ops import services as ecs_services
from portside.ops.context import Op, World
from portside.schedules import expressions
from portside.store.base import Document

log = logging.getLogger("portside.applicationautoscaling")
MAX_SCHEDULED = 200  # per target (AWS's quota)


def next_run(doc: Document, not_before: float) -> int | None:
    expr = expressions.parse(doc["Schedule"])
    tz = expressions.zone(doc.get("Timezone") or "UTC")
    start = int(doc["StartTime"]) if doc.get("StartTime") is not None else None
    anchor = start if start is not None else int(doc["CreationTime"])
    when = expressions.next_at_or_after(expr, tz, max(int(-(-not_before // 1)), start or 0), anchor)
    end = doc.get("EndTime")
    if when is not None and end is not None and when > end:
        return None
    return when


@action("PutScheduledAction")
def put_scheduled_action(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    namespace, resource, dimension = p["ServiceNamespace"], p["ResourceId"], p["ScalableDimension"]
    names.check_target(namespace, resource, dimension)
    where, now, name = names.Where(op.account, op.region), op.now(), p["ScheduledActionName"]
    with runtime.for_store(op.store).lock, op.store.transaction() as tx:
        target = records.load_target(tx, where, namespace, resource, dimension)
        target_key = records.target_key_of(target)
        key = f"{target_key}|{name}"
        old = tx.get(names.SCHEDULED, key)
        if old is None and p.get("Schedule") is None:
            raise ValidationException("Schedule must be specified for a new scheduled action")
        if old is None and len(records.children(tx, names.SCHEDULED, target_key)) >= MAX_SCHEDULED:
            from portside.applicationautoscaling.errors import limit

            raise limit(f"Too many scheduled actions for {resource}: at most {MAX_SCHEDULED}")
        ident = old["_Id"] if old else names.uuid_text(op.world.new_id())
        doc: Document = dict(old) if old else {
            "ScheduledActionName": name,
            "ScheduledActionARN": names.scheduled_action_arn(
                where, ident, namespace, resource, name
            ),
            "ServiceNamespace": namespace,
            "ResourceId": resource,
            "ScalableDimension": dimension,
            "CreationTime": now,
            "_Id": ident,
            "_TargetKey": target_key,
        }  # fmt: skip
        for k in ("Schedule", "Timezone", "StartTime", "EndTime", "ScalableTargetAction"):
            if p.get(k) is not None:
                doc[k] = p[k]
        expressions.parse(doc["Schedule"])
        if doc.get("Timezone"):
            expressions.zone(doc["Timezone"])
        bounds = doc.get("ScalableTargetAction") or {}
        lo, hi = bounds.get("MinCapacity"), bounds.get("MaxCapacity")
        if lo is not None and hi is not None and lo > hi:
            raise ValidationException("Minimum capacity cannot be greater than maximum capacity")
        start, end = doc.get("StartTime"), doc.get("EndTime")
        if start is not None and end is not None and start > end:
            raise ValidationException("StartTime must be before EndTime")
        doc["_Next"] = next_run(doc, now)
        tx.put(names.SCHEDULED, key, doc)
    return {}


@action("DescribeScheduledActions")
def describe_scheduled_actions(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    where, namespace = names.Where(op.account, op.region), p["ServiceNamespace"]
    wanted = set(p.get("ScheduledActionNames") or ())
    resource, dimension = p.get("ResourceId"), p.get("ScalableDimension")
    if dimension and not resource:
        raise ValidationException("ResourceId must be specified if ScalableDimension is given")
    with op.store.read() as tx:
        rows = [
            (k, d)
            for k, d in tx.scan(names.SCHEDULED, prefix=where.prefix(namespace, resource))
            if (not wanted or d["ScheduledActionName"] in wanted)
            and (not dimension or d["ScalableDimension"] == dimension)
        ]
    found, token = records.page(rows, p.get("MaxResults"), p.get("NextToken"))
    out: dict[str, Any] = {"ScheduledActions": [records.shown(d) for d in found]}
    if token:
        out["NextToken"] = token
    return out


@action("DeleteScheduledAction")
def delete_scheduled_action(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    namespace, resource, dimension = p["ServiceNamespace"], p["ResourceId"], p["ScalableDimension"]
    where, name = names.Where(op.account, op.region), p["ScheduledActionName"]
    key = f"{where.target_key(namespace, resource, dimension)}|{name}"
    with runtime.for_store(op.store).lock, op.store.transaction() as tx:
        if tx.get(names.SCHEDULED, key) is None:
            raise no_scheduled_action(name, namespace, resource, dimension)
        tx.delete(names.SCHEDULED, key)
    return {}


def run_due(world: World, scaling: runtime.ScalingRuntime, now: float) -> int:
    """Run every scheduled action that is due; how many ran."""
    with world.store.read() as tx:
        due = [
            (k, d)
            for k, d in tx.scan(names.SCHEDULED)
            if d.get("_Next") is not None and d["_Next"] <= now
        ]
    ran = 0
    for key, _ in due:
        with scaling.lock, world.store.transaction() as tx:
            doc = tx.get(names.SCHEDULED, key)
            if doc is None or doc.get("_Next") is None or doc["_Next"] > now:
                continue
            target = tx.get(names.TARGETS, doc["_TargetKey"])
            if target is not None and not (target.get("SuspendedState") or {}).get(
                "ScheduledScalingSuspended"
            ):
                _apply(world, tx, target, doc, now)
                ran += 1
            doc["_Next"] = next_run(doc, now + 1)
            tx.put(names.SCHEDULED, key, doc)
    return ran


def _apply(world: World, tx: Any, target: Document, doc: Document, now: float) -> None:
    from portside.applicationautoscaling.scaling import set_capacity

    bounds = doc.get("ScalableTargetAction") or {}
    lo, hi = bounds.get("MinCapacity"), bounds.get("MaxCapacity")
    if lo is None and hi is None:
        return
    if lo is not None:
        target["MinCapacity"] = lo
    if hi is not None:
        target["MaxCapacity"] = hi
    if target["MinCapacity"] > target["MaxCapacity"]:
        # The other bound follows, as it would have to on AWS for the call to succeed.
        if lo is not None:
            target["MaxCapacity"] = lo
        else:
            target["MinCapacity"] = hi
    cause = activities.scheduled_cause(doc["ScheduledActionName"])
    texts = activities.bounds_text(lo, hi)
    records.save_activity(tx, target, activities.make(target, world.new_id(), now, texts, cause))
    tx.put(names.TARGETS, records.target_key_of(target), target)
    facts = ecs_services.scaling_facts(tx, service_arn(target))
    if facts is None:
        return
    if facts.desired_count < target["MinCapacity"]:
        cause = activities.bound_cause("minimum", target["MinCapacity"])
        set_capacity(world, tx, target, target["MinCapacity"], cause, now)
    elif facts.desired_count > target["MaxCapacity"]:
        cause = activities.bound_cause("maximum", target["MaxCapacity"])
        set_capacity(world, tx, target, target["MaxCapacity"], cause, now)
    log.info("scheduled action %s ran on %s", doc["ScheduledActionName"], target["ResourceId"])
