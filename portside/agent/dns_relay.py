"""The task resolver: port 53 where task containers reach this host, every query relayed to
the control plane's DNS server (portside/dns), so that a task resolves other tasks'
`privateDnsName`, load balancers' `DNSName` and, through the control plane's forwarding,
every other name (issue 14).

Containers cannot use the control plane's server directly: it listens on loopback (or a
host of its own) and on a port resolv.conf cannot name. So the agent listens on port 53 of
the address task containers see as their gateway, and nowhere else: a subnet network's
gateway, a task network's bridge address, docker0's for bridge mode. Never on loopback,
never on every address: the host's own resolver (systemd-resolved on 127.0.0.53, dnsmasq)
keeps its port, and the relay is reached only at those addresses: by the containers of
those networks and the host itself (another machine would need a route to a Docker
network through this host), never as an open resolver on the host's LAN address.

A listener is opened when a network's first task is set up (`serve`), before its pause
container is made with `dns=[address]`; it goes once its address has left the host (the
network removed: `sweep`). An address whose port 53 cannot be bound (held by a resolver on
it or on 0.0.0.0, or not this host's) is refused: its tasks keep Docker's own resolver, the
agent logs it once and reports it on its container instance (`ATTRIBUTE`).

Relaying is the DNS server's own code on an empty zone: every query goes to the upstream
with an id of its own, a UDP answer too large for the client goes truncated (it asks again
over TCP), and no answer within the forwarder's deadline is SERVFAIL. Listeners run on the
relay's event loop, in a thread of their own: nothing here waits on a task or the agent.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import re
import socket
import threading
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

from portside.dns.forward import TIMEOUT, Forwarder, Upstream
from portside.dns.server import DnsServer, Resolver
from portside.dns.zone import Zone

log = logging.getLogger("portside.agent.dns")

DNS_PORT = 53
DEFAULT_UPSTREAM_PORT = 4853  # the control plane's default (dns/plane.py), when it says none
ATTRIBUTE = "portside.task-dns"  # "on", or "off: <address>:53 <why>" on the instance


class TaskResolver(Protocol):
    """What a driver asks of the relay (DockerDriver.use_task_resolver)."""

    def serve(self, address: str) -> bool:
        """Listen on address:53 if not yet; True when task containers may use it there."""

    def sweep(self) -> None:
        """Close the listeners whose address has left this host (its network removed)."""


@runtime_checkable
class TakesTaskResolver(Protocol):
    """A driver whose task containers can use the relay (the Docker driver)."""

    def use_task_resolver(self, resolver: TaskResolver) -> None: ...


class DnsRelay:
    """Listeners on port 53 (`port`: tests take another) of the addresses given to `serve`,
    relaying to `upstream` (None until the session says where: SERVFAIL meanwhile). A query
    the upstream does not answer within `timeout` seconds is SERVFAIL."""

    def __init__(self, port: int = DNS_PORT, *, timeout: float = TIMEOUT) -> None:
        self.port = port
        self._forwarder = Forwarder((), timeout=timeout, deadline=timeout)
        self._resolver = Resolver(Zone(), self._forwarder)
        self._servers: dict[str, DnsServer] = {}
        self._refused: dict[str, str] = {}  # address -> why it cannot be served
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="agent-dns", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    @property
    def upstream(self) -> Upstream | None:
        servers = self._forwarder.servers
        return servers[0] if servers else None

    @upstream.setter
    def upstream(self, server: Upstream | None) -> None:
        # One tuple swapped whole: a query in flight keeps the one it started with.
        self._forwarder.servers = (server,) if server is not None else ()

    @property
    def addresses(self) -> frozenset[str]:
        """The addresses served on."""
        return frozenset(self._servers)

    def status(self) -> dict[str, str | None]:
        """Every address asked for: None when served, else why not."""
        with self._lock:
            return {**{a: None for a in self._servers}, **self._refused}

    def serve(self, address: str) -> bool:
        with self._lock:
            if address in self._servers:
                return True
            why = _unusable(address)
            if why is None:
                try:
                    udp, tcp = _bind(address, self.port)
                except OSError as exc:
                    why = exc.strerror or str(exc)
                    if exc.errno == errno.EACCES:
                        why += ": ports below 1024 need root (or CAP_NET_BIND_SERVICE)"
                else:
                    server = DnsServer(self._resolver, udp, tcp)
                    try:
                        self._call(server.start())
                    except Exception as exc:
                        udp.close()
                        tcp.close()
                        why = str(exc) or type(exc).__name__
                    else:
                        self._servers[address] = server
                        self._refused.pop(address, None)
                        log.info("task DNS on %s:%d", address, self.port)
                        return True
            if self._refused.get(address) != why:
                log.warning(
                    "task DNS cannot listen on %s:%d (%s): tasks there keep Docker's resolver",
                    address,
                    self.port,
                    why,
                )
            self._refused[address] = why
            return False

    def sweep(self) -> None:
        with self._lock:
            for address in [a for a in self._servers if not _on_this_host(a)]:
                server = self._servers.pop(address)
                try:
                    self._call(server.stop())
                except Exception as exc:
                    log.warning("task DNS on %s did not stop cleanly: %s", address, exc)
                log.info("task DNS off %s:%d (its network is gone)", address, self.port)
            for address in [a for a in self._refused if not _on_this_host(a)]:
                del self._refused[address]

    def stop(self) -> None:
        with self._lock:
            servers = list(self._servers.values())
            self._servers.clear()
        for server in servers:
            try:
                self._call(server.stop())
            except Exception as exc:
                log.warning("task DNS did not stop cleanly: %s", exc)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _call(self, work: object, timeout: float = 5.0) -> None:
        asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout)  # type: ignore[arg-type]


def attribute_value(status: dict[str, str | None]) -> str:
    """The container instance's `portside.task-dns` for a relay's status: "on" while every
    address asked for is served (none yet included), else the first refused one and why.
    Kept to the characters and length ECS allows in an attribute value."""
    refused = sorted((a, why) for a, why in status.items() if why is not None)
    if not refused:
        return "on"
    address, why = refused[0]
    text = re.sub(r"[^A-Za-z0-9_.@\-/\\: ]+", " ", f"off: {address}:53 {why}")
    return re.sub(r" +", " ", text).strip()[:128].rstrip()


def upstream_for(explicit: str | None, advertised: str | None, endpoint: str) -> Upstream:
    """Where the relay sends queries: `explicit` (--dns-server HOST[:PORT]) when given; else
    the address the control plane advertises ("HOST:PORT", the session's answer). A loopback
    one is reached as it is by an agent on the control plane's host (its endpoint loopback
    too), else at the endpoint's host on the advertised port; so is an unspecified one
    (0.0.0.0: every address), and a control plane that advertises none, on port 4853. Names
    are resolved here, once (ValueError when they do not resolve)."""
    if explicit:
        host, port = _split(explicit, DNS_PORT)
        return Upstream(_resolve(host), port)
    host, port = _split(advertised, DEFAULT_UPSTREAM_PORT) if advertised else ("", 0)
    endpoint_host = urlsplit(endpoint).hostname or "127.0.0.1"
    unspecified = not host or _is(host, "is_unspecified")
    if unspecified or (_is(host, "is_loopback") and not _local(endpoint_host)):
        host = endpoint_host
    return Upstream(_resolve(host), port or DEFAULT_UPSTREAM_PORT)


def _split(value: str, default_port: int) -> tuple[str, int]:
    """HOST, HOST:PORT, [V6] or [V6]:PORT (ValueError for anything else)."""
    text = value.strip()
    host, port = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else rest
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    if not host or (port and not (port.isdigit() and 0 < int(port) < 65536)):
        raise ValueError(f"expected HOST[:PORT], not {value!r}")
    return host, int(port) if port else default_port


def _is(host: str, kind: str) -> bool:
    """ipaddress's `kind` property of an address (False for a name)."""
    try:
        return bool(getattr(ipaddress.ip_address(host), kind))
    except ValueError:
        return False


