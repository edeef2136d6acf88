"""The agent's endpoints (agent/endpoints.py) and its client's failover (agent/client.py),
without a server: the client's transport is httpx's MockTransport."""

from __future__ import annotations

import httpx
import pytest

from portside.agent.client import ControlPlaneClient
from portside.agent.endpoints import Endpoints, expand, split


def test_the_endpoints_come_repeated_or_comma_separated_in_order_once_each() -> None:
    given = ["http://a:1/, http://b:2", "http://a:1", "http://c:3"]
    assert split(given) == ["http://a:1", "http://b:2", "http://c:3"]
    assert Endpoints(given).current == "http://a:1"
    with pytest.raises(ValueError):
        Endpoints([" , "])


def test_a_name_resolving_to_several_addresses_is_an_endpoint_per_address() -> None:
    resolve = {
        "replicas.internal": ["10.0.0.1", "10.0.0.2", "fd00::3"],
        "one.internal": ["10.0.0.9"],
    }

    def lookup(host: str, port: int) -> list[str]:
        assert port == 8000
        return resolve[host]

    assert expand("http://replicas.internal:8000/x", lookup) == [
        "http://10.0.0.1:8000/x",
        "http://10.0.0.2:8000/x",
        "http://[fd00::3]:8000/x",
    ]
    assert expand("http://one.internal:8000", lookup) == ["http://one.internal:8000"]
    assert expand("http://10.1.1.1:8000", lookup) == ["http://10.1.1.1:8000"]


def test_a_failure_moves_every_caller_to_the_next_endpoint_once_wrapping_around() -> None:
    endpoints = Endpoints(["http://a", "http://b", "http://c"])
    assert endpoints.failed("http://a", "refused") == "http://b"
    # A second thread's call to the old endpoint failing too does not skip b.
    assert endpoints.failed("http://a", "refused") == "http://b"
    assert endpoints.failed("http://b", "refused") == "http://c"
    assert endpoints.failed("http://c", "refused") == "http://a"
    assert endpoints.failovers == 3


def client_on(handler: httpx.MockTransport, *urls: str) -> ControlPlaneClient:
    client = ControlPlaneClient(",".join(urls), "AKIDEXAMPLE", "secret", "us-east-1")
    client._http = httpx.Client(transport=handler)
    return client


def test_a_call_that_cannot_connect_is_made_again_on_the_next_replica_and_stays_there() -> None:
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.host)
        if request.url.host == "a":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"ok": request.url.host})

    client = client_on(httpx.MockTransport(handle), "http://a", "http://b")
    assert client.agent("/_portside/agent/v1/sync") == {"ok": "b"}
    assert client.endpoint == "http://b"
    assert client.agent("/_portside/agent/v1/sync") == {"ok": "b"}
    assert seen == ["a", "b", "b"]


def test_an_error_answer_is_not_a_failover_and_all_replicas_down_is_the_callers_error() -> None:
    from portside.agent.client import ApiError

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.host == "b":
            raise httpx.ReadTimeout("hung", request=request)
        return httpx.Response(500, json={"__type": "ServerException", "message": "db down"})

    client = client_on(httpx.MockTransport(handle), "http://a", "http://b")
    with pytest.raises(ApiError) as error:
        client.ecs("ListClusters")
    assert error.value.code == "ServerException" and client.endpoint == "http://a"

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = client_on(httpx.MockTransport(down), "http://a", "http://b")
    with pytest.raises(httpx.ConnectError):
        client.ecs("ListClusters")
