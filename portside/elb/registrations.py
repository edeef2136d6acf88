"""Targets registered on another service's behalf (ECS registers and deregisters its service
tasks): the same records RegisterTargets and DeregisterTargets write, in the caller's
transaction, so a task's stop and the deregistration of its targets commit together.

This is the whole of what the rest of Portside may do with ELB's records.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from portside.elb import health, names
from portside.elb.records import HEALTH, LBS, TARGETS, TGS, target_key, usage
from portside.store.base import Tx


@dataclass(frozen=True, slots=True, order=True)
class Target:
    group: str  # the target group's ARN
    id: str  # an EC2 instance id (`instance` groups) or an IP address (`ip` groups)
    port: int


@dataclass(frozen=True, slots=True)
class Group:
    arn: str
    target_type: str  # instance | ip
    load_balanced: bool  # a listener or a rule of some load balancer forwards to it
    deregistration_delay: int  # seconds


def group(tx: Tx, arn: str) -> Group | None:
    """The target group `arn` names, or None when there is none."""
    if names.kind(arn) != "targetgroup":
        return None
    doc = tx.get(TGS, arn)
    if doc is None:
        return None
    region, account = arn.split(":")[3:5]
    used = usage(tx, region, account).get(arn, set())
    return Group(
        arn,
        str(doc["TargetType"]),
        any(tx.get(LBS, lb) is not None for lb in used),
        int(doc["Attributes"]["deregistration_delay.timeout_seconds"]),
    )


def register(tx: Tx, targets: Iterable[Target], now: float, zone: str) -> list[Target]:
    """Register `targets` (a target draining is registered again); the ones now registered
    that were not. A target whose group is gone is left out."""
    done: list[Target] = []
    for t in targets:
        if tx.get(TGS, t.group) is None:
            continue
        key = target_key(t.group, t.id, t.port)
        held = tx.get(TARGETS, key)
        if held is not None and held.get("DrainingUntil") is None:
            continue
        doc = {"TargetGroupArn": t.group, "Id": t.id, "Port": t.port, "AvailabilityZone": zone}
        tx.put(TARGETS, key, {**doc, "RegisteredAt": now})
        done.append(t)
    return done


def deregister(tx: Tx, targets: Iterable[Target], now: float) -> float:
    """Deregister `targets`: each drains for its group's deregistration delay when its group
    receives traffic (forgotten at once otherwise). The longest drain, in seconds (0: none)."""
    longest = 0.0
    used: dict[tuple[str, str], dict[str, set[str]]] = {}
    for t in targets:
        key = target_key(t.group, t.id, t.port)
        held = tx.get(TARGETS, key)
        tg = tx.get(TGS, t.group)
        if held is None or tg is None or held.get("DrainingUntil") is not None:
            continue
        region, account = t.group.split(":")[3:5]
        in_use = t.group in used.setdefault((region, account), usage(tx, region, account))
        delay = int(tg["Attributes"]["deregistration_delay.timeout_seconds"])
        if not in_use or delay == 0:
            tx.delete(TARGETS, key)
            tx.delete(HEALTH, key)
        else:
            tx.put(TARGETS, key, {**held, "DrainingUntil": now + delay})
            longest = max(longest, float(delay))
    return longest


def states(tx: Tx, targets: Iterable[Target], now: float) -> dict[Target, str]:
    """Each target's state as DescribeTargetHealth shows it (healthy, unhealthy, initial,
    unused, draining, unavailable)."""
    out: dict[Target, str] = {}
    used: dict[tuple[str, str], dict[str, set[str]]] = {}
    for t in targets:
        tg = tx.get(TGS, t.group)
        if tg is None:
            out[t] = health.UNUSED
            continue
        key = target_key(t.group, t.id, t.port)
        doc = tx.get(TARGETS, key)
        seen = tx.get(HEALTH, key)
        region, account = t.group.split(":")[3:5]
        in_use = t.group in used.setdefault((region, account), usage(tx, region, account))
        found = health.target_health(
            health.Registration(doc["RegisteredAt"], doc.get("DrainingUntil")) if doc else None,
            in_use,
            health.Observation(seen["state"], seen["at"], seen.get("reason")) if seen else None,
            now,
            bool(tg.get("HealthCheckEnabled", True)),
        )
        out[t] = found.state
    return out
