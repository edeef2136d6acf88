"""A `ProxySpec` as haproxy.cfg text. Pure: the same spec and paths give the same text."""

from __future__ import annotations

from dataclasses import dataclass

from portside.dataplane.haproxy.backends import backend_section, ms
from portside.dataplane.haproxy.frontends import frontend_section
from portside.dataplane.haproxy.names import backend_name, frontend_name, quote
from portside.dataplane.haproxy.spec import Forward, Frontend, ProxySpec

DEFAULT_IDLE = 60.0


@dataclass(frozen=True)
class Runtime:
    """Where the process keeps its runtime files, how long an old worker may linger, and how
    many threads it runs."""

    admin_socket: str
    state_file: str | None = None  # servers' state, saved before a reload and loaded by it
    hard_stop_after: float = 300.0
    threads: int | None = None  # None: HAProxy's default, a thread per usable core


def render(spec: ProxySpec, runtime: Runtime) -> str:
    _check_unique(spec)
    lines = [*_global(runtime), "", *_defaults(runtime)]
    backends = {b.id: b.mode for b in spec.backends}
    for frontend in spec.frontends:
        lines.append("")
        lines += frontend_section(frontend, frontend_name(frontend.id), backends)
    idle = _backend_idle(spec)
    for backend in spec.backends:
        lines.append("")
        lines += backend_section(backend, idle.get(backend.id, DEFAULT_IDLE))
    return "\n".join(lines) + "\n"


def _global(runtime: Runtime) -> list[str]:
    lines = [
        "global",
        "    master-worker",
        f"    stats socket {quote(runtime.admin_socket)} mode 600 level admin expose-fd listeners",
        "    stats timeout 30s",
        f"    hard-stop-after {ms(runtime.hard_stop_after)}",
    ]
    if runtime.threads is not None:
        if runtime.threads < 1:
            raise ValueError(f"haproxy threads {runtime.threads} is below 1")
        lines.append(f"    nbthread {runtime.threads}")
    if runtime.state_file is not None:
        lines.append(f"    server-state-file {quote(runtime.state_file)}")
    return lines


def _defaults(runtime: Runtime) -> list[str]:
    lines = [
        "defaults",
        "    timeout connect 5s",
        f"    timeout client {ms(DEFAULT_IDLE)}",
        f"    timeout server {ms(DEFAULT_IDLE)}",
        "    timeout http-request 60s",
        "    retries 3",
        "    option redispatch 1",
        "    option dontlognull",
    ]
    if runtime.state_file is not None:
        lines.append("    load-server-state-from-file global")
    return lines


def _backend_idle(spec: ProxySpec) -> dict[str, float]:
    """Each backend's idle timeout: the longest of the frontends that forward to it."""
    idle: dict[str, float] = {}
    for frontend in spec.frontends:
        for backend_id in _forwarded(frontend):
            idle[backend_id] = max(idle.get(backend_id, 0.0), frontend.idle_timeout)
    return idle


def _forwarded(frontend: Frontend) -> set[str]:
    actions = [frontend.default, *(r.action for r in frontend.rules)]
    return {b for a in actions if isinstance(a, Forward) for b, _ in a.groups}


def _check_unique(spec: ProxySpec) -> None:
    names = [frontend_name(f.id) for f in spec.frontends]
    names += [backend_name(b.id) for b in spec.backends]
    if len(set(names)) != len(names):
        raise ValueError("two frontends or backends share an id")
    binds = [b for f in spec.frontends for b in f.binds]
    if len(set(binds)) != len(binds):
        raise ValueError("two frontends bind the same address and port")
    for backend in spec.backends:
        keys = [s.key for s in backend.servers]
        if len(set(keys)) != len(keys):
            raise ValueError(f"backend {backend.id}: two servers share a key")
