"""A host's network view: what its agent enforces and wires for the awsvpc tasks it runs.

    POST /_portside/agent/v1/network   NetworkViewRequest -> NetworkView

A long poll like the sync: the gateway answers at once when the view differs from the
`version` the agent holds (none at first), else as soon as it changes, else after `wait`
seconds with the same view. The view is built from the store by `ec2/host_view.py` for the
session's instances:

- `enis`: every ENI of an awsvpc task on those instances (task, address, subnet, MAC, groups);
- `rules`: the stored rules of those groups (EC2's SecurityGroupRule documents, as
  `ec2/traffic.py` reads them), both directions;
- `members`: for every group those rules name as a peer, the addresses of its ENIs in the
  region, on any host (the default group's rule naming itself included);
- `subnets`: each local subnet's block and VPC;
- `subnet_peers`: for each local subnet, the underlay addresses of the other hosts that run
  tasks with ENIs in it (their `ecs.private-ip`), sorted: where a cross-host subnet reaches.

`version` is a digest of the rest: equal views have equal versions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from portside.gateway.protocol import PREFIX

NETWORK = f"{PREFIX}/network"
Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class NetworkViewRequest:
    """The agent's ask: its session, the version it holds ("" for none), how long to wait."""

    session: str
    version: str = ""
    wait: float = 20.0

    def to_wire(self) -> Json:
        return {"session": self.session, "version": self.version, "wait": self.wait}

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> NetworkViewRequest:
        return cls(str(d["session"]), str(d.get("version") or ""), float(d.get("wait", 20.0)))


@dataclass(frozen=True, slots=True)
class LocalEni:
    """An awsvpc task's ENI on this host."""

    task_arn: str
    address: str
    subnet_id: str
    mac: str
    groups: tuple[str, ...]

    def to_wire(self) -> Json:
        return {
            "taskArn": self.task_arn,
            "address": self.address,
            "subnetId": self.subnet_id,
            "mac": self.mac,
            "groups": list(self.groups),
        }

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> LocalEni:
        return cls(
            str(d["taskArn"]),
            str(d["address"]),
            str(d["subnetId"]),
            str(d.get("mac") or ""),
            tuple(str(g) for g in d.get("groups") or ()),
        )


@dataclass(frozen=True, slots=True)
class SubnetInfo:
    """A subnet's block and VPC."""

    cidr: str
    vpc_id: str

    def to_wire(self) -> Json:
        return {"cidr": self.cidr, "vpcId": self.vpc_id}

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> SubnetInfo:
        return cls(str(d["cidr"]), str(d["vpcId"]))


@dataclass(frozen=True, slots=True)
class NetworkView:
    """See the module docstring. `rules` are stored rule documents (plain JSON)."""

    version: str
    enis: list[LocalEni] = field(default_factory=list)
    rules: list[Json] = field(default_factory=list)
    members: dict[str, list[str]] = field(default_factory=dict)
    subnets: dict[str, SubnetInfo] = field(default_factory=dict)
    subnet_peers: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        enis: list[LocalEni],
        rules: list[Json],
        members: dict[str, list[str]],
        subnets: dict[str, SubnetInfo],
        subnet_peers: dict[str, list[str]],
    ) -> NetworkView:
        """A view with its version computed from its content."""
        view = cls("", enis, rules, members, subnets, subnet_peers)
        body = orjson.dumps(view._content(), option=orjson.OPT_SORT_KEYS)
        return cls(
            hashlib.sha256(body).hexdigest()[:20], enis, rules, members, subnets, subnet_peers
        )

    def _content(self) -> Json:
        return {
            "enis": [e.to_wire() for e in self.enis],
            "rules": self.rules,
            "members": self.members,
            "subnets": {k: v.to_wire() for k, v in self.subnets.items()},
            "subnetPeers": self.subnet_peers,
        }

    def to_wire(self) -> Json:
        return {"version": self.version, **self._content()}

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> NetworkView:
        return cls(
            version=str(d["version"]),
            enis=[LocalEni.from_wire(e) for e in d.get("enis") or ()],
            rules=[dict(r) for r in d.get("rules") or ()],
            members={str(k): [str(a) for a in v] for k, v in (d.get("members") or {}).items()},
            subnets={str(k): SubnetInfo.from_wire(v) for k, v in (d.get("subnets") or {}).items()},
            subnet_peers={
                str(k): [str(a) for a in v] for k, v in (d.get("subnetPeers") or {}).items()
            },
        )


EMPTY = NetworkView.of([], [], {}, {}, {})
