"""What tests and benchmarks build Portside from, instead of by hand.

    store = sqlite_store(tmp_path)                      # store.py: a fresh SQLite store
    clock = FakeClock()                                 # clock.py: time that moves when told
    op = make_op(make_world(store, clock=clock))        # world.py: World, Caller, Op
    task = agent_task(definition=...)                   # agent.py: the agent's side
    agent = start_simulated_agent(endpoint, ...)        #   (import portside.testing.agent)

A world made here is deterministic: a FakeClock, seeded ids, a seeded random source.
"""

from __future__ import annotations

from portside.testing.clock import T0, FakeClock
from portside.testing.store import sqlite_store
from portside.testing.world import (
    ACCOUNT,
    REGION,
    caller,
    counted_ids,
    make_op,
    make_world,
    seeded_ids,
)

__all__ = [
    "ACCOUNT",
    "REGION",
    "T0",
    "FakeClock",
    "caller",
    "counted_ids",
    "make_op",
    "make_world",
    "seeded_ids",
    "sqlite_store",
]
