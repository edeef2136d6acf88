"""Every running task's container usage, as its agent samples it (agent/stats.py), kept in
memory and served to Prometheus at `GET /_portside/prometheus/tasks`.

The book keeps each task's latest two samples, which is what a utilization needs (CPU is a
cumulative counter: the rate between them); a task whose agent has sent nothing for
`STALE_AFTER` seconds (it stopped, its agent is gone) is dropped. Nothing is written to the
store: samples arrive every few seconds per task, and a restart loses a few seconds of
them. CloudWatch's `AWS/ECS` CPUUtilization and MemoryUtilization read the same book
(`TaskStats.cpu_used_units`, `memory_used_mib` against the reserved `cpu_units`,
`memory_mib`), as ECS defines them: used over reserved, summed over a service's tasks.

The Prometheus metrics are labelled with cluster, service, task, family, revision and
container; counters are Docker's own, so `rate()` works across a missed sample. The hosts'
Service Connect proxies send their per-target counts with the same reports
(`portside_service_connect_*_total`, by host, cluster, service and discovery name), kept per
(host, target) and dropped like a task's.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.routing import BaseRoute, Route

from portside.gateway.protocol.stats import STATS, ProxyCount, StatsReport, TaskSample
from portside.ops.context import Op

STALE_AFTER = 120.0
MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class TaskStats:
    latest: TaskSample
    previous: TaskSample | None
    received_at: float

    @property
    def cpu_units(self) -> int:
        return self.latest.cpu_units

    @property
    def memory_mib(self) -> int:
        return self.latest.memory_mib

    def cpu_used_units(self) -> float | None:
        """CPU in use between the two latest samples, in ECS's units (1024 per core); None
        with one sample only."""
        if self.previous is None:
            return None
        before = {c.name: c for c in self.previous.containers}
        used = 0.0
        for c in self.latest.containers:
            old = before.get(c.name)
            if old is None or c.at <= old.at or c.cpu_seconds < old.cpu_seconds:
                continue  # a new or restarted container: no rate yet
            used += (c.cpu_seconds - old.cpu_seconds) / (c.at - old.at)
        return used * 1024

    def memory_used_mib(self) -> float:
        return sum(c.memory_bytes for c in self.latest.containers) / MIB


class TaskStatsBook:
    """The latest samples of every task, by ARN. Thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._tasks: dict[str, TaskStats] = {}
        # (host, target) -> (its latest counts, when they came): Service Connect's proxies
        self._proxies: dict[tuple[str, str], tuple[ProxyCount, float]] = {}
        self._lock = threading.Lock()

    def put_proxy_counts(self, host: str, counts: tuple[ProxyCount, ...]) -> None:
        now = self.clock()
        with self._lock:
            for count in counts:
                self._proxies[(host, count.target)] = (count, now)

    def proxy_counts(self) -> list[tuple[str, ProxyCount]]:
        """(host, counts) of every Service Connect target heard of within STALE_AFTER."""
        now = self.clock()
        with self._lock:
            stale = [k for k, (_, at) in self._proxies.items() if now - at > STALE_AFTER]
            for key in stale:
                del self._proxies[key]
            return [(host, count) for (host, _), (count, _) in sorted(self._proxies.items())]

    def put(self, samples: tuple[TaskSample, ...]) -> None:
        now = self.clock()
        with self._lock:
            for sample in samples:
                kept = self._tasks.get(sample.task_arn)
                self._tasks[sample.task_arn] = TaskStats(sample, kept.latest if kept else None, now)

    def tasks(self) -> list[TaskStats]:
        """Every task sampled within STALE_AFTER; older ones are dropped."""
        now = self.clock()
        with self._lock:
            stale = [a for a, s in self._tasks.items() if now - s.received_at > STALE_AFTER]
            for arn in stale:
                del self._tasks[arn]
            return list(self._tasks.values())

    def clusters(self) -> set[str]:
        """The clusters (ARNs) of the tasks sampled lately."""
        return {s.latest.cluster_arn for s in self.tasks()}

    def get(self, task_arn: str) -> TaskStats | None:
        with self._lock:
            return self._tasks.get(task_arn)

    def routes(self, endpoint: Callable[[Any], Any]) -> list[BaseRoute]:
        """The agents' route, wrapped by the gateway's signed-endpoint wrapper."""

        def read_and_put(params: dict[str, Any]) -> None:
            report = StatsReport.from_wire(params)
            self.put(report.tasks)
            if report.host:
                self.put_proxy_counts(report.host, report.service_connect)

        async def receive(op: Op, params: dict[str, Any]) -> dict[str, Any]:
            # 5,000 tasks take ~75 ms to check: off the event loop.
            await asyncio.to_thread(read_and_put, params)
            return {}

        return [Route(STATS, endpoint(receive), methods=["POST"])]


