"""What one webhook call is: the HTTP request an event makes for a target (pure), how its
answer is judged, and how long to wait before the next try."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson

from portside.events.model import ApiDestination, Connection

USER_AGENT = "Amazon/EventBridge/ApiDestinations"
# EventBridge retries these (and network errors, timeouts); any other non-2xx is final.
RETRYABLE = frozenset({401, 407, 409, 429})


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None


def _input(event: dict[str, Any], spec: dict[str, Any]) -> Any:
    if "Input" in spec:
        return orjson.loads(spec["Input"])
    path = spec.get("InputPath")
    if path:
        value: Any = event
        for part in str(path).lstrip("$").strip(".").split("."):
            if not part:
                continue
            value = value.get(part) if isinstance(value, dict) else None
        return value
    return event


def build_request(
    event: dict[str, Any], spec: dict[str, Any], dest: ApiDestination, conn: Connection | None
) -> Request:
    """The call EventBridge makes to an API destination for one event."""
    http = spec.get("HttpParameters") or {}
    url = dest.endpoint
    for value in http.get("PathParameterValues") or ():
        url = url.replace("*", str(value), 1)
    query = dict(conn.query()) if conn else {}
    query.update(http.get("QueryStringParameters") or {})
    if query:
        url += ("&" if "?" in url else "?") + urlencode(query)
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT}
    if conn is not None:
        headers.update(conn.headers())
    headers.update(http.get("HeaderParameters") or {})
    method = dest.http_method.upper()
    body = None if method in ("GET", "HEAD") else orjson.dumps(_input(event, spec))
    return Request(method, url, headers, body)


def verdict(status: int | None) -> str:
    """ "ok", "retry" or "fail" for an answer's status (None: no answer: network error or
    timeout)."""
    if status is None:
        return "retry"
    if 200 <= status < 300:
        return "ok"
    if status >= 500 or status in RETRYABLE:
        return "retry"
    return "fail"


def backoff(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Seconds before try `attempt + 1` after `attempt` failed tries: exponential, capped,
    with jitter (half fixed, half random) so failing targets do not retry in step."""
    delay = min(cap, base * (2 ** max(0, attempt - 1)))
    return delay / 2 + rng.uniform(0, delay / 2)
