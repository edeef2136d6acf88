"""Security group rules as requests write them (IpPermissions) and as Portside keeps them:
one rule per group, direction, protocol, port range and peer (EC2's SecurityGroupRule), pure.

An IpPermission names a protocol, a port range and any number of peers (IpRanges,
Ipv6Ranges, PrefixListIds, UserIdGroupPairs); it is split into one `Spec` per peer, which is
what EC2 gives a rule id to and what a duplicate or a revoke is matched on. DescribeSecurity
Groups joins them back: the rules of one protocol and range make one IpPermission.

Protocols are kept as EC2 shows them: `-1` (every protocol; no ports), `tcp`, `udp`,
`icmp`, `icmpv6` (whether given by name or number), any other number as written. TCP and
UDP take a range 0-65535; ICMP a type and a code (-1: any); other protocols no ports (-1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network
from typing import Any

from portside.errors import NamedError

NUMBERED = {"1": "icmp", "6": "tcp", "17": "udp", "58": "icmpv6"}
NAMED = frozenset(NUMBERED.values())
PROTOCOL_NUMBERS = {name: int(number) for number, name in NUMBERED.items()}
PEERS = ("CidrIpv4", "CidrIpv6", "PrefixListId", "ReferencedGroupId")


def _bad(message: str) -> NamedError:
    return NamedError("InvalidParameterValue", message)


def protocol(given: str) -> str:
    """The protocol as EC2 keeps it."""
    value = str(given).strip().lower()
    if value in ("-1", "all"):
        return "-1"
    if value in NAMED:
        return value
    if value.isdigit() and int(value) <= 255:
        return NUMBERED.get(str(int(value)), str(int(value)))
    raise _bad(f"Invalid value '{given}' for IP protocol. Unknown protocol.")


def ports(proto: str, from_port: int | None, to_port: int | None) -> tuple[int, int]:
    """The range a rule of `proto` keeps."""
    if proto in ("tcp", "udp"):
        if from_port is None or to_port is None:
            raise _bad(
                f"Invalid value '{from_port if from_port is not None else to_port}' for "
                "portRange. Must specify both from and to ports with TCP/UDP."
            )
        if not 0 <= from_port <= to_port <= 65535:
            raise _bad(f"Invalid TCP/UDP port range ({from_port} - {to_port}).")
        return from_port, to_port
    if proto in ("icmp", "icmpv6"):
        kind = -1 if from_port is None else from_port
        code = -1 if to_port is None else to_port
        if not (-1 <= kind <= 255 and -1 <= code <= 255):
            raise _bad(f"Invalid value '{kind}' for ICMP type or '{code}' for ICMP code.")
        return kind, code
    return -1, -1


@dataclass(frozen=True)
class Spec:
    """One rule as a request asks for it: `peer_kind` is one of PEERS."""

    egress: bool
    protocol: str
    from_port: int
    to_port: int
    peer_kind: str
    peer: str
    description: str | None = None

    @property
    def identity(self) -> tuple[Any, ...]:
        """What makes two rules the same rule (the description does not)."""
        return (self.egress, self.protocol, self.from_port, self.to_port, self.peer_kind, self.peer)

    def shown(self) -> str:
        """The rule as EC2's duplicate message writes it."""
        if self.protocol == "-1":
            what = "ALL"
        elif self.protocol in ("tcp", "udp"):
            what = f"{self.protocol.upper()}, from port: {self.from_port}, to port: {self.to_port}"
        elif self.protocol in ("icmp", "icmpv6"):
            what = f"{self.protocol.upper()}, type: {self.from_port}, code: {self.to_port}"
        else:
            what = f"protocol: {self.protocol}"
        return f'"peer: {self.peer}, {what}, ALLOW"'


def identity_of(rule: Mapping[str, Any]) -> tuple[Any, ...]:
    """A stored rule's identity (as `Spec.identity`)."""
    kind = next(k for k in PEERS if rule.get(k))
    return (
        rule["IsEgress"],
        rule["IpProtocol"],
        rule["FromPort"],
        rule["ToPort"],
        kind,
        rule[kind],
    )


def _cidr(value: str, v6: bool) -> str:
    try:
        IPv6Network(value, strict=False) if v6 else IPv4Network(value, strict=False)
    except ValueError:
        raise _bad(f"CIDR block {value} is malformed") from None
    return value


GroupResolver = Callable[[Mapping[str, Any]], str]


def specs(
    permissions: Iterable[Mapping[str, Any]], egress: bool, resolve_group: GroupResolver
) -> list[Spec]:
    """The rules `permissions` ask for, in the order given; `resolve_group` gives the id of
    the group a UserIdGroupPair names (raising EC2's error when there is none)."""
    out: list[Spec] = []
    for perm in permissions:
        if "IpProtocol" not in perm:
            raise NamedError(
                "MissingParameter", "The request must contain the parameter ipProtocol"
            )
        proto = protocol(perm["IpProtocol"])
        low, high = ports(proto, perm.get("FromPort"), perm.get("ToPort"))
        peers: list[tuple[str, str, str | None]] = []
        for r in perm.get("IpRanges") or ():
            peers.append(("CidrIpv4", _cidr(r.get("CidrIp", ""), False), r.get("Description")))
        for r in perm.get("Ipv6Ranges") or ():
            peers.append(("CidrIpv6", _cidr(r.get("CidrIpv6", ""), True), r.get("Description")))
        for r in perm.get("PrefixListIds") or ():
            pl = r.get("PrefixListId") or ""
            if not pl.startswith("pl-"):
                raise NamedError("InvalidPrefixListId.Malformed", f'Invalid id: "{pl}"')
            peers.append(("PrefixListId", pl, r.get("Description")))
        for pair in perm.get("UserIdGroupPairs") or ():
            peers.append(("ReferencedGroupId", resolve_group(pair), pair.get("Description")))
        if not peers:
            raise _bad(
                "The rule must name a source or destination: IpRanges, Ipv6Ranges, "
                "PrefixListIds or UserIdGroupPairs."
            )
        out += [Spec(egress, proto, low, high, kind, peer, text) for kind, peer, text in peers]
    return out


