"""Who leads: the lease's decisions, pure (DESIGN.md rule 2).

The lease is one row: holder, epoch, beat and expiry. A holder renews it every `renew_every`
seconds (beat + 1, expiry pushed on); a new holder takes it with epoch + 1, the fencing token
its writes carry. A replica may take the lease when nobody holds it, when its expiry (the
holder's wall clock) has passed, or when it has watched the row stay the same for a whole
lease duration on its own monotonic clock: the last rule needs no agreement between the
replicas' clocks, the expiry rule lets a restarted server lead at once instead of waiting out
a lease its previous process left.

A leader's term ends, on its side, a `margin` (a sixth of a lease) before a lease duration
has passed since the start of its last successful renewal: a follower counts its lease
duration from a later moment (when it saw that renewal), so the old leader has stopped before
anyone else may start.
Should it be late, fencing refuses its writes anyway.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

LEASE_SECONDS = 3.0
RENEW_EVERY = 1.0
MARGIN = 1 / 6  # of a lease: a term ends this much before a follower may take over


@dataclass(frozen=True, slots=True)
class Lease:
    """The lease row as stored."""

    holder: str | None
    epoch: int
    beat: int
    expires: float  # the holder's wall clock, epoch seconds


@dataclass(frozen=True, slots=True)
class Term:
    """One replica's leadership: its epoch and, on its monotonic clock, when it ends unless
    renewed."""

    holder: str
    epoch: int
    deadline: float


class LeaseKeeper:
    """One replica's side of the lease: given the stored row and the time, the row to write
    (None: leave it) and the term it gives. `sole`: this replica is the only one that can
    reach the store (a data directory locked for it alone), so it takes the lease at once."""

    def __init__(
        self,
        me: str,
        *,
        duration: float = LEASE_SECONDS,
        margin: float = MARGIN,
        sole: bool = False,
    ) -> None:
        self.me = me
        self.duration = duration
        self.margin = margin * duration
        self.sole = sole
        self.epoch: int | None = None  # my current term's epoch, as I last wrote it
        self._watched: tuple[str | None, int, int] | None = None
        self._watched_since = 0.0

    def decide(self, current: Lease | None, *, now: float, mono: float) -> Lease | None:
        """The row to write at wall time `now` and monotonic time `mono`, or None: another
        replica holds the lease."""
        if current is None:
            return Lease(self.me, 1, 1, now + self.duration)
        if current.holder == self.me and current.epoch == self.epoch:
            return Lease(self.me, current.epoch, current.beat + 1, now + self.duration)
        if self._free(current, now, mono):
            return Lease(self.me, current.epoch + 1, current.beat + 1, now + self.duration)
        return None

    def _free(self, current: Lease, now: float, mono: float) -> bool:
        if self.sole or current.holder is None or current.holder == self.me:
            # Held by me in a term I ended (it could not be renewed in time): a new term.
            return True
        if current.expires <= now:
            return True
        seen = (current.holder, current.epoch, current.beat)
        if seen != self._watched:
            self._watched, self._watched_since = seen, mono
            return False
        return mono - self._watched_since >= self.duration

    def written(self, lease: Lease, began: float) -> Term:
        """`lease` (from `decide`) was committed by a transaction that began at monotonic
        time `began`: the term it gives."""
        self.epoch = lease.epoch
        self._watched = None
        deadline = math.inf if self.sole else began + self.duration - self.margin
        return Term(self.me, lease.epoch, deadline)

    def ended(self) -> None:
        """My term is over (stepped down, or another replica holds the lease)."""
        self.epoch = None


def released(current: Lease, me: str) -> Lease | None:
    """The row a leader that stops writes to hand over at once (None: not its lease)."""
    if current.holder != me:
        return None
    return Lease(None, current.epoch, current.beat + 1, 0.0)
