"""Webhook calls never reach a link-local address (events/egress.py) unless the server allows
it: at CreateApiDestination for an address or a name that resolves to one, and at every call
for a name that resolves to one then (the delivery loop drops the event, and calls nothing)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from botocore.exceptions import ClientError
from harness import ServerProcess

from portside import testing
from portside.events import destinations, rules
from portside.events.delivery import DeliveryLoop
from portside.events.egress import GuardedTransport, check_endpoint, is_link_local
from portside.events.errors import ValidationException
from portside.events.targets import DeliveryConfig
from portside.events.worker import Stats
from portside.model.doc import to_doc
from portside.model.states import TaskStatus
from portside.model.task import Task
from portside.store.sqlite import SqliteStore

REGION, ACCOUNT = "us-east-1", "000000000000"
METADATA = "169.254.169.254"
LINK_LOCAL_URLS = [
    f"http://{METADATA}/latest/meta-data/",
    "https://169.254.0.1:8443/hook",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://[fe80::1]/hook",
    "http://[febf:ffff::1]/hook",
    "http://[::ffff:169.254.169.254]/hook",  # IPv4 written as IPv6
    "http://2852039166/hook",  # 169.254.169.254 as one number: getaddrinfo reads it so
    "http://0xa9.0xfe.0xa9.0xfe/hook",  # ... or in hex
]
ALLOWED_URLS = [
    "http://127.0.0.1:9/hook",
    "http://localhost:9/hook",
    "https://169.255.0.1/hook",
    "http://[fd00:ec3::1]/hook",
    "http://[fec0::1]/hook",
    "https://hook.invalid/never-resolves",  # checked again at every call
]


# -- the rule ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("169.254.169.254", True),
        ("169.254.0.0", True),
        ("169.254.255.255", True),
        ("169.253.255.255", False),
        ("fd00:ec2::254", True),
        ("fd00:ec2::ffff:ffff:ffff:ffff", True),
        ("fd00:ec2:0:1::1", False),
        ("fe80::1%eth0", True),
        ("febf::1", True),
        ("fec0::1", False),
        ("::ffff:169.254.169.254", True),
        ("::ffff:10.0.0.1", False),
        ("10.0.0.1", False),
        ("::1", False),
    ],
)
def test_link_local_addresses(address: str, refused: bool) -> None:
    assert is_link_local(address) is refused


@pytest.mark.parametrize("url", LINK_LOCAL_URLS)
def test_an_endpoint_on_a_link_local_address_is_refused(url: str) -> None:
    with pytest.raises(ValidationException, match="--allow-link-local-destinations"):
        check_endpoint(url, allow_link_local=False)
    check_endpoint(url, allow_link_local=True)


@pytest.mark.parametrize("url", ALLOWED_URLS)
def test_other_endpoints_are_accepted(url: str) -> None:
    check_endpoint(url, allow_link_local=False)


def test_a_name_that_resolves_to_a_link_local_address_is_refused() -> None:
    def resolve(host: str, port: int) -> list[str]:
        assert (host, port) == ("metadata.internal.example", 443)
        return ["10.1.2.3", METADATA]  # any one of its addresses is enough

    with pytest.raises(ValidationException) as caught:
        check_endpoint("https://metadata.internal.example/x", False, resolve)
    assert str(caught.value) == (
        "InvocationEndpoint 'https://metadata.internal.example/x' is not valid: "
        "metadata.internal.example (169.254.169.254) is a link-local address, which API "
        "destinations may not call unless the server is started with "
        "--allow-link-local-destinations."
    )


# -- the transport -----------------------------------------------------------------------------


class Hook:
    """A webhook (httpx.MockTransport's handler) that answers 200 and keeps the requests."""

    def __init__(self) -> None:
        self.calls: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        return httpx.Response(200)


def fake_resolver(answers: dict[str, Sequence[str]]) -> Any:
    async def resolve(host: str, port: int) -> Sequence[str]:
        return answers[host]

    return resolve


def send(transport: httpx.AsyncBaseTransport, url: str) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport) as client:
            return await client.post(url, content=b"{}")

    return asyncio.run(go())


def test_the_transport_connects_to_the_address_it_checked() -> None:
    hook = Hook()
    transport = GuardedTransport(
        httpx.MockTransport(hook), resolve=fake_resolver({"hook.example": ["203.0.113.7"]})
    )
    assert send(transport, "https://hook.example:8443/in?x=1").status_code == 200
    (request,) = hook.calls
    # The address is pinned; the Host header and the TLS server name stay the name's.
    assert str(request.url) == "https://203.0.113.7:8443/in?x=1"
    assert request.headers["host"] == "hook.example:8443"
    assert request.extensions["sni_hostname"] == "hook.example"


def test_the_transport_refuses_a_name_that_resolves_to_a_link_local_address() -> None:
    hook = Hook()
    transport = GuardedTransport(
        httpx.MockTransport(hook), resolve=fake_resolver({"rebound.example": ["fd00:ec2::254"]})
    )
    with pytest.raises(httpx.ConnectError, match="is a link-local address"):
        send(transport, "http://rebound.example/in")
    assert hook.calls == []
    allowed = GuardedTransport(
        httpx.MockTransport(hook), allow_link_local=True, resolve=fake_resolver({})
    )
    assert send(allowed, "http://rebound.example/in").status_code == 200
    assert str(hook.calls[0].url) == "http://rebound.example/in"


