"""Listeners: create, describe, modify, delete; their certificates and attributes; the SSL
policies HTTPS listeners name. A listener's default actions are also its default rule's."""

from __future__ import annotations

from typing import Any

from portside.acm.records import CERTIFICATES
from portside.elb import actions, attributes, limits, load_balancers, names, tags
from portside.elb.errors import (
    ValidationError,
    certificate_not_found,
    listener_not_found,
)
from portside.elb.operations import action
from portside.elb.records import LISTENER, LISTENERS, RULES, TGS, either, page, usage, wire
from portside.elb.ssl_policies import DEFAULT_POLICY, POLICIES
from portside.errors import NamedError
from portside.ops.context import Op
from portside.store.base import Document, Tx

PROTOCOLS = {"application": ("HTTP", "HTTPS"), "network": ("TCP",)}
_LISTENER_ATTRIBUTES = {
    "application": {"routing.http.response.server.enabled": "true"},
    "network": {"tcp.idle_timeout.seconds": "350"},
}


def load(tx: Tx, arn: str) -> Document:
    return LISTENER.get(tx, arn, listener_not_found(f"Listener '{arn}' not found"))


def checked_actions(
    tx: Tx, lb: Document, given: list[dict[str, Any]], region: str, account: str
) -> list[dict[str, Any]]:
    return actions.actions(
        given,
        lambda arn: tx.get(TGS, arn) if names.kind(arn) == "targetgroup" else None,
        lb["Type"],
        lb["LoadBalancerArn"],
        usage(tx, region, account),
    )


def _protocol_settings(tx: Tx, lb: Document, doc: Document, p: dict[str, Any]) -> None:
    """Protocol, port, certificates and SSL policy of `doc` from `p` (create or modify)."""
    protocol = p.get("Protocol") or doc.get("Protocol")
    port = p.get("Port") or doc.get("Port")
    if protocol is None:
        raise ValidationError("A protocol must be specified")
    if port is None:
        raise ValidationError("A port must be specified")
    allowed = PROTOCOLS[lb["Type"]]
    if protocol not in allowed:
        raise NamedError(
            "UnsupportedProtocol",
            f"Protocol '{protocol}' is not supported for load balancers of type "
            f"'{lb['Type']}'; use one of: {', '.join(allowed)}",
        )
    doc["Protocol"], doc["Port"] = protocol, port
    if protocol != "HTTPS":
        for member in ("Certificates", "SslPolicy", "ExtraCertificates"):
            doc.pop(member, None)
        return
    certificates = p.get("Certificates") or doc.get("Certificates")
    if not certificates:
        raise ValidationError("A certificate must be specified for HTTPS listeners")
    for certificate in certificates:
        _check_certificate(tx, certificate.get("CertificateArn") or "")
    policy = p.get("SslPolicy") or doc.get("SslPolicy") or DEFAULT_POLICY
    if policy not in POLICIES:
        raise NamedError("SSLPolicyNotFound", f"SSL policy '{policy}' not found")
    doc["Certificates"] = [{"CertificateArn": c["CertificateArn"]} for c in certificates[:1]]
    doc["SslPolicy"] = policy


def _of(tx: Tx, lb: Document) -> list[Document]:
    """The load balancer's listeners."""
    return [
        doc for _, doc in tx.scan(LISTENERS, prefix=names.listener_prefix(lb["LoadBalancerArn"]))
    ]


def _on_port(tx: Tx, lb: Document, port: int | None, other_than: str = "") -> Document | None:
    """The load balancer's listener on `port` but `other_than`, if there is one."""
    for held in _of(tx, lb):
        if held["Port"] == port and held["ListenerArn"] != other_than:
            return held
    return None


_SETTINGS = ("Protocol", "Port", "Certificates", "SslPolicy", "DefaultActions")


def _check_certificate(tx: Tx, arn: str) -> None:
    if tx.get(CERTIFICATES, arn) is None:
        raise certificate_not_found(arn)


