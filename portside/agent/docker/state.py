"""Docker's view of a container turned into the driver's: `docker inspect` -> ContainerState,
NetworkSettings.Ports -> ECS networkBindings, Docker events -> DriverEvents. Pure functions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from portside.agent.driver import ContainerState, DriverEvent

Json = Mapping[str, Any]

# Docker State.Status -> the driver's status.
_STATUS = {
    "created": "created",
    "running": "running",
    "paused": "running",
    "restarting": "running",
    "removing": "exited",
    "exited": "exited",
    "dead": "exited",
}
# Docker health -> ECS healthStatus (ECS agent: "starting" is not yet known).
_HEALTH = {"starting": "UNKNOWN", "healthy": "HEALTHY", "unhealthy": "UNHEALTHY"}
# Docker event action -> DriverEvent kind. health_status actions carry the status after a
# colon ("health_status: healthy").
_EVENTS = {"die": "die", "oom": "oom", "start": "start", "destroy": "destroy"}
EVENT_ACTIONS = ["die", "oom", "health_status", "start", "destroy"]

_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")


def container_state(attrs: Json, image_digest: str | None = None) -> ContainerState:
    """One `docker inspect` result as the driver reports it."""
    state = attrs.get("State") or {}
    status = _STATUS.get(str(state.get("Status")), "exited")
    health = (state.get("Health") or {}).get("Status")
    return ContainerState(
        runtime_id=str(attrs["Id"]),
        status=status,
        exit_code=int(state.get("ExitCode", 0)) if status == "exited" else None,
        oom_killed=bool(state.get("OOMKilled")),
        error=state.get("Error") or None,
        health=_HEALTH.get(str(health)) if health else None,
        started_at=parse_time(state.get("StartedAt")),
        finished_at=parse_time(state.get("FinishedAt")) if status == "exited" else None,
        image_digest=image_digest,
        network_bindings=network_bindings(attrs),
        labels=dict((attrs.get("Config") or {}).get("Labels") or {}),
    )


def network_bindings(attrs: Json) -> list[dict[str, Any]]:
    """ECS networkBindings from NetworkSettings.Ports: one per Docker binding, as the ECS agent
    reports them (PortBindingFromDockerPortBinding), so a port published on both IPv4 and
    IPv6 appears twice (bindIP 0.0.0.0 and ::). Exposed but unpublished ports have none."""
    ports = (attrs.get("NetworkSettings") or {}).get("Ports") or {}
    out = []
    for key, bindings in sorted(ports.items()):
        port, _, proto = str(key).partition("/")
        for b in bindings or ():
            if not b.get("HostPort"):
                continue
            out.append(
                {
                    "bindIP": b.get("HostIp") or "0.0.0.0",
                    "containerPort": int(port),
                    "hostPort": int(b["HostPort"]),
                    "protocol": proto or "tcp",
                }
            )
    return out


def image_digest(image_attrs: Json) -> str | None:
    """The image's registry digest ("sha256:..."), or its local ID when it was never pushed
    or pulled by digest (a locally built image has no RepoDigests)."""
    for ref in image_attrs.get("RepoDigests") or ():
        if "@" in ref:
            return str(ref.split("@", 1)[1])
    image_id = image_attrs.get("Id")
    return str(image_id) if image_id else None


def driver_event(event: Json) -> DriverEvent | None:
    """A Docker container event as a DriverEvent, or None for the actions we don't follow."""
    if event.get("Type", "container") != "container":
        return None
    action = str(event.get("Action") or event.get("status") or "")
    kind = "health" if action.startswith("health_status") else _EVENTS.get(action)
    runtime_id = event.get("id") or (event.get("Actor") or {}).get("ID")
    if kind is None or not runtime_id:
        return None
    return DriverEvent(runtime_id=str(runtime_id), kind=kind)


def parse_time(value: Any) -> float | None:
    """Docker's RFC 3339 time with nanoseconds -> epoch seconds; its zero time -> None."""
    if not value or str(value).startswith("0001-"):
        return None
    match = _TIME.match(str(value))
    if match is None:
        return None
    base, fraction, zone = match.groups()
    stamp = datetime.fromisoformat(base + ("+00:00" if zone == "Z" else zone)).timestamp()
    return stamp + (int(fraction) / 10 ** len(fraction) if fraction else 0.0)
