"""What the data plane reads: every load balancer with its listeners, their rules in order,
and the target groups they forward to, with settings, attributes and current targets.

`load_balancer_config(store)` is one read snapshot turned into typed values; a caller turns
them into its proxy's configuration. Target groups no listener or rule uses are left out
(nothing routes to them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from portside.acm.records import CERTIFICATES
from portside.elb import names
from portside.elb.records import LBS, LISTENERS, RULES, TARGETS, TGS, forwarded
from portside.elb.rules import ordered
from portside.store.base import Document, Store, Tx


@dataclass(frozen=True, slots=True)
class Target:
    id: str
    port: int
    availability_zone: str
    registered_at: float
    draining: bool
    draining_until: float | None


@dataclass(frozen=True, slots=True)
class HealthCheck:
    enabled: bool
    protocol: str  # HTTP | HTTPS | TCP
    port: str  # "traffic-port" or a number
    path: str | None
    interval_seconds: int
    timeout_seconds: int
    healthy_threshold: int
    unhealthy_threshold: int
    matcher: str | None  # HTTP codes: "200", "200-299", "200,302"


@dataclass(frozen=True, slots=True)
class TargetGroup:
    arn: str
    name: str
    protocol: str
    port: int
    target_type: str  # instance | ip
    health_check: HealthCheck
    attributes: dict[str, str]
    targets: tuple[Target, ...]

    @property
    def deregistration_delay(self) -> int:
        return int(self.attributes.get("deregistration_delay.timeout_seconds", "300"))

    @property
    def algorithm(self) -> str:
        return self.attributes.get("load_balancing.algorithm.type", "round_robin")


@dataclass(frozen=True, slots=True)
class WeightedGroup:
    target_group_arn: str
    weight: int


@dataclass(frozen=True, slots=True)
class Action:
    """A forward (`groups`, `stickiness_seconds` when group stickiness is on), a redirect
    (`redirect`: Protocol, Port, Host, Path, Query, StatusCode as ELB names them) or a
    fixed response (`fixed`: StatusCode, ContentType, MessageBody)."""

    type: str
    groups: tuple[WeightedGroup, ...] = ()
    stickiness_seconds: int | None = None
    redirect: dict[str, str] | None = None
    fixed: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Condition:
    """ELB's condition as stored: `field` and its config's members (`values`; http-header's
    `header_name`; query-string's key/value pairs in `pairs`)."""

    field: str
    values: tuple[str, ...] = ()
    header_name: str | None = None
    pairs: tuple[tuple[str | None, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Rule:
    arn: str
    priority: int | None  # None for the default rule, which comes last
    conditions: tuple[Condition, ...]
    action: Action


@dataclass(frozen=True, slots=True)
class Certificate:
    arn: str
    certificate_pem: str
    private_key_pem: str
    chain_pem: str | None


@dataclass(frozen=True, slots=True)
class Listener:
    arn: str
    protocol: str  # HTTP | HTTPS | TCP
    port: int  # also the port it listens on on the host
    rules: tuple[Rule, ...]  # by priority, the default rule last
    certificates: tuple[Certificate, ...] = ()
    ssl_policy: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LoadBalancer:
    arn: str
    name: str
    type: str  # application | network
    scheme: str
    dns_name: str
    attributes: dict[str, str]
    listeners: tuple[Listener, ...]
    target_groups: dict[str, TargetGroup]  # by ARN: every group a listener or rule uses


def load_balancer_config(store: Store) -> list[LoadBalancer]:
    with store.read() as tx:
        return [_load_balancer(tx, doc) for _, doc in tx.scan(LBS)]


def _load_balancer(tx: Tx, doc: Document) -> LoadBalancer:
    arn = doc["LoadBalancerArn"]
    listeners = []
    groups: dict[str, TargetGroup] = {}
    for _, listener in sorted(
        tx.scan(LISTENERS, prefix=names.listener_prefix(arn)), key=lambda kv: kv[1]["Port"]
    ):
        rules = ordered(
            [r for _, r in tx.scan(RULES, prefix=names.rule_prefix(listener["ListenerArn"]))]
        )
        for rule in rules:
            for tg_arn in forwarded(rule["Actions"]):
                if tg_arn not in groups:
                    found = tx.get(TGS, tg_arn)
                    if found is not None:
                        groups[tg_arn] = _target_group(tx, found)
        listeners.append(_listener(tx, listener, rules))
    return LoadBalancer(
        arn=arn,
        name=doc["LoadBalancerName"],
        type=doc["Type"],
        scheme=doc["Scheme"],
        dns_name=doc["DNSName"],
        attributes=dict(doc["Attributes"]),
        listeners=tuple(listeners),
        target_groups=groups,
    )


def _listener(tx: Tx, doc: Document, rules: list[Document]) -> Listener:
    certificates = []
    for held in (doc.get("Certificates") or []) + (doc.get("ExtraCertificates") or []):
        cert = tx.get(CERTIFICATES, held["CertificateArn"])
        if cert is not None:
            certificates.append(
                Certificate(
                    cert["CertificateArn"],
                    cert["CertificatePem"],
                    cert["PrivateKey"],
                    cert.get("ChainPem"),
                )
            )
    return Listener(
        arn=doc["ListenerArn"],
        protocol=doc["Protocol"],
        port=doc["Port"],
        rules=tuple(_rule(r) for r in rules),
        certificates=tuple(certificates),
        ssl_policy=doc.get("SslPolicy"),
        attributes=dict(doc.get("Attributes") or {}),
    )


def _rule(doc: Document) -> Rule:
    return Rule(
        arn=doc["RuleArn"],
        priority=None if doc["IsDefault"] else int(doc["Priority"]),
        conditions=tuple(_condition(c) for c in doc["Conditions"]),
        action=_action(doc["Actions"][0]),
    )


def _condition(doc: dict[str, Any]) -> Condition:
    config: dict[str, Any] = next((v for k, v in doc.items() if k.endswith("Config")), {}) or {}
    if doc["Field"] == "query-string":
        pairs = tuple((p.get("Key"), p["Value"]) for p in config.get("Values") or [])
        return Condition(doc["Field"], pairs=pairs)
    return Condition(
        doc["Field"],
        values=tuple(config.get("Values") or doc.get("Values") or []),
        header_name=config.get("HttpHeaderName"),
    )


def _action(doc: dict[str, Any]) -> Action:
    if doc["Type"] == "forward":
        config = doc["ForwardConfig"]
        stickiness = config.get("TargetGroupStickinessConfig") or {}
        return Action(
            "forward",
            groups=tuple(
                WeightedGroup(g["TargetGroupArn"], g.get("Weight", 1))
                for g in config["TargetGroups"]
            ),
            stickiness_seconds=stickiness.get("DurationSeconds")
            if stickiness.get("Enabled")
            else None,
        )
    if doc["Type"] == "redirect":
        return Action("redirect", redirect=dict(doc["RedirectConfig"]))
    return Action("fixed-response", fixed=dict(doc["FixedResponseConfig"]))


def _target_group(tx: Tx, doc: Document) -> TargetGroup:
    arn = doc["TargetGroupArn"]
    matcher = doc.get("Matcher") or {}
    return TargetGroup(
        arn=arn,
        name=doc["TargetGroupName"],
        protocol=doc["Protocol"],
        port=doc["Port"],
        target_type=doc["TargetType"],
        health_check=HealthCheck(
            enabled=bool(doc.get("HealthCheckEnabled", True)),
            protocol=doc["HealthCheckProtocol"],
            port=str(doc["HealthCheckPort"]),
            path=doc.get("HealthCheckPath"),
            interval_seconds=doc["HealthCheckIntervalSeconds"],
            timeout_seconds=doc["HealthCheckTimeoutSeconds"],
            healthy_threshold=doc["HealthyThresholdCount"],
            unhealthy_threshold=doc["UnhealthyThresholdCount"],
            matcher=matcher.get("HttpCode"),
        ),
        attributes=dict(doc["Attributes"]),
        targets=tuple(
            Target(
                id=t["Id"],
                port=t["Port"],
                availability_zone=t["AvailabilityZone"],
                registered_at=t["RegisteredAt"],
                draining=t.get("DrainingUntil") is not None,
                draining_until=t.get("DrainingUntil"),
            )
            for _, t in tx.scan(TARGETS, prefix=arn + "|")
        ),
    )
