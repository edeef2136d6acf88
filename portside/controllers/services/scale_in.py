"""Which tasks to stop first when a service holds more tasks than it should (ECS developer
guide, "Amazon ECS services" / UpdateService: when the service scheduler stops running tasks
it keeps the Availability Zones balanced: it stops from the zone with the most of the
service's tasks, and within it from the container instance with the most)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence

from portside.controllers.services.facts import TaskFact

ZoneOf = Callable[[TaskFact], str | None]


def host(task: TaskFact) -> str:
    """A Fargate task is its own host."""
    return task.instance_arn or task.arn


def victims(
    candidates: Sequence[TaskFact],
    population: Sequence[TaskFact],
    zone_of: ZoneOf,
    rank: Callable[[TaskFact], int],
    limit: int,
) -> list[TaskFact]:
    """Up to `limit` candidates, in the order to stop them. Each pick comes from the zone
    holding the most of `population` still standing (candidates picked before no longer
    count), then the lowest rank, then the busiest instance, then the newest task.
    `population` holds the candidates and the tasks that stay."""
    if limit <= 0:
        return []
    zones = Counter(zone_of(t) for t in population)
    hosts = Counter(host(t) for t in population)

    def age(t: TaskFact) -> tuple[float, str]:
        return (-(t.started_at if t.started_at is not None else math.inf), t.arn)

    # zone -> rank -> host -> its candidates, the one to stop first last.
    shelves: dict[str | None, dict[int, dict[str, list[TaskFact]]]] = {}
    for t in candidates:
        shelf = shelves.setdefault(zone_of(t), {}).setdefault(rank(t), {})
        shelf.setdefault(host(t), []).append(t)
    for ranks in shelves.values():
        for by_host in ranks.values():
            for tasks in by_host.values():
                tasks.sort(key=age, reverse=True)

    def best(zone: str | None) -> tuple[int, int, tuple[float, str], str]:
        """The zone's next pick: its lowest rank, its busiest host, that host's newest."""
        ranks = shelves[zone]
        low = min(ranks)
        pick = min(ranks[low], key=lambda h: (-hosts[h], age(ranks[low][h][-1])))
        return (low, -hosts[pick], age(ranks[low][pick][-1]), pick)

    order: list[TaskFact] = []
    while len(order) < limit and shelves:
        zone = min(shelves, key=lambda z: (-zones[z], best(z)))
        low, _, _, pick = best(zone)
        by_host = shelves[zone][low]
        task = by_host[pick].pop()
        if not by_host[pick]:
            del by_host[pick]
            if not by_host:
                del shelves[zone][low]
                if not shelves[zone]:
                    del shelves[zone]
        order.append(task)
        zones[zone] -= 1
        hosts[pick] -= 1
    return order
