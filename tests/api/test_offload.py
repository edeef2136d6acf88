"""The threads API calls run in (api/offload.py): results and exceptions come back to the
caller, in the caller's context; a fixed few threads carry the load; a call that blocks does
not hold up the others, because another thread is started when calls wait behind it."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from portside.api.offload import Offload

WHO: contextvars.ContextVar[str] = contextvars.ContextVar("who", default="nobody")


def test_results_exceptions_and_context_come_back() -> None:
    offload = Offload(2)

    def boom() -> None:
        raise ValueError("refused")

    async def main() -> None:
        WHO.set("caller")
        assert await offload.run(lambda: 6 * 7) == 42
        assert await offload.run(WHO.get) == "caller"
        assert await offload.run(threading.current_thread) is not threading.current_thread()
        with pytest.raises(ValueError, match="refused"):
            await offload.run(boom)

    asyncio.run(main())
    offload.close()


def test_many_short_calls_use_the_fixed_threads_only() -> None:
    offload = Offload(2)

    async def main() -> list[int]:
        return list(await asyncio.gather(*(offload.run(lambda i=i: i) for i in range(500))))

    assert asyncio.run(main()) == list(range(500))
    assert offload.threads == 2
    offload.close()


def test_calls_behind_blocked_ones_get_a_thread_of_their_own() -> None:
    offload = Offload(2, most=4)
    release = threading.Event()

    async def main() -> None:
        blocked = [offload.run(lambda: release.wait(60)) for _ in range(2)]
        # Both threads are held; this one is answered anyway, by a thread started for it.
        assert await asyncio.wait_for(offload.run(lambda: "through"), timeout=20) == "through"
        assert 3 <= offload.threads <= 4
        release.set()
        assert await asyncio.gather(*blocked) == [True, True]

    asyncio.run(main())
    offload.close()


def test_no_more_threads_than_the_most() -> None:
    offload = Offload(1, most=2)
    release = threading.Event()
    started = threading.Semaphore(0)

    def hold() -> bool:
        started.release()
        return release.wait(60)

    async def main() -> None:
        held = [offload.run(hold) for _ in range(3)]
        for _ in range(2):  # two threads at most: two calls start, the third waits
            await asyncio.to_thread(started.acquire, True, 20)
        assert offload.threads == 2
        assert not started.acquire(timeout=0.2)
        release.set()
        assert await asyncio.gather(*held) == [True, True, True]

    asyncio.run(main())
    offload.close()
