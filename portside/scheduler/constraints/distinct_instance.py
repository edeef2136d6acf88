"""`distinctInstance`: "each task in a particular group is running on a different container
instance" (API reference, PlacementConstraint). An instance already running a task of the
group, one placed earlier in this batch included, is turned away with ECS's
"DistinctInstance placement constraint unsatisfied."."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from portside.scheduler.pipeline import Running

REASON: Final = "DistinctInstance placement constraint unsatisfied."


@dataclass(frozen=True, slots=True)
class DistinctInstance:
    reason: str = REASON
    dynamic: bool = True

    def admit(self, run: Running, indices: list[int]) -> list[int]:
        group = run.group
        return [i for i in indices if group[i] == 0]
