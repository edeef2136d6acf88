"""The rule decision function the hosts' enforcement will ask (pure): which flows a group's
stored rules let in or out."""

from __future__ import annotations

from ipaddress import ip_network
from typing import Any

from portside.ec2.permissions import Spec, rule_doc
from portside.ec2.traffic import Flow, Peer, Policy, allowed

WEB, DB, LB = "sg-web", "sg-db", "sg-lb"


def rule(n: int, group: str, spec: Spec) -> dict[str, Any]:
    return rule_doc(spec, f"sgr-{n}", group, "000000000000", f"arn:sgr-{n}")


RULES = [
    rule(1, WEB, Spec(False, "tcp", 80, 80, "CidrIpv4", "10.0.0.0/16")),
    rule(2, WEB, Spec(False, "tcp", 8000, 8100, "ReferencedGroupId", LB)),
    rule(3, WEB, Spec(True, "-1", -1, -1, "CidrIpv4", "0.0.0.0/0")),
    rule(4, DB, Spec(False, "tcp", 5432, 5432, "ReferencedGroupId", WEB)),
    rule(5, DB, Spec(False, "icmp", 8, -1, "CidrIpv4", "10.0.0.0/8")),
    rule(6, DB, Spec(False, "udp", 53, 53, "CidrIpv6", "fd00::/8")),
    rule(7, DB, Spec(False, "50", -1, -1, "PrefixListId", "pl-1234")),
]
POLICY = Policy.from_docs(RULES, {"pl-1234": []})


def test_cidr_rules_by_port_and_address() -> None:
    inside, outside = Peer.of("10.0.3.4"), Peer.of("192.168.1.1")
    verdict = POLICY.ingress([WEB], inside, Flow.tcp(80))
    assert verdict.allowed and verdict.rule_id == "sgr-1"
    assert not POLICY.ingress([WEB], inside, Flow.tcp(81))
    assert not POLICY.ingress([WEB], inside, Flow.udp(80))
    assert not POLICY.ingress([WEB], outside, Flow.tcp(80))


def test_group_references_and_ranges() -> None:
    from_lb = Peer.of("172.31.5.5", [LB])
    assert POLICY.ingress([WEB], from_lb, Flow.tcp(8050)).rule_id == "sgr-2"
    assert not POLICY.ingress([WEB], from_lb, Flow.tcp(8101))
    assert not POLICY.ingress([WEB], Peer.of("172.31.5.5"), Flow.tcp(8050))
    assert POLICY.ingress([DB], Peer.of("10.9.9.9", [WEB]), Flow.tcp(5432))
    assert not POLICY.ingress([DB], Peer.of("10.9.9.9", [LB]), Flow.tcp(5432))


def test_groups_of_an_eni_add_up_and_egress_is_apart() -> None:
    peer = Peer.of("10.0.0.9", [WEB])
    assert not POLICY.ingress([WEB], peer, Flow.tcp(5432))
    assert POLICY.ingress([WEB, DB], peer, Flow.tcp(5432)).rule_id == "sgr-4"
    assert POLICY.egress([WEB], Peer.of("8.8.8.8"), Flow.udp(53)).rule_id == "sgr-3"
    assert not POLICY.egress([DB], Peer.of("8.8.8.8"), Flow.udp(53))  # DB has no egress rule


def test_icmp_ipv6_and_other_protocols() -> None:
    assert POLICY.ingress([DB], Peer.of("10.1.1.1"), Flow.icmp(8, 0))
    assert not POLICY.ingress([DB], Peer.of("10.1.1.1"), Flow.icmp(0, 0))
    assert POLICY.ingress([DB], Peer.of("fd00::5"), Flow.udp(53)).rule_id == "sgr-6"
    assert not POLICY.ingress([DB], Peer.of("10.1.1.1"), Flow.udp(53))  # a v6 rule, a v4 peer
    assert not POLICY.ingress([DB], Peer.of("10.1.1.1"), Flow(50))  # an empty prefix list
    with_list = Policy.from_docs(RULES, {"pl-1234": [ip_network("10.1.0.0/16")]})
    assert with_list.ingress([DB], Peer.of("10.1.1.1"), Flow(50)).rule_id == "sgr-7"


def test_the_one_call_question() -> None:
    assert allowed(RULES, "10.0.0.1", [], WEB, "tcp", 80)
    assert allowed(RULES, "1.2.3.4", [LB], WEB, "6", 8080)
    assert not allowed(RULES, "1.2.3.4", [], WEB, "tcp", 8080)
    assert not allowed(RULES, "10.0.0.1", [WEB], DB, "tcp", 80)  # DB's rules only, not WEB's
