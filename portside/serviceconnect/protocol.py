"""The agent protocol's Service Connect messages (both ends import them; no store, no
server code here).

    POST /_portside/agent/v1/serviceconnect   ConnectRequest -> ConnectView

A long poll like the network view's: answered at once when the host's view differs from the
`version` the agent holds, else when it changes, else after `wait` seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from portside.gateway.protocol import PREFIX

ROUTE = f"{PREFIX}/serviceconnect"
Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ConnectRequest:
    session: str
    version: str = ""
    wait: float = 20.0

    def to_wire(self) -> Json:
        return {"session": self.session, "version": self.version, "wait": self.wait}

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> ConnectRequest:
        return cls(str(d["session"]), str(d.get("version") or ""), float(d.get("wait", 20.0)))


@dataclass(frozen=True, slots=True)
class Name:
    """A name clients reach and the (address, port, task ARN) serving it."""

    namespace: str
    dns_name: str
    port: int
    target: str
    servers: tuple[tuple[str, int, str], ...]


@dataclass(frozen=True, slots=True)
class ConnectView:
    version: str
    clients: Mapping[str, str]  # task ARN -> namespace ARN
    names: tuple[Name, ...]

    def to_wire(self) -> Json:
        return {
            "version": self.version,
            "clients": dict(self.clients),
            "names": [
                [n.namespace, n.dns_name, n.port, n.target, [list(s) for s in n.servers]]
                for n in self.names
            ],
        }

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> ConnectView:
        names = tuple(
            Name(
                str(ns),
                str(dns),
                int(port),
                str(target),
                tuple((str(a), int(p), str(t)) for a, p, t in servers),
            )
            for ns, dns, port, target, servers in d.get("names") or ()
        )
        clients = {str(k): str(v) for k, v in (d.get("clients") or {}).items()}
        return cls(str(d.get("version") or ""), clients, names)

    def names_for(self, task_arn: str) -> list[Name]:
        """The names a client task reaches (its namespace's)."""
        namespace = self.clients.get(task_arn)
        return [n for n in self.names if n.namespace == namespace] if namespace else []
