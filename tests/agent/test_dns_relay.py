"""The agent's task resolver (agent/dns_relay.py): queries relayed over UDP and TCP to the
control plane's DNS server, SERVFAIL when it is gone or silent, nothing waiting on it; and
the pure pieces (where it relays to, what the instance is told, the containers' `dns`).

The relay listens on this host's non-loopback address on a free port here (port 53 is the
agent's; loopback it refuses), in front of a small upstream standing in for the control
plane's server.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from portside.agent.dns_relay import DnsRelay, attribute_value, upstream_for
from portside.agent.docker.config import network_kwargs
from portside.dns.forward import Upstream
from portside.testing.net import other_host_address

HOST = other_host_address()
pytestmark = pytest.mark.skipif(HOST is None, reason="this host has no non-loopback address")
NAME = "ip-10-0-1-23.ec2.internal."
BIG = "big.example.test."  # an answer over 512 bytes


def free_port(host: str) -> int:
    """A port free for both UDP and TCP on `host`."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((host, 0))
            port = int(udp.getsockname()[1])
            with socket.socket() as tcp:
                try:
                    tcp.bind((host, port))
                except OSError:
                    continue
                return port


class Upstream53:
    """Answers NAME with 10.0.1.23 and BIG with 40 addresses (over UDP truncated past 512
    bytes), NXDOMAIN otherwise; `silent` makes it answer nothing. Runs its own loop."""

    def __init__(self) -> None:
        self.silent = False
        self.seen: list[str] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.port = free_port("127.0.0.1")
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(5)

    def answer(self, wire: bytes, transport: str) -> bytes | None:
        query = dns.message.from_wire(wire)
        question = query.question[0]
        self.seen.append(transport)
        if self.silent:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        name = question.name.to_text().lower()
        if name == NAME:
            response.answer.append(dns.rrset.from_text(NAME, 5, "IN", "A", "10.0.1.23"))
        elif name == BIG:
            texts = [f"10.9.0.{i}" for i in range(1, 41)]
            response.answer.append(dns.rrset.from_text_list(BIG, 5, "IN", "A", texts))
        else:
            response.set_rcode(dns.rcode.NXDOMAIN)
        if transport == "tcp":
            return response.to_wire()
        try:
            return response.to_wire(max_size=512)
        except dns.exception.TooBig:
            response.answer.clear()
            response.flags |= dns.flags.TC
            return response.to_wire()

    async def _start(self) -> None:
        upstream = self

        class Udp(asyncio.DatagramProtocol):
            def connection_made(self, transport: Any) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr: Any) -> None:
                out = upstream.answer(data, "udp")
                if out is not None:
                    self.transport.sendto(out, addr)

        async def tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            (size,) = struct.unpack("!H", await reader.readexactly(2))
            out = self.answer(await reader.readexactly(size), "tcp")
            if out is not None:
                writer.write(struct.pack("!H", len(out)) + out)
                await writer.drain()
            writer.close()

        loop = asyncio.get_running_loop()
        self._udp, _ = await loop.create_datagram_endpoint(Udp, local_addr=("127.0.0.1", self.port))
        self._tcp = await asyncio.start_server(tcp, "127.0.0.1", self.port)

    def close(self) -> None:
        async def stop() -> None:
            self._udp.close()
            self._tcp.close()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def upstream() -> Iterator[Upstream53]:
    fake = Upstream53()
    yield fake
    fake.close()


@pytest.fixture
def relay(upstream: Upstream53) -> Iterator[DnsRelay]:
    assert HOST is not None
    relay = DnsRelay(free_port(HOST), timeout=0.5)
    relay.upstream = Upstream("127.0.0.1", upstream.port)
    assert relay.serve(HOST)
    yield relay
    relay.stop()


def ask(relay: DnsRelay, name: str, tcp: bool = False, timeout: float = 3) -> dns.message.Message:
    assert HOST is not None
    query = dns.message.make_query(name, "A")
    if tcp:
        return dns.query.tcp(query, HOST, timeout=timeout, port=relay.port)
    return dns.query.udp(query, HOST, timeout=timeout, port=relay.port)


