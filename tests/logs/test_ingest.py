"""The agents' ingest routes on the gateway: prepare and put, idempotent across retries."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess
from logs.logcalls import now_ms

from portside.agent.client import ApiError, ControlPlaneClient
from portside.gateway import protocol


@pytest.fixture
def agent(server: ServerProcess) -> Iterator[ControlPlaneClient]:
    client = ControlPlaneClient(server.endpoint, ACCESS_KEY, SECRET_KEY, REGION)
    yield client
    client.close()


def test_prepare_needs_the_group_unless_create(agent: ControlPlaneClient, name: str) -> None:
    with pytest.raises(ApiError) as err:
        agent.agent(protocol.LOGS_PREPARE, group=name, stream="app/web/1", create=False)
    assert (err.value.status, err.value.code) == (400, "ResourceNotFoundException")
    assert err.value.message == "The specified log group does not exist."
    assert agent.agent(protocol.LOGS_PREPARE, group=name, stream="app/web/1", create=True) == {}


def test_put_stores_each_event_once(agent: ControlPlaneClient, logs: Any, name: str) -> None:
    agent.agent(protocol.LOGS_PREPARE, group=name, stream="s", create=True)
    t = now_ms()
    batch = [{"timestamp": t + i, "message": f"line {i}"} for i in range(3)]
    assert agent.agent(protocol.LOGS_PUT, group=name, stream="s", first=0, events=batch) == {
        "next": 3
    }
    # The agent did not see the answer and sends the batch again, plus one more line.
    more = [*batch, {"timestamp": t + 3, "message": "line 3"}]
    assert agent.agent(protocol.LOGS_PUT, group=name, stream="s", first=0, events=more) == {
        "next": 4
    }
    out = logs.get_log_events(logGroupName=name, logStreamName="s", startFromHead=True)
    assert [e["message"] for e in out["events"]] == [f"line {i}" for i in range(4)]


@pytest.mark.parametrize(
    "params",
    [
        {"first": -1, "events": []},
        {"first": 0, "events": [{"timestamp": "x", "message": "m"}]},
        {"first": 0, "events": [{"timestamp": 1}]},
        {"first": 0, "events": [{"timestamp": 1, "message": "m"}] * 10_001},
    ],
)
def test_put_refuses_malformed_batches(
    agent: ControlPlaneClient, name: str, params: dict[str, Any]
) -> None:
    agent.agent(protocol.LOGS_PREPARE, group=name, stream="s", create=True)
    with pytest.raises(ApiError) as err:
        agent.agent(protocol.LOGS_PUT, group=name, stream="s", **params)
    assert (err.value.status, err.value.code) == (400, "InvalidParameterException")


def test_ingest_is_signed(server: ServerProcess, name: str) -> None:
    bad = ControlPlaneClient(server.endpoint, ACCESS_KEY, "wrong-secret", REGION)
    with pytest.raises(ApiError) as err:
        bad.agent(protocol.LOGS_PREPARE, group=name, stream="s", create=True)
    assert err.value.status == 403
    bad.close()
