"""Static host ports: none the task maps may be taken on the instance (reserved by the agent,
or used by a task), else `RESOURCE:PORTS` for TCP.

ECS registers an instance's ports as two resources, PORTS and PORTS_UDP, and reports a
resource that ran short as `RESOURCE:<name>`; so a UDP clash is `RESOURCE:PORTS_UDP`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from portside.scheduler.pipeline import Running

TCP: Final = "RESOURCE:PORTS"
UDP: Final = "RESOURCE:PORTS_UDP"


@dataclass(frozen=True, slots=True)
class Ports:
    reason: str  # TCP or UDP
    ports: tuple[int, ...]
    dynamic: bool = True

    def admit(self, run: Running, indices: list[int]) -> list[int]:
        taken, ports = (run.tcp if self.reason == TCP else run.udp), self.ports
        return [i for i in indices if taken[i].isdisjoint(ports)]
