"""CPU units, memory and GPUs: the instance must have at least the task's demand left.

Memory is the task's reservation as Demand computes it (task-level memory, else each
container's memoryReservation where given, else its memory). ECS names the resource that ran
short: `RESOURCE:CPU`, `RESOURCE:MEMORY`, `RESOURCE:GPU` (developer guide, "API failure
reasons")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from portside.scheduler.pipeline import Running

CPU: Final = "RESOURCE:CPU"
MEMORY: Final = "RESOURCE:MEMORY"
GPU: Final = "RESOURCE:GPU"
_COUNTERS: Final = {CPU: "cpu", MEMORY: "memory", GPU: "gpus"}


@dataclass(frozen=True, slots=True)
class Resource:
    reason: str  # CPU, MEMORY or GPU: also names the counter
    amount: int
    dynamic: bool = True

    def admit(self, run: Running, indices: list[int]) -> list[int]:
        free: list[int] = getattr(run, _COUNTERS[self.reason])
        amount = self.amount
        return [i for i in indices if free[i] >= amount]