@action("CreateListener")
def create(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    tag_list = tags.checked(p.get("Tags") or [])
    with op.store.transaction() as tx:
        lb = load_balancers.load(tx, p["LoadBalancerArn"])
        arn = names.listener_arn(lb["LoadBalancerArn"], op.world.new_id()[:16])
        doc: Document = {"ListenerArn": arn, "LoadBalancerArn": lb["LoadBalancerArn"]}
        held = _on_port(tx, lb, p.get("Port"))
        _protocol_settings(tx, lb, doc, p)
        doc["DefaultActions"] = checked_actions(tx, lb, p["DefaultActions"], op.region, op.account)
        if held is not None:
            # ELB answers a listener asked for again, the same in every setting, with itself.
            if all(held.get(k) == doc.get(k) for k in _SETTINGS):
                return {"Listeners": [wire(held, "ExtraCertificates")]}
            raise NamedError(
                "DuplicateListener",
                "A listener already exists on this port for this load balancer "
                f"'{lb['LoadBalancerArn']}'",
            )
        if tx.count(LISTENERS, prefix=names.listener_prefix(lb["LoadBalancerArn"])) >= (
            limits.LISTENERS_PER_LB
        ):
            raise NamedError(
                "TooManyListeners", "You've reached the limit on the number of listeners"
            )
        doc["DefaultRuleArn"] = names.rule_arn(arn, op.world.new_id()[:16])
        doc["Attributes"] = dict(_LISTENER_ATTRIBUTES[lb["Type"]])
        doc["Tags"] = tag_list
        tx.put(LISTENERS, arn, doc)
        tx.put(
            RULES,
            doc["DefaultRuleArn"],
            {
                "RuleArn": doc["DefaultRuleArn"],
                "Priority": "default",
                "Conditions": [],
                "Actions": doc["DefaultActions"],
                "IsDefault": True,
                "Tags": [],
            },
        )
    return {"Listeners": [wire(doc, "ExtraCertificates")]}


@action("DescribeListeners")
def describe(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    arns, lb_arn = p.get("ListenerArns") or [], p.get("LoadBalancerArn")
    either(arns, lb_arn, "listener ARNs", "a load balancer ARN")
    with op.store.read() as tx:
        if arns:
            docs = LISTENER.get_all(tx, arns)
        else:
            docs = sorted(_of(tx, load_balancers.load(tx, lb_arn or "")), key=lambda d: d["Port"])
    return page(p, "Listeners", docs, "ListenerArn", lambda d: wire(d, "ExtraCertificates"))


@action("ModifyListener")
def modify(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        doc = load(tx, p["ListenerArn"])
        lb = load_balancers.load(tx, doc["LoadBalancerArn"])
        if p.get("Port") and _on_port(tx, lb, p["Port"], doc["ListenerArn"]):
            raise ValidationError(f"Listener port '{p['Port']}' is already in use")
        _protocol_settings(tx, lb, doc, p)
        if p.get("DefaultActions"):
            doc["DefaultActions"] = checked_actions(
                tx, lb, p["DefaultActions"], op.region, op.account
            )
            rule = tx.get(RULES, doc["DefaultRuleArn"])
            if rule is not None:
                tx.put(RULES, rule["RuleArn"], {**rule, "Actions": doc["DefaultActions"]})
        tx.put(LISTENERS, doc["ListenerArn"], doc)
    return {"Listeners": [wire(doc, "ExtraCertificates")]}


@action("DeleteListener")
def delete(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        doc = load(tx, p["ListenerArn"])
        load_balancers.delete_listener_rows(tx, doc["ListenerArn"])
    return {}


@action("DescribeListenerAttributes")
def describe_attributes(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        attrs = load(tx, p["ListenerArn"]).get("Attributes") or {}
    return attributes.wire(attrs)


@action("ModifyListenerAttributes")
def modify_attributes(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        doc = load(tx, p["ListenerArn"])
        attrs = dict(doc.get("Attributes") or {})
        for item in p["Attributes"]:
            key = item["Key"]
            known = key in attrs or (
                doc["Protocol"] in ("HTTP", "HTTPS") and key.startswith("routing.http.")
            )
            if not known:
                raise ValidationError(f"Listener attribute key '{key}' is not recognized")
            attrs[key] = item.get("Value") or ""
        doc["Attributes"] = attrs
        tx.put(LISTENERS, doc["ListenerArn"], doc)
    return attributes.wire(attrs)


@action("DescribeListenerCertificates")
def describe_certificates(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        doc = load(tx, p["ListenerArn"])
    found = [{**c, "IsDefault": True} for c in doc.get("Certificates") or []]
    found += [{**c, "IsDefault": False} for c in doc.get("ExtraCertificates") or []]
    return {"Certificates": found}


@action("AddListenerCertificates")
def add_certificates(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        doc = load(tx, p["ListenerArn"])
        extra = {c["CertificateArn"]: c for c in doc.get("ExtraCertificates") or []}
        for certificate in p["Certificates"]:
            _check_certificate(tx, certificate.get("CertificateArn") or "")
            extra[certificate["CertificateArn"]] = {"CertificateArn": certificate["CertificateArn"]}
        doc["ExtraCertificates"] = list(extra.values())
        tx.put(LISTENERS, doc["ListenerArn"], doc)
    return {"Certificates": doc["ExtraCertificates"]}


@action("RemoveListenerCertificates")
def remove_certificates(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    gone = {c.get("CertificateArn") for c in p["Certificates"]}
    with op.store.transaction() as tx:
        doc = load(tx, p["ListenerArn"])
        doc["ExtraCertificates"] = [
            c for c in doc.get("ExtraCertificates") or [] if c["CertificateArn"] not in gone
        ]
        tx.put(LISTENERS, doc["ListenerArn"], doc)
    return {}


def set_forward_weights(tx: Tx, arn: str, groups: list[tuple[str, int]]) -> None:
    """A listener's default action made a weighted forward to `groups` (target group ARN,
    weight), as ModifyListener would with a ForwardConfig: CodeDeploy's traffic shift
    (controllers/blue_green/). The groups were checked when the deployment group was made."""
    doc = load(tx, arn)
    weighted = [{"TargetGroupArn": g, "Weight": w} for g, w in groups]
    forward: dict[str, Any] = {"Type": "forward", "Order": 1}
    if len(weighted) == 1:
        forward["TargetGroupArn"] = weighted[0]["TargetGroupArn"]
    forward["ForwardConfig"] = {
        "TargetGroups": weighted,
        "TargetGroupStickinessConfig": {"Enabled": False},
    }
    doc["DefaultActions"] = [forward]
    rule = tx.get(RULES, doc["DefaultRuleArn"])
    if rule is not None:
        tx.put(RULES, rule["RuleArn"], {**rule, "Actions": doc["DefaultActions"]})
    tx.put(LISTENERS, doc["ListenerArn"], doc)


def forward_weights(tx: Tx, arn: str) -> dict[str, int]:
    """Target group ARN -> weight of a listener's default forward action ({} for another)."""
    doc = load(tx, arn)
    out: dict[str, int] = {}
    for given in doc.get("DefaultActions") or ():
        if given.get("Type") != "forward":
            continue
        for g in (given.get("ForwardConfig") or {}).get("TargetGroups") or ():
            out[str(g["TargetGroupArn"])] = int(g.get("Weight", 1))
        if not out and given.get("TargetGroupArn"):
            out[str(given["TargetGroupArn"])] = 1
    return out
