"""The one background-loop shape every control-plane loop runs in, and what each reports.

A loop is a `step`: a plain function that does one pass, run in a worker thread (passes read
and write the store, which blocks), then a pause. `step` returns how long to pause before the
next pass (None: the loop's `interval`); a pass that raises is logged, counted, and followed
by `retry_after`. The loop's `LoopStatus` says when a pass last succeeded, the last error and
how many passes failed in a row and in all; `Loops` holds every loop of a server by name, for
`GET /_portside/health` and `portside status` to read.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

Step = Callable[[], float | None]


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

    def failing(self, after: int = 3) -> bool:
        """The last `after` passes (or more) all failed."""
        return self.consecutive_errors >= after


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
    ) -> None:
        self.name = name
        self.step = step
        self.interval = interval
        self.retry_after = interval if retry_after is None else retry_after
        self.clock = clock
        self.log = log or logging.getLogger(f"portside.{name}")
        self.status = LoopStatus(name, interval)
        self._lock = lock or threading.Lock()

    def succeeded(self) -> None:
        with self._lock:
            self.status.passes += 1
            self.status.last_success = self.clock()
            self.status.consecutive_errors = 0

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            self.status.last_error = f"{type(exc).__name__}: {exc}"
            self.status.last_error_at = self.clock()
            self.status.consecutive_errors += 1
            self.status.total_errors += 1

    def snapshot(self) -> LoopStatus:
        with self._lock:
            return dataclasses.replace(self.status)

    async def run(self) -> None:
        with self._lock:
            self.status.started_at = self.clock()
        while True:
            try:
                wait = await asyncio.to_thread(self.step)
            except Exception as exc:
                self.log.exception("%s pass failed", self.name)
                self.failed(exc)
                wait = self.retry_after
            else:
                self.succeeded()
                if wait is None:
                    wait = self.interval
            if wait > 0:
                await asyncio.sleep(wait)


class Loops:
    """Every loop of a server, by name: made here, started by the server, read by health."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._loops: dict[str, Loop] = {}

    def add(
        self,
        name: str,
        step: Step,
        *,
        interval: float,
        retry_after: float | None = None,
        log: logging.Logger | None = None,
    ) -> Loop:
        if name in self._loops:
            raise ValueError(f"loop {name} added twice")
        loop = Loop(
            name, step, interval=interval, retry_after=retry_after, clock=self.clock, log=log
        )
        self._loops[name] = loop
        return loop

    def all(self) -> list[Loop]:
        return list(self._loops.values())

    def status(self) -> list[LoopStatus]:
        """Each loop's status, as of now (copies), in the order they were added."""
        return [loop.snapshot() for loop in self._loops.values()]

    def failing(self, after: int = 3) -> list[str]:
        """The loops whose last `after` passes all failed: the server is degraded."""
        return [s.name for s in self.status() if s.failing(after)]
