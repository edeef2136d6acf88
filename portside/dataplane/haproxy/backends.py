"""Target groups as HAProxy backends, and the server arguments shared with `add server`.

A server line and a runtime `add server` take the same arguments, so a target added at run
time and the same target written in the next configuration behave alike. HAProxy 2.6 takes
no `cookie` on `add server`: stickiness uses dynamic cookies (a hash of the server's address,
port and the backend's key), which the runtime regenerates after an add.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re

from portside.dataplane.haproxy.names import backend_name, quote, server_name
from portside.dataplane.haproxy.spec import Backend, Server

STICKY_COOKIE = "AWSALB"
_MATCHER = re.compile(r"^[0-9]{3}(-[0-9]{3})?(,[0-9]{3}(-[0-9]{3})?)*$")
HEALTH_USER_AGENT = "ELB-HealthChecker/2.0"


def ms(seconds: float) -> str:
    """A duration for haproxy.cfg, in milliseconds (at least 1)."""
    millis = max(1, round(seconds * 1000))
    return f"{millis // 1000}s" if millis % 1000 == 0 else f"{millis}ms"


def cookie_key(backend_id: str) -> str:
    """The backend's dynamic-cookie secret: stable, so cookies survive reloads."""
    return hashlib.sha256(("portside-sticky:" + backend_id).encode()).hexdigest()[:24]


def address(server: Server) -> str:
    try:
        ip = ipaddress.ip_address(server.address)
    except ValueError:
        ip = None
    if ip is not None and ip.version == 6:
        return f"ipv6@{server.address}:{server.port}"
    return f"{server.address}:{server.port}"


def server_args(backend: Backend, server: Server, weight: int | None = None) -> str:
    """What follows the address on a `server` line or an `add server` command (`weight`
    in place of the server's own, for a server added before it may take traffic)."""
    weight = server.weight if weight is None else weight
    if not 0 <= weight <= 256:
        raise ValueError(f"server weight {weight} is outside 0-256")
    args = [f"weight {weight}"]
    health = backend.health
    if health.enabled:
        args += [
            "check",
            f"inter {ms(health.interval)}",
            f"fall {health.unhealthy_threshold}",
            f"rise {health.healthy_threshold}",
        ]
        if health.port is not None:
            args.append(f"port {health.port}")
        if health.protocol == "HTTPS":
            args.append("check-ssl verify none")
    if backend.slow_start > 0:
        args.append(f"slowstart {ms(backend.slow_start)}")
    return " ".join(args)


def server_line(backend: Backend, server: Server) -> str:
    return f"server {server_name(server.key)} {address(server)} {server_args(backend, server)}"


def backend_section(backend: Backend, idle_timeout: float) -> list[str]:
    """The `backend` section; `idle_timeout` is the longest of the frontends using it."""
    health = backend.health
    body = [
        f"mode {backend.mode}",
        f"balance {backend.algorithm}",
        f"timeout server {ms(idle_timeout)}",
        f"timeout tunnel {ms(idle_timeout)}",
    ]
    if backend.retry_on is not None:
        body.append(f"retry-on {backend.retry_on}")
    if health.enabled:
        body.append(f"timeout check {ms(health.timeout)}")
        if health.protocol in ("HTTP", "HTTPS"):
            if not _MATCHER.match(health.matcher):
                raise ValueError(f"health check matcher {health.matcher!r} is not ELB's form")
            body += [
                "option httpchk",
                f"http-check send meth GET uri {quote(health.path)} ver HTTP/1.0"
                f" hdr User-Agent {HEALTH_USER_AGENT}",
                f"http-check expect status {health.matcher}",
            ]
    if backend.stickiness is not None and backend.mode == "http":
        seconds = max(1, round(backend.stickiness))
        body += [
            f"cookie {STICKY_COOKIE} insert indirect nocache dynamic maxlife {seconds}s"
            f" attr {quote(f'Max-Age={seconds}')}",
            f"dynamic-cookie-key {cookie_key(backend.id)}",
        ]
    body += [server_line(backend, s) for s in backend.servers]
    return [f"backend {backend_name(backend.id)}", *("    " + line for line in body)]