def _local(host: str) -> bool:
    return host == "localhost" or _is(host, "is_loopback")


def _resolve(host: str) -> str:
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
    except OSError as exc:
        raise ValueError(f"cannot resolve {host!r}: {exc}") from None
    return str(found[0][4][0])


def _unusable(address: str) -> str | None:
    """Why the relay must not listen on `address` (None: it may)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "not an IP address"
    if ip.is_loopback or ip.is_unspecified:
        return "loopback and wildcard addresses belong to the host's own resolver"
    return None


def _bind(address: str, port: int) -> tuple[socket.socket, socket.socket]:
    """A UDP and a listening TCP socket on address:port. The UDP socket takes no
    SO_REUSEADDR: a port another resolver holds (there or on 0.0.0.0) stays its own."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    udp = socket.socket(family, socket.SOCK_DGRAM)
    tcp = socket.socket(family, socket.SOCK_STREAM)
    try:
        udp.bind((address, port))
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAITs only
        tcp.bind((address, udp.getsockname()[1]))
        tcp.listen(64)
    except OSError:
        udp.close()
        tcp.close()
        raise
    udp.setblocking(False)
    tcp.setblocking(False)
    return udp, tcp


def _on_this_host(address: str) -> bool:
    """Whether `address` is still one of this host's (a network's bridge address goes with
    its network): binding a spare socket there says."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((address, 0))
        except OSError as exc:
            return exc.errno != errno.EADDRNOTAVAIL
    return True
