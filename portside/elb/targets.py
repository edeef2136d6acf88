"""Targets: registration, deregistration (draining until the deregistration delay has
passed), DescribeTargetHealth, and `sweep`, which forgets targets whose draining is over.

A target is `{TargetGroupArn, Id, Port, AvailabilityZone, RegisteredAt, DrainingUntil}` under
`TG|ID|PORT`. Its health is `health.target_health` of that document, of whether its group
receives traffic, and of the data plane's last observation (`elb_target_health`, same key).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from portside.elb import health, limits, target_groups
from portside.elb.errors import ValidationError
from portside.elb.operations import action
from portside.elb.records import HEALTH, TARGETS, target_key, usage
from portside.errors import NamedError
from portside.ops.context import Op
from portside.store.base import Document, Store, Tx


def registration(doc: Document) -> health.Registration:
    return health.Registration(doc["RegisteredAt"], doc.get("DrainingUntil"))


def observation(doc: Document | None) -> health.Observation | None:
    if doc is None:
        return None
    return health.Observation(doc["state"], doc["at"], doc.get("reason"), doc.get("description"))


def _targets(tg: Document, given: list[dict[str, Any]], region: str) -> list[dict[str, Any]]:
    out = []
    for target in given:
        target_id, port = target["Id"], int(target.get("Port") or tg["Port"])
        if not 1 <= port <= 65535:
            raise ValidationError("Port must be between 1 and 65535")
        if tg["TargetType"] == "ip":
            try:
                ipaddress.ip_address(target_id)
            except ValueError:
                raise NamedError(
                    "InvalidTarget", f"The IP address '{target_id}' is not a valid IPv4 address"
                ) from None
        zone = target.get("AvailabilityZone") or f"{region}a"
        out.append({"Id": target_id, "Port": port, "AvailabilityZone": zone})
    return out


def _asked(
    tx: Tx, tg: Document, given: list[dict[str, Any]], region: str
) -> Iterator[tuple[str, dict[str, Any], Document | None]]:
    """The targets a request names, checked, each with its key and its stored document (None
    when it is not registered), read as the caller reaches it: after what the caller wrote
    for the ones before."""
    for target in _targets(tg, given, region):
        key = target_key(tg["TargetGroupArn"], target["Id"], target["Port"])
        yield key, target, tx.get(TARGETS, key)


def _in_use(tx: Tx, tg: Document) -> bool:
    """Whether a listener or rule forwards to the target group."""
    arn = tg["TargetGroupArn"]
    return arn in usage(tx, *arn.split(":")[3:5])


@action("RegisterTargets")
def register(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    now = op.now()
    with op.store.transaction() as tx:
        tg = target_groups.load(tx, p["TargetGroupArn"])
        arn = tg["TargetGroupArn"]
        for key, target, held in _asked(tx, tg, p["Targets"], op.region):
            if held is not None and held.get("DrainingUntil") is None:
                continue  # already registered: nothing changes
            tx.put(TARGETS, key, {"TargetGroupArn": arn, **target, "RegisteredAt": now})
        if tx.count(TARGETS, prefix=arn + "|") > limits.TARGETS_PER_GROUP:
            raise NamedError(
                "TooManyTargets",
                "You've reached the limit on the number of targets per target group",
            )
    return {}


@action("DeregisterTargets")
def deregister(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    now = op.now()
    with op.store.transaction() as tx:
        tg = target_groups.load(tx, p["TargetGroupArn"])
        arn = tg["TargetGroupArn"]
        delay = int(tg["Attributes"]["deregistration_delay.timeout_seconds"])
        in_use = _in_use(tx, tg)
        for key, target, held in _asked(tx, tg, p["Targets"], op.region):
            if held is None:
                raise NamedError(
                    "InvalidTarget",
                    f"The following targets are not registered in target group '{arn}': "
                    f"'{target['Id']}'",
                )
            if held.get("DrainingUntil") is not None:
                continue
            if not in_use or delay == 0:
                _forget(tx, key)  # nothing routes to it: no connection to drain
            else:
                tx.put(TARGETS, key, {**held, "DrainingUntil": now + delay})
    return {}


def _forget(tx: Tx, key: str) -> None:
    tx.delete(TARGETS, key)
    tx.delete(HEALTH, key)


def _description(
    tx: Tx, tg: Document, target: dict[str, Any], doc: Document | None, in_use: bool, now: float
) -> dict[str, Any]:
    key = target_key(tg["TargetGroupArn"], target["Id"], target["Port"])
    found = health.target_health(
        registration(doc) if doc else None,
        in_use,
        observation(tx.get(HEALTH, key)),
        now,
        bool(tg.get("HealthCheckEnabled", True)),
    )
    state: dict[str, Any] = {"State": found.state}
    if found.reason:
        state["Reason"] = found.reason
    if found.description:
        state["Description"] = found.description
    port = tg["HealthCheckPort"]
    return {
        "Target": target,
        "HealthCheckPort": str(target["Port"]) if port == "traffic-port" else port,
        "TargetHealth": state,
    }


@action("DescribeTargetHealth")
def describe_health(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    now = op.now()
    with op.store.read() as tx:
        tg = target_groups.load(tx, p["TargetGroupArn"])
        in_use = _in_use(tx, tg)
        out = []
        if p.get("Targets"):
            for _, target, doc in _asked(tx, tg, p["Targets"], op.region):
                shown = {"Id": target["Id"], "Port": target["Port"]}
                if doc is not None:
                    shown["AvailabilityZone"] = doc["AvailabilityZone"]
                out.append(_description(tx, tg, shown, doc, in_use, now))
        else:
            for _, doc in tx.scan(TARGETS, prefix=tg["TargetGroupArn"] + "|"):
                shown = {k: doc[k] for k in ("Id", "Port", "AvailabilityZone")}
                out.append(_description(tx, tg, shown, doc, in_use, now))
    return {"TargetHealthDescriptions": out}


def sweep(store: Store, now: float) -> int:
    """Forget every target whose deregistration delay has passed; how many were."""
    with store.read() as tx:
        expired = [key for key, doc in tx.scan(TARGETS) if health.gone(registration(doc), now)]
    if not expired:
        return 0
    with store.transaction() as tx:
        for key in expired:
            doc = tx.get(TARGETS, key)
            if doc is not None and health.gone(registration(doc), now):
                _forget(tx, key)
    return len(expired)
