"""What the proxy must do, as values: the one input of the HAProxy data plane.

A `ProxySpec` says nothing of the ELB API; a translator builds it from load balancers,
listeners, rules and target groups. Conditions and actions follow ELB's meaning:

- wildcards: `*` matches any characters, `?` exactly one; host names (and header, query
  string values) compare case-insensitively, paths and methods case-sensitively;
- the values of one condition are alternatives (OR), the conditions of a rule all apply (AND);
- rules are tried in `priority` order (lowest first), then the frontend's `default`;
- a redirect's parts may hold ELB's placeholders `#{protocol}`, `#{host}`, `#{port}`,
  `#{path}` (the path without its leading `/`) and `#{query}` (without the `?`).

Ids and keys are free strings (ARNs will do): the renderer turns them into HAProxy names.
Durations are seconds (floats allowed, which the tests use to stay fast).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["http", "tcp"]
Algorithm = Literal["roundrobin", "leastconn"]
CheckProtocol = Literal["HTTP", "HTTPS", "TCP"]


# Conditions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PathPattern:
    """The request path (no query string) matches one of `values`; case-sensitive."""

    values: tuple[str, ...]


@dataclass(frozen=True)
class HostHeader:
    """The Host header, without its port, matches one of `values`; case-insensitive."""

    values: tuple[str, ...]


@dataclass(frozen=True)
class HttpHeader:
    """Header `name` matches one of `values`; case-insensitive."""

    name: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Method:
    """The request method is one of `values` exactly (no wildcards)."""

    values: tuple[str, ...]


@dataclass(frozen=True)
class QueryString:
    """One of `pairs` (key or None for any key, value) is in the query; case-insensitive."""

    pairs: tuple[tuple[str | None, str], ...]


@dataclass(frozen=True)
class SourceIp:
    """The client address is in one of `cidrs`."""

    cidrs: tuple[str, ...]


Condition = PathPattern | HostHeader | HttpHeader | Method | QueryString | SourceIp


# Actions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Forward:
    """Send to backends by weight; `stickiness` seconds keeps a client on one backend."""

    groups: tuple[tuple[str, int], ...]
    stickiness: float | None = None


@dataclass(frozen=True)
class Redirect:
    """ELB's redirect: each part a literal or holding placeholders; the defaults keep it."""

    protocol: str = "#{protocol}"
    host: str = "#{host}"
    port: str = "#{port}"
    path: str = "/#{path}"
    query: str = "#{query}"
    status: Literal[301, 302] = 301


@dataclass(frozen=True)
class FixedResponse:
    status: int
    content_type: str | None = None
    body: str = ""


Action = Forward | Redirect | FixedResponse


# The proxy --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    priority: int
    conditions: tuple[Condition, ...]
    action: Action


@dataclass(frozen=True)
class Frontend:
    """A listener: where it binds, what it speaks, and how it picks an action."""

    id: str
    bind_host: str
    port: int
    mode: Mode
    default: Action
    tls: str | None = None  # a PEM file holding the certificate and its key
    idle_timeout: float = 60.0
    rules: tuple[Rule, ...] = ()
    also_bind: tuple[str, ...] = ()  # more hosts it listens on, on the same port

    @property
    def binds(self) -> tuple[tuple[str, int], ...]:
        return tuple((h, self.port) for h in (self.bind_host, *self.also_bind))


@dataclass(frozen=True)
class HealthCheck:
    """A target group's health check. `matcher` is ELB's: '200', '200-299', '200,202'."""

    enabled: bool = True
    protocol: CheckProtocol = "HTTP"
    path: str = "/"
    port: int | None = None  # None: the server's own (traffic) port
    interval: float = 30.0
    timeout: float = 5.0
    healthy_threshold: int = 5
    unhealthy_threshold: int = 2
    matcher: str = "200"


@dataclass(frozen=True)
class Server:
    """A target. `key` names it for its whole life (an ELB target id and port will do)."""

    key: str
    address: str
    port: int
    weight: int = 1
    draining: bool = False


@dataclass(frozen=True)
class Backend:
    """A target group."""

    id: str
    mode: Mode
    algorithm: Algorithm = "roundrobin"
    health: HealthCheck = field(default_factory=HealthCheck)
    slow_start: float = 0.0  # seconds; 0 is off
    stickiness: float | None = None  # lb cookie duration in seconds; None is off
    # HAProxy's `retry-on` (which failures are retried on another server, with the
    # defaults' `retries 3` and `option redispatch`); None: connection failures only.
    retry_on: str | None = None
    servers: tuple[Server, ...] = ()


@dataclass(frozen=True)
class ProxySpec:
    frontends: tuple[Frontend, ...] = ()
    backends: tuple[Backend, ...] = ()

    def backend(self, backend_id: str) -> Backend | None:
        return next((b for b in self.backends if b.id == backend_id), None)
