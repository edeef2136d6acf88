"""Only instances of the task's launch type (EC2 or EXTERNAL) and, when the task came through a
capacity provider, of that provider are candidates at all.

ECS never lists the others in a call's failures, so their reason is reported to nobody: it
only counts in the placement's explanation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from portside.scheduler.pipeline import Running

REASON: Final = "LAUNCH_TYPE"


@dataclass(frozen=True, slots=True)
class LaunchType:
    launch_type: str
    capacity_provider: str | None
    reason: str = REASON
    dynamic: bool = False

    def admit(self, run: Running, indices: list[int]) -> list[int]:
        cs, launch_type, provider = run.candidates, self.launch_type, self.capacity_provider
        if provider is None:
            return [i for i in indices if cs[i].launch_type == launch_type]
        return [
            i
            for i in indices
            if cs[i].launch_type == launch_type and cs[i].capacity_provider == provider
        ]
