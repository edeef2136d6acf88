"""A host's security groups as iptables rules: a NetworkView in, iptables-restore text for
the filter table out (pure).

The chains are one agent's (`owner`, a short id of its instance), so two agents on one host
never rewrite each other's:

    DOCKER-USER -> PORTSIDE-SG -> PSG-<owner>          (jumps kept by apply.py)
    PSG-<owner>:  ESTABLISHED,RELATED -> RETURN        (groups are stateful)
                  -s <eni address> -> PSE-<owner>-<hex>  for each local ENI: its egress
                  -d <eni address> -> PSI-<owner>-<hex>  then its ingress
    PSI-...:      one RETURN per admitted source CIDR and flow (protocol, port range or
                  ICMP type/code); per source group and flow a jump to the group's member
                  chain; a packet a member chain marked goes (goto) to PSA-<owner>; DROP
    PSE-...:      the same with destinations, for the ENI's egress rules
    PSS-<owner>-<group hash>   one rule per member address of a group, as a source: set
    PSD-<owner>-<group hash>   the mark bit MARK (as a destination, for egress rules)
    PSA-<owner>:  clear the mark bit; reached by goto, so leaving it returns to PSG-<owner>
                  (the flow is allowed)

A group's members are one chain shared by every ENI whose rules name the group, not copied
into each ENI's chain: 100 tasks of the default group are ~900 rules, not 10,000. The mark
bit is 0x2000000; it is cleared on every way out of our chains but DROP, so nothing after
them sees it (Docker sets no packet marks outside swarm mode).

An allowed packet RETURNs rather than ACCEPTs, so a flow between two local ENIs is judged by
the sender's egress chain and then the receiver's ingress chain, and Docker's own chains
still decide after ours (its isolation between networks stays). A rule admits what
`ec2/traffic.py` admits; the tests hold the two to the same verdicts.

What is not judged here, on purpose: traffic the host itself sends to a task or a task sends
to the host (OUTPUT and INPUT, not FORWARD: the load balancers' HAProxy on the host reaching
its targets, the metadata endpoint and the DNS server at the network's gateway, a test
curling from the host), as AWS leaves the instance metadata service and the VPC's DNS out of
security groups. IPv6 peers (iptables is IPv4; the ENIs have no IPv6 address), prefix lists
(no CIDRs are known for them: they admit nothing, as traffic.py decides without them) and
ICMPv6 type matches are left out. An ICMP rule of every type admits every code (EC2 allows
no other pairing).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, ip_network
from typing import Any

from portside.gateway.protocol.network import LocalEni, NetworkView

TOP = "PORTSIDE-SG"
HOOK = "DOCKER-USER"
INGRESS = "PSI"
EGRESS = "PSE"
GROUPS = "PSG"
SOURCES = "PSS"  # a referenced group's members, as sources
DESTINATIONS = "PSD"  # and as destinations
ALLOWED = "PSA"
MARK = "0x2000000"  # the packet mark bit a member chain sets (cleared before it is left)
ESTABLISHED = "-m conntrack --ctstate RELATED,ESTABLISHED"
NUMBERS = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58}


def owner_id(instance_arn: str) -> str:
    """A short id for one agent's chains, stable across its restarts."""
    return hashlib.sha256(instance_arn.encode()).hexdigest()[:6]


def group_chain(owner: str) -> str:
    return f"{GROUPS}-{owner}"


def eni_chain(kind: str, owner: str, address: str) -> str:
    """An ENI's chain: its address in hex (iptables allows 28 characters)."""
    return f"{kind}-{owner}-{int(IPv4Address(address)):08x}"


def member_chain(kind: str, owner: str, group_id: str) -> str:
    """A referenced group's member chain (SOURCES or DESTINATIONS)."""
    return f"{kind}-{owner}-{hashlib.sha256(group_id.encode()).hexdigest()[:8]}"


def allowed_chain(owner: str) -> str:
    return f"{ALLOWED}-{owner}"


def owned_prefixes(owner: str) -> tuple[str, ...]:
    """Every chain an agent owns starts with one of these."""
    kinds = (INGRESS, EGRESS, SOURCES, DESTINATIONS)
    return (*(f"{k}-{owner}-" for k in kinds), group_chain(owner), allowed_chain(owner))


@dataclass(frozen=True)
class Ruleset:
    """Chains in order, each with its rules (the arguments after `-A CHAIN`)."""

    chains: dict[str, list[str]] = field(default_factory=dict)

    def restore_text(self, remove: Iterable[str] = ()) -> str:
        """iptables-restore input (for --noflush): each chain declared (made, or flushed
        when it exists) and written whole; `remove`: chains of ours to flush and delete."""
        gone = sorted(set(remove) - set(self.chains))
        lines = ["*filter"]
        lines += [f":{name} - [0:0]" for name in (*self.chains, *gone)]
        for name, rules in self.chains.items():
            lines += [f"-A {name} {rule}" for rule in rules]
        lines += [f"-X {name}" for name in gone]
        lines.append("COMMIT")
        return "\n".join(lines) + "\n"


