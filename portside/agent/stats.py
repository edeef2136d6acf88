"""Container usage, sampled on the agent and sent to the control plane: every
`PORTSIDE_STATS_INTERVAL` seconds (15 by default; 0 turns it off) each running container's
Docker stats (the simulated driver's from its load model) become a `ContainerSample`, and
one `StatsReport` per pass goes to `POST /_portside/agent/v1/stats`. The control plane keeps
the latest two per task (prometheus/task_stats.py) for Prometheus and CloudWatch.

Docker's stats call without streaming waits for a second reading (about a second), so the
containers are asked a few at a time in parallel. A pass that cannot reach the control
plane is dropped: the next one carries the same cumulative counters.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from portside.agent.driver import Driver, DriverError
from portside.agent.runner import TaskRun
from portside.agent.stats_cache import cache_of
from portside.gateway.protocol.stats import (
    MAX_TASKS,
    STATS,
    ContainerSample,
    ProxyCount,
    StatsReport,
    TaskSample,
)

log = logging.getLogger("portside.agent.stats")

INTERVAL_ENV = "PORTSIDE_STATS_INTERVAL"
DEFAULT_INTERVAL = 15.0
PARALLEL = 4


def container_sample(name: str, stats: Mapping[str, Any], at: float) -> ContainerSample:
    """Docker's stats document as a sample. Memory in use leaves the inactive page cache
    out, as `docker stats` does (cgroup v1 `total_inactive_file`, v2 `inactive_file`)."""
    cpu = stats.get("cpu_stats") or {}
    total = (cpu.get("cpu_usage") or {}).get("total_usage") or 0
    memory = stats.get("memory_stats") or {}
    usage = int(memory.get("usage") or 0)
    detail = memory.get("stats") or {}
    cache = detail.get("total_inactive_file", detail.get("inactive_file", 0)) or 0
    if 0 < cache < usage:
        usage -= int(cache)
    networks = (stats.get("networks") or {}).values()
    io = (stats.get("blkio_stats") or {}).get("io_service_bytes_recursive") or ()
    return ContainerSample(
        name=name,
        at=at,
        cpu_seconds=int(total) / 1e9,
        memory_bytes=usage,
        memory_limit_bytes=int(memory.get("limit") or 0),
        rx_bytes=sum(int(n.get("rx_bytes") or 0) for n in networks),
        tx_bytes=sum(int(n.get("tx_bytes") or 0) for n in networks),
        read_bytes=sum(int(e.get("value") or 0) for e in io if _op(e) == "read"),
        write_bytes=sum(int(e.get("value") or 0) for e in io if _op(e) == "write"),
    )


def reserved(run: TaskRun) -> tuple[int, int]:
    """(CPU units, MiB) the task reserves: its task-level sizes, else its containers' sums
    (the soft limit memoryReservation, else memory: what ECS's MemoryUtilization divides by)."""
    definitions = run.definition.get("containerDefinitions") or ()
    cpu = _int(run.task.cpu) or sum(_int(d.get("cpu")) for d in definitions)
    memory = _int(run.task.memory) or sum(
        _int(d.get("memoryReservation")) or _int(d.get("memory")) for d in definitions
    )
    return cpu, memory


class StatsSampler:
    def __init__(
        self,
        runs: Callable[[], Iterable[TaskRun]],
        driver: Driver,
        send: Callable[[StatsReport], None],
        *,
        interval: float,
        clock: Callable[[], float] = time.time,
        proxy: Callable[[], tuple[str, list[ProxyCount]]] | None = None,
    ) -> None:
        self.runs = runs
        # The host's instance ARN and its Service Connect proxy's counts, sent along.
        self.proxy = proxy
        self.driver = driver
        self.send = send
        self.interval = interval
        self.clock = clock
        self._pool = ThreadPoolExecutor(PARALLEL, thread_name_prefix="agent-stats")

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            try:
                self.pass_once()
            except Exception as exc:  # the control plane away: the next pass says it all
                log.warning("container stats not sent: %s", exc)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def pass_once(self) -> list[TaskSample]:
        wanted = [
            (run, c.name, c.runtime_id)
            for run in self.runs()
            if run.status == "RUNNING"
            for c in run.containers.values()
            if c.state == "running" and c.runtime_id
        ]
        # The simulated driver answers from memory: a pool would only add its overhead.
        mapper = map if self.driver.name == "simulated" else self._pool.map
        samples = list(mapper(lambda w: self._sample(w[1], w[2]), wanted))
        cache_of(self.driver).keep_only(w[2] for w in wanted)  # the metadata endpoint's
        by_task: dict[str, tuple[TaskRun, list[ContainerSample]]] = {}
        for (run, _, _), sample in zip(wanted, samples, strict=True):
            if sample is not None:
                by_task.setdefault(run.arn, (run, []))[1].append(sample)
        tasks = [
            TaskSample(
                run.arn,
                run.task.cluster_arn,
                run.task.task_definition_arn,
                run.task.group or "",
                tuple(found),
                *reserved(run),
            )
            for run, found in by_task.values()
        ]
        host, counts = self.proxy() if self.proxy is not None else ("", [])
        batches = [tasks[start : start + MAX_TASKS] for start in range(0, len(tasks), MAX_TASKS)]
        for n, batch in enumerate(batches or ([[]] if counts else [])):
            extra = (host, tuple(counts)) if n == 0 and counts else ("", ())
            self.send(StatsReport(tuple(batch), *extra))
        return tasks

    def _sample(self, name: str, runtime_id: str) -> ContainerSample | None:
        try:
            stats = self.driver.stats(runtime_id)
        except DriverError:
            return None  # gone between the listing and the call
        at = self.clock()
        cache_of(self.driver).put(runtime_id, stats, at)
        return container_sample(name, stats, at)


def start_sampler(agent: Any) -> threading.Thread | None:
    """The sampler thread of a running `agent/session.py` Agent (None: turned off)."""
    interval = float(os.environ.get(INTERVAL_ENV) or DEFAULT_INTERVAL)
    if interval <= 0:
        return None

    def runs() -> list[TaskRun]:
        return [
            run for worker in list(agent.workers.values()) for run in list(worker.runs.values())
        ]

    def proxy() -> tuple[str, list[ProxyCount]]:
        connect = getattr(agent, "connect", None)  # Service Connect's plane (Docker only)
        if connect is None or not agent.instance_arn:
            return "", []
        counts = [
            ProxyCount(
                c.target,
                c.requests,
                c.responses_5xx,
                c.connection_errors,
                c.response_errors,
                c.retries,
                c.redispatches,
            )
            for c in connect.counts().values()
        ]
        return agent.instance_arn, counts

    sampler = StatsSampler(
        runs,
        agent.driver,
        lambda report: agent.client.send(STATS, report),
        interval=interval,
        proxy=proxy,
    )
    thread = threading.Thread(
        target=sampler.run, args=(agent.stop_event,), name="agent-stats", daemon=True
    )
    thread.start()
    return thread


def _op(entry: Mapping[str, Any]) -> str:
    return str(entry.get("op") or "").lower()


def _int(value: Any) -> int:
    try:
        return int(str(value).strip()) if value not in (None, "") else 0
    except ValueError:
        return 0
