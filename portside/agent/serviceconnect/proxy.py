"""A host's Service Connect view as the HAProxy data plane's `ProxySpec` (pure).

A client task reaches each name of its namespace at its network's gateway address (its
/etc/hosts says so, `plane.py`): one frontend per (gateway, port) that some client's names
use, in HTTP mode. One name on a port forwards to its backend; several names sharing a port
are told apart by the Host header (the name the client called), and a Host none of them has
gets a 404. A backend per target (a service's `services[]` entry) holds its tasks, with no
health checks of its own: the control plane's view says which tasks serve, and a request
that fails to connect or gets no answer is tried again on another task (`retry-on`,
`retries 3`, `option redispatch`), so a task that dies under a request costs no failure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from portside.dataplane.haproxy.spec import (
    Action,
    Backend,
    FixedResponse,
    Forward,
    Frontend,
    HealthCheck,
    HostHeader,
    ProxySpec,
    Rule,
    Server,
)
from portside.serviceconnect.protocol import ConnectView, Name

RETRY_ON = "conn-failure empty-response junk-response response-timeout 502 503 504"
NO_NAME = FixedResponse(404, "text/plain", "no Service Connect name on this port\n")


def frontend_id(gateway: str, port: int) -> str:
    return f"sc_{gateway}_{port}"


def hosts(view: ConnectView, task_arn: str, gateway: str) -> dict[str, str]:
    """The /etc/hosts entries of a client task: each name of its namespace -> `gateway`."""
    return {n.dns_name: gateway for n in view.names_for(task_arn)}


def spec_of(
    view: ConnectView,
    gateways: Mapping[str, str],
    bindable: Callable[[str, int], bool] = lambda host, port: True,
) -> tuple[ProxySpec, list[str]]:
    """The proxy for the client tasks `gateways` names (task ARN -> its gateway) and the
    problems met (a port that cannot be bound, two namespaces on one gateway and port)."""
    problems: list[str] = []
    binds: dict[tuple[str, int], dict[str, Name]] = {}
    owner: dict[tuple[str, int], str] = {}
    for task, gateway in sorted(gateways.items()):
        for name in view.names_for(task):
            at = (gateway, name.port)
            held = owner.setdefault(at, name.namespace)
            if held != name.namespace:
                problems.append(f"{gateway}:{name.port} serves namespace {held} already")
                continue
            binds.setdefault(at, {})[name.dns_name] = name
    used: dict[str, Name] = {}
    frontends = []
    for (gateway, port), names in sorted(binds.items()):
        if not bindable(gateway, port):
            problems.append(f"{gateway}:{port} cannot be bound (in use, or no such address)")
            continue
        ordered = sorted(names.values(), key=lambda n: n.dns_name)
        for n in ordered:
            used.setdefault(n.target, n)
        default: Action
        if len({n.target for n in ordered}) == 1:
            default = Forward(((ordered[0].target, 1),))
            rules: tuple[Rule, ...] = ()
        else:
            default = NO_NAME
            rules = tuple(
                Rule(i + 1, (HostHeader((n.dns_name,)),), Forward(((n.target, 1),)))
                for i, n in enumerate(ordered)
            )
        frontends.append(
            Frontend(frontend_id(gateway, port), gateway, port, "http", default, rules=rules)
        )
    backends = []
    for target, name in sorted(used.items()):
        servers = tuple(
            Server(f"{task.rsplit('/', 1)[-1]}:{port}", address, port)
            for address, port, task in sorted(set(name.servers))
        )
        backends.append(
            Backend(
                target,
                "http",
                health=HealthCheck(enabled=False),
                retry_on=RETRY_ON,
                servers=_unique(servers),
            )
        )
    return ProxySpec(tuple(frontends), tuple(backends)), problems


def _unique(servers: tuple[Server, ...]) -> tuple[Server, ...]:
    seen: set[str] = set()
    out = []
    for s in servers:
        if s.key not in seen:
            seen.add(s.key)
            out.append(s)
    return tuple(out)