def legacy(p: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The IpPermission the request's top-level members (CidrIp, IpProtocol, FromPort, ToPort,
    SourceSecurityGroupName/OwnerId) write, if any."""
    if not any(k in p for k in ("CidrIp", "IpProtocol", "SourceSecurityGroupName")):
        return []
    perm: dict[str, Any] = {"IpProtocol": p.get("IpProtocol", "-1")}
    for member in ("FromPort", "ToPort"):
        if member in p:
            perm[member] = p[member]
    if "CidrIp" in p:
        perm["IpRanges"] = [{"CidrIp": p["CidrIp"]}]
    if "SourceSecurityGroupName" in p:
        pair = {"GroupName": p["SourceSecurityGroupName"]}
        if "SourceSecurityGroupOwnerId" in p:
            pair["UserId"] = p["SourceSecurityGroupOwnerId"]
        perm["UserIdGroupPairs"] = [pair]
    return [perm]


def rule_doc(spec: Spec, rule_id: str, group_id: str, owner: str, arn: str) -> dict[str, Any]:
    """The stored rule: EC2's SecurityGroupRule, plus ReferencedGroupId for the index."""
    doc: dict[str, Any] = {
        "SecurityGroupRuleId": rule_id,
        "GroupId": group_id,
        "GroupOwnerId": owner,
        "IsEgress": spec.egress,
        "IpProtocol": spec.protocol,
        "FromPort": spec.from_port,
        "ToPort": spec.to_port,
        spec.peer_kind: spec.peer,
    }
    if spec.peer_kind == "ReferencedGroupId":
        doc["ReferencedGroupInfo"] = {"GroupId": spec.peer, "UserId": owner}
    if spec.description is not None:
        doc["Description"] = spec.description
    doc["Tags"] = []
    doc["SecurityGroupRuleArn"] = arn
    return doc


def _peer_entry(rule: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    text = {"Description": rule["Description"]} if "Description" in rule else {}
    if rule.get("CidrIpv4"):
        return "IpRanges", {"CidrIp": rule["CidrIpv4"], **text}
    if rule.get("CidrIpv6"):
        return "Ipv6Ranges", {"CidrIpv6": rule["CidrIpv6"], **text}
    if rule.get("PrefixListId"):
        return "PrefixListIds", {"PrefixListId": rule["PrefixListId"], **text}
    info = rule["ReferencedGroupInfo"]
    return "UserIdGroupPairs", {"GroupId": info["GroupId"], "UserId": info["UserId"], **text}


def ip_permissions(rules: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """`rules` (of one direction) as DescribeSecurityGroups shows them: one IpPermission per
    protocol and range, in the order the rules were made."""
    joined: dict[tuple[str, int, int], dict[str, Any]] = {}
    for rule in rules:
        at = (rule["IpProtocol"], rule["FromPort"], rule["ToPort"])
        perm = joined.get(at)
        if perm is None:
            perm = {"IpProtocol": at[0]}
            if at[0] != "-1":
                perm.update(FromPort=at[1], ToPort=at[2])
            perm.update(UserIdGroupPairs=[], IpRanges=[], Ipv6Ranges=[], PrefixListIds=[])
            joined[at] = perm
        member, entry = _peer_entry(rule)
        perm[member].append(entry)
    return list(joined.values())


def revoked(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A removed rule as Revoke* answers it (RevokedSecurityGroupRule)."""
    out = {
        k: rule[k]
        for k in (
            "SecurityGroupRuleId",
            "GroupId",
            "IsEgress",
            "IpProtocol",
            "FromPort",
            "ToPort",
            "CidrIpv4",
            "CidrIpv6",
            "PrefixListId",
            "ReferencedGroupId",
            "Description",
        )
        if k in rule
    }
    return out


def as_permission(spec: Spec) -> dict[str, Any]:
    """One spec as an IpPermission (what Revoke* reports as unknown)."""
    perm: dict[str, Any] = {"IpProtocol": spec.protocol}
    if spec.protocol != "-1":
        perm.update(FromPort=spec.from_port, ToPort=spec.to_port)
    member, inner = {
        "CidrIpv4": ("IpRanges", "CidrIp"),
        "CidrIpv6": ("Ipv6Ranges", "CidrIpv6"),
        "PrefixListId": ("PrefixListIds", "PrefixListId"),
        "ReferencedGroupId": ("UserIdGroupPairs", "GroupId"),
    }[spec.peer_kind]
    perm[member] = [{inner: spec.peer}]
    return perm
