"""The shared load balancers of one owner (an ECS gateway, or Express Mode's per VPC and
scheme): made, found and removed through ELB's own operations, so that every ELB rule holds
for them and DescribeLoadBalancers shows them as a user's.

An owner's load balancers are named `<prefix>-<8 hex of the owner>-<n>` (n from 1 to its
`max_albs`), each with one listener, HTTPS on 443 serving the account's wildcard certificate
(certificates.py) unless the owner says otherwise, whose default action answers 404, and one
rule per route: `host-header` the route's host name, forwarded to the route's target group.
A route goes on the first load balancer with room (ELB's 100 rules a listener); the last
route leaving a load balancer removes it. Each route's host name is kept with its load
balancer in `ingress_hosts`, which the DNS server answers from. Each load balancer listens on
its own loopback address as well (elb/addresses.py), so all of them take 443 at once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from portside.elb import listeners, load_balancers, rules
from portside.errors import NamedError
from portside.ingress import certificates
from portside.ops.context import Op

RULES_PER_LISTENER = 100  # ELB's default quota of rules per listener
# The routes' host names, each with the routes serving it ({"ruleArn", "loadBalancerArn"},
# oldest first: a route being replaced and its replacement share their host for a moment).
# The DNS server answers a host with its first route's load balancer (dns/sources.py).
HOSTS = "ingress_hosts"
PORT = 443
MANAGED_TAG = {"Key": "AmazonECSManaged", "Value": "true"}
NOT_FOUND = "Not Found"


@dataclass(frozen=True, slots=True)
class Owner:
    key: str  # what owns them: a gateway's ARN
    scheme: str  # internet-facing | internal
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...] = ()
    max_albs: int = 1
    protocol: str = "HTTPS"  # its listeners' (a gateway's configuration may say HTTP)
    port: int = PORT
    prefix: str = "ecs-gw"  # its load balancers' names: PREFIX-<8 hex of the key>-<n>


@dataclass(frozen=True, slots=True)
class Route:
    host: str
    load_balancer_arn: str
    listener_arn: str
    rule_arn: str
    certificate_arn: str


class NoRoom(Exception):
    """Every load balancer the owner may have is full."""


def name_of(owner: Owner, n: int) -> str:
    return f"{owner.prefix}-{hashlib.sha256(owner.key.encode()).hexdigest()[:8]}-{n}"


def balancers(op: Op, owner: Owner) -> list[dict[str, Any]]:
    """The owner's load balancers that exist, in order."""
    out = []
    for n in range(1, owner.max_albs + 1):
        try:
            found = load_balancers.describe(op, {"Names": [name_of(owner, n)]})
        except NamedError as exc:
            if exc.code == "LoadBalancerNotFound":
                continue
            raise
        out.extend(found["LoadBalancers"])
    return out


def _listener(op: Op, lb_arn: str, port: int) -> dict[str, Any] | None:
    found = listeners.describe(op, {"LoadBalancerArn": lb_arn})["Listeners"]
    return next((x for x in found if int(x["Port"]) == port), None)


def _rules(op: Op, listener_arn: str) -> list[dict[str, Any]]:
    return [
        r for r in rules.describe(op, {"ListenerArn": listener_arn})["Rules"] if not r["IsDefault"]
    ]


def _make(op: Op, owner: Owner, n: int) -> tuple[str, str, str]:
    """A new load balancer with its listener: (its ARN, the listener's, the certificate's,
    "" for HTTP)."""
    certificate = certificates.ensure(op) if owner.protocol == "HTTPS" else ""
    lb = load_balancers.create(
        op,
        {
            "Name": name_of(owner, n),
            "Subnets": list(owner.subnets),
            "SecurityGroups": list(owner.security_groups),
            "Scheme": owner.scheme,
            "Type": "application",
            "Tags": [MANAGED_TAG, {"Key": "ecs:gateway", "Value": owner.key[-255:]}],
        },
    )["LoadBalancers"][0]
    arn = str(lb["LoadBalancerArn"])
    try:
        listener = listeners.create(
            op,
            {
                "LoadBalancerArn": arn,
                "Protocol": owner.protocol,
                "Port": owner.port,
                **({"Certificates": [{"CertificateArn": certificate}]} if certificate else {}),
                "DefaultActions": [
                    {
                        "Type": "fixed-response",
                        "FixedResponseConfig": {
                            "StatusCode": "404",
                            "ContentType": "text/plain",
                            "MessageBody": NOT_FOUND,
                        },
                    }
                ],
            },
        )["Listeners"][0]
    except Exception:
        load_balancers.delete(op, {"LoadBalancerArn": arn})
        raise
    return arn, str(listener["ListenerArn"]), certificate


