"""A `World` (store, clock, ids, randomness) and the callers of operations, for tests.

Everything a world injects is deterministic here: a FakeClock, ids drawn from a seeded random
source (32 hex digits spread like the server's uuid4 ids: code may take a prefix of one), a
seeded random source. `counted_ids()` gives ids in creation order instead."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable

from portside.ops.context import Caller, Op, World, root_principal
from portside.store.base import Store
from portside.testing.clock import FakeClock

ACCOUNT = "000000000000"
REGION = "us-east-1"
ACCESS_KEY = "AKTEST"


def counted_ids(start: int = 1) -> Callable[[], str]:
    """An id source in creation order: f"{n:032x}" for n = start, start + 1, ..."""
    numbers = itertools.count(start)
    return lambda: f"{next(numbers):032x}"


def seeded_ids(seed: int = 0) -> Callable[[], str]:
    """An id source like the server's (uuid4's 32 hex digits), the same for the same seed."""
    draw = random.Random(f"ids/{seed}").getrandbits
    return lambda: f"{draw(128):032x}"


def make_world(
    store: Store,
    *,
    clock: Callable[[], float] | None = None,
    new_id: Callable[[], str] | None = None,
    seed: int = 0,
) -> World:
    """A world over `store`: `clock` (a FakeClock at T0 by default), `new_id` (seeded ids by
    default) and a random source seeded with `seed`."""
    return World(
        store=store,
        clock=clock if clock is not None else FakeClock(),
        new_id=new_id if new_id is not None else seeded_ids(seed),
        rng=random.Random(seed),
    )


def caller(region: str = REGION, account: str = ACCOUNT, access_key: str = ACCESS_KEY) -> Caller:
    """The account's root, calling in `region`."""
    return Caller(account, region, access_key, root_principal(account))


def make_op(world: World, region: str = REGION, account: str = ACCOUNT) -> Op:
    """One call into `world` by the account's root, signed for `region`."""
    return Op(world, caller(region, account))
