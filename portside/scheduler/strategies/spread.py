"""`spread`: prefer the instance, or the attribute value, with the fewest tasks of the group.

The guide: "Service tasks are spread based on the tasks from that service. Standalone tasks
are spread based on the tasks from the same task group." A service's tasks are its group
(`service:NAME`), so both count tasks of the ask's group. For an attribute, a value's count is
the group's tasks on every instance carrying it, full or not (as the service scheduler counts
"running tasks for this service in the same Availability Zone"); instances without the
attribute form one more value of their own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from portside.scheduler.pipeline import Running

INSTANCE_FIELDS = ("instanceId", "host")  # the same thing, per the API reference


@dataclass(frozen=True, slots=True)
class SpreadInstance:
    def key(self, run: Running) -> Callable[[int], int]:
        return run.group.__getitem__


@dataclass(frozen=True, slots=True)
class SpreadAttribute:
    attribute: str

    def values(self, run: Running) -> list[str | None]:
        name = self.attribute
        return [c.attributes.get(name) for c in run.candidates]

    def counts(self, run: Running, values: list[str | None]) -> dict[str | None, int]:
        counts: dict[str | None, int] = {}
        for value, tasks in zip(values, run.group, strict=True):
            counts[value] = counts.get(value, 0) + tasks
        return counts
