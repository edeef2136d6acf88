"""The simulated driver: containers that exist only in memory. It is how one machine stands in
for thousands of hosts, and how faults are injected (start delays, failure rates, exits)."""

from __future__ import annotations

import queue
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from portside.agent.driver import (
    LABEL_INSTANCE,
    ContainerSpec,
    ContainerState,
    DriverError,
    DriverEvent,
    ExecProcess,
    TaskResources,
    TaskSpec,
)
from portside.agent.load_model import LoadModel
from portside.gateway.protocol import RegistryAuth


class SimulatedDriver:
    name = "simulated"
    # Its containers change only through its own methods: each either emits an event (an
    # exit, a health change) or is called by the agent's worker itself (create, start), so
    # the worker needs no periodic refresh to notice anything.
    reliable_events = True
    # They live in this process's memory: a restarted agent has none to re-adopt, so the
    # worker writes no state for them (one file per task was most of a 1,000-instance
    # fleet's CPU). A restarted sim re-registers the same instances (its state directory
    # keeps their ARNs) and runs again the tasks the control plane still has on them.
    containers_outlive_agent = False

    def __init__(
        self,
        *,
        cpu: int = 4096,
        memory: int = 16384,
        start_delay: float = 0.0,
        stop_delay: float = 0.0,
        fail_rate: float = 0.0,
        missing_images: frozenset[str] = frozenset(),
        seed: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cpu = cpu
        self.memory = memory
        self.start_delay = start_delay
        self.stop_delay = stop_delay  # how long a stop takes (the agent reports STOPPING)
        self.fail_rate = fail_rate
        self.missing_images = missing_images
        self.clock = clock
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._containers: dict[str, ContainerState] = {}
        self._events: queue.Queue[DriverEvent] = queue.Queue()
        # What its containers use (agent/load_model.py): `driver.load.set(clock(), 512)`.
        self.load = LoadModel()

    def pull(self, image: str, auth: RegistryAuth | None = None) -> str | None:
        if image in self.missing_images:
            raise DriverError(
                f"CannotPullContainerError: pull image manifest has been retried 1 time(s): "
                f"{image}: not found"
            )
        return "sha256:" + uuid.uuid5(uuid.NAMESPACE_URL, image).hex * 2

    def setup_task(self, task: TaskSpec) -> TaskResources:
        mode = str(task.definition.get("networkMode") or "bridge")
        res = TaskResources(network_mode=mode, gateway="127.0.0.1")
        if mode == "awsvpc":
            n = self._random.randrange(2, 250)
            res.ip_address = f"10.0.{self._random.randrange(0, 250)}.{n}"
            res.mac_address = "0a:" + ":".join(
                f"{self._random.randrange(256):02x}" for _ in range(5)
            )
        return res

    def teardown_task(self, task: TaskSpec, resources: TaskResources) -> None:
        return None

    def create(self, spec: ContainerSpec) -> str:
        # 64 hex digits like a Docker container ID, from the injected generator (two uuid4s,
        # two reads of the OS's entropy, were 7% of a busy simulated fleet's CPU).
        runtime_id = f"{self._random.getrandbits(256):064x}"
        bindings = []
        if spec.resources.network_mode in ("bridge", "host"):
            for pm in spec.definition.get("portMappings") or ():
                host = pm.get("hostPort") or self._random.randrange(32768, 60999)
                bindings.append(
                    {
                        "bindIP": "0.0.0.0",
                        "containerPort": pm.get("containerPort"),
                        "hostPort": host,
                        "protocol": pm.get("protocol", "tcp"),
                    }
                )
        labels = dict(spec.labels)
        with self._lock:
            self._containers[runtime_id] = ContainerState(
                runtime_id,
                "created",
                network_bindings=bindings,
                labels=labels,
                health="UNKNOWN" if spec.definition.get("healthCheck") else None,
            )
        return runtime_id

    def start(self, runtime_id: str) -> None:
        if self.start_delay:
            time.sleep(self.start_delay)
        if self.fail_rate and self._random.random() < self.fail_rate:
            self._finish(runtime_id, 1, error="CannotStartContainerError: injected failure")
            raise DriverError("CannotStartContainerError: injected failure")
        with self._lock:
            st = self._containers[runtime_id]
            st.status = "running"
            st.started_at = self.clock()
            if st.health is not None:
                st.health = "HEALTHY"

    def _finish(
        self, runtime_id: str, code: int, *, oom: bool = False, error: str | None = None
    ) -> None:
        with self._lock:
            st = self._containers.get(runtime_id)
            if st is None or st.status == "exited":
                return
            st.status = "exited"
            st.exit_code = code
            st.oom_killed = oom
            st.error = error
            st.finished_at = self.clock()
        self._events.put(DriverEvent(runtime_id, "die"))

    def exit(self, runtime_id: str, code: int = 0, *, oom: bool = False) -> None:
        """Fault injection: the container's process ends with `code`."""
        self._finish(runtime_id, code, oom=oom)

    def set_health(self, runtime_id: str, health: str) -> None:
        with self._lock:
            self._containers[runtime_id].health = health
        self._events.put(DriverEvent(runtime_id, "health"))

    def stop(self, runtime_id: str, timeout: float) -> None:
        if self.stop_delay:
            time.sleep(self.stop_delay)
        self._finish(runtime_id, 143)

    def inspect(self, runtime_id: str) -> ContainerState:
        with self._lock:
            st = self._containers.get(runtime_id)
            if st is None:
                return ContainerState(runtime_id, "missing")
            return ContainerState(**{f: getattr(st, f) for f in st.__dataclass_fields__})

    def remove(self, runtime_id: str) -> None:
        with self._lock:
            self._containers.pop(runtime_id, None)

    def list_managed(self, instance_arn: str) -> list[ContainerState]:
        with self._lock:
            return [
                st
                for st in self._containers.values()
                if st.labels.get(LABEL_INSTANCE) == instance_arn
            ]

    def events(self, stop: threading.Event) -> Iterator[DriverEvent]:
        while not stop.is_set():
            try:
                yield self._events.get(timeout=0.5)
            except queue.Empty:
                continue

    def stats(self, runtime_id: str) -> dict[str, Any]:
        with self._lock:
            st = self._containers.get(runtime_id)
            if st is None:
                raise DriverError(f"CannotInspectContainerError: no container {runtime_id}")
            labels, started, finished = dict(st.labels), st.started_at, st.finished_at
        return self.load.docker_stats(
            runtime_id,
            labels,
            started,
            finished,
            self.clock(),
            host_cpus=max(1, self.cpu // 1024),
            host_memory_mib=self.memory,
        )

    def host_resources(self) -> tuple[int, int]:
        return self.cpu, self.memory

    def exec(
        self, runtime_id: str, command: list[str], tty: bool, size: tuple[int, int] | None
    ) -> ExecProcess:
        # Simulated containers run no processes: there is nothing to run a command in.
        raise DriverError("ECS Exec needs a real container: the simulated driver runs none.")

    def running(self) -> list[ContainerState]:
        with self._lock:
            return [st for st in self._containers.values() if st.status == "running"]
