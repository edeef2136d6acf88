"""Target groups: create (idempotent for the same settings), describe, modify, delete,
attributes."""

from __future__ import annotations

from typing import Any

from portside.elb import attributes, defaults, names, tags
from portside.elb.errors import ValidationError, tg_not_found
from portside.elb.operations import action
from portside.elb.records import HEALTH, LB, TARGETS, TG, TGS, page, usage, wire
from portside.errors import NamedError
from portside.ops.context import Op
from portside.store.base import Document, Tx

PROTOCOLS = ("HTTP", "HTTPS", "TCP")
TARGET_TYPES = ("instance", "ip")
_HEALTH_MEMBERS = (
    "HealthCheckProtocol",
    "HealthCheckPort",
    "HealthCheckEnabled",
    "HealthCheckIntervalSeconds",
    "HealthCheckTimeoutSeconds",
    "HealthyThresholdCount",
    "UnhealthyThresholdCount",
    "HealthCheckPath",
    "Matcher",
)


def load(tx: Tx, arn: str) -> Document:
    return TG.get(tx, arn, tg_not_found(f"Target groups '{arn}' not found"))


def by_name(tx: Tx, region: str, account: str, name: str) -> Document | None:
    prefix = f"{names.base(region, account)}targetgroup/{name}/"
    return next((doc for _, doc in tx.scan(TGS, prefix=prefix)), None)


def shape(doc: Document, used: dict[str, set[str]]) -> dict[str, Any]:
    return {**wire(doc), "LoadBalancerArns": sorted(used.get(doc["TargetGroupArn"], ()))}


def _check_enabled(doc: Document) -> None:
    if doc.get("HealthCheckEnabled") is False:
        raise ValidationError(
            "Health check enabled must be true for target groups with target type "
            f"'{doc['TargetType']}'"
        )


def _settings(p: dict[str, Any]) -> Document:
    target_type = p.get("TargetType") or "instance"
    if target_type not in TARGET_TYPES:
        raise ValidationError(f"Target type '{target_type}' is not supported by Portside")
    protocol, port, vpc = p.get("Protocol"), p.get("Port"), p.get("VpcId")
    if protocol is None:
        raise ValidationError("A protocol must be specified")
    if protocol not in PROTOCOLS:
        raise ValidationError(
            f"Protocol '{protocol}' is not supported by Portside; use one of: "
            + ", ".join(PROTOCOLS)
        )
    if port is None:
        raise ValidationError("A port must be specified")
    if not 1 <= port <= 65535:
        raise ValidationError("Port must be between 1 and 65535")
    if vpc is None:
        raise ValidationError("A VPC ID must be specified")
    doc: Document = {
        "TargetGroupName": p["Name"],
        "Protocol": protocol,
        "Port": port,
        "VpcId": vpc,
        **defaults.health_check(protocol, target_type, p),
        "TargetType": target_type,
        "IpAddressType": p.get("IpAddressType") or "ipv4",
    }
    if protocol in ("HTTP", "HTTPS"):
        doc["ProtocolVersion"] = p.get("ProtocolVersion") or "HTTP1"
    _check_enabled(doc)
    return doc


@action("CreateTargetGroup")
def create(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    names.check_tg_name(p["Name"])
    settings = _settings(p)
    tag_list = tags.checked(p.get("Tags") or [])
    with op.store.transaction() as tx:
        found = by_name(tx, op.region, op.account, p["Name"])
        if found is not None:
            if any(found.get(k) != v for k, v in settings.items()):
                raise NamedError(
                    "DuplicateTargetGroupName",
                    f"A target group with the same name '{p['Name']}' exists, but with "
                    "different settings",
                )
            return {"TargetGroups": [shape(found, usage(tx, op.region, op.account))]}
        arn = names.tg_arn(op.region, op.account, p["Name"], op.world.new_id()[:16])
        doc = {
            "TargetGroupArn": arn,
            **settings,
            "Attributes": defaults.tg_attributes(settings["Protocol"], settings["TargetType"]),
            "Tags": tag_list,
        }
        tx.put(TGS, arn, doc)
    return {"TargetGroups": [shape(doc, {})]}


@action("DescribeTargetGroups")
def describe(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    arns, wanted, lb = (
        p.get("TargetGroupArns") or [],
        p.get("Names") or [],
        p.get("LoadBalancerArn"),
    )
    if sum(1 for given in (arns, wanted, lb) if given) > 1:
        raise ValidationError(
            "Target group names, target group ARNs, and a load balancer ARN cannot be "
            "specified at the same time"
        )
    with op.store.read() as tx:
        used = usage(tx, op.region, op.account)
        docs = TG.described(tx, op.region, op.account, arns, wanted, by_name)
        if lb:  # given alone: `docs` is every target group
            LB.get(tx, lb)
            docs = [d for d in docs if lb in used.get(d["TargetGroupArn"], ())]
    return page(p, "TargetGroups", docs, "TargetGroupArn", lambda d: shape(d, used))


@action("ModifyTargetGroup")
def modify(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        doc = load(tx, p["TargetGroupArn"])
        changed = {k: p[k] for k in _HEALTH_MEMBERS if k in p}
        if changed.get("HealthCheckProtocol") in ("HTTP", "HTTPS"):
            doc.setdefault("HealthCheckPath", "/")
            doc.setdefault("Matcher", {"HttpCode": "200-399"})
        elif changed.get("HealthCheckProtocol") == "TCP":
            doc.pop("HealthCheckPath", None)
            doc.pop("Matcher", None)
        doc.update(changed)
        defaults.check_health(doc, doc["Protocol"])
        _check_enabled(doc)
        tx.put(TGS, doc["TargetGroupArn"], doc)
        return {"TargetGroups": [shape(doc, usage(tx, op.region, op.account))]}


@action("DeleteTargetGroup")
def delete(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    arn = p["TargetGroupArn"]
    names.check_arn(arn, "targetgroup", "target group")
    with op.store.transaction() as tx:
        if tx.get(TGS, arn) is None:
            return {}  # ELB deletes what is gone without complaint
        region, account = arn.split(":")[3:5]
        if arn in usage(tx, region, account):
            raise NamedError(
                "ResourceInUse", f"Target group '{arn}' is currently in use by a listener or a rule"
            )
        for key, _ in list(tx.scan(TARGETS, prefix=arn + "|")):
            tx.delete(TARGETS, key)
        for key, _ in list(tx.scan(HEALTH, prefix=arn + "|")):
            tx.delete(HEALTH, key)
        tx.delete(TGS, arn)
    return {}


describe_attributes, modify_attributes = attributes.actions(
    "TargetGroup", load, TGS, "TargetGroupArn", "Target group"
)
