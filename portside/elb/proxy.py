"""The load balancers as the proxy's spec: ELB's resources (view.py) -> `ProxySpec` (the
HAProxy data plane's one input, portside/dataplane/haproxy/spec.py). Pure.

- A listener is a frontend on the host, on its own port, bound to `bind_host`. Two
  listeners on one port (of two load balancers) cannot both bind it: the load balancer
  first by ARN keeps the port. When `bind_host` is a loopback address, every listener also
  binds its load balancer's own address (elb/addresses.py), so the other listener is still
  served there; otherwise it is left out and named in `Translation.problems`.
- A target group is a backend; `instance` targets are reached at their container instance's
  address (`instance_address`; a target whose instance is unknown is left out until it is
  known), `ip` targets at their IP. A draining target stays, marked draining, until the sweep
  removes it when its deregistration delay ends.
- A listener's certificate is a PEM file the caller writes (`cert_file`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from portside.dataplane.haproxy import spec
from portside.elb import view
from portside.elb.addresses import on_loopback, own_address

TCP_PROTOCOLS = {"TCP", "TLS", "UDP", "TCP_UDP"}
ALGORITHMS: dict[str, spec.Algorithm] = {
    "round_robin": "roundrobin",
    "least_outstanding_requests": "leastconn",
}


@dataclass(frozen=True)
class Translation:
    spec: spec.ProxySpec
    problems: tuple[str, ...] = ()
    # (target group ARN, target id, port) -> the server key the proxy knows it by
    servers: dict[tuple[str, str, int], str] = field(default_factory=dict)
    # server key -> when its target was registered (epoch seconds)
    registered: dict[str, float] = field(default_factory=dict)


def server_key(target_group_arn: str, target_id: str, port: int) -> str:
    return f"{target_group_arn}|{target_id}|{port}"


def translate(
    balancers: list[view.LoadBalancer],
    *,
    bind_host: str,
    instance_address: Callable[[str], str | None],
    cert_file: Callable[[view.Certificate], str],
) -> Translation:
    frontends: list[spec.Frontend] = []
    backends: dict[str, spec.Backend] = {}
    problems: list[str] = []
    servers: dict[tuple[str, str, int], str] = {}
    registered: dict[str, float] = {}
    taken: dict[int, str] = {}
    own = on_loopback(bind_host)
    for lb in sorted(balancers, key=lambda b: b.arn):
        idle = float(lb.attributes.get("idle_timeout.timeout_seconds", "60"))
        mine = own_address(lb.arn) if own else None
        for listener in lb.listeners:
            owner = taken.get(listener.port)
            front = _frontend(listener, bind_host, idle, cert_file)
            if owner is None:
                taken[listener.port] = lb.name
                frontends.append(replace(front, also_bind=(mine,) if mine else ()))
            elif mine is not None:
                frontends.append(replace(front, bind_host=mine))
            else:
                problems.append(
                    f"listener {listener.arn}: port {listener.port} is already served by a "
                    f"listener of {owner}; this one is not bound"
                )
        for group in lb.target_groups.values():
            if group.arn not in backends:
                backends[group.arn] = _backend(group, instance_address, servers, registered)
    return Translation(
        spec.ProxySpec(tuple(frontends), tuple(backends[k] for k in sorted(backends))),
        tuple(problems),
        servers,
        registered,
    )


def _frontend(
    listener: view.Listener,
    bind_host: str,
    idle: float,
    cert_file: Callable[[view.Certificate], str],
) -> spec.Frontend:
    mode: spec.Mode = "tcp" if listener.protocol in TCP_PROTOCOLS else "http"
    rules = [r for r in listener.rules if r.priority is not None]
    default = next((r for r in listener.rules if r.priority is None), None)
    tls = cert_file(listener.certificates[0]) if listener.certificates else None
    return spec.Frontend(
        id=listener.arn,
        bind_host=bind_host,
        port=listener.port,
        mode=mode,
        default=_action(default.action)
        if default is not None
        else spec.FixedResponse(503, "text/plain", ""),
        tls=tls if listener.protocol in ("HTTPS", "TLS") else None,
        idle_timeout=idle,
        rules=tuple(
            spec.Rule(
                r.priority or 0, tuple(_condition(c) for c in r.conditions), _action(r.action)
            )
            for r in rules
        ),
    )


def _condition(c: view.Condition) -> spec.Condition:
    if c.field == "path-pattern":
        return spec.PathPattern(c.values)
    if c.field == "host-header":
        return spec.HostHeader(c.values)
    if c.field == "http-header":
        return spec.HttpHeader(c.header_name or "", c.values)
    if c.field == "http-request-method":
        return spec.Method(c.values)
    if c.field == "query-string":
        return spec.QueryString(c.pairs)
    if c.field == "source-ip":
        return spec.SourceIp(c.values)
    raise ValueError(f"unknown condition field {c.field}")


def _action(a: view.Action) -> spec.Action:
    if a.type == "forward":
        return spec.Forward(
            tuple((g.target_group_arn, g.weight) for g in a.groups),
            float(a.stickiness_seconds) if a.stickiness_seconds else None,
        )
    if a.type == "redirect":
        r = a.redirect or {}
        return spec.Redirect(
            protocol=r.get("Protocol") or "#{protocol}",
            host=r.get("Host") or "#{host}",
            port=r.get("Port") or "#{port}",
            path=r.get("Path") or "/#{path}",
            query=r.get("Query", "#{query}"),
            status=302 if r.get("StatusCode") == "HTTP_302" else 301,
        )
    f = a.fixed or {}
    return spec.FixedResponse(
        int(f.get("StatusCode") or 503), f.get("ContentType"), f.get("MessageBody") or ""
    )


def _backend(
    group: view.TargetGroup,
    instance_address: Callable[[str], str | None],
    servers: dict[tuple[str, str, int], str],
    registered: dict[str, float],
) -> spec.Backend:
    check = group.health_check
    attrs = group.attributes
    sticky = (
        float(attrs.get("stickiness.lb_cookie.duration_seconds", "86400"))
        if attrs.get("stickiness.enabled") == "true"
        and attrs.get("stickiness.type", "lb_cookie") == "lb_cookie"
        else None
    )
    members: list[spec.Server] = []
    for target in group.targets:
        address = target.id if group.target_type == "ip" else instance_address(target.id)
        if address is None:
            continue
        key = server_key(group.arn, target.id, target.port)
        servers[(group.arn, target.id, target.port)] = key
        registered[key] = target.registered_at
        members.append(spec.Server(key, address, target.port, 1, target.draining))
    mode: spec.Mode = "tcp" if group.protocol in TCP_PROTOCOLS else "http"
    protocol: spec.CheckProtocol = (
        "TCP" if check.protocol == "TCP" else "HTTPS" if check.protocol == "HTTPS" else "HTTP"
    )
    return spec.Backend(
        id=group.arn,
        mode=mode,
        algorithm=ALGORITHMS.get(group.algorithm, "roundrobin"),
        health=spec.HealthCheck(
            enabled=check.enabled,
            protocol=protocol,
            path=check.path or "/",
            port=None if check.port == "traffic-port" else int(check.port),
            interval=float(check.interval_seconds),
            timeout=float(check.timeout_seconds),
            healthy_threshold=check.healthy_threshold,
            unhealthy_threshold=check.unhealthy_threshold,
            matcher=check.matcher or "200",
        ),
        slow_start=float(attrs.get("slow_start.duration_seconds", "0")),
        stickiness=sticky,
        servers=tuple(sorted(members, key=lambda s: s.key)),
    )
