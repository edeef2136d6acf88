"""What it takes to go from one spec to the next. Pure.

Frontends, rules and backends' settings live in the configuration: a change there needs a
reload. Servers (targets) can change at run time: added, removed, reweighted, drained.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from portside.dataplane.haproxy.names import backend_name, server_name
from portside.dataplane.haproxy.spec import Backend, ProxySpec, Server

ChangeKind = Literal["add", "remove", "weight", "drain", "ready"]


@dataclass(frozen=True)
class ServerChange:
    kind: ChangeKind
    backend: Backend  # the new spec's backend (the old one's for a removal)
    server: Server


def structure(spec: ProxySpec) -> ProxySpec:
    """`spec` without its servers: what only a reload can change."""
    return replace(spec, backends=tuple(replace(b, servers=()) for b in spec.backends))


def needs_reload(old: ProxySpec, new: ProxySpec) -> bool:
    return structure(old) != structure(new)


def server_changes(old: ProxySpec, new: ProxySpec) -> list[ServerChange]:
    """The runtime changes from `old` to `new`, two specs of the same structure.

    Removals come first, so a key whose address changed is deleted before it is re-added.
    """
    if needs_reload(old, new):
        raise ValueError("the specs differ beyond their servers: reload instead")
    removals: list[ServerChange] = []
    others: list[ServerChange] = []
    for new_backend in new.backends:
        old_backend = old.backend(new_backend.id)
        assert old_backend is not None  # same structure
        before = {s.key: s for s in old_backend.servers}
        after = {s.key: s for s in new_backend.servers}
        for key, server in before.items():
            target = after.get(key)
            if target is None or (target.address, target.port) != (server.address, server.port):
                removals.append(ServerChange("remove", old_backend, server))
        for key, server in after.items():
            prior = before.get(key)
            if prior is None or (prior.address, prior.port) != (server.address, server.port):
                others.append(ServerChange("add", new_backend, server))
                continue
            if prior.weight != server.weight:
                others.append(ServerChange("weight", new_backend, server))
            if prior.draining != server.draining:
                kind: ChangeKind = "drain" if server.draining else "ready"
                others.append(ServerChange(kind, new_backend, server))
    return removals + others


def state_lines_to_keep(state_text: str, spec: ProxySpec) -> str:
    """`show servers state` output cut to the servers `spec` keeps at the same address.

    Loaded by the reloaded process (`load-server-state-from-file`), it carries health,
    drain and weight across the reload; a server whose address changed starts afresh.
    """
    keep = {
        (backend_name(b.id), server_name(s.key), s.address, str(s.port))
        for b in spec.backends
        for s in b.servers
    }
    out: list[str] = []
    header: list[str] = []
    for line in state_text.splitlines():
        if not line.strip():
            continue
        if line.strip() == "1" and not out:
            out.append("1")
            continue
        if line.startswith("#"):
            header = line[1:].split()
            out.append(line)
            continue
        rec = dict(zip(header, line.split(), strict=False))
        ident = (rec.get("be_name"), rec.get("srv_name"), rec.get("srv_addr"), rec.get("srv_port"))
        if ident in keep:
            out.append(line)
    return "\n".join(out or ["1"]) + "\n"
