"""The DNS server: UDP and TCP on one address, on the control plane's event loop.

A query for a name the zone holds (or a miss inside one of its zones) is answered from
memory; the common case from an answer encoded once and replayed (wire.py), anything else
through dnspython (answer.py). Any other name is forwarded (forward.py), SERVFAIL when no
upstream answers. A UDP answer larger than the client takes (512 bytes, or its EDNS size) is
sent truncated, so that the client asks again over TCP.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
import time
from collections.abc import Awaitable
from typing import Any, cast

import dns.exception
import dns.flags
import dns.message
import dns.rcode

from portside.dns import answer, wire
from portside.dns.forward import Forwarder
from portside.dns.zone import Zone

log = logging.getLogger("portside.dns")

TCP_IDLE = 10.0  # seconds a TCP client may hold its connection without a query
MAX_TCP_CLIENTS = 128
TCP_LIMIT = 65535
_NEGATIVE_CACHE = 4096  # cached NXDOMAIN/NODATA answers, at most
_SEEN = 16384  # queries whose answers are kept as they were asked, at most


class _Forward:
    """A query that is not ours to answer: the server forwards it."""

    def __init__(
        self, limit: int, question: wire.Question | None, message: dns.message.Message | None
    ) -> None:
        self.limit = limit  # the largest answer the client takes
        self.question = question
        self.message = message


class Resolver:
    """Turns one query into its answer (bytes), nothing (drop it), or a `_Forward`."""

    def __init__(self, zone: Zone, forwarder: Forwarder) -> None:
        self.zone = zone
        self.forwarder = forwarder
        self._negative: dict[tuple[str, tuple[int, int, bool]], tuple[int, wire.Encoded]] = {}
        # A UDP query's bytes after its id -> (zone generation, the answer's bytes after its
        # id): a query asked before, as it was asked, costs one lookup.
        self._seen: dict[bytes, tuple[int, bytes]] = {}

    def local(self, query: bytes, udp: bool) -> bytes | _Forward | None:
        generation = self.zone.generation  # before any record is read: see _seen
        if udp:
            seen = self._seen.get(query[2:])
            if seen is not None and seen[0] == generation:
                return query[:2] + seen[1]
        question = wire.parse(query)
        if question is None:
            return self._general(query, udp)
        limit = question.payload if udp else TCP_LIMIT
        node = self.zone.node(question.name)
        if node is not None:
            cached = node.cache.get(question.key)
            if cached is None:
                cached = self._encode(query, question)
                if cached is None:
                    return self._general(query, udp)
                node.cache[question.key] = cached
        elif self.zone.apex_of(question.name) is not None:
            held = self._negative.get((question.name, question.key))
            if held is not None and held[0] == generation:
                cached = held[1]
            else:
                cached = self._encode(query, question)
                if cached is None:
                    return self._general(query, udp)
                if len(self._negative) >= _NEGATIVE_CACHE:
                    self._negative.clear()
                self._negative[(question.name, question.key)] = (generation, cached)
        else:
            return _Forward(limit, question, None)
        out = wire.reply(question, query, cached)
        if len(out) > limit:
            return wire.truncated(query, question.end)
        if udp:
            if len(self._seen) >= _SEEN:
                self._seen.clear()
            self._seen[query[2:]] = (generation, out[2:])
        return out

    async def resolve(self, query: bytes, udp: bool) -> bytes | None:
        found = self.local(query, udp)
        if not isinstance(found, _Forward):
            return found
        return await self.forwarded(query, found)

    async def forwarded(self, query: bytes, found: _Forward) -> bytes | None:
        """The upstreams' answer to a query `local` found not ours."""
        forwarded = await self.forwarder.forward(query)
        if forwarded is not None and len(forwarded) <= found.limit:
            return forwarded
        if found.question is not None:
            if forwarded is not None:
                return wire.truncated(query, found.question.end)
            return wire.failure(query, found.question.end, dns.rcode.SERVFAIL)
        assert found.message is not None
        if forwarded is not None:
            response = dns.message.make_response(found.message)
            response.flags |= dns.flags.TC | dns.flags.RA
            return response.to_wire()
        return answer.servfail(found.message).to_wire()

    def _encode(self, query: bytes, question: wire.Question) -> wire.Encoded | None:
        """The answer to a plain query, built by dnspython, as a cache entry."""
        try:
            message = dns.message.from_wire(query)
        except dns.exception.DNSException:
            return None
        response = answer.respond(message, self.zone)
        if response is None:
            return None
        return wire.encode(response.to_wire(), question.end)

    def _general(self, query: bytes, udp: bool) -> bytes | _Forward | None:
        try:
            message = dns.message.from_wire(query)
        except dns.message.ShortHeader:
            return None
        except dns.exception.DNSException:
            return _format_error(query)
        if message.flags & dns.flags.QR:
            return None  # a response sent to us: never answer one
        limit = TCP_LIMIT
        if udp:
            limit = max(512, message.payload) if message.edns >= 0 else 512
        response = answer.respond(message, self.zone)
        if response is None:
            return _Forward(limit, None, message)
        try:
            return response.to_wire(max_size=limit)
        except dns.exception.TooBig:
            response = dns.message.make_response(message)
            response.flags |= dns.flags.TC | dns.flags.AA | dns.flags.RA
            return response.to_wire()


