"""The instance must be ACTIVE with its agent connected. A disconnected agent is ECS's
`AGENT`; a DRAINING (or otherwise not ACTIVE) instance takes no new tasks either, reported the
same way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from portside.model.container_instance import ACTIVE

if TYPE_CHECKING:
    from portside.scheduler.pipeline import Running

REASON: Final = "AGENT"


@dataclass(frozen=True, slots=True)
class Agent:
    reason: str = REASON
    dynamic: bool = False

    def admit(self, run: Running, indices: list[int]) -> list[int]:
        cs = run.candidates
        return [i for i in indices if cs[i].agent_connected and cs[i].status == ACTIVE]
