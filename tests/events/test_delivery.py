"""The delivery loop on a real store with a fake webhook (httpx.MockTransport): order per
resource, retries, drops, and the persisted cursor across a restart."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from portside import testing
from portside.events import destinations, rules
from portside.events.delivery import DeliveryLoop
from portside.events.targets import DeliveryConfig
from portside.events.worker import CURSORS
from portside.model.doc import to_doc
from portside.model.task import Task
from portside.store.sqlite import SqliteStore

REGION, ACCOUNT = "us-east-1", "000000000000"
CLUSTER = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/c"


def task_arn(name: str) -> str:
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/c/{name}"


def put_task(store: SqliteStore, name: str, status: str, version: int) -> None:
    task = Task(
        arn=task_arn(name),
        cluster_arn=CLUSTER,
        task_definition_arn=f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/a:1",
        instance_arn="",
        launch_type="EC2",
        last_status=status,
        desired_status="RUNNING",
        created_at=time.time(),
        version=version,
    )
    with store.transaction() as tx:
        tx.put("tasks", task.arn, to_doc(task))


def setup(store: SqliteStore, pattern: dict[str, Any], retry: dict[str, int] | None = None) -> None:
    op = testing.make_op(testing.make_world(store, clock=time.time), REGION, ACCOUNT)
    rules.put_rule(op, {"Name": "r", "EventPattern": orjson.dumps(pattern).decode()})
    conn = destinations.create_connection(
        op,
        {
            "Name": "c",
            "AuthorizationType": "API_KEY",
            "AuthParameters": {"ApiKeyAuthParameters": {"ApiKeyName": "x-k", "ApiKeyValue": "v"}},
        },
    )
    dest = destinations.create_api_destination(
        op,
        {
            "Name": "d",
            "ConnectionArn": conn.arn,
            "InvocationEndpoint": "http://hook.test/in",
            "HttpMethod": "POST",
        },
    )
    target: dict[str, Any] = {"Id": "t", "Arn": dest.arn}
    if retry:
        target["RetryPolicy"] = retry
    assert rules.put_targets(op, {"Rule": "r", "Targets": [target]}) == []


class Hook:
    """A webhook that records what it is sent and answers what `answer` says."""

    def __init__(self, answer: Callable[[dict[str, Any], int], int] = lambda e, n: 200) -> None:
        self.answer = answer
        self.calls: list[tuple[str, str, int]] = []  # (task, lastStatus, status answered)
        self.headers: list[httpx.Headers] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        event = orjson.loads(request.content)
        tries = sum(
            1
            for c in self.calls
            if c[0] == event["resources"][0] and c[1] == event["detail"]["lastStatus"]
        )
        status = self.answer(event, tries)
        self.calls.append((event["resources"][0], event["detail"]["lastStatus"], status))
        self.headers.append(request.headers)
        return httpx.Response(status)

    def delivered(self) -> list[tuple[str, str]]:
        return [(t, s) for t, s, code in self.calls if code == 200]


async def run_until(loop: DeliveryLoop, done: Callable[[], bool], timeout: float = 10.0) -> None:
    runner = asyncio.create_task(loop.run())
    try:
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, "timed out"
            await asyncio.sleep(0.02)
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner


def cursor(store: SqliteStore) -> int:
    with store.read() as tx:
        doc = tx.get(CURSORS, f"arn:aws:events:{REGION}:{ACCOUNT}:rule/r|t")
    return int(doc["seq"]) if doc else -1


def test_in_order_per_task_with_retries_and_others_not_held_up(tmp_path: Path) -> None:
    store = testing.sqlite_store(tmp_path, name="db")
    setup(store, {"source": ["aws.ecs"], "detail-type": ["ECS Task State Change"]})
    # A's RUNNING fails twice; B's event must not wait for it.
    hook = Hook(lambda e, n: 500 if e["detail"]["lastStatus"] == "RUNNING" and n < 2 else 200)
    for status, version in (("PENDING", 1), ("RUNNING", 2), ("STOPPED", 3)):
        put_task(store, "a", status, version)
    put_task(store, "b", "PENDING", 1)
    loop = DeliveryLoop(
        store, DeliveryConfig(retry_base=0.2), interval=0.05, transport=httpx.MockTransport(hook)
    )
    # Start from the beginning of the feed (the target was created before the tasks).
    asyncio.run(
        run_until(
            loop, lambda: len(hook.delivered()) == 4 and cursor(store) >= store.last_seq() - 1
        )
    )
    a = [s for t, s in hook.delivered() if t == task_arn("a")]
    assert a == ["PENDING", "RUNNING", "STOPPED"]
    assert [c[2] for c in hook.calls if c[1] == "RUNNING"] == [500, 500, 200]
    order = hook.delivered()
    assert order.index((task_arn("b"), "PENDING")) < order.index((task_arn("a"), "RUNNING"))
    assert all(h["x-k"] == "v" for h in hook.headers)
    store.close()


def test_an_answer_not_retried_drops_the_event_and_goes_on(tmp_path: Path) -> None:
    store = testing.sqlite_store(tmp_path, name="db")
    setup(store, {"detail": {"lastStatus": ["PENDING", "STOPPED"]}})
    hook = Hook(lambda e, n: 400 if e["detail"]["lastStatus"] == "PENDING" else 200)
    put_task(store, "a", "PENDING", 1)
    put_task(store, "a", "RUNNING", 2)  # the pattern does not want it
    put_task(store, "a", "STOPPED", 3)
    loop = DeliveryLoop(
        store, DeliveryConfig(retry_base=0.05), interval=0.05, transport=httpx.MockTransport(hook)
    )
    asyncio.run(run_until(loop, lambda: len(hook.delivered()) == 1))
    assert hook.calls == [(task_arn("a"), "PENDING", 400), (task_arn("a"), "STOPPED", 200)]
    store.close()


def test_retry_policy_caps_attempts(tmp_path: Path) -> None:
    store = testing.sqlite_store(tmp_path, name="db")
    setup(store, {"source": ["aws.ecs"]}, retry={"MaximumRetryAttempts": 2})
    hook = Hook(lambda e, n: 503 if e["detail"]["lastStatus"] == "PENDING" else 200)
    put_task(store, "a", "PENDING", 1)
    put_task(store, "a", "RUNNING", 2)
    loop = DeliveryLoop(
        store, DeliveryConfig(retry_base=0.02), interval=0.05, transport=httpx.MockTransport(hook)
    )
    asyncio.run(run_until(loop, lambda: len(hook.delivered()) == 1))
    # One try and two retries, then the next event.
    assert [c[1:] for c in hook.calls] == [("PENDING", 503)] * 3 + [("RUNNING", 200)]
    store.close()


def test_a_restart_resumes_from_the_persisted_cursor(tmp_path: Path) -> None:
    store = testing.sqlite_store(tmp_path, name="db")
    setup(store, {"source": ["aws.ecs"]})
    put_task(store, "a", "PENDING", 1)
    first = Hook()
    loop = DeliveryLoop(
        store, DeliveryConfig(), interval=0.05, transport=httpx.MockTransport(first)
    )
    asyncio.run(run_until(loop, lambda: len(first.delivered()) == 1 and cursor(store) > 0))
    # While the server is "down", the task moves on.
    put_task(store, "a", "RUNNING", 2)
    put_task(store, "a", "STOPPED", 3)
    second = Hook()
    loop = DeliveryLoop(
        store, DeliveryConfig(), interval=0.05, transport=httpx.MockTransport(second)
    )
    asyncio.run(run_until(loop, lambda: len(second.delivered()) == 2))
    assert [s for _, s in second.delivered()] == ["RUNNING", "STOPPED"]
    store.close()


def test_a_disabled_rule_delivers_nothing_and_reading_stops(tmp_path: Path) -> None:
    store = testing.sqlite_store(tmp_path, name="db")
    setup(store, {"source": ["aws.ecs"]})
    op = testing.make_op(testing.make_world(store, clock=time.time), REGION, ACCOUNT)
    rules.set_state(op, {"Name": "r"}, "DISABLED")
    put_task(store, "a", "PENDING", 1)
    hook = Hook()
    loop = DeliveryLoop(store, DeliveryConfig(), interval=0.05, transport=httpx.MockTransport(hook))

    applied = asyncio.Event()
    apply = loop._apply

    async def applying(*args: Any) -> None:
        await apply(*args)
        applied.set()

    loop._apply = applying  # type: ignore[method-assign]

    async def scenario() -> None:
        runner = asyncio.create_task(loop.run())
        # Once the loop has applied the rules as they stand (not before: an empty map then
        # would prove nothing), the disabled rule has no worker.
        await asyncio.wait_for(applied.wait(), 30)
        assert loop.workers == {}
        # Enabling delivers what happens from then on, not what happened while disabled.
        rules.set_state(op, {"Name": "r"}, "ENABLED")
        put_task(store, "a", "RUNNING", 2)
        deadline = time.monotonic() + 5
        while not hook.delivered():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner

    asyncio.run(scenario())
    assert [s for _, s in hook.delivered()] == ["RUNNING"]
    store.close()


def test_a_target_behind_the_feeds_retention_resumes_at_the_oldest_change(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = testing.FakeClock(1000.0)
    store = testing.sqlite_store(tmp_path, clock=clock, name="db")
    setup(store, {"source": ["aws.ecs"]})
    put_task(store, "a", "PENDING", 1)  # committed at 1000
    clock.now = 9000.0
    put_task(store, "a", "RUNNING", 2)  # committed at 9000
    assert store.trim(5000.0) > 0  # the PENDING change is gone before the target read it
    hook = Hook()
    loop = DeliveryLoop(store, DeliveryConfig(), interval=0.05, transport=httpx.MockTransport(hook))
    with caplog.at_level("WARNING", logger="portside.events"):
        asyncio.run(run_until(loop, lambda: len(hook.delivered()) == 1))
    assert [s for _, s in hook.delivered()] == ["RUNNING"]
    assert "fell behind the change feed's retention" in caplog.text
    store.close()
