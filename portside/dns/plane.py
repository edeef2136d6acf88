"""A control plane's DNS server, as `server.py` wires it: bound first, fed by the `dns` loop,
served on the event loop while the control plane runs.

Where it listens (`--dns-host`, `--dns-port`): 127.0.0.1 by default, a loopback address every
user may bind, on an unprivileged port: the port given; else the one this data directory's
server used last (kept in `server.json`, so a resolver pointed at it stays right across
restarts); else 4853 when free; else any free port. Port 53 is never taken by default: it
needs root, and the host's own resolver (systemd-resolved, dnsmasq) usually holds it. A
port given and taken stops the start, as a taken API port does.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from pathlib import Path

import orjson

from portside.config import ServerConfig
from portside.dns.follower import RecordFollower
from portside.dns.forward import Forwarder, read_resolv_conf, upstreams
from portside.dns.server import DnsServer, Resolver
from portside.dns.sources import (
    CloudMapSource,
    IngressHostSource,
    LoadBalancerSource,
    RecordSource,
    TaskSource,
)
from portside.dns.zone import Zone
from portside.startup import StartupError
from portside.store.base import Store

log = logging.getLogger("portside.dns")

DEFAULT_DNS_PORT = 4853
STATE_FILE = "server.json"  # where the server says its address ("dns": "HOST:PORT")


class DnsPlane:
    def __init__(self, host: str, udp: socket.socket, tcp: socket.socket, lb_address: str):
        self.host = host
        self.port = int(udp.getsockname()[1])
        fixed: tuple[RecordSource, ...] = (
            TaskSource(),
            LoadBalancerSource(lb_address),
            IngressHostSource(lb_address),
        )
        self.zone = Zone(z for s in fixed for z in s.zones)
        self.sources = (*fixed, CloudMapSource(self.zone.set_extra_apexes))
        self._udp, self._tcp = udp, tcp
        self.server: DnsServer | None = None
        self._follower: RecordFollower | None = None

    @classmethod
    def open(cls, config: ServerConfig) -> DnsPlane:
        """Bind the server's address (StartupError when it cannot be)."""
        host = config.dns_host
        if config.dns_port:
            udp, tcp = bind(host, config.dns_port)
        else:
            udp, tcp = _bind_default(config.data_dir, host)
        return cls(host, udp, tcp, load_balancer_address(config.load_balancer_host, host))

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def follower(self, store: Store) -> RecordFollower:
        """The loop that keeps the records at what `store` holds (started by `start`)."""
        self._follower = RecordFollower(store, self.zone, self.sources)
        return self._follower

    async def start(self) -> None:
        servers = upstreams(read_resolv_conf(), self.host, self.port)
        if not servers:
            log.warning("DNS: no resolver in /etc/resolv.conf to forward other names to")
        if self._follower is not None:
            # Loaded before the first answer: a name not loaded yet would be NXDOMAIN, which
            # resolvers keep for the negative TTL.
            try:
                await asyncio.to_thread(self._follower.load)
            except Exception as exc:  # the loop tries again, and health shows it
                log.warning("DNS records not loaded at start: %s", exc)
            self._follower.start()
        resolver = Resolver(self.zone, Forwarder(servers))
        self.server = DnsServer(resolver, self._udp, self._tcp)
        await self.server.start()
        log.info(
            "DNS on %s (UDP and TCP); other names to %s",
            self.address,
            ", ".join(map(str, servers)) or "nobody",
        )

    async def stop(self) -> None:
        if self._follower is not None:
            await asyncio.to_thread(self._follower.stop)
        if self.server is not None:
            await self.server.stop()
        else:
            self._udp.close()
            self._tcp.close()


def load_balancer_address(load_balancer_host: str, dns_host: str) -> str:
    """Where a load balancer's name points: the address its listeners bind on; when they bind
    on every address, the DNS server's own when it is a specific one (its clients reach it
    there), else loopback."""
    for candidate in (load_balancer_host, dns_host):
        try:
            address = ipaddress.IPv4Address(candidate)
        except ValueError:
            continue
        if not address.is_unspecified:
            return str(address)
    return "127.0.0.1"


def bind(host: str, port: int) -> tuple[socket.socket, socket.socket]:
    """A UDP and a listening TCP socket on host:port (port 0: one port free for both)."""
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        raise StartupError(f"--dns-host must be an IP address, not {host!r}") from None
    error: OSError | None = None
    for _ in range(1 if port else 20):
        udp = socket.socket(family, socket.SOCK_DGRAM)
        tcp = socket.socket(family, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            udp.bind((host, port))
            tcp.bind((host, udp.getsockname()[1]))
            tcp.listen(128)
        except OSError as exc:
            udp.close()
            tcp.close()
            error = exc
            continue
        udp.setblocking(False)
        tcp.setblocking(False)
        return udp, tcp
    raise StartupError(
        f"cannot serve DNS on {host}:{port}: {error and (error.strerror or error)}. Is another "
        "DNS server using the port? Choose another with --dns-port (ports below 1024 need root)."
    )


def _bind_default(data_dir: Path, host: str) -> tuple[socket.socket, socket.socket]:
    """The port this directory's server last served DNS on (same host), else 4853, else any
    free one: a kept or default port another program holds now is passed over."""
    ports = []
    try:
        kept = str(orjson.loads((data_dir / STATE_FILE).read_bytes()).get("dns") or "")
        kept_host, _, kept_port = kept.rpartition(":")
        if kept_host.strip("[]") == host and kept_port.isdigit():
            ports.append(int(kept_port))
    except (OSError, orjson.JSONDecodeError, AttributeError):
        pass
    for port in (*ports, DEFAULT_DNS_PORT):
        try:
            return bind(host, port)
        except StartupError:
            continue
    return bind(host, 0)
