"""The task metadata endpoint, served by the agent: version 4 (ECS_CONTAINER_METADATA_URI_V4)
and version 3 (ECS_CONTAINER_METADATA_URI), each at `/v{3,4}/<token>`:

    <uri>               this container
    <uri>/task          its task, with every container
    <uri>/taskWithTags  the same plus TaskTags and ContainerInstanceTags
    <uri>/stats         this container's Docker stats, as Docker gives them
    <uri>/task/stats    DockerId -> Docker stats, for every container of the task

The token in the URI names one container (ECS's "v3 endpoint ID"), so a container sees its
own task and nothing else. Failures answer as the ECS agent does: a JSON string naming the
handler, with the agent's status codes (v4: 404 for an unknown token; v3 kept its older
400/500). The documents themselves are built in shapes.py, from what source.py
reads of the agent's runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from portside.agent.metadata.shapes import (
    ContainerMeta,
    TaskMeta,
    container_document,
    container_stats_document,
    task_document,
    task_stats_document,
)

log = logging.getLogger("portside.agent.metadata")

# ECS's agent uses 51678 (introspection) and 51679 (metadata, credentials) on instances.
DEFAULT_PORT = 51680


class MetadataSource(Protocol):
    def lookup(self, token: str) -> tuple[TaskMeta, ContainerMeta] | None:
        """The container this token was issued to, and its task; None for an unknown token.
        Called on the event loop: it must not block."""

    def task_containers(self, task_arn: str) -> list[ContainerMeta]:
        """The containers of the task to list, in order. ECS lists those pulled or created;
        one not yet created has an empty runtime_id. Called on the event loop."""

    def stats(self, runtime_id: str) -> dict[str, Any]:
        """One sample of Docker's stats for the container (Driver.stats). Called in a worker
        thread; may raise."""


@dataclass(frozen=True, slots=True)
class _Statuses:
    """The status the ECS agent answers with, per failure, for one endpoint version."""

    container_lookup: int
    task_lookup: int
    stats_lookup: int
    stats_failed: int


_STATUSES = {4: _Statuses(404, 404, 404, 500), 3: _Statuses(400, 500, 400, 400)}
_NO_CONTAINER = (
    "unable to get container ID from request: unable to get docker ID from v3 endpoint ID: "
)
_NO_TASK = "unable to get task arn from request: unable to get task Arn from v3 endpoint ID: "

Endpoint = Callable[[Request], Awaitable[Response]]
# What an endpoint answers for a known token: (token, its task, its container) -> response.
Answer = Callable[[str, TaskMeta, ContainerMeta], Awaitable[Response]]


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _guarded(fallback: str) -> Callable[[Endpoint], Endpoint]:
    """Answer an unexpected failure as ECS does: 500 and a generic JSON string."""

    def wrap(endpoint: Endpoint) -> Endpoint:
        async def handle(request: Request) -> Response:
            try:
                return await endpoint(request)
            except Exception:
                log.exception("metadata endpoint %s failed", request.url.path)
                return _json(fallback, 500)

        return handle

    return wrap


async def _not_found(request: Request, exc: Exception) -> Response:
    # The ECS agent's router answers an unknown path in Go's words.
    return PlainTextResponse("404 page not found\n", status_code=404)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The agent owns the process's signals; the endpoint stops when the agent says so.
        yield


def _bind(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


class MetadataServer:
    """Serves on `host` (loopback by default) and on each address given to `listen()`, all on
    one port: only where tasks reach it (their network's gateway), never on every interface
    of the host."""

    def __init__(
        self, source: MetadataSource, host: str = "127.0.0.1", port: int = DEFAULT_PORT
    ) -> None:
        self.source = source
        self.host = host
        self.port = port  # port 0 picks a free one; the bound port is here after start()
        self.app = Starlette(routes=self.routes(), exception_handlers={404: _not_found})
        self.app.router.redirect_slashes = False
        self._listeners: dict[str, tuple[_Server, asyncio.Task[None]]] = {}

    @property
    def addresses(self) -> frozenset[str]:
        """The addresses served on."""
        return frozenset(self._listeners)

    def routes(self) -> list[Route]:
        routes = []
        for v in (4, 3):
            base = f"/v{v}/{{token}}"
            routes += [
                Route(base, self._container(v)),
                Route(base + "/task", self._task_doc(v, with_tags=False)),
                Route(base + "/taskWithTags", self._task_doc(v, with_tags=True)),
                Route(base + "/stats", self._container_stats(v)),
                Route(base + "/task/stats", self._task_stats(v)),
            ]
        return routes

    def uri_for(self, address: str, token: str) -> str:
        """The container's ECS_CONTAINER_METADATA_URI_V4; its v3 URI has /v3/ instead."""
        if ":" in address and not address.startswith("["):
            address = f"[{address}]"
        return f"http://{address}:{self.port}/v4/{token}"

    async def start(self) -> None:
        """Listen on host:port and serve from the running event loop until stop()."""
        if self._listeners:
            raise RuntimeError("metadata endpoint already started")
        await self._open(self.host)
        log.info("task metadata endpoint on %s:%d", self.host, self.port)

    async def listen(self, address: str) -> None:
        """Serve on `address` too (same port), once start() has; OSError when it cannot be
        bound (not an address of this host, the port taken there)."""
        if address not in self._listeners:
            await self._open(address)
            log.info("task metadata endpoint also on %s:%d", address, self.port)

    async def _open(self, address: str) -> None:
        sock = _bind(address, self.port)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_config=None,  # leave the agent's logging alone
            access_log=False,
            lifespan="off",
            ws="none",
            timeout_graceful_shutdown=2,
        )
        server = _Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if task.done():
                sock.close()
                raise RuntimeError("metadata endpoint failed to start") from task.exception()
            await asyncio.sleep(0.005)
        self._listeners[address] = (server, task)

    async def stop(self) -> None:
        listeners = list(self._listeners.values())
        self._listeners.clear()
        for server, _ in listeners:
            server.should_exit = True
        for _, task in listeners:
            await task

    # -- handlers ------------------------------------------------------------------------

    def _endpoint(self, fallback: str, unknown: str, status: int, answer: Answer) -> Endpoint:
        """An endpoint of one container's token: `answer` for a known token; for an unknown
        one, `unknown` and the token with `status`; `fallback` with 500 when it fails."""

        @_guarded(fallback)
        async def handle(request: Request) -> Response:
            token = request.path_params["token"]
            found = self.source.lookup(token)
            if found is None:
                return _json(unknown + token, status)
            return await answer(token, *found)

        return handle

    def _container(self, v: int) -> Endpoint:
        async def answer(token: str, task: TaskMeta, container: ContainerMeta) -> Response:
            return _json(container_document(task, container, version=v))

        return self._endpoint(
            "failed to get container metadata",
            f"V{v} container metadata handler: {_NO_CONTAINER}",
            _STATUSES[v].container_lookup,
            answer,
        )

    def _task_doc(self, v: int, *, with_tags: bool) -> Endpoint:
        async def answer(token: str, task: TaskMeta, container: ContainerMeta) -> Response:
            containers = self.source.task_containers(task.task_arn)
            return _json(task_document(task, containers, with_tags=with_tags, version=v))

        return self._endpoint(
            "failed to get task metadata",
            f"V{v} task metadata handler: {_NO_TASK}",
            _STATUSES[v].task_lookup,
            answer,
        )

    def _container_stats(self, v: int) -> Endpoint:
        statuses = _STATUSES[v]

        async def answer(token: str, task: TaskMeta, container: ContainerMeta) -> Response:
            runtime_id = container.runtime_id
            if not runtime_id:
                message = f"V{v} container stats handler: {_NO_CONTAINER}{token}"
                return _json(message, statuses.stats_lookup)
            try:
                stats = await asyncio.to_thread(self.source.stats, runtime_id)
            except Exception as exc:
                log.warning("stats for container %s: %s", runtime_id, exc)
                message = f"Unable to get container stats for: {runtime_id}"
                return _json(message, statuses.stats_failed)
            return _json(container_stats_document(stats, version=v))

        return self._endpoint(
            "failed to get stats",
            f"V{v} container stats handler: {_NO_TASK}",
            statuses.stats_lookup,
            answer,
        )

    def _task_stats(self, v: int) -> Endpoint:
        async def answer(token: str, task: TaskMeta, container: ContainerMeta) -> Response:
            containers = self.source.task_containers(task.task_arn)
            ids = [c.runtime_id for c in containers if c.runtime_id]
            samples = await asyncio.gather(*(asyncio.to_thread(self._sample, i) for i in ids))
            by_id = dict(zip(ids, samples, strict=True))
            return _json(task_stats_document(by_id, version=v))

        return self._endpoint(
            "failed to get stats",
            f"V{v} task stats handler: {_NO_TASK}",
            _STATUSES[v].stats_lookup,
            answer,
        )

    def _sample(self, runtime_id: str) -> dict[str, Any] | None:
        try:
            return self.source.stats(runtime_id)
        except Exception as exc:
            log.warning("stats for container %s: %s", runtime_id, exc)
            return None
