"""The agent's task runs, seen as the task metadata endpoint needs them; and the thread
that serves the endpoint beside the agent's own threads."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from portside.agent.driver import Driver
from portside.agent.metadata.server import MetadataServer
from portside.agent.metadata.shapes import (
    ContainerMeta,
    HealthMeta,
    NetworkMeta,
    PortMeta,
    TaskMeta,
)
from portside.agent.runner import ContainerRun, TaskRun
from portside.agent.stats_cache import cache_of

log = logging.getLogger("portside.agent")

_KNOWN = {
    "none": "NONE",
    "pulled": "PULLED",
    "created": "CREATED",
    "running": "RUNNING",
    "exited": "STOPPED",
}


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def task_meta(run: TaskRun) -> TaskMeta:
    task = run.task
    group = task.group or ""
    return TaskMeta(
        task_arn=run.arn,
        cluster=task.cluster,
        cluster_arn=task.cluster_arn,
        family=task.family,
        revision=task.revision,
        desired_status=task.desired_status,
        known_status=run.status,
        network_mode=run.network_mode,
        cpu_units=_int(task.cpu) if run.definition.get("cpu") else None,
        memory_mib=_int(task.memory) if run.definition.get("memory") else None,
        pull_started_at=run.pull_started_at,
        pull_stopped_at=run.pull_stopped_at,
        execution_stopped_at=run.execution_stopped_at,
        availability_zone=task.availability_zone or "",
        launch_type=task.launch_type,
        service_name=group.removeprefix("service:") if group.startswith("service:") else "",
        task_tags={},
        instance_tags=None if task.launch_type == "FARGATE" else {},
    )


def container_meta(run: TaskRun, c: ContainerRun) -> ContainerMeta:
    d = c.definition
    res = run.resources
    networks: tuple[NetworkMeta, ...] = ()
    if run.network_mode == "awsvpc" and res is not None and res.ip_address:
        networks = (
            NetworkMeta(
                "awsvpc",
                (res.ip_address,),
                mac_address=res.mac_address or "",
                ipv4_subnet_cidr=str(res.extra.get("subnet", "")),
                ipv4_gateway=res.gateway or "",
                private_dns_name="ip-" + res.ip_address.replace(".", "-") + ".ec2.internal",
            ),
        )
    elif run.network_mode in ("bridge", "host"):
        networks = (NetworkMeta(run.network_mode),)
    log_cfg = d.get("logConfiguration") or {}
    return ContainerMeta(
        name=c.name,
        runtime_id=c.runtime_id or "",
        docker_name=c.runtime_id[:12] if c.runtime_id else "",
        image=str(d.get("image", "")),
        image_id=c.digest or "",
        labels=dict(d.get("dockerLabels") or {}),
        desired_status=run.task.desired_status,
        known_status=_KNOWN.get(c.state, "NONE"),
        exit_code=c.exit_code if c.state == "exited" else None,
        cpu_units=_int(d.get("cpu")) or 0,
        memory_mib=_int(d.get("memory")),
        created_at=c.created_at,
        started_at=c.started_at,
        finished_at=c.finished_at,
        container_arn=next((x.arn for x in run.task.containers if x.name == c.name), ""),
        log_driver=str(log_cfg.get("logDriver", "")),
        log_options=dict(log_cfg.get("options") or {}),
        networks=networks,
        ports=tuple(
            PortMeta(
                int(b.get("containerPort") or 0),
                str(b.get("protocol", "tcp")),
                int(b.get("hostPort") or 0),
                str(b.get("bindIP", "")),
            )
            for b in c.bindings
        ),
        health=HealthMeta(status=c.health) if d.get("healthCheck") and c.health else None,
    )


class RunsSource:
    """MetadataSource over the agent's workers."""

    def __init__(self, runs: Callable[[], Iterable[TaskRun]], driver: Driver) -> None:
        self._runs = runs
        self._driver = driver

    def lookup(self, token: str) -> tuple[TaskMeta, ContainerMeta] | None:
        for run in self._runs():
            for c in run.containers.values():
                if c.token == token:
                    return task_meta(run), container_meta(run, c)
        return None

    def task_containers(self, task_arn: str) -> list[ContainerMeta]:
        for run in self._runs():
            if run.arn == task_arn:
                return [container_meta(run, c) for c in run.containers.values()]
        return []

    def stats(self, runtime_id: str) -> dict[str, Any]:
        # The agent's own last reading (agent/stats_cache.py), as the ECS agent answers;
        # Docker asked directly only for a container not sampled yet (or sampling off).
        cached = cache_of(self._driver).latest(runtime_id)
        return cached if cached is not None else self._driver.stats(runtime_id)


class MetadataThread:
    """Serves the endpoint from its own event loop, so the agent's threads never wait on it."""

    def __init__(self, server: MetadataServer) -> None:
        self.server = server
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self._refused: set[str] = set()
        self._thread = threading.Thread(target=self._run, name="agent-metadata", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.server.start())
        except BaseException as exc:  # reported to start()'s caller
            self._error = exc
            self._started.set()
            return
        self._started.set()
        self._loop.run_forever()

    def start(self, timeout: float = 10.0) -> int:
        self._thread.start()
        self._started.wait(timeout)
        if self._error is not None:
            raise self._error
        return self.server.port

    def listen(self, address: str, timeout: float = 10.0) -> bool:
        """Serve on `address` too (a task network's gateway); False when it cannot be bound
        there (logged once until it can). Called from the agent's threads."""
        with self._lock:
            if address in self.server.addresses:
                return True
            future = asyncio.run_coroutine_threadsafe(self.server.listen(address), self._loop)
            try:
                future.result(timeout)
            except Exception as exc:
                # Tasks on that network get no metadata endpoint (the address is not this
                # host's, or its bridge is being remade): better than every interface. The
                # next task there tries again.
                if address not in self._refused:
                    log.warning("task metadata endpoint cannot listen on %s: %s", address, exc)
                self._refused.add(address)
                return False
            self._refused.discard(address)
            return True

    def stop(self) -> None:
        if not self._loop.is_running():
            return
        future = asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop)
        try:
            future.result(timeout=5)
        except Exception:
            log.warning("metadata endpoint did not stop cleanly")
        self._loop.call_soon_threadsafe(self._loop.stop)