# (name, type, help, ContainerSample field) of the per-container families, in order.
_CONTAINER_FAMILIES = (
    ("cpu_seconds_total", "counter", "CPU time the container used.", "cpu_seconds"),
    (
        "memory_usage_bytes",
        "gauge",
        "Memory the container uses, page cache excluded.",
        "memory_bytes",
    ),
    ("memory_limit_bytes", "gauge", "The container's memory limit.", "memory_limit_bytes"),
    ("network_receive_bytes_total", "counter", "Bytes received.", "rx_bytes"),
    ("network_transmit_bytes_total", "counter", "Bytes sent.", "tx_bytes"),
    ("blkio_read_bytes_total", "counter", "Bytes read from block devices.", "read_bytes"),
    ("blkio_write_bytes_total", "counter", "Bytes written to block devices.", "write_bytes"),
)
_PREFIX = "portside_task_container_"


class TaskStatsCollector:
    """The book in Prometheus' text format, written directly: prometheus_client's
    generic writer took ~16 µs a sample, 1.5 s for 10,000 tasks' 90,000 samples."""

    def __init__(self, book: TaskStatsBook) -> None:
        self.book = book

    def render(self, clusters: frozenset[str] = frozenset()) -> bytes:
        """The tasks of `clusters` (names or ARNs; empty: all)."""
        rows: list[tuple[str, TaskSample]] = []
        for stats in sorted(self.book.tasks(), key=lambda s: s.latest.task_arn):
            sample = stats.latest
            cluster = sample.cluster_arn.rsplit("/", 1)[-1]
            if clusters and not {cluster, sample.cluster_arn} & clusters:
                continue
            group = sample.group
            service = group[len("service:") :] if group.startswith("service:") else ""
            family, _, revision = sample.task_definition_arn.rsplit("/", 1)[-1].rpartition(":")
            task = sample.task_arn.rsplit("/", 1)[-1]
            labels = (
                f'cluster="{_escape(cluster)}",service="{_escape(service)}",'
                f'task="{_escape(task)}",family="{_escape(family)}",'
                f'revision="{_escape(revision)}"'
            )
            rows.append((labels, sample))
        out: list[str] = []
        for suffix, kind, help_text, field in _CONTAINER_FAMILIES:
            name = _PREFIX + suffix
            # The text format names a counter's family with its _total, as
            # prometheus_client writes it.
            out.append(f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n")
            for labels, sample in rows:
                for c in sample.containers:
                    value = getattr(c, field)
                    out.append(f'{name}{{{labels},container="{_escape(c.name)}"}} {value}\n')
        for name, help_text, value_of in (
            (
                "portside_task_cpu_reserved_units",
                "The task's reserved CPU units (1024 per vCPU).",
                lambda t: t.cpu_units,
            ),
            (
                "portside_task_memory_reserved_bytes",
                "The task's reserved memory.",
                lambda t: t.memory_mib * MIB,
            ),
        ):
            out.append(f"# HELP {name} {help_text}\n# TYPE {name} gauge\n")
            out.extend(f"{name}{{{labels}}} {value_of(sample)}\n" for labels, sample in rows)
        out.extend(self._proxies(clusters))
        return "".join(out).encode()

    def _proxies(self, clusters: frozenset[str]) -> list[str]:
        """Service Connect's counters: each host's proxy, per target service."""
        rows = []
        for host, count in self.book.proxy_counts():
            service_arn, _, discovery = count.target.partition("#")
            cluster, _, service = service_arn.rsplit(":", 1)[-1].split("/", 1)[-1].partition("/")
            if clusters and not {cluster, service_arn.replace(":service/", ":cluster/")} & clusters:
                continue
            labels = (
                f'host="{_escape(host.rsplit("/", 1)[-1])}",cluster="{_escape(cluster)}",'
                f'service="{_escape(service)}",discovery="{_escape(discovery)}"'
            )
            rows.append((labels, count))
        out = []
        for field, help_text in _PROXY_FAMILIES:
            name = f"portside_service_connect_{field}_total"
            out.append(f"# HELP {name} {help_text}\n# TYPE {name} counter\n")
            out.extend(f"{name}{{{labels}}} {getattr(c, field)}\n" for labels, c in rows)
        return out


_PROXY_FAMILIES = (
    ("requests", "HTTP requests a host's Service Connect proxy sent to the target service."),
    ("responses_5xx", "5xx responses from the target service."),
    ("connection_errors", "Connections to the target's tasks that failed."),
    ("response_errors", "Responses from the target's tasks that failed."),
    ("retries", "Requests retried."),
    ("redispatches", "Requests retried on another task."),
)


def _escape(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value
