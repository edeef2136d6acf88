"""How a capacity provider strategy splits a batch of tasks (ECS's documented rule):
the provider with a `base` gets that many first; the rest follow the weights."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from portside.model.launch import CapacityItem


def split(
    strategy: Sequence[CapacityItem], count: int, already: Mapping[str, int] | None = None
) -> list[str]:
    """The provider for each of `count` new tasks, in order. `already` counts tasks each
    provider runs for the same group before this call (services split over their lifetime)."""
    have = dict(already or {})
    out: list[str] = []
    for item in strategy:
        name = item.capacity_provider
        while len(out) < count and have.get(name, 0) < item.base:
            have[name] = have.get(name, 0) + 1
            out.append(name)
    weighted = [(i.capacity_provider, i.weight, i.base) for i in strategy if i.weight > 0]
    if not weighted:
        return out
    # Past its base, each provider's share of the weighted tasks follows its weight: give the
    # next task to the provider furthest below its share (first in the strategy on ties).
    beyond = {name: max(0, have.get(name, 0) - base) for name, _, base in weighted}
    while len(out) < count:
        name = min(weighted, key=lambda w: (beyond[w[0]] + 1) / w[1])[0]
        beyond[name] += 1
        out.append(name)
    return out
