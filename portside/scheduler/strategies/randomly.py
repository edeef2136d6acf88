"""`random`: choose uniformly among the instances that tie on every strategy before it.

It ends a chain (nothing after it can break a tie it leaves), and the choice uses the rng the
caller injects, so a seeded call is reproducible."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Random:
    pass