def addresses(answer: dns.message.Message) -> list[str]:
    return sorted(r.address for rrset in answer.answer for r in rrset)


def test_queries_are_relayed_over_udp_and_tcp(relay: DnsRelay, upstream: Upstream53) -> None:
    assert addresses(ask(relay, NAME)) == ["10.0.1.23"]
    assert addresses(ask(relay, NAME, tcp=True)) == ["10.0.1.23"]
    assert ask(relay, "nothing.example.test.").rcode() == dns.rcode.NXDOMAIN
    # Too large for a UDP client: truncated, so it asks again over TCP, where it is whole.
    truncated = ask(relay, BIG)
    assert truncated.flags & dns.flags.TC and not truncated.answer
    assert len(addresses(ask(relay, BIG, tcp=True))) == 40
    assert relay.status() == {HOST: None}
    assert attribute_value(relay.status()) == "on"


def test_servfail_when_the_upstream_is_gone_or_unknown(
    relay: DnsRelay, upstream: Upstream53
) -> None:
    gone = free_port("127.0.0.1")  # nothing listens there
    relay.upstream = Upstream("127.0.0.1", gone)
    started = time.monotonic()
    assert ask(relay, NAME).rcode() == dns.rcode.SERVFAIL
    assert ask(relay, NAME, tcp=True).rcode() == dns.rcode.SERVFAIL
    assert time.monotonic() - started < 2.5
    relay.upstream = None  # before the session says where
    assert ask(relay, NAME).rcode() == dns.rcode.SERVFAIL
    relay.upstream = Upstream("127.0.0.1", upstream.port)  # back
    assert addresses(ask(relay, NAME)) == ["10.0.1.23"]


def test_a_silent_upstream_or_an_idle_client_holds_nothing_up(
    relay: DnsRelay, upstream: Upstream53
) -> None:
    assert HOST is not None
    upstream.silent = True
    idle = socket.create_connection((HOST, relay.port))  # connects and never asks
    try:
        started = time.monotonic()
        with ThreadPoolExecutor(20) as pool:
            codes = list(pool.map(lambda _: ask(relay, NAME).rcode(), range(20)))
        # Each waited for the upstream's timeout (0.5 s), all at once.
        assert codes == [dns.rcode.SERVFAIL] * 20
        assert time.monotonic() - started < 3
        # The relay's own calls do not wait on the queries either.
        started = time.monotonic()
        assert relay.serve(HOST)
        assert relay.status() == {HOST: None}
        assert time.monotonic() - started < 0.5
        upstream.silent = False
        assert addresses(ask(relay, NAME, tcp=True)) == ["10.0.1.23"]
    finally:
        idle.close()


def test_an_address_whose_port_is_taken_is_refused_and_said(
    upstream: Upstream53, caplog: pytest.LogCaptureFixture
) -> None:
    assert HOST is not None
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind((HOST, 0))  # another resolver on the port
    relay = DnsRelay(holder.getsockname()[1])
    try:
        with caplog.at_level("WARNING", "portside.agent.dns"):
            assert not relay.serve(HOST)
            assert not relay.serve(HOST)
        said = [r for r in caplog.records if "cannot listen" in r.getMessage()]
        assert len(said) == 1  # once, not per task
        assert "Docker's resolver" in said[0].getMessage()
        assert relay.addresses == frozenset()
        assert relay.status()[HOST] == "Address already in use"
        value = attribute_value(relay.status())
        assert value == f"off: {HOST}:53 Address already in use"
        # Never loopback nor every address: the host's own resolver's.
        assert not relay.serve("127.0.0.53")
        assert not relay.serve("0.0.0.0")
        # An address that is not this host's (its network gone) is forgotten by a sweep.
        assert not relay.serve("198.51.100.7")
        relay.sweep()
        assert set(relay.status()) == {HOST, "127.0.0.53", "0.0.0.0"}
    finally:
        relay.stop()
        holder.close()


