"""Leadership on one replica: the lease beat, and the leader's loops started and stopped.

`Leadership.run` (a task of the server's lifespan) beats every RENEW_EVERY seconds: one
transaction writes this replica's heartbeat and takes or renews the lease (`lease.py`
decides). When a beat gives this replica a term, the LEADER group of `world.loops` (and the
leader's self-running parts, the event delivery) start in an asyncio context carrying the
term, which fences their writes (`fence.py`). They are stopped at once when another replica
holds the lease, or when the term's deadline passes with no renewal committed (the beat may
hang on an unreachable database: the deadline does not wait for it). A pass already in its
thread cannot be cancelled; it finishes, any write it tries is refused, and the same loop's
next pass, in a later term, waits for it.

One replica over a data directory locked for it alone (`sole`) takes the lease in its first
beat and keeps it: nothing else can reach that store.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

from portside.cluster import records, replicas
from portside.cluster.fence import TERM
from portside.cluster.lease import LEASE_SECONDS, RENEW_EVERY, LeaseKeeper, Term, released
from portside.cluster.replicas import FORGET_AFTER, Replica
from portside.cluster.seen import PUBLISH_EVERY, SharedSeen
from portside.controllers.loop import LEADER, Loop, Loops, Step
from portside.store.base import Store

log = logging.getLogger("portside.cluster")

Runner = Callable[[], Coroutine[Any, Any, None]]
SOLE_BEAT = 5.0  # seconds between a sole replica's heartbeats
DRAIN = 5.0  # seconds a stopping server waits for its leader loops' passes to end


class Leadership:
    """Runs this replica's part in the lease and, while it leads, the leader's loops."""

    def __init__(
        self,
        store: Store,
        loops: Loops,
        replica: Replica,
        *,
        sole: bool = False,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        renew_every: float = RENEW_EVERY,
        duration: float = LEASE_SECONDS,
        seen: SharedSeen | None = None,
    ) -> None:
        self.store = store  # the store underneath the fence: the lease's own writes
        self.loops = loops
        self.replica = replica
        self.clock = clock
        self.monotonic = monotonic
        if sole:  # nobody to hand over to: the beat is the heartbeat alone
            renew_every, duration = SOLE_BEAT, 3 * SOLE_BEAT
        self.renew_every = renew_every
        self.keeper = LeaseKeeper(replica.id, duration=duration, sole=sole)
        self.term: Term | None = None
        # Its gateway's map published for the leader's liveness, the others' read (seen.py).
        self.seen = None if sole else seen
        self._published: float | None = None
        self.ready = asyncio.Event()  # set after the first beat: the loops run if it leads
        self.status = loops.watch("cluster", interval=renew_every, log=log)
        self._runners: list[tuple[Loop, Runner]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._steps: list[_OneAtATime] = []
        for loop in loops.all(LEADER):
            loop.step = step = _OneAtATime(loop.step)
            self._steps.append(step)
            loop.stopped()  # until this replica leads
        loops.cluster = self.report

    def add_runner(self, status: Loop, run: Runner) -> None:
        """A leader-only part that runs itself (`run()` until cancelled), reporting to
        `status` (a watched loop of the LEADER group)."""
        status.stopped()
        self._runners.append((status, run))

    @property
    def epoch(self) -> int | None:
        return None if self.term is None else self.term.epoch

    def report(self) -> dict[str, Any]:
        return replicas.report(self.store, self.replica.id, self.clock())

    # -- the beat ------------------------------------------------------------------------

    def beat(self, began: float) -> Term | None:
        """One beat (blocking): the heartbeat written, the lease taken or renewed; the term
        this replica holds after it, if any."""
        now = self.clock()
        doc = self.replica.heartbeat(self.loops.status(), epoch=self.epoch, now=now)
        with self.store.transaction() as tx:
            records.put_replica(tx, self.replica.id, now, doc)
            if self.seen is not None and (
                self._published is None or began - self._published >= PUBLISH_EVERY
            ):
                records.put_instances_seen(tx, self.replica.id, dict(self.seen.local.last_seen))
                self._published = began
            current = records.read_lease(tx, lock="update")
            # A follower's watch counts from the read (a late one only delays a takeover);
            # a leader's term from the beat's start (a slow beat only shortens the term).
            lease = self.keeper.decide(current, now=now, mono=self.monotonic())
            if lease is not None:
                records.write_lease(tx, lease)
                if self.term is not None:
                    records.forget_replicas(tx, now - FORGET_AFTER)
        if lease is None:
            return None
        if self.seen is not None:
            try:
                self.seen.refresh()  # for liveness, which runs on the leader
            except Exception as exc:  # liveness goes by the map it has; the lease is renewed
                log.warning(
                    "replica %s: reading the agents' syncs failed: %s", self.replica.id, exc
                )
        return self.keeper.written(lease, began)

    async def run(self) -> None:
        self.status.started()
        try:
            while True:
                began = self.monotonic()
                await self._beat_once(began)
                self.ready.set()
                await asyncio.sleep(max(0.0, began + self.renew_every - self.monotonic()))
        finally:
            await self.step_down("the server stops", level=logging.INFO, drain=DRAIN)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.to_thread(self._release), 2.0)

    async def _beat_once(self, began: float) -> None:
        beat = asyncio.ensure_future(asyncio.to_thread(self.beat, began))
        try:
            while True:
                timeout = None if self.term is None else self.term.deadline - self.monotonic()
                if timeout is not None and timeout <= 0:
                    await self.step_down("its lease could not be renewed in time")
                    continue
                done, _ = await asyncio.wait({beat}, timeout=timeout)
                if done:
                    break
        except asyncio.CancelledError:
            beat.cancel()
            raise
        try:
            term = beat.result()
        except Exception as exc:
            log.warning("replica %s: lease beat failed: %s", self.replica.id, exc)
            self.status.failed(exc, self.renew_every)
            return
        self.status.succeeded(self.renew_every)
        if term is not None and term.deadline <= self.monotonic():
            term = None  # renewed too late to count: the next beat starts a new term
            self.keeper.ended()
        if term is None:
            if self.term is not None:
                await self.step_down("another replica holds the lease")
        elif self.term is None or self.term.epoch != term.epoch:
            await self.step_down("a new term began")
            self._step_up(term)
        else:
            self.term = term

    def _step_up(self, term: Term) -> None:
        self.term = term
        context = contextvars.copy_context()
        context.run(TERM.set, term)
        for loop in self.loops.all(LEADER):
            self._tasks.append(asyncio.create_task(loop.run(), context=context))
        for _, run in self._runners:
            self._tasks.append(asyncio.create_task(run(), context=context))
        log.info("replica %s leads (epoch %d)", self.replica.id, term.epoch)

    async def step_down(
        self, why: str, *, level: int = logging.WARNING, drain: float = 0.0
    ) -> None:
        """Stop the leader's loops now (no-op when not leading); with `drain`, wait up to
        that many seconds for the passes left running in their threads (the server stops:
        the store is closed after)."""
        if self.term is None:
            return
        epoch, self.term = self.term.epoch, None
        self.keeper.ended()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if drain:
            await asyncio.to_thread(self._drain, drain)
        for loop in self.loops.all(LEADER):
            loop.stopped()
        for status, _ in self._runners:
            status.stopped()
        log.log(level, "replica %s stopped leading (epoch %d): %s", self.replica.id, epoch, why)

    def _drain(self, timeout: float) -> None:
        deadline = self.monotonic() + timeout
        for step in self._steps:
            step.idle(deadline - self.monotonic())

    def _release(self) -> None:
        """Hand the lease over at once (a clean stop): the next leader need not wait it out."""
        with self.store.transaction() as tx:
            current = records.read_lease(tx, lock="update")
            lease = None if current is None else released(current, self.replica.id)
            if lease is not None:
                records.write_lease(tx, lease)


class _OneAtATime:
    """A loop's step, never run twice at once: a pass left running by a term that ended
    holds the next term's first pass back until it is done."""

    def __init__(self, step: Step) -> None:
        self.step = step
        self.lock = threading.Lock()

    def __call__(self) -> float | None:
        with self.lock:
            return self.step()

    def idle(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for no pass to be running."""
        if not self.lock.acquire(timeout=max(0.0, timeout)):
            return False
        self.lock.release()
        return True
