"""Container usage samples, agent to control plane (agent/stats.py sends them,
prometheus/task_stats.py keeps them).

    POST /_portside/agent/v1/stats  {"tasks": [TaskSample, ...],
                                     "host": INSTANCE_ARN, "serviceConnect": [ProxyCount]} -> {}

`serviceConnect` (optional): the host's Service Connect proxy counts per target, HAProxy's
cumulative counters (agent/serviceconnect/stats.py), sent with the host's instance ARN.

A sample holds Docker's cumulative counters as they were read (CPU seconds, network and
block I/O bytes) and memory as a gauge, so the control plane computes rates over any window
and a lost sample costs nothing but resolution. Reading a message checks it: at most
`MAX_TASKS` tasks, numbers that are numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from portside.errors import InvalidParameterException

STATS = "/_portside/agent/v1/stats"
MAX_TASKS = 5000
MAX_CONTAINERS = 10  # ECS allows 10 containers per task definition

_COUNTERS = (
    "cpu_seconds",
    "memory_bytes",
    "memory_limit_bytes",
    "rx_bytes",
    "tx_bytes",
    "read_bytes",
    "write_bytes",
)


@dataclass(frozen=True, slots=True)
class ContainerSample:
    name: str
    at: float  # when it was read (epoch seconds, the agent's clock)
    cpu_seconds: float  # CPU time used since the container started
    memory_bytes: int  # memory in use, page cache excluded (as `docker stats` shows it)
    memory_limit_bytes: int  # its cgroup's limit (the host's memory when it has none)
    rx_bytes: int = 0  # network, every interface of the container's network namespace
    tx_bytes: int = 0
    read_bytes: int = 0  # block I/O
    write_bytes: int = 0

    def to_wire(self) -> dict[str, Any]:
        return {"name": self.name, "at": self.at, **{k: getattr(self, k) for k in _COUNTERS}}

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> ContainerSample:
        name, at = d.get("name"), d.get("at")
        if not isinstance(name, str) or not name or not _number(at):
            raise InvalidParameterException("A container sample needs a name and a time.")
        values = [d.get(k, 0) for k in _COUNTERS]
        if not all(_number(v) and v >= 0 for v in values):
            raise InvalidParameterException(f"Container {name}: counters must be numbers >= 0.")
        cpu, *rest = values
        return cls(name, float(at), float(cpu), *(int(v) for v in rest))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class TaskSample:
    task_arn: str
    cluster_arn: str
    task_definition_arn: str
    group: str  # "service:NAME" for a service's task
    containers: tuple[ContainerSample, ...]
    cpu_units: int = 0  # the task's reserved CPU (task-level, else the containers' sum)
    memory_mib: int = 0  # the task's reserved memory, likewise

    def to_wire(self) -> dict[str, Any]:
        return {
            "taskArn": self.task_arn,
            "clusterArn": self.cluster_arn,
            "taskDefinitionArn": self.task_definition_arn,
            "group": self.group,
            "cpu": self.cpu_units,
            "memory": self.memory_mib,
            "containers": [c.to_wire() for c in self.containers],
        }

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> TaskSample:
        arns = [d.get(k) for k in ("taskArn", "clusterArn", "taskDefinitionArn")]
        if not all(isinstance(a, str) and a.startswith("arn:") for a in arns):
            raise InvalidParameterException("A task sample needs its task, cluster and definition.")
        containers = d.get("containers")
        if not isinstance(containers, list) or len(containers) > MAX_CONTAINERS:
            raise InvalidParameterException("containers must be a list of at most 10.")
        cpu, memory = d.get("cpu", 0), d.get("memory", 0)
        if not (_number(cpu) and _number(memory)):
            raise InvalidParameterException("cpu and memory must be numbers.")
        return cls(
            str(arns[0]),
            str(arns[1]),
            str(arns[2]),
            str(d.get("group") or ""),
            tuple(ContainerSample.from_wire(c) for c in containers),
            int(cpu),
            int(memory),
        )


_PROXY_COUNTERS = (
    "requests",
    "responses_5xx",
    "connection_errors",
    "response_errors",
    "retries",
    "redispatches",
)
MAX_TARGETS = 1000


@dataclass(frozen=True, slots=True)
class ProxyCount:
    """One Service Connect target's counts on a host's proxy (cumulative)."""

    target: str  # "<service ARN>#<discoveryName>"
    requests: int = 0
    responses_5xx: int = 0
    connection_errors: int = 0
    response_errors: int = 0
    retries: int = 0
    redispatches: int = 0

    def to_wire(self) -> dict[str, Any]:
        return {"target": self.target, **{k: getattr(self, k) for k in _PROXY_COUNTERS}}

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> ProxyCount:
        target = d.get("target")
        if not isinstance(target, str) or not target.startswith("arn:"):
            raise InvalidParameterException("A proxy count needs its target.")
        values = [d.get(k, 0) for k in _PROXY_COUNTERS]
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
            raise InvalidParameterException(f"Target {target}: counts must be integers >= 0.")
        return cls(target, *values)


@dataclass(frozen=True, slots=True)
class StatsReport:
    tasks: tuple[TaskSample, ...]
    host: str = ""  # the reporting host's container instance ARN (with `service_connect`)
    service_connect: tuple[ProxyCount, ...] = ()

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"tasks": [t.to_wire() for t in self.tasks]}
        if self.host:
            out["host"] = self.host
            out["serviceConnect"] = [c.to_wire() for c in self.service_connect]
        return out

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> StatsReport:
        tasks = d.get("tasks")
        if not isinstance(tasks, list) or len(tasks) > MAX_TASKS:
            raise InvalidParameterException(f"tasks must be a list of at most {MAX_TASKS}.")
        host = d.get("host") or ""
        counts = d.get("serviceConnect") or []
        if not isinstance(host, str) or not isinstance(counts, list) or len(counts) > MAX_TARGETS:
            raise InvalidParameterException(
                f"host must be a string and serviceConnect a list of at most {MAX_TARGETS}."
            )
        return cls(
            tuple(TaskSample.from_wire(t) for t in tasks if isinstance(t, dict)),
            host,
            tuple(ProxyCount.from_wire(c) for c in counts if isinstance(c, dict)),
        )


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)