def attach(op: Op, owner: Owner, host: str, target_group_arn: str) -> Route:
    """A rule for `host` to the target group on the owner's first load balancer with room
    (made when none has); the route it makes."""
    existing = {name_of(owner, n): n for n in range(1, owner.max_albs + 1)}
    have = {str(lb["LoadBalancerName"]): lb for lb in balancers(op, owner)}
    for name, n in existing.items():
        lb = have.get(name)
        if lb is None:
            lb_arn, listener_arn, certificate = _make(op, owner, n)
            made = True
        else:
            lb_arn = str(lb["LoadBalancerArn"])
            listener = _listener(op, lb_arn, owner.port)
            if listener is None:
                continue  # changed by hand: not one to use
            listener_arn = str(listener["ListenerArn"])
            certificate = str((listener.get("Certificates") or [{}])[0].get("CertificateArn", ""))
            made = False
        taken = _rules(op, listener_arn)
        if len(taken) >= RULES_PER_LISTENER:
            continue
        priority = 1 + max((int(r["Priority"]) for r in taken), default=0)
        try:
            rule = rules.create(
                op,
                {
                    "ListenerArn": listener_arn,
                    "Priority": priority,
                    "Conditions": [
                        {"Field": "host-header", "HostHeaderConfig": {"Values": [host]}}
                    ],
                    "Actions": [{"Type": "forward", "TargetGroupArn": target_group_arn}],
                    "Tags": [MANAGED_TAG],
                },
            )["Rules"][0]
        except Exception:
            if made:
                load_balancers.delete(op, {"LoadBalancerArn": lb_arn})
            raise
        made_route = Route(host, lb_arn, listener_arn, str(rule["RuleArn"]), certificate)
        with op.store.transaction() as tx:
            held = tx.get(HOSTS, host) or {"host": host, "routes": []}
            held["routes"] = [
                *held["routes"],
                {"ruleArn": made_route.rule_arn, "loadBalancerArn": lb_arn},
            ]
            tx.put(HOSTS, host, held)
        return made_route
    raise NoRoom(f"every one of its {owner.max_albs} load balancers is full")


def reconfigure(op: Op, owner: Owner) -> int:
    """The owner's load balancers moved to its subnets and security groups now (a gateway's
    UpdateGateway); how many there are."""
    found = balancers(op, owner)
    for lb in found:
        arn = str(lb["LoadBalancerArn"])
        if owner.subnets and sorted(lb.get("Subnets") or []) != sorted(owner.subnets):
            load_balancers.set_subnets(op, {"LoadBalancerArn": arn, "Subnets": list(owner.subnets)})
        groups = list(owner.security_groups)
        if groups and sorted(lb.get("SecurityGroups") or []) != sorted(groups):
            load_balancers.set_security_groups(
                op, {"LoadBalancerArn": arn, "SecurityGroups": groups}
            )
    return len(found)


def detach(op: Op, route: Route) -> None:
    """Remove the route's rule; its load balancer too when no rule is left on it."""
    with op.store.transaction() as tx:
        held = tx.get(HOSTS, route.host)
        if held is not None:
            held["routes"] = [r for r in held["routes"] if r["ruleArn"] != route.rule_arn]
            if held["routes"]:
                tx.put(HOSTS, route.host, held)
            else:
                tx.delete(HOSTS, route.host)
    try:
        rules.delete(op, {"RuleArn": route.rule_arn})
    except NamedError as exc:
        if exc.code != "RuleNotFound":
            raise
    try:
        left = _rules(op, route.listener_arn)
    except NamedError as exc:
        if exc.code == "ListenerNotFound":
            return
        raise
    if not left:
        try:
            load_balancers.delete(op, {"LoadBalancerArn": route.load_balancer_arn})
        except NamedError as exc:
            if exc.code != "LoadBalancerNotFound":
                raise