# -- delivery ----------------------------------------------------------------------------------


def put_task(store: SqliteStore) -> None:
    task = Task(
        arn=f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/c/t1",
        cluster_arn=f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/c",
        task_definition_arn=f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/a:1",
        instance_arn="",
        launch_type="EC2",
        last_status=TaskStatus.PENDING,
        desired_status=TaskStatus.RUNNING,
        created_at=time.time(),
        version=1,
    )
    with store.transaction() as tx:
        tx.put("tasks", task.arn, to_doc(task))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "portside.db")
    op = testing.make_op(testing.make_world(store, clock=time.time), REGION, ACCOUNT)
    pattern = {"source": ["aws.ecs"]}
    rules.put_rule(op, {"Name": "r", "EventPattern": orjson.dumps(pattern).decode()})
    auth = {"ApiKeyAuthParameters": {"ApiKeyName": "x-k", "ApiKeyValue": "v"}}
    conn = destinations.create_connection(
        op, {"Name": "c", "AuthorizationType": "API_KEY", "AuthParameters": auth}
    )
    # The name does not resolve now: accepted, and checked at every call.
    dest = destinations.create_api_destination(
        op,
        {
            "Name": "d",
            "ConnectionArn": conn.arn,
            "InvocationEndpoint": "http://hook.invalid/in",
            "HttpMethod": "POST",
        },
    )
    assert rules.put_targets(op, {"Rule": "r", "Targets": [{"Id": "t", "Arn": dest.arn}]}) == []
    yield store
    store.close()


def deliver(store: SqliteStore, transport: GuardedTransport) -> Stats:
    """Run the delivery loop until the target's one event is delivered or dropped."""
    loop = DeliveryLoop(store, DeliveryConfig(retry_base=0.01), interval=0.02, transport=transport)

    async def go() -> Stats:
        runner = asyncio.create_task(loop.run())
        try:
            deadline = time.monotonic() + 20
            while not loop.workers:
                assert time.monotonic() < deadline, "no worker started"
                await asyncio.sleep(0.02)
            put_task(store)
            (worker, _, _) = next(iter(loop.workers.values()))
            while worker.stats.delivered + worker.stats.dropped == 0:
                assert time.monotonic() < deadline, "the event was neither delivered nor dropped"
                await asyncio.sleep(0.02)
            return worker.stats
        finally:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner

    return asyncio.run(go())


def test_delivery_drops_an_event_whose_webhook_resolves_to_a_link_local_address(
    store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    hook = Hook()
    transport = GuardedTransport(
        httpx.MockTransport(hook), resolve=fake_resolver({"hook.invalid": [METADATA]})
    )
    with caplog.at_level(logging.WARNING, "portside.events"):
        stats = deliver(store, transport)
    assert (stats.delivered, stats.dropped, stats.attempts) == (0, 1, 1)  # not retried
    assert hook.calls == []
    assert "hook.invalid (169.254.169.254) is a link-local address" in caplog.text


def test_delivery_calls_a_webhook_elsewhere(store: SqliteStore) -> None:
    hook = Hook()
    transport = GuardedTransport(
        httpx.MockTransport(hook), resolve=fake_resolver({"hook.invalid": ["198.51.100.4"]})
    )
    stats = deliver(store, transport)
    assert (stats.delivered, stats.dropped) == (1, 0)
    assert [(r.url.host, r.headers["host"]) for r in hook.calls] == [
        ("198.51.100.4", "hook.invalid")
    ]


# -- through the API ---------------------------------------------------------------------------


def create(events: Any, name: str, url: str) -> dict[str, Any]:
    conn = events.create_connection(
        Name=name,
        AuthorizationType="BASIC",
        AuthParameters={"BasicAuthParameters": {"Username": "u", "Password": "p"}},
    )
    return dict(
        events.create_api_destination(
            Name=name,
            ConnectionArn=conn["ConnectionArn"],
            InvocationEndpoint=url,
            HttpMethod="POST",
        )
    )


# The model's pattern for InvocationEndpoint has no brackets: no IPv6 literal gets that far.
API_URLS = [url for url in LINK_LOCAL_URLS if "[" not in url]


def test_create_api_destination_refuses_link_local_endpoints(
    server: ServerProcess, name: str
) -> None:
    events = server.client("events")
    for n, url in enumerate(LINK_LOCAL_URLS):
        with pytest.raises(ClientError) as caught:
            create(events, f"{name}-{n}", url)
        error = caught.value.response["Error"]
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert error["Code"] == "ValidationException", error
        if url not in API_URLS:
            assert "at 'invocationEndpoint' failed to satisfy constraint" in error["Message"]
            continue
        assert error["Message"].startswith(f"InvocationEndpoint '{url}' is not valid: ")
        assert error["Message"].endswith(
            "is a link-local address, which API destinations may not call unless the server "
            "is started with --allow-link-local-destinations."
        )
    assert create(events, f"{name}-ok", "http://127.0.0.1:9/hook")["ApiDestinationState"] == (
        "ACTIVE"
    )


def test_a_server_started_with_the_flag_accepts_them(tmp_path: Path, name: str) -> None:
    server = ServerProcess(tmp_path / "data", None, "--allow-link-local-destinations").start()
    try:
        events = server.client("events")
        for n, url in enumerate(API_URLS):
            assert create(events, f"{name}-{n}", url)["ApiDestinationState"] == "ACTIVE"
    finally:
        server.stop()
