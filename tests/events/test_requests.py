"""The webhook call an event makes, how answers are judged, and the back-off."""

from __future__ import annotations

import base64
import random

import orjson

from portside.events.model import ApiDestination, Connection
from portside.events.requests import backoff, build_request, verdict

EVENT = {"id": "e1", "detail-type": "ECS Task State Change", "detail": {"lastStatus": "RUNNING"}}


def dest(method: str = "POST", endpoint: str = "https://hooks.example.com/ecs") -> ApiDestination:
    return ApiDestination("arn:d", "d", "us-east-1", "arn:c", endpoint, method, 0.0, 0.0)


def conn(kind: str, params: dict[str, object]) -> Connection:
    return Connection("arn:c", "c", "us-east-1", kind, params, 0.0, 0.0)


def test_api_key_connection_and_target_parameters() -> None:
    c = conn(
        "API_KEY",
        {
            "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "s3cret"},
            "InvocationHttpParameters": {
                "HeaderParameters": [{"Key": "x-team", "Value": "ops", "IsValueSecret": False}],
                "QueryStringParameters": [{"Key": "src", "Value": "portside"}],
            },
        },
    )
    spec = {
        "Id": "t",
        "Arn": "arn:d",
        "HttpParameters": {
            "PathParameterValues": ["tasks"],
            "HeaderParameters": {"x-rule": "r1"},
            "QueryStringParameters": {"v": "2"},
        },
    }
    req = build_request(EVENT, spec, dest(endpoint="https://h.example.com/*/in"), c)
    assert req.method == "POST"
    assert req.url == "https://h.example.com/tasks/in?src=portside&v=2"
    assert req.headers["x-api-key"] == "s3cret"
    assert req.headers["x-team"] == "ops"
    assert req.headers["x-rule"] == "r1"
    assert req.headers["Content-Type"].startswith("application/json")
    assert req.body is not None and orjson.loads(req.body) == EVENT


def test_basic_connection() -> None:
    c = conn("BASIC", {"BasicAuthParameters": {"Username": "u", "Password": "p:w"}})
    req = build_request(EVENT, {"Id": "t", "Arn": "arn:d"}, dest(), c)
    assert req.headers["Authorization"] == "Basic " + base64.b64encode(b"u:p:w").decode()


def test_input_and_input_path_replace_the_body() -> None:
    req = build_request(EVENT, {"Id": "t", "Arn": "a", "Input": '{"fixed": 1}'}, dest(), None)
    assert req.body is not None and orjson.loads(req.body) == {"fixed": 1}
    req = build_request(EVENT, {"Id": "t", "Arn": "a", "InputPath": "$.detail"}, dest(), None)
    assert req.body is not None and orjson.loads(req.body) == {"lastStatus": "RUNNING"}


def test_get_sends_no_body() -> None:
    assert build_request(EVENT, {"Id": "t", "Arn": "a"}, dest("GET"), None).body is None


def test_verdicts_follow_eventbridge() -> None:
    assert [verdict(s) for s in (200, 201, 204)] == ["ok"] * 3
    assert [verdict(s) for s in (500, 502, 503, 429, 401, 407, 409, None)] == ["retry"] * 8
    assert [verdict(s) for s in (400, 403, 404, 410, 302)] == ["fail"] * 5


def test_backoff_grows_and_is_capped() -> None:
    rng = random.Random(1)
    waits = [backoff(n, 1.0, 60.0, rng) for n in range(1, 12)]
    for n, wait in enumerate(waits, start=1):
        full = min(60.0, 2.0 ** (n - 1))
        assert full / 2 <= wait <= full
    assert max(waits) <= 60.0
