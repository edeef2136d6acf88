"""Whether a security group lets a flow through, from its stored rules (pure).

This is the decision the hosts' enforcement asks: may traffic from a peer (an address and
the groups of the ENI it comes from) reach an ENI in some groups, on a protocol and port?
The answer is allowed when any rule of any of the ENI's groups admits the flow: rules only
allow, and an ENI's groups add up (EC2's security group semantics). For egress the same,
with the rules of the other direction and the peer the destination.

Security groups are stateful: the reply to an allowed flow is allowed whatever the rules
say. That is for the enforcement to honour with connection tracking; this module judges
the flows that open a connection.

A rule is the stored document (`permissions.rule_doc`, EC2's SecurityGroupRule): protocol
`-1` matches every protocol; `tcp` and `udp` a port within FromPort..ToPort; `icmp` and
`icmpv6` an ICMP type (FromPort) and code (ToPort), -1 matching any; any other protocol by
number. Its peer is a CIDR (v4 or v6) holding the address, a group among the peer's groups,
or a prefix list whose CIDRs (given, by id) hold the address.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from typing import Any

from portside.ec2.permissions import PROTOCOL_NUMBERS

Address = IPv4Address | IPv6Address
Network = Any  # IPv4Network | IPv6Network


@dataclass(frozen=True)
class Peer:
    """The other end of a flow: its address and the groups of its ENI (none from outside)."""

    address: Address
    groups: frozenset[str] = frozenset()

    @classmethod
    def of(cls, address: str, groups: Iterable[str] = ()) -> Peer:
        return cls(ip_address(address), frozenset(groups))


@dataclass(frozen=True)
class Flow:
    """What a flow is: its IP protocol number, and its destination port (TCP/UDP) or ICMP
    type and code."""

    protocol: int
    port: int | None = None
    icmp_code: int | None = None

    @classmethod
    def tcp(cls, port: int) -> Flow:
        return cls(PROTOCOL_NUMBERS["tcp"], port)

    @classmethod
    def udp(cls, port: int) -> Flow:
        return cls(PROTOCOL_NUMBERS["udp"], port)

    @classmethod
    def icmp(cls, kind: int, code: int, v6: bool = False) -> Flow:
        return cls(PROTOCOL_NUMBERS["icmpv6" if v6 else "icmp"], kind, code)


@dataclass(frozen=True)
class Rule:
    """A stored rule, read once for judging."""

    rule_id: str
    group_id: str
    egress: bool
    protocol: int | None  # None: every protocol
    low: int
    high: int
    network: Network | None = None
    group: str | None = None
    prefix_list: str | None = None

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Rule:
        proto = str(doc["IpProtocol"])
        number = None if proto == "-1" else PROTOCOL_NUMBERS.get(proto, None)
        if number is None and proto != "-1":
            number = int(proto)
        cidr = doc.get("CidrIpv4") or doc.get("CidrIpv6")
        return cls(
            rule_id=doc["SecurityGroupRuleId"],
            group_id=doc["GroupId"],
            egress=bool(doc["IsEgress"]),
            protocol=number,
            low=int(doc.get("FromPort", -1)),
            high=int(doc.get("ToPort", -1)),
            network=ip_network(cidr, strict=False) if cidr else None,
            group=(doc.get("ReferencedGroupInfo") or {}).get("GroupId"),
            prefix_list=doc.get("PrefixListId"),
        )

    @cached_property
    def _icmp(self) -> bool:
        return self.protocol in (PROTOCOL_NUMBERS["icmp"], PROTOCOL_NUMBERS["icmpv6"])

    @cached_property
    def _ported(self) -> bool:
        return self.protocol in (PROTOCOL_NUMBERS["tcp"], PROTOCOL_NUMBERS["udp"])

    def admits_flow(self, flow: Flow) -> bool:
        if self.protocol is None:
            return True
        if flow.protocol != self.protocol:
            return False
        if self._ported:
            return flow.port is not None and self.low <= flow.port <= self.high
        if self._icmp:
            kind_ok = self.low == -1 or flow.port == self.low
            code_ok = self.high == -1 or flow.icmp_code == self.high
            return kind_ok and code_ok
        return True

    def admits_peer(self, peer: Peer, prefix_lists: Mapping[str, Sequence[Network]]) -> bool:
        if self.network is not None:
            return peer.address.version == self.network.version and peer.address in self.network
        if self.group is not None:
            return self.group in peer.groups
        if self.prefix_list is not None:
            return any(
                peer.address.version == net.version and peer.address in net
                for net in prefix_lists.get(self.prefix_list, ())
            )
        return False


@dataclass(frozen=True)
class Verdict:
    """The decision, and the rule that allowed the flow (None when none did)."""

    allowed: bool
    rule_id: str | None = None

    def __bool__(self) -> bool:
        return self.allowed


@dataclass
class Policy:
    """The rules of a set of groups, ready to judge flows. `prefix_lists`: the CIDRs of each
    prefix list a rule may name (a list not given matches nothing)."""

    rules: list[Rule]
    prefix_lists: Mapping[str, Sequence[Network]] = field(default_factory=dict)

    @classmethod
    def from_docs(
        cls,
        docs: Iterable[Mapping[str, Any]],
        prefix_lists: Mapping[str, Sequence[Network]] | None = None,
    ) -> Policy:
        return cls([Rule.from_doc(d) for d in docs], dict(prefix_lists or {}))

    def _decide(self, groups: Iterable[str], egress: bool, peer: Peer, flow: Flow) -> Verdict:
        wanted = set(groups)
        for rule in self.rules:
            if (
                rule.egress == egress
                and rule.group_id in wanted
                and rule.admits_flow(flow)
                and rule.admits_peer(peer, self.prefix_lists)
            ):
                return Verdict(True, rule.rule_id)
        return Verdict(False)

    def ingress(self, groups: Iterable[str], source: Peer, flow: Flow) -> Verdict:
        """May `source` open `flow` to an ENI in `groups`?"""
        return self._decide(groups, False, source, flow)

    def egress(self, groups: Iterable[str], destination: Peer, flow: Flow) -> Verdict:
        """May an ENI in `groups` open `flow` to `destination`?"""
        return self._decide(groups, True, destination, flow)


def allowed(
    rules: Iterable[Mapping[str, Any]],
    source_address: str,
    source_groups: Iterable[str],
    group_id: str,
    protocol: str,
    port: int | None = None,
) -> bool:
    """Is traffic from (address, groups) to (group, protocol, port) allowed? `rules` are
    the stored rules of the group (others are ignored); `protocol` a name or number."""
    number = PROTOCOL_NUMBERS.get(protocol.lower())
    flow = Flow(number if number is not None else int(protocol), port)
    policy = Policy.from_docs(rules)
    return policy.ingress([group_id], Peer.of(source_address, source_groups), flow).allowed
