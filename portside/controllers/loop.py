"""The one background-loop shape every control-plane loop runs in, and what each reports.

A loop is a `step`: a plain function that does one pass, run in a worker thread (passes read
and write the store, which blocks), then a pause. `step` returns how long to pause before the
next pass (None: the loop's `interval`); a pass that raises is logged, counted, and followed
by `retry_after`. The loop's `LoopStatus` says when a pass last succeeded, the last error,
how many passes failed in a row and in all, and when the next pass is due: a loop whose pass
is overdue by more than `STALL_GRACE` is stalled (hung in a pass), which health reports as it
reports a failing one. `Loops` holds every loop of a server by name, for
`GET /_portside/health` and `portside status` to read; a loop that runs itself (the event
delivery, on the event loop) is `watch`ed: it reports its passes to a `Loop` it does not run.
Each loop belongs to a group: REPLICA (runs on every server replica) or LEADER (runs on the
leader only, started and stopped as leadership comes and goes: portside/cluster).
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from portside.store.base import WriteRefused

Step = Callable[[], float | None]

STALL_GRACE = 120.0  # seconds a pass may be overdue before its loop counts as stalled
REPLICA = "replica"  # the group of loops every server replica runs
LEADER = "leader"  # the group of loops only the leader runs


@dataclass(slots=True)
class LoopStatus:
    """Where one loop stands. Times are the server clock's (epoch seconds)."""

    name: str
    interval: float
    started_at: float | None = None
    passes: int = 0  # passes that succeeded
    last_success: float | None = None
    last_error: str | None = None  # "ExceptionType: message" of the latest failed pass
    last_error_at: float | None = None
    consecutive_errors: int = 0  # failed passes since the last success
    total_errors: int = 0
    next_pass_at: float | None = None  # when the next pass is due to start
    timed_passes: int = 0  # passes (succeeded or failed) whose duration is in busy_seconds
    busy_seconds: float = 0.0  # seconds spent in those passes (Prometheus: loop durations)
    last_duration: float | None = None  # seconds the latest pass took
    group: str = REPLICA
    standby: bool = False  # stopped until this replica leads again (group LEADER)

    def failing(self, after: int = 3) -> bool:
        """The last `after` passes (or more) all failed."""
        return self.consecutive_errors >= after

    def stalled(self, now: float, grace: float = STALL_GRACE) -> bool:
        """A pass was due more than `grace` seconds ago and none has ended since."""
        return self.next_pass_at is not None and now - self.next_pass_at > grace


class Loop:
    """One loop: `await loop.run()` until cancelled."""

    def __init__(
        self,
        name: str,
        step: Step,
        *,
        interval: float,
        retry_after: float | None = None,
        clock: Callable[[], float] = time.time,
        log: logging.Logger | None = None,
        lock: threading.Lock | None = None,
        group: str = REPLICA,
    ) -> None:
        self.name = name
        self.step = step
        self.interval = interval
        self.retry_after = interval if retry_after is None else retry_after
        self.clock = clock
        self.log = log or logging.getLogger(f"portside.{name}")
        self.status = LoopStatus(name, interval, group=group)
        self._lock = lock or threading.Lock()

    def started(self) -> None:
        with self._lock:
            self.status.started_at = self.status.next_pass_at = self.clock()
            self.status.standby = False

    def stopped(self) -> None:
        """The loop was stopped (this replica no longer leads): no pass is due."""
        with self._lock:
            self.status.next_pass_at = None
            self.status.standby = True

    def succeeded(self, wait: float | None = None) -> None:
        """A pass ended well; the next is due in `wait` seconds (None: the interval)."""
        with self._lock:
            now = self.clock()
            self.status.passes += 1
            self.status.last_success = now
            self.status.consecutive_errors = 0
            self.status.next_pass_at = now + (self.interval if wait is None else wait)

    def failed(self, exc: BaseException, wait: float | None = None) -> None:
        """A pass raised `exc`; the next is due in `wait` seconds (None: `retry_after`)."""
        with self._lock:
            now = self.clock()
            self.status.last_error = f"{type(exc).__name__}: {exc}"
            self.status.last_error_at = now
            self.status.consecutive_errors += 1
            self.status.total_errors += 1
            self.status.next_pass_at = now + (self.retry_after if wait is None else wait)

    def timed(self, seconds: float) -> None:
        """A pass (succeeded or failed) took `seconds`."""
        with self._lock:
            self.status.timed_passes += 1
            self.status.busy_seconds += seconds
            self.status.last_duration = seconds

    def snapshot(self) -> LoopStatus:
        with self._lock:
            return dataclasses.replace(self.status)

    async def run(self) -> None:
        self.started()
        while True:
            began = time.monotonic()
            try:
                wait = await asyncio.to_thread(self.step)
            except WriteRefused as exc:  # leadership moved: expected, no traceback
                self.log.warning("%s pass ended: %s", self.name, exc)
                wait = self.retry_after
                self.failed(exc, wait)
            except Exception as exc:
                self.log.exception("%s pass failed", self.name)
                wait = self.retry_after
                self.failed(exc, wait)
            else:
                if wait is None:
                    wait = self.interval
                self.succeeded(wait)
            self.timed(time.monotonic() - began)
            if wait > 0:
                await asyncio.sleep(wait)


class Loops:
    """Every loop of a server, by name: made here, started by the server, read by health."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._loops: dict[str, Loop] = {}
        self._watched: set[str] = set()
        self.default_group = REPLICA  # what `add` and `watch` put loops in when not told
        # The replicas and the leader, for health to show (portside/cluster sets it).
        self.cluster: Callable[[], dict[str, Any]] | None = None

    def add(
        self,
        name: str,
        step: Step,
        *,
        interval: float,
        retry_after: float | None = None,
        log: logging.Logger | None = None,
        group: str | None = None,
    ) -> Loop:
        group = group or self.default_group
        if name in self._loops:
            raise ValueError(f"loop {name} added twice")
        loop = Loop(
            name,
            step,
            interval=interval,
            retry_after=retry_after,
            clock=self.clock,
            log=log,
            group=group,
        )
        self._loops[name] = loop
        return loop

    def watch(
        self,
        name: str,
        *,
        interval: float,
        log: logging.Logger | None = None,
        group: str | None = None,
    ) -> Loop:
        """A loop that runs itself and reports its passes (`started`, `succeeded`, `failed`)
        to the `Loop` returned; the server does not run it, health reads it."""
        loop = self.add(name, lambda: None, interval=interval, log=log, group=group)
        self._watched.add(name)
        return loop

    def group(self, group: str) -> Loops:
        """These loops, seen through a view whose `add` and `watch` put loops in `group`
        (a part registers its loops through it unchanged)."""
        view = copy.copy(self)
        view.default_group = group
        return view

    def all(self, group: str | None = None) -> list[Loop]:
        """The loops the server runs (the watched ones run themselves), of `group` if given."""
        return [
            loop
            for name, loop in self._loops.items()
            if name not in self._watched and group in (None, loop.status.group)
        ]

    def status(self) -> list[LoopStatus]:
        """Each loop's status, as of now (copies), in the order they were added."""
        return [loop.snapshot() for loop in self._loops.values()]

    def failing(self, after: int = 3) -> list[str]:
        """The loops whose last `after` passes all failed: the server is degraded."""
        return [s.name for s in self.status() if s.failing(after)]

    def stalled(self, grace: float = STALL_GRACE) -> list[str]:
        """The loops hung in a pass (overdue by more than `grace`): the server is degraded."""
        now = self.clock()
        return [s.name for s in self.status() if s.stalled(now, grace)]
