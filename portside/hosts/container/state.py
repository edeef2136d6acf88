"""A host container's Docker state as a host state and, when it ended by itself, the reason
EC2's side shows (`Host.reason`). Pure.

A running container is RUNNING here; the provider keeps it PENDING until its agent has
registered. Anything else (exited, dead, created and never started, removing) is STOPPED.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portside.hosts.provider import HostState

SIGNALS = {137: "killed", 143: "terminated"}


def container_state(state: Mapping[str, Any]) -> tuple[HostState, str]:
    """(host state, reason) from `docker inspect`'s State."""
    status = str(state.get("Status") or "")
    if status in ("running", "restarting", "paused"):
        return HostState.RUNNING, ""
    if status == "created":
        return HostState.STOPPED, "Host container was created but never started"
    code = int(state.get("ExitCode") or 0)
    if state.get("OOMKilled"):
        return HostState.STOPPED, f"Host container ran out of memory (exit code {code})"
    why = f"Host container exited with code {code}"
    if code in SIGNALS:
        why += f" ({SIGNALS[code]})"
    if state.get("Error"):
        why += f": {state['Error']}"
    return HostState.STOPPED, why
