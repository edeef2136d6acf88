"""`binpack`: prefer the instance with the least of a resource left (cpu or memory).

The guide: a task goes to "the instance with the least amount of remaining memory but still
enough to run the task". Only feasible instances are ranked, and the task's demand is the same
on every instance, so ranking by what is free now ranks by what would be left."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from portside.scheduler.pipeline import Running

FIELDS: Final = ("cpu", "memory")


@dataclass(frozen=True, slots=True)
class Binpack:
    field: str  # one of FIELDS

    def key(self, run: Running) -> Callable[[int], int]:
        return (run.cpu if self.field == "cpu" else run.memory).__getitem__
