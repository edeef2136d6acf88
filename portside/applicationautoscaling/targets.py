"""RegisterScalableTarget, DescribeScalableTargets, DeregisterScalableTarget.

A target is an ECS service's desired count (`service/<cluster>/<service>`), which must exist
and be ACTIVE when it is registered. Registering again updates what is given (MinCapacity,
MaxCapacity, SuspendedState, each member of it on its own) and keeps the rest; a new target
needs both capacities. When the new bounds leave the service's desired count outside them,
the count is moved inside at once (an activity says which bound was set). Deregistering
deletes the target's policies (and their alarms) and scheduled actions, as AWS does.
"""

from __future__ import annotations

from typing import Any

from portside.applicationautoscaling import activities, names, records, runtime, tracking_alarms
from portside.applicationautoscaling.errors import no_target
from portside.applicationautoscaling.operations import action
from portside.applicationautoscaling.scaling import service_arn, set_capacity
from portside.cloudwatch import runtime as cloudwatch_runtime
from portside.errors import ValidationException
from portside.ops import services as ecs_services
from portside.ops.context import Op
from portside.store.base import Document, Tx

MAX_CAPACITY = 10_000  # ECS: at most 5,000 tasks per service (quota); AWS's bound on the API


def _where(op: Op) -> names.Where:
    return names.Where(op.account, op.region)


@action("RegisterScalableTarget")
def register_scalable_target(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    namespace, resource, dimension = p["ServiceNamespace"], p["ResourceId"], p["ScalableDimension"]
    names.check_target(namespace, resource, dimension)
    where, now = _where(op), op.now()
    key = where.target_key(namespace, resource, dimension)
    with runtime.for_store(op.store).lock, op.store.transaction() as tx:
        old = tx.get(names.TARGETS, key)
        if old is None and (p.get("MinCapacity") is None or p.get("MaxCapacity") is None):
            raise ValidationException(
                "MinCapacity and MaxCapacity are required for registering a new scalable target"
            )
        doc: Document = dict(old) if old else {
            "ServiceNamespace": namespace,
            "ResourceId": resource,
            "ScalableDimension": dimension,
            "RoleARN": p.get("RoleARN") or names.role_arn(op.account),
            "CreationTime": now,
            "SuspendedState": {
                "DynamicScalingInSuspended": False,
                "DynamicScalingOutSuspended": False,
                "ScheduledScalingSuspended": False,
            },
            "ScalableTargetARN": names.target_arn(where, op.world.new_id()[:32] + "0000"),
            "_Key": key,
            "_Tags": {},
        }  # fmt: skip
        for bound in ("MinCapacity", "MaxCapacity"):
            if p.get(bound) is not None:
                doc[bound] = p[bound]
        if doc["MinCapacity"] > doc["MaxCapacity"]:
            raise ValidationException("Minimum capacity cannot be greater than maximum capacity")
        if doc["MaxCapacity"] > MAX_CAPACITY:
            raise ValidationException(f"Maximum capacity cannot be greater than {MAX_CAPACITY}")
        for k, v in (p.get("SuspendedState") or {}).items():
            doc["SuspendedState"][k] = v
        if old is None:
            tags = p.get("Tags") or {}
            _check_tags(tags)
            doc["_Tags"] = dict(tags)
        facts = ecs_services.scaling_facts(tx, service_arn(doc))
        if facts is None:
            raise ValidationException(f"ECS service doesn't exist: {resource}")
        tx.put(names.TARGETS, key, doc)
        keep_within_bounds(op, tx, doc, facts.desired_count, now)
    return {"ScalableTargetARN": doc["ScalableTargetARN"]}


def keep_within_bounds(op: Op, tx: Tx, target: Document, current: int, now: float) -> None:
    """Move the desired count inside [MinCapacity, MaxCapacity] when it is outside."""
    if current < target["MinCapacity"]:
        cause = activities.bound_cause("minimum", target["MinCapacity"])
        set_capacity(op.world, tx, target, target["MinCapacity"], cause, now)
    elif current > target["MaxCapacity"]:
        cause = activities.bound_cause("maximum", target["MaxCapacity"])
        set_capacity(op.world, tx, target, target["MaxCapacity"], cause, now)


def _check_tags(tags: dict[str, str]) -> None:
    from portside.applicationautoscaling.errors import too_many_tags

    if len(tags) > 50:
        raise too_many_tags()


@action("DescribeScalableTargets")
def describe_scalable_targets(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    where, namespace = _where(op), p["ServiceNamespace"]
    ids = set(p.get("ResourceIds") or ())
    dimension = p.get("ScalableDimension")
    with op.store.read() as tx:
        rows = [
            (k, d)
            for k, d in tx.scan(names.TARGETS, prefix=where.prefix(namespace))
            if (not ids or d["ResourceId"] in ids)
            and (not dimension or d["ScalableDimension"] == dimension)
        ]
    found, token = records.page(rows, p.get("MaxResults"), p.get("NextToken"))
    out: dict[str, Any] = {"ScalableTargets": [records.shown(d) for d in found]}
    if token:
        out["NextToken"] = token
    return out


@action("DeregisterScalableTarget")
def deregister_scalable_target(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    namespace, resource, dimension = p["ServiceNamespace"], p["ResourceId"], p["ScalableDimension"]
    key = _where(op).target_key(namespace, resource, dimension)
    with runtime.for_store(op.store).lock, op.store.transaction() as tx:
        if tx.get(names.TARGETS, key) is None:
            raise no_target(namespace, resource, dimension)
        gone = records.delete_target_children(tx, key)
        tx.delete(names.TARGETS, key)
    rt = cloudwatch_runtime.of(op)
    for policy in gone:
        tracking_alarms.delete(rt, op.account, op.region, policy.get("_AlarmNames") or [])
    return {}
