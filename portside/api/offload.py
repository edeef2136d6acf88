"""Running an API call's blocking part in a thread, at the lowest cost per call.

`asyncio.to_thread` costs ~100 µs a call on a small machine: a concurrent Future and work
item, the executor's semaphore and weak set, and two futures chained across the threads. Over
PostgreSQL every read goes through here (`Store.reads_block`), so that cost was a third of a
read's. Here a call is one `SimpleQueue.put` (C) to a set of threads, and one
`call_soon_threadsafe` that sets an asyncio future with the result.

How many threads: as few as keep the cores busy. Each thread that waits on PostgreSQL gives
the GIL up and takes it back; six of them, on two cores, spent more in that hand-over than
they gained (the API mix over PostgreSQL: 1,030 requests/s on six threads, 1,340 on two).
A call that blocks for long (a registry starting, the database gone) must not hold up the
others, though: when calls wait and no thread has taken one for `STUCK` seconds, another
thread is started, up to `most`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
STUCK = 0.02

_Job = tuple[
    contextvars.Context, Callable[[], Any], asyncio.AbstractEventLoop, "asyncio.Future[Any]"
]


class Offload:
    """`await offload.run(fn)`: `fn()` in one of this pool's threads (`least` of them,
    started on first use, more when they are stuck), in a copy of the caller's context;
    its result or exception comes back to the caller."""

    def __init__(self, least: int, most: int = 32, name: str = "portside-api") -> None:
        self.least = max(1, least)
        self.most = max(self.least, most)
        self.name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._taken_at = time.monotonic()
        self._checking = False

    @property
    def threads(self) -> int:
        return len(self._threads)

    def run(self, fn: Callable[[], T]) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if len(self._threads) < self.least:
            self._start()
        self._jobs.put((contextvars.copy_context(), fn, loop, future))
        if not self._checking:
            self._checking = True
            loop.call_later(STUCK, self._check, loop)
        return future

    def _check(self, loop: asyncio.AbstractEventLoop) -> None:
        """Calls still wait: when no thread took one for STUCK seconds, start another."""
        if self._jobs.qsize() == 0:
            self._checking = False
            return
        if time.monotonic() - self._taken_at >= STUCK and len(self._threads) < self.most:
            self._start()
        loop.call_later(STUCK, self._check, loop)

    def _start(self) -> None:
        with self._lock:
            if len(self._threads) >= self.most:
                return
            thread = threading.Thread(
                target=self._work, name=f"{self.name}-{len(self._threads)}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            self._taken_at = time.monotonic()
            context, fn, loop, future = job
            try:
                result = context.run(fn)
            except BaseException as exc:  # handed to the caller, as to_thread does
                _deliver(loop, future, None, exc)
            else:
                _deliver(loop, future, result, None)
            del job, context, fn, future

    def close(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)


def _deliver(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[Any],
    result: Any,
    exc: BaseException | None,
) -> None:
    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
        loop.call_soon_threadsafe(_settle, future, result, exc)


def _settle(future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if future.done():  # the caller was cancelled meanwhile
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