def _protocol(rule: Mapping[str, Any]) -> list[str] | None:
    """The match for a rule's protocol and ports; None when it cannot be expressed here."""
    proto = str(rule["IpProtocol"])
    low, high = int(rule.get("FromPort", -1)), int(rule.get("ToPort", -1))
    if proto == "-1":
        return []
    if proto in ("tcp", "udp"):
        if (low, high) == (0, 65535):
            return [f"-p {proto}"]
        ports = str(low) if low == high else f"{low}:{high}"
        return [f"-p {proto} -m {proto} --dport {ports}"]
    if proto == "icmp":
        if low == -1:
            return ["-p icmp"]
        kind = str(low) if high == -1 else f"{low}/{high}"
        return [f"-p icmp -m icmp --icmp-type {kind}"]
    if proto == "icmpv6":
        return ["-p 58"] if low == -1 else None
    return [f"-p {int(proto)}"]


def _cidr(rule: Mapping[str, Any]) -> str | None:
    """The IPv4 network a CIDR rule admits ("" for everywhere); None for other peers."""
    cidr = rule.get("CidrIpv4")
    if not cidr:
        return None
    net = ip_network(str(cidr), strict=False)
    return "" if net.prefixlen == 0 else str(net)


def _group(rule: Mapping[str, Any]) -> str | None:
    group = (rule.get("ReferencedGroupInfo") or {}).get("GroupId")
    return str(group) if group else None


def eni_rules(
    eni: LocalEni,
    rules: Iterable[Mapping[str, Any]],
    members: Mapping[str, Sequence[str]],
    egress: bool,
    owner: str,
) -> list[str]:
    """One direction's chain of one ENI: a RETURN per admitted CIDR and flow; per source
    (destination) group and flow a jump to the group's member chain, which marks a member's
    packet, and one goto to the allowed chain for a marked packet; then DROP."""
    flag = "-d" if egress else "-s"
    kind = DESTINATIONS if egress else SOURCES
    groups = set(eni.groups)
    out: list[str] = []
    jumps: list[str] = []
    for rule in rules:
        if bool(rule["IsEgress"]) != egress or rule["GroupId"] not in groups:
            continue
        proto = _protocol(rule)
        if proto is None:
            continue
        cidr, group = _cidr(rule), _group(rule)
        if cidr is not None:
            out.append(" ".join(([f"{flag} {cidr}"] if cidr else []) + proto + ["-j RETURN"]))
        elif group is not None and _v4(members.get(group, ())):
            jumps.append(" ".join([*proto, f"-j {member_chain(kind, owner, group)}"]))
    kept = list(dict.fromkeys(out))
    if jumps:
        kept.insert(0, f"-j MARK --set-xmark 0x0/{MARK}")
        kept += list(dict.fromkeys(jumps))
        kept.append(f"-m mark --mark {MARK}/{MARK} -g {allowed_chain(owner)}")
    kept.append("-j DROP")
    return kept


def _v4(addresses: Iterable[str]) -> list[str]:
    return [a for a in addresses if ":" not in a]


def member_rules(addresses: Iterable[str], egress: bool) -> list[str]:
    """A group's member chain: each member's packets marked (as source, or destination)."""
    flag = "-d" if egress else "-s"
    return [f"{flag} {IPv4Network(a)} -j MARK --set-xmark {MARK}/{MARK}" for a in _v4(addresses)]


def compile_view(view: NetworkView, owner: str) -> Ruleset:
    """The filter-table chains enforcing `view`'s groups on its ENIs (see the module)."""
    rules = sorted(view.rules, key=lambda r: str(r.get("SecurityGroupRuleId")))
    enis = sorted(view.enis, key=lambda e: int(IPv4Address(e.address)))
    top = group_chain(owner)
    chains: dict[str, list[str]] = {top: [f"{ESTABLISHED} -j RETURN"]}
    for eni in enis:
        chains[top].append(f"-s {eni.address}/32 -j {eni_chain(EGRESS, owner, eni.address)}")
    for eni in enis:
        chains[top].append(f"-d {eni.address}/32 -j {eni_chain(INGRESS, owner, eni.address)}")
    members: dict[str, list[str]] = {}
    for eni in enis:
        for egress, kind in ((True, EGRESS), (False, INGRESS)):
            found = eni_rules(eni, rules, view.members, egress, owner)
            chains[eni_chain(kind, owner, eni.address)] = found
            for line in found:
                target = line.rsplit(" ", 1)[-1]
                if target.startswith((f"{SOURCES}-", f"{DESTINATIONS}-")):
                    members[target] = []
    if members:
        chains[allowed_chain(owner)] = [f"-j MARK --set-xmark 0x0/{MARK}"]
        for group in sorted({g for g in view.members}):
            for kind, egress in ((SOURCES, False), (DESTINATIONS, True)):
                name = member_chain(kind, owner, group)
                if name in members:
                    chains[name] = member_rules(view.members[group], egress)
    return Ruleset(chains)
