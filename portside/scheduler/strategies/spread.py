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
from itertools import compress
from operator import attrgetter
from typing import TYPE_CHECKING

from portside.scheduler.candidates import lookup

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
        """Each instance's value of the attribute (None where it has none)."""
        return lookup(list(map(attrgetter("attributes"), run.candidates)), self.attribute)

    def counts(self, run: Running, values: list[str | None]) -> dict[str | None, int]:
        """Tasks of the group per value, over every instance."""
        counts = dict.fromkeys(values, 0)
        # Only instances running tasks of the group add anything (compress and filter skip
        # the rest in C).
        for value, tasks in zip(compress(values, run.group), filter(None, run.group), strict=True):
            counts[value] += tasks
        return counts
