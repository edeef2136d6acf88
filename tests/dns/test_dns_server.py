"""The DNS server in process, asked with dnspython's client over UDP and TCP: its own names,
NXDOMAIN in its zones, and everything else forwarded to an upstream the test runs."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.reversename
import pytest
from conftest import FakeUpstream, Serve

from portside.dns.forward import Upstream
from portside.dns.records import private_dns_name, task_records
from portside.dns.zone import Zone

EAST = "arn:aws:ecs:us-east-1:000000000000:task/c1/0123456789abcdef0123456789abcdef"
WEST = "arn:aws:ecs:us-west-2:000000000000:task/c1/fedcba9876543210fedcba9876543210"
NAME = "ip-10-0-1-23.ec2.internal."


def running(arn: str, ip: str) -> dict[str, Any]:
    details = [
        {"name": "privateIPv4Address", "value": ip},
        {"name": "privateDnsName", "value": private_dns_name(ip, arn.split(":")[3])},
    ]
    eni = {"type": "ElasticNetworkInterface", "status": "ATTACHED", "details": details}
    return {"lastStatus": "RUNNING", "desiredStatus": "RUNNING", "attachments": [eni]}


@pytest.fixture
def zone() -> Zone:
    zone = Zone(["ec2.internal", "compute.internal", "elb.portside.internal"])
    zone.replace("task:east", task_records(EAST, running(EAST, "10.0.1.23")))
    zone.replace("task:west", task_records(WEST, running(WEST, "10.0.2.7")))
    return zone


@pytest.fixture
def address(zone: Zone, upstream: FakeUpstream, serve: Serve) -> tuple[str, int]:
    upstream.records[("example.test.", "A")] = ["192.0.2.10"]
    # 30 strings of 100 bytes: far past 512, so the upstream truncates it over UDP.
    upstream.records[("big.example.test.", "TXT")] = [f'"{i:02d}{"x" * 98}"' for i in range(30)]
    return serve(zone, [Upstream("127.0.0.1", upstream.port)])


def udp(address: tuple[str, int], name: str, rdtype: str = "A", **kw: Any) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype, **kw)
    response = dns.query.udp(query, address[0], port=address[1], timeout=3)
    assert response.id == query.id
    return response


def tcp(address: tuple[str, int], name: str, rdtype: str = "A") -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    return dns.query.tcp(query, address[0], port=address[1], timeout=3)


def addresses(response: dns.message.Message) -> list[str]:
    return sorted(r.to_text() for rrset in response.answer for r in rrset)


@pytest.mark.parametrize("ask", [udp, tcp])
def test_a_task_name_answers_its_address(address: tuple[str, int], ask: Any) -> None:
    response = ask(address, NAME)
    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.AA
    assert addresses(response) == ["10.0.1.23"]
    assert response.answer[0].ttl == 5


def test_the_answer_keeps_the_querys_case_and_id_with_or_without_edns(
    address: tuple[str, int],
) -> None:
    for name, edns in (("IP-10-0-1-23.Ec2.Internal.", False), (NAME, True), (NAME, False)):
        response = udp(address, name, use_edns=0 if edns else None)
        assert response.answer[0].name.to_text() == name
        assert addresses(response) == ["10.0.1.23"]
        assert (response.edns >= 0) == edns


def test_other_regions_names_and_the_empty_names_above_them(address: tuple[str, int]) -> None:
    assert addresses(udp(address, "ip-10-0-2-7.us-west-2.compute.internal")) == ["10.0.2.7"]
    between = udp(address, "us-west-2.compute.internal")
    assert between.rcode() == dns.rcode.NOERROR and between.answer == []


@pytest.mark.parametrize("ask", [udp, tcp])
def test_reverse_names(address: tuple[str, int], ask: Any) -> None:
    response = ask(address, dns.reversename.from_address("10.0.1.23"), "PTR")
    assert addresses(response) == [NAME]


@pytest.mark.parametrize("ask", [udp, tcp])
def test_a_miss_in_portsides_zones_is_nxdomain_with_a_short_negative_ttl(
    address: tuple[str, int], ask: Any
) -> None:
    response = ask(address, "ip-10-9-9-9.ec2.internal")
    assert response.rcode() == dns.rcode.NXDOMAIN
    soa = response.authority[0]
    assert soa.name.to_text() == "ec2.internal." and soa.rdtype == dns.rdatatype.SOA
    assert soa.ttl == 5 and soa[0].minimum == 5
    assert response.flags & dns.flags.AA
    missing_lb = ask(address, "web-1.us-east-1.elb.portside.internal")
    assert missing_lb.rcode() == dns.rcode.NXDOMAIN


def test_a_task_name_has_no_ipv6_address(address: tuple[str, int]) -> None:
    response = udp(address, NAME, "AAAA")
    assert response.rcode() == dns.rcode.NOERROR and response.answer == []
    assert response.authority[0].rdtype == dns.rdatatype.SOA


def test_answers_follow_the_zone(address: tuple[str, int], zone: Zone) -> None:
    assert addresses(udp(address, NAME)) == ["10.0.1.23"]  # cached now
    stopping = running(EAST, "10.0.1.23") | {"desiredStatus": "STOPPED"}
    zone.replace("task:east", task_records(EAST, stopping))
    assert udp(address, NAME).rcode() == dns.rcode.NXDOMAIN
    zone.replace("task:east", task_records(EAST, running(EAST, "10.0.1.23")))
    assert addresses(udp(address, NAME)) == ["10.0.1.23"]


@pytest.mark.parametrize("ask", [udp, tcp])
def test_other_names_are_forwarded(
    address: tuple[str, int], upstream: FakeUpstream, ask: Any
) -> None:
    response = ask(address, "example.test")
    assert addresses(response) == ["192.0.2.10"]
    assert response.flags & dns.flags.RA and not response.flags & dns.flags.AA
    assert ask(address, "nothing.example.test").rcode() == dns.rcode.NXDOMAIN
    # An unknown reverse name is not Portside's either.
    assert ask(address, dns.reversename.from_address("10.0.9.9"), "PTR").rcode() == 3
    assert [name for _, name in upstream.seen] == [
        "example.test.",
        "nothing.example.test.",
        "9.9.0.10.in-addr.arpa.",
    ]


def test_a_truncated_upstream_answer_is_fetched_again_over_tcp(
    address: tuple[str, int], upstream: FakeUpstream
) -> None:
    # The client takes 4096 bytes over UDP: it gets the whole answer at once.
    big = udp(address, "big.example.test", "TXT", use_edns=0, payload=4096)
    assert not big.flags & dns.flags.TC
    assert len(big.answer[0]) == 30
    assert upstream.seen == [("udp", "big.example.test."), ("tcp", "big.example.test.")]


def test_a_client_that_takes_512_bytes_is_told_to_use_tcp(address: tuple[str, int]) -> None:
    query = dns.message.make_query("big.example.test", "TXT")
    small = dns.query.udp(query, address[0], port=address[1], timeout=3)
    assert small.flags & dns.flags.TC and small.answer == []
    response, used_tcp = dns.query.udp_with_fallback(query, address[0], port=address[1], timeout=3)
    assert used_tcp and len(response.answer[0]) == 30


@pytest.fixture
def silent() -> Iterator[int]:
    """A UDP port where something listens and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