def _format_error(query: bytes) -> bytes | None:
    ident, flags = struct.unpack_from("!HH", query)
    if flags & 0x8000:
        return None
    return struct.pack("!HHHHHH", ident, 0x8000 | (flags & 0x7900) | dns.rcode.FORMERR, 0, 0, 0, 0)


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # uvloop's: no subclass

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            found = self.server.resolver.local(data, True)
        except Exception:
            self.server.failed()
            return
        if isinstance(found, bytes):
            self._send(found, addr)
        elif found is not None:
            self.server.spawn(self._forwarded(data, found, addr))

    async def _forwarded(self, data: bytes, found: _Forward, addr: Any) -> None:
        out = await self.server.resolver.forwarded(data, found)
        if out is not None:
            self._send(out, addr)

    def _send(self, data: bytes, addr: Any) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data, addr)


class DnsServer:
    """Serves `resolver` on a bound UDP socket and a bound, listening TCP socket."""

    def __init__(self, resolver: Resolver, udp: socket.socket, tcp: socket.socket) -> None:
        self.resolver = resolver
        self.udp_socket = udp
        self.tcp_socket = tcp
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._tcp_clients = 0
        self._last_failure = -1e9

    def failed(self) -> None:
        """A query that could not be answered (a bug): its traceback once a minute at most,
        so that a packet provoking it cannot flood the log."""
        now = time.monotonic()
        if now - self._last_failure >= 60:
            self._last_failure = now
            log.exception("DNS: a query could not be answered (dropped)")

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._udp, _ = await loop.create_datagram_endpoint(lambda: _Udp(self), sock=self.udp_socket)
        self._tcp = await asyncio.start_server(self._serve_tcp, sock=self.tcp_socket)

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._tcp is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._tcp.wait_closed(), 1.0)
        self.udp_socket.close()
        self.tcp_socket.close()

    def spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._tcp_clients += 1
        try:
            if self._tcp_clients > MAX_TCP_CLIENTS:
                return
            while True:
                async with asyncio.timeout(TCP_IDLE):
                    (size,) = struct.unpack("!H", await reader.readexactly(2))
                    query = await reader.readexactly(size)
                out = await self.resolver.resolve(query, False)
                if out is not None:
                    writer.write(struct.pack("!H", len(out)) + out)
                    await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, OSError):
            pass
        except Exception:
            self.failed()
        finally:
            self._tcp_clients -= 1
            writer.close()
            if task is not None:
                self._tasks.discard(task)