def test_a_listener_goes_when_its_address_leaves_the_host(upstream: Upstream53) -> None:
    """An address added to this host (on lo) stands in for a task network's bridge."""
    import subprocess

    address = f"10.253.{os.getpid() % 250}.{threading.get_ident() % 250 + 1}"
    subprocess.run(["ip", "addr", "add", f"{address}/32", "dev", "lo"], check=True)
    relay = DnsRelay(free_port("127.0.0.1"), timeout=0.5)
    try:
        relay.upstream = Upstream("127.0.0.1", upstream.port)
        assert relay.serve(address)
        query = dns.message.make_query(NAME, "A")
        answer = dns.query.udp(query, address, timeout=3, port=relay.port)
        assert addresses(answer) == ["10.0.1.23"]
        relay.sweep()
        assert relay.addresses == {address}  # still there: kept
        subprocess.run(["ip", "addr", "del", f"{address}/32", "dev", "lo"], check=True)
        relay.sweep()
        assert relay.addresses == frozenset()
        assert relay.status() == {}
    finally:
        subprocess.run(["ip", "addr", "del", f"{address}/32", "dev", "lo"], capture_output=True)
        relay.stop()


def test_where_the_relay_sends_queries() -> None:
    # The control plane's advertised address, when agents can reach it.
    assert upstream_for(None, "10.1.2.3:4853", "http://cp:8080") == Upstream("10.1.2.3", 4853)
    # Loopback: as it is from the control plane's host, else the endpoint's host on the
    # advertised port; every address: the endpoint's host.
    same_host = upstream_for(None, "127.0.0.154:53", "http://localhost:8080")
    assert same_host == Upstream("127.0.0.154", 53)
    local = upstream_for(None, "127.0.0.1:5353", "http://192.0.2.9:8080")
    assert local == Upstream("192.0.2.9", 5353)
    assert upstream_for(None, "0.0.0.0:4853", "http://127.0.0.1:1") == Upstream("127.0.0.1", 4853)
    assert upstream_for(None, "[::]:4853", "http://[::1]:80") == Upstream("::1", 4853)
    # A control plane that says nothing: its default port.
    assert upstream_for(None, None, "http://192.0.2.9:8080") == Upstream("192.0.2.9", 4853)
    # --dns-server wins; port 53 when it names none.
    assert upstream_for("192.0.2.1", "10.1.2.3:4853", "http://x") == Upstream("192.0.2.1", 53)
    assert upstream_for("localhost:99", None, "http://x") == Upstream("127.0.0.1", 99)
    for bad in ("no-such-host.invalid:53", "host:port", "10.0.0.1:0", ":53", "[::1]x"):
        with pytest.raises(ValueError):
            upstream_for(bad, None, "http://x")


def test_what_the_instance_is_told() -> None:
    assert attribute_value({}) == "on"  # on, nothing asked of it yet
    assert attribute_value({"10.0.0.1": None, "172.17.0.1": None}) == "on"
    why = "Permission denied: ports below 1024 need root (or CAP_NET_BIND_SERVICE)"
    value = attribute_value({"10.0.0.1": None, "172.17.0.1": why})
    assert value == (
        "off: 172.17.0.1:53 Permission denied: ports below 1024 need root or CAP_NET_BIND_SERVICE"
    )
    assert len(attribute_value({"10.0.0.1": "x" * 300})) <= 128


def test_containers_dns_settings() -> None:
    relay = ["172.17.0.1"]
    # Bridge: the relay, unless the definition names its own servers (they win, as in ECS).
    assert network_kwargs({}, "bridge", None, relay)["dns"] == relay
    own = network_kwargs({"dnsServers": ["9.9.9.9"]}, "bridge", None, relay)
    assert own["dns"] == ["9.9.9.9"]
    searched = network_kwargs({"dnsSearchDomains": ["corp.test"]}, "bridge", None, relay)
    assert (searched["dns"], searched["dns_search"]) == (relay, ["corp.test"])
    assert "dns" not in network_kwargs({}, "bridge", None, None)
    # Host mode keeps the host's resolver; awsvpc containers share their pause's.
    assert "dns" not in network_kwargs({}, "host", None, relay)
    assert network_kwargs({}, "awsvpc", "pause-id", relay) == {"network_mode": "container:pause-id"}