def test_servfail_when_no_upstream_answers(zone: Zone, serve: Serve, silent: int) -> None:
    address = serve(zone, [Upstream("127.0.0.1", silent)], timeout=0.3, deadline=0.5)
    started = time.monotonic()
    response = udp(address, "example.test")
    assert response.rcode() == dns.rcode.SERVFAIL
    assert time.monotonic() - started < 2.5
    assert tcp(address, "example.test").rcode() == dns.rcode.SERVFAIL
    # Its own names do not wait on the upstreams.
    assert addresses(udp(address, NAME)) == ["10.0.1.23"]


def test_the_next_upstream_answers_when_one_is_down(
    zone: Zone, serve: Serve, upstream: FakeUpstream, silent: int
) -> None:
    upstream.records[("example.test.", "A")] = ["192.0.2.10"]
    address = serve(
        zone, [Upstream("127.0.0.1", silent), Upstream("127.0.0.1", upstream.port)], timeout=0.3
    )
    assert addresses(udp(address, "example.test")) == ["192.0.2.10"]


def test_garbage_is_formerr_and_responses_are_never_answered(address: tuple[str, int]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.sendto(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07broken", address)
        reply = dns.message.from_wire(sock.recv(512))
        assert reply.id == 0x1234 and reply.rcode() == dns.rcode.FORMERR
        response = dns.message.make_response(dns.message.make_query(NAME, "A"))
        sock.sendto(response.to_wire(), address)
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(512)
