"""The background-loop helper: a failed pass is counted and retried, a good one resets the
run of failures, and the registry reports every loop."""

from __future__ import annotations

import asyncio
import logging

import pytest

from portside.cluster.fence import NotLeader
from portside.controllers.loop import Loops


def test_failures_are_counted_and_a_success_ends_the_run() -> None:
    clock = iter(range(100, 1000))
    loops = Loops(clock=lambda: float(next(clock)))
    outcomes = iter([ValueError("disk"), ValueError("disk again"), None, RuntimeError("x")])
    done = asyncio.Event()
    seen: list[tuple[int, int]] = []

    def step() -> float:
        outcome = next(outcomes, None)
        loop = loops.all()[0]
        seen.append((loop.status.consecutive_errors, loop.status.total_errors))
        if outcome is None and len(seen) >= 5:
            done.set()
        if outcome is not None:
            raise outcome
        return 0.0

    loops.add("flaky", step, interval=0.0, retry_after=0.0, log=logging.getLogger("t.loop"))

    async def main() -> None:
        runner = asyncio.create_task(loops.all()[0].run())
        await asyncio.wait_for(done.wait(), 5)
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner

    asyncio.run(main())
    # What each pass saw when it started: two failures, a success, a failure, a success.
    assert seen[:5] == [(0, 0), (1, 1), (2, 2), (0, 2), (1, 3)]
    (status,) = loops.status()
    assert status.name == "flaky" and status.total_errors == 3
    assert status.last_error == "RuntimeError: x" and status.passes >= 2
    assert status.last_success is not None and status.started_at is not None
    assert loops.failing(after=1) == [] and not status.failing()


def test_a_loop_that_keeps_failing_is_reported() -> None:
    loops = Loops(clock=lambda: 0.0)
    loop = loops.add("stuck", lambda: None, interval=1.0)
    for _ in range(3):
        loop.failed(OSError("no space"))
    assert loops.failing() == ["stuck"]
    assert loops.status()[0].last_error == "OSError: no space"
    with pytest.raises(ValueError):
        loops.add("stuck", lambda: None, interval=1.0)


def test_a_loop_hung_in_a_pass_is_reported_stalled() -> None:
    now = [1000.0]
    loops = Loops(clock=lambda: now[0])
    ran = loops.add("runs", lambda: None, interval=5.0)
    watched = loops.watch("events", interval=1.0)
    # A watched loop runs itself: the server does not start it, health still reads it.
    assert loops.all() == [ran]
    assert [s.name for s in loops.status()] == ["runs", "events"]
    ran.started()
    watched.started()
    watched.succeeded()
    now[0] += 60.0
    assert loops.stalled() == []
    ran.succeeded(wait=600.0)  # a long pause asked for is not a stall
    now[0] += 100.0
    assert loops.stalled() == ["events"]
    watched.succeeded()
    assert loops.stalled() == []
    now[0] += 700.0
    assert loops.stalled() == ["runs", "events"]


def test_a_refused_write_ends_the_pass_with_a_warning_and_no_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A deposed leader's pass meets the fence (cluster/fence.py): its status shows it, the
    log says so at WARNING, without the traceback an unexpected failure gets."""
    loops = Loops(clock=lambda: 0.0)

    def step() -> float:
        raise NotLeader("replica a no longer leads (its epoch 1; the lease is b's, epoch 2)")

    loop = loops.add("fenced", step, interval=0.0, retry_after=5.0, log=logging.getLogger("t.f"))

    async def main() -> None:
        runner = asyncio.create_task(loop.run())
        for _ in range(500):
            if loop.status.total_errors:
                break
            await asyncio.sleep(0.01)
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner

    with caplog.at_level(logging.WARNING, logger="t.f"):
        asyncio.run(main())
    (record,) = [r for r in caplog.records if r.name == "t.f"]
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert "no longer leads" in record.getMessage()
    assert loop.status.total_errors == 1
    assert (loop.status.last_error or "").startswith("NotLeader:")
