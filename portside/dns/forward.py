"""Names that are not Portside's go to the host's own resolvers.

The upstreams are the `nameserver` lines of /etc/resolv.conf, read at start, less the
server itself (a host whose resolv.conf names Portside must not send its queries round in a
circle). Each is asked in turn over UDP, and again over TCP when its answer is truncated;
one that does not answer within `timeout` is skipped. When none answers, the client gets
SERVFAIL (the caller's: None here).

A query goes upstream with an id of its own, from a socket of its own (connected, so only
the upstream's address is heard), and its answer comes back with the client's id: a forged
answer has to guess both the port and the id.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("portside.dns")

RESOLV_CONF = Path("/etc/resolv.conf")
DNS_PORT = 53
TIMEOUT = 2.0  # seconds one upstream has to answer
DEADLINE = 4.0  # seconds a forwarded query may take in all, whatever the upstreams
MAX_IN_FLIGHT = 512  # forwarded queries at once; past that, SERVFAIL at once
_TC = 0x0200


@dataclass(frozen=True, slots=True)
class Upstream:
    host: str
    port: int = DNS_PORT

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def read_resolv_conf(path: Path = RESOLV_CONF) -> list[str]:
    """The nameserver addresses of a resolv.conf, in order (none when it cannot be read)."""
    try:
        text = path.read_text()
    except OSError:
        return []
    found: list[str] = []
    for line in text.splitlines():
        parts = line.split("#", 1)[0].split(";", 1)[0].split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            address = parts[1].split("%", 1)[0]  # a link-local's zone: not ours to use
            try:
                ipaddress.ip_address(address)
            except ValueError:
                continue
            if address not in found:
                found.append(address)
    return found


def upstreams(nameservers: Iterable[str], own_host: str, own_port: int) -> list[Upstream]:
    """The nameservers on port 53, less this server when it listens there too."""
    out = []
    for host in nameservers:
        if own_port == DNS_PORT and _same_host(host, own_host):
            continue
        out.append(Upstream(host))
    return out


def _same_host(nameserver: str, own_host: str) -> bool:
    if nameserver == own_host:
        return True
    if own_host in ("0.0.0.0", "::", ""):
        # Listening everywhere: any address of this host is us; loopback certainly is.
        return ipaddress.ip_address(nameserver).is_loopback
    return False


class _Reply(asyncio.DatagramProtocol):
    def __init__(self, ident: int, answer: asyncio.Future[bytes]) -> None:
        self.ident = ident
        self.answer = answer

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        mine = len(data) >= 12 and struct.unpack_from("!H", data)[0] == self.ident
        if mine and not self.answer.done():
            self.answer.set_result(data)

    def error_received(self, exc: Exception) -> None:  # ICMP unreachable, say
        if not self.answer.done():
            self.answer.set_exception(exc)


class Forwarder:
    def __init__(
        self,
        servers: Iterable[Upstream],
        *,
        timeout: float = TIMEOUT,
        deadline: float = DEADLINE,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self.servers = tuple(servers)
        self.timeout = timeout
        self.deadline = deadline
        self.max_in_flight = max_in_flight
        self._in_flight = 0
        self._warned: dict[Upstream, float] = {}

    async def forward(self, query: bytes) -> bytes | None:
        """The first upstream answer to `query` (wire form), with the client's id; None when
        none came (or too many queries are already waiting)."""
        if len(query) < 12 or not self.servers or self._in_flight >= self.max_in_flight:
            return None
        client_id = query[:2]
        self._in_flight += 1
        try:
            ends = time.monotonic() + self.deadline
            for server in self.servers:
                left = ends - time.monotonic()
                if left <= 0:
                    break
                answer = await self._ask(server, query[2:], min(self.timeout, left))
                if answer is not None:
                    return client_id + answer[2:]
            return None
        finally:
            self._in_flight -= 1

    async def _ask(self, server: Upstream, body: bytes, timeout: float) -> bytes | None:
        ident = secrets.randbits(16)
        query = struct.pack("!H", ident) + body
        try:
            async with asyncio.timeout(timeout):
                answer = await self._udp(server, ident, query)
                if struct.unpack_from("!H", answer, 2)[0] & _TC:
                    answer = await self._tcp(server, ident, query)
                return answer
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ConnectionError) as exc:
            self._warn(server, exc)
            return None

    async def _udp(self, server: Upstream, ident: int, query: bytes) -> bytes:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[bytes] = loop.create_future()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Reply(ident, answer), remote_addr=(server.host, server.port)
        )
        try:
            transport.sendto(query)
            return await answer
        finally:
            transport.close()

    async def _tcp(self, server: Upstream, ident: int, query: bytes) -> bytes:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        try:
            writer.write(struct.pack("!H", len(query)) + query)
            while True:
                (size,) = struct.unpack("!H", await reader.readexactly(2))
                answer = await reader.readexactly(size)
                if size >= 12 and struct.unpack_from("!H", answer)[0] == ident:
                    return answer
        finally:
            writer.close()

    def _warn(self, server: Upstream, exc: BaseException) -> None:
        """One line per upstream per minute: a resolver that is down is said once, not per
        query."""
        now = time.monotonic()
        if now - self._warned.get(server, -1e9) >= 60:
            self._warned[server] = now
            reason = "no answer in time" if isinstance(exc, TimeoutError) else str(exc)
            log.warning("DNS upstream %s: %s", server, reason or type(exc).__name__)
