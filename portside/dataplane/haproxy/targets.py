"""Targets changed on a running HAProxy through its runtime API, with no reload.

HAProxy 2.6 creates a server of `add server` in maintenance with its checks off. A new target
must take no traffic before it passes `rise` checks (ELB's initial state), so it is added
with weight 0, its checks enabled, made ready, forced down, and only then given its weight:
from there HAProxy brings it up after `rise` passing checks.

A removal is maintenance (no new traffic), the remaining sessions shut (the caller drained
them first), then `del server`, which HAProxy refuses while a connection is still closing:
the caller retries it.
"""

from __future__ import annotations

from portside.dataplane.haproxy.backends import address, cookie_key, server_args
from portside.dataplane.haproxy.changes import ServerChange
from portside.dataplane.haproxy.names import backend_name, server_name
from portside.dataplane.haproxy.parsing import ServerState
from portside.dataplane.haproxy.runtime import RuntimeApi, RuntimeApiError
from portside.dataplane.haproxy.spec import Backend, ProxySpec, Server


def add(api: RuntimeApi, backend: Backend, server: Server) -> None:
    be, srv = backend_name(backend.id), server_name(server.key)
    checked = backend.health.enabled
    args = server_args(backend, server, weight=0 if checked else None)
    api.add_server(be, srv, address(server), args)
    if checked:
        api.enable_health(be, srv)
        api.set_state(be, srv, "ready")
        api.set_health(be, srv, "down")
        api.set_weight(be, srv, server.weight)
    api.set_state(be, srv, "drain" if server.draining else "ready")
    if backend.stickiness is not None and backend.mode == "http":
        api.set_dynamic_cookie_key(be, cookie_key(backend.id))


def remove(api: RuntimeApi, backend_id: str, server_key: str) -> bool:
    """Take a server out; False when HAProxy still holds a connection to it (retry)."""
    be, srv = backend_name(backend_id), server_name(server_key)
    try:
        api.set_state(be, srv, "maint")
    except RuntimeApiError as exc:
        if "No such server" in str(exc):
            return True
        raise
    api.shutdown_sessions(be, srv)
    try:
        api.del_server(be, srv)
    except RuntimeApiError:
        return False
    return True


def apply_change(api: RuntimeApi, change: ServerChange) -> bool:
    """Make one change; False for a removal HAProxy has not finished (retry it)."""
    be, srv = backend_name(change.backend.id), server_name(change.server.key)
    if change.kind == "add":
        add(api, change.backend, change.server)
    elif change.kind == "remove":
        return remove(api, change.backend.id, change.server.key)
    elif change.kind == "weight":
        api.set_weight(be, srv, change.server.weight)
    else:
        api.set_state(be, srv, "drain" if change.kind == "drain" else "ready")
    return True


def sync(api: RuntimeApi, spec: ProxySpec, states: list[ServerState]) -> None:
    """Bring weights and drain of the running servers to `spec` (after a start or reload,
    where the configuration or the saved state may say otherwise)."""
    running = {(s.backend, s.server): s for s in states}
    for backend in spec.backends:
        for server in backend.servers:
            be, srv = backend_name(backend.id), server_name(server.key)
            state = running.get((be, srv))
            if state is None:
                continue
            if state.user_weight != server.weight:
                api.set_weight(be, srv, server.weight)
            if state.draining != server.draining and not state.in_maintenance:
                api.set_state(be, srv, "drain" if server.draining else "ready")
