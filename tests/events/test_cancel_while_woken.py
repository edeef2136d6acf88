"""A delivery worker cancelled at the moment a commit wakes it must end: the delivery loop
awaits a cancelled worker before it applies any other rule change. (Python 3.11's
`asyncio.wait_for` loses a cancellation that arrives as the awaited thing completes; the
loop then never applied a rule again, and no webhook of any later rule got an event.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

from portside.events.feed import FeedSignal
from portside.store.sqlite import SqliteStore


def test_a_wait_cancelled_as_a_commit_wakes_it_is_cancelled(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "portside.db")
    signal = FeedSignal(store)

    async def follow() -> None:
        while True:  # as a worker does: wait for the feed, read, wait again
            await signal.wait(store.last_seq(), 5.0)

    async def main() -> bool:
        task = asyncio.create_task(follow())
        while not signal._waiters:
            await asyncio.sleep(0)
        signal._wake()  # a commit's wake-up, then the cancel, in the same turn
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=2.0)
        return bool(done) and task.cancelled()

    try:
        assert asyncio.run(main())
    finally:
        store.close()
