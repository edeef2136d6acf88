"""What the DNS tests run on: an event loop in a thread (uvloop, as the server's), a tiny
upstream DNS server on loopback standing in for the host's resolvers, and Portside's DNS
server on a zone the test fills."""

from __future__ import annotations

import asyncio
import struct
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rrset
import pytest
import uvloop

from portside.dns.forward import Forwarder, Upstream
from portside.dns.plane import bind
from portside.dns.server import DnsServer, Resolver
from portside.dns.zone import Zone

T = TypeVar("T")


class LoopThread:
    def __init__(self) -> None:
        self.loop = uvloop.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


class FakeUpstream:
    """Answers from `records` ((name, type) -> rdata texts), NXDOMAIN otherwise; over UDP it
    never sends more than 512 bytes (a truncated answer instead), whatever the query's EDNS
    size, so a large answer needs TCP. `seen` lists (transport, name) of every query."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], list[str]] = {}
        self.seen: list[tuple[str, str]] = []
        self.port = 0
        self._udp: Any = None
        self._tcp: asyncio.Server | None = None

    def answer(self, wire: bytes, transport: str) -> bytes:
        query = dns.message.from_wire(wire)
        question = query.question[0]
        name = question.name.to_text().lower()
        self.seen.append((transport, name))
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        texts = self.records.get((name, dns.rdatatype.to_text(question.rdtype)))
        if texts:
            response.answer.append(
                dns.rrset.from_text_list(question.name, 300, "IN", question.rdtype, texts)
            )
        else:
            response.set_rcode(dns.rcode.NXDOMAIN)
        if transport == "tcp":
            return response.to_wire(max_size=65535)
        try:
            return response.to_wire(max_size=512)
        except dns.exception.TooBig:
            response.answer.clear()
            response.flags |= dns.flags.TC
            return response.to_wire()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        udp, tcp_socket = bind("127.0.0.1", 0)  # one port free for both
        self.port = udp.getsockname()[1]
        upstream = self

        class Udp(asyncio.DatagramProtocol):
            def connection_made(self, transport: Any) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr: Any) -> None:
                self.transport.sendto(upstream.answer(data, "udp"), addr)

        self._udp, _ = await loop.create_datagram_endpoint(Udp, sock=udp)

        async def tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            (size,) = struct.unpack("!H", await reader.readexactly(2))
            out = self.answer(await reader.readexactly(size), "tcp")
            writer.write(struct.pack("!H", len(out)) + out)
            await writer.drain()
            writer.close()

        self._tcp = await asyncio.start_server(tcp, sock=tcp_socket)

    async def stop(self) -> None:
        self._udp.close()
        assert self._tcp is not None
        self._tcp.close()
        await self._tcp.wait_closed()


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.close()


@pytest.fixture
def upstream(loop_thread: LoopThread) -> Iterator[FakeUpstream]:
    fake = FakeUpstream()
    loop_thread.run(fake.start())
    yield fake
    loop_thread.run(fake.stop())


Serve = Callable[..., tuple[str, int]]


@pytest.fixture
def serve(loop_thread: LoopThread) -> Iterator[Serve]:
    """serve(zone, upstreams, **forwarder options) -> (host, port) of a running server."""
    servers: list[DnsServer] = []

    def start(zone: Zone, upstreams: list[Upstream], **options: Any) -> tuple[str, int]:
        udp, tcp = bind("127.0.0.1", 0)
        server = DnsServer(Resolver(zone, Forwarder(upstreams, **options)), udp, tcp)
        loop_thread.run(server.start())
        servers.append(server)
        return "127.0.0.1", udp.getsockname()[1]

    yield start
    for server in servers:
        loop_thread.run(server.stop())
