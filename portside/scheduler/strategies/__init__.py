"""Placement strategies: rankers applied in the order given, each breaking the ties of the one
before it (ECS developer guide, "task placement strategies" and its examples).

    binpack cpu|memory       least of that resource left            binpack.py
    spread instanceId|host   fewest tasks of the group on it        spread.py
    spread attribute:NAME    fewest tasks of the group on its value spread.py
    random                   uniform among what still ties          randomly.py

The defaults, when a request names no strategy:
- RunTask: random. "Using RunTask, you can allow the default task placement strategy to
  distribute tasks randomly across your cluster" (developer guide, "Scheduling Amazon ECS
  tasks").
- Services: spread across Availability Zones, then across instances. The service scheduler
  sorts valid instances "by the fewest number of running tasks for this service in the same
  Availability Zone", then places "favoring container instances with the fewest number of
  running tasks for this service" (developer guide, service parameters / CreateService).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from portside.errors import InvalidParameterException
from portside.model.placement import PlacementStrategy
from portside.scheduler.strategies.binpack import FIELDS as BINPACK_FIELDS
from portside.scheduler.strategies.binpack import Binpack
from portside.scheduler.strategies.randomly import Random
from portside.scheduler.strategies.spread import INSTANCE_FIELDS, SpreadAttribute, SpreadInstance

__all__ = [
    "MAX_STRATEGIES",
    "RUN_TASK_DEFAULT",
    "SERVICE_DEFAULT",
    "Binpack",
    "Random",
    "SpreadAttribute",
    "SpreadInstance",
    "parse",
]

MAX_STRATEGIES: Final = 5
RUN_TASK_DEFAULT: Final[tuple[PlacementStrategy, ...]] = (PlacementStrategy("random"),)
SERVICE_DEFAULT: Final[tuple[PlacementStrategy, ...]] = (
    PlacementStrategy("spread", "attribute:ecs.availability-zone"),
    PlacementStrategy("spread", "instanceId"),
)

_ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_.\-/\\]{1,128}")

Parsed = Binpack | SpreadInstance | SpreadAttribute | Random


def parse(strategy: Sequence[PlacementStrategy]) -> list[Parsed]:
    """The rankers a placementStrategy list names, in order; InvalidParameterException for
    one ECS would refuse. Validate at CreateService/UpdateService time with this too."""
    # wording: ours, throughout
    if len(strategy) > MAX_STRATEGIES:
        raise InvalidParameterException(
            f"You can specify a maximum of {MAX_STRATEGIES} placement strategies; "
            f"{len(strategy)} were given."
        )
    parsed: list[Parsed] = []
    for item in strategy:
        kind, field = item.type, item.field
        if kind == "random":
            parsed.append(Random())  # the API reference: "this field is not used"
        elif kind == "binpack":
            if field not in BINPACK_FIELDS:
                raise InvalidParameterException(
                    f"Invalid placement strategy field '{field}' for binpack: use cpu or memory."
                )
            parsed.append(Binpack(field))
        elif kind == "spread":
            parsed.append(_spread(field))
        else:
            raise InvalidParameterException(
                f"Invalid placement strategy type '{kind}': use random, spread or binpack."
            )
    return parsed


def _spread(field: str | None) -> SpreadInstance | SpreadAttribute:
    if field in INSTANCE_FIELDS:
        return SpreadInstance()
    if field and field.startswith("attribute:"):
        name = field.removeprefix("attribute:")
        if _ATTRIBUTE_NAME.fullmatch(name):
            return SpreadAttribute(name)
    raise InvalidParameterException(
        f"Invalid placement strategy field '{field}' for spread: use instanceId, host or "
        "attribute:NAME."
    )
