"""The lease's decisions (portside/cluster/lease.py): who may take it, when, with what epoch."""

from __future__ import annotations

import math

from portside.cluster.lease import Lease, LeaseKeeper, released
from portside.testing.clock import T0, FakeClock


def test_an_empty_store_is_led_at_once_with_epoch_one() -> None:
    keeper = LeaseKeeper("a", duration=3.0)
    lease = keeper.decide(None, now=T0, mono=0.0)
    assert lease == Lease("a", 1, 1, T0 + 3.0)
    term = keeper.written(lease, began=0.0)
    assert (term.holder, term.epoch) == ("a", 1)
    assert term.deadline == 3.0 - keeper.margin


def test_the_holder_renews_with_the_same_epoch() -> None:
    keeper = LeaseKeeper("a", duration=3.0)
    first = keeper.decide(None, now=T0, mono=0.0)
    assert first is not None
    keeper.written(first, began=0.0)
    again = keeper.decide(first, now=T0 + 1, mono=1.0)
    assert again == Lease("a", 1, 2, T0 + 4.0)
    assert keeper.written(again, began=1.0).deadline == 1.0 + 3.0 - keeper.margin


def test_a_live_leader_keeps_its_lease() -> None:
    clock = FakeClock()
    follower = LeaseKeeper("b", duration=3.0)
    beat = 1
    for mono in range(10):  # the leader renews every second
        held = Lease("a", 4, beat, clock.now + 3.0)
        assert follower.decide(held, now=clock.now, mono=float(mono)) is None
        beat += 1
        clock.advance(1.0)


def test_a_silent_leader_is_replaced_after_a_lease_duration_with_the_next_epoch() -> None:
    # The follower's wall clock runs an hour behind: it goes by what it watched, not expiry.
    follower = LeaseKeeper("b", duration=3.0)
    held = Lease("a", 4, 17, T0 + 3.0)
    now = T0 - 3600
    assert follower.decide(held, now=now, mono=10.0) is None
    assert follower.decide(held, now=now + 2.9, mono=12.9) is None
    taken = follower.decide(held, now=now + 3.0, mono=13.0)
    assert taken == Lease("b", 5, 18, now + 6.0)


def test_an_expired_lease_is_taken_at_once() -> None:
    # A server restarted over its data: its previous process's lease has expired.
    keeper = LeaseKeeper("new", duration=3.0)
    stale = Lease("old", 7, 100, T0 - 1.0)
    assert keeper.decide(stale, now=T0, mono=0.0) == Lease("new", 8, 101, T0 + 3.0)


def test_a_released_lease_is_taken_at_once() -> None:
    held = Lease("a", 2, 9, T0 + 3.0)
    free = released(held, "a")
    assert free == Lease(None, 2, 10, 0.0)
    assert released(held, "b") is None
    assert LeaseKeeper("b").decide(free, now=T0, mono=0.0) == Lease("b", 3, 11, T0 + 3.0)


def test_a_leader_whose_term_ended_starts_a_new_epoch() -> None:
    keeper = LeaseKeeper("a", duration=3.0)
    first = keeper.decide(None, now=T0, mono=0.0)
    assert first is not None
    keeper.written(first, began=0.0)
    keeper.ended()  # it could not renew in time and stopped its loops
    again = keeper.decide(first, now=T0 + 5, mono=5.0)
    assert again is not None and again.epoch == 2


def test_a_renewal_resets_what_a_follower_watched() -> None:
    follower = LeaseKeeper("b", duration=3.0)
    assert follower.decide(Lease("a", 1, 1, T0 + 3), now=T0, mono=0.0) is None
    # Renewed at 2.5 s: the follower's count starts again from there.
    assert follower.decide(Lease("a", 1, 2, T0 + 5.5), now=T0 + 2.5, mono=2.5) is None
    assert follower.decide(Lease("a", 1, 2, T0 + 5.5), now=T0 + 4.0, mono=4.0) is None
    assert follower.decide(Lease("a", 1, 2, T0 + 5.5), now=T0 + 5.4, mono=5.5) is not None


def test_a_sole_replica_takes_the_lease_whoever_held_it_and_keeps_it() -> None:
    keeper = LeaseKeeper("a", duration=3.0, sole=True)
    lease = keeper.decide(Lease("old", 3, 5, T0 + 100), now=T0, mono=0.0)
    assert lease == Lease("a", 4, 6, T0 + 3.0)
    assert keeper.written(lease, began=0.0).deadline == math.inf


def test_the_old_leader_stops_before_a_follower_may_start() -> None:
    """Whatever the delays: the leader's deadline (from the start of its last successful
    renewal) comes before the moment a follower that saw that renewal may take over."""
    leader, follower = LeaseKeeper("a", duration=3.0), LeaseKeeper("b", duration=3.0)
    for began, commit_delay, seen_delay in [(0.0, 0.0, 0.0), (0.0, 2.0, 0.0), (5.0, 0.1, 0.9)]:
        lease = leader.decide(None, now=T0, mono=began)
        assert lease is not None
        term = leader.written(lease, began=began)
        seen = began + commit_delay + seen_delay
        assert follower.decide(lease, now=T0, mono=seen) is None
        first_takeover = seen + follower.duration
        assert follower.decide(lease, now=T0, mono=first_takeover) is not None
        assert term.deadline < first_takeover
        follower = LeaseKeeper("b", duration=3.0)
        leader.ended()
