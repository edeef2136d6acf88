"""The HTTP routes Prometheus reads, on the control plane's port:

    GET /metrics                      the control plane's metrics (text exposition format)
    GET /_portside/prometheus/tasks   every running task's container usage (`task_stats.py`)
    GET /_portside/prometheus/sd      HTTP service discovery of the tasks' exporters; with
                                      `usage=true`, also one target per cluster: the
                                      tasks' usage above, at this server's address

Who may read them: as `/_portside/health`'s status, anyone, since Prometheus scrapes without
SigV4. With a token set (`PORTSIDE_PROMETHEUS_TOKEN`), a request needs `Authorization:
Bearer <token>` (Prometheus' `authorization` / `bearer_token_file` settings, for scrapes and
for `http_sd_configs` alike) or a valid SigV4 signature; anything else is 401.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from portside.api.auth import Principal
from portside.api.protocols.base import WireRequest, request_head
from portside.errors import PortsideError
from portside.prometheus.discovery import parse_ask
from portside.prometheus.metrics import CONTENT_TYPE

Authenticate = Callable[[WireRequest], Principal]

METRICS = "/metrics"
TASKS = "/_portside/prometheus/tasks"
SD = "/_portside/prometheus/sd"


class Access:
    """The routes' one check: open, or a bearer token (or SigV4) when a token is set."""

    def __init__(self, token: str | None, authenticate: Authenticate) -> None:
        self.token = token or None
        self.authenticate = authenticate

    def allowed(self, request: Request) -> bool:
        if self.token is None:
            return True
        given = request.headers.get("authorization") or ""
        scheme, _, value = given.partition(" ")
        if scheme.lower() == "bearer":
            return hmac.compare_digest(value.strip().encode(), self.token.encode())
        if not given and "X-Amz-" not in (request.url.query or ""):
            return False
        try:
            self.authenticate(request_head(request.scope))
        except PortsideError:
            return False
        return True


def _refused() -> Response:
    return Response(
        "Unauthorized: send the token set in PORTSIDE_PROMETHEUS_TOKEN as a bearer token.\n",
        status_code=401,
        media_type="text/plain",
        headers={"WWW-Authenticate": 'Bearer realm="portside"'},
    )


def routes(
    access: Access,
    render: Callable[[], bytes],
    render_tasks: Callable[[frozenset[str]], bytes],
    discover: Callable[[Any], list[dict[str, Any]]],
    sampled_clusters: Callable[[], set[str]],
) -> list[BaseRoute]:
    async def metrics(request: Request) -> Response:
        if not access.allowed(request):
            return _refused()
        body = await asyncio.to_thread(render)
        return Response(body, media_type=CONTENT_TYPE)

    async def tasks(request: Request) -> Response:
        if not access.allowed(request):
            return _refused()
        clusters = parse_ask(request.query_params.getlist("cluster"), (), None).clusters
        body = await asyncio.to_thread(render_tasks, clusters)
        return Response(body, media_type=CONTENT_TYPE)

    async def sd(request: Request) -> Response:
        if not access.allowed(request):
            return _refused()
        query = request.query_params
        ask = parse_ask(query.getlist("cluster"), query.getlist("service"), query.get("port_name"))
        found = await asyncio.to_thread(discover, ask)
        if query.get("usage", "").lower() in ("1", "true", "yes"):
            found = [*found, *_usage_targets(request, ask, sampled_clusters())]
        return Response(orjson.dumps(found), media_type="application/json")

    return [
        Route(METRICS, metrics, methods=["GET"]),
        Route(TASKS, tasks, methods=["GET"]),
        Route(SD, sd, methods=["GET"]),
    ]


def _usage_targets(request: Request, ask: Any, clusters: set[str]) -> list[dict[str, Any]]:
    """The tasks' usage endpoint as one target per cluster with sampled tasks, reached
    where this request came in (its Host)."""
    host = request.headers.get("host") or f"{request.url.hostname}:{request.url.port}"
    groups = []
    for arn in sorted(clusters):
        if not ask.wants_cluster(arn):
            continue
        name = arn.rsplit("/", 1)[-1]
        labels = {
            "__metrics_path__": TASKS,
            "__param_cluster": arn,
            "__meta_ecs_cluster": name,
            "__meta_ecs_cluster_arn": arn,
            "job": "portside-task-usage",
        }
        groups.append({"targets": [host], "labels": labels})
    return groups
