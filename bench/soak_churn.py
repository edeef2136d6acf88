"""The soak benchmark's steady churn (soak.py): threads that each drive one kind of call at a
fixed rate against one cluster, and record every call's latency and outcome.

- run: RunTask of 1-3 tasks (a standalone family);
- stop: StopTask of the oldest standalone task, while there are more than `population`;
- scale: UpdateService desiredCount of the service, a random walk between its bounds;
- deploy: a new revision of the service's task definition and UpdateService to it;
- logs: PutLogEvents, 100 events a batch, over ten streams;
- reads: DescribeServices, ListTasks, DescribeTasks, DescribeClusters in turn.

Each call is signed when it is made (botocore's SigV4Auth) and timed from the first byte
sent to the last byte read, on one keep-alive connection per thread (signed.py).
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from signed import LOGS, ApiError, Client, Ecs

SERVICE = "soak-web"
BATCH_FAMILY = "soak-batch"
LOG_GROUP = "/soak/app"
STREAMS = 10
HEALTH_CHECK = {"command": ["CMD-SHELL", "exit 0"], "interval": 5, "timeout": 2, "retries": 3}


@dataclass(frozen=True, slots=True)
class Rates:
    """Calls a second per kind (scale and deploy: seconds between calls)."""

    run: float = 3.0
    stop: float = 8.0
    logs: float = 4.0
    reads: float = 10.0
    scale_every: float = 5.0
    deploy_every: float = 60.0
    population: int = 600  # standalone tasks kept running
    service_low: int = 300
    service_high: int = 700

    def scaled(self, factor: float) -> Rates:
        return Rates(
            run=self.run * factor,
            stop=self.stop * factor,
            logs=self.logs * factor,
            reads=self.reads * factor,
            scale_every=self.scale_every / factor,
            deploy_every=self.deploy_every,
            population=int(self.population * factor),
            service_low=int(self.service_low * factor),
            service_high=int(self.service_high * factor),
        )


@dataclass(frozen=True, slots=True)
class Call:
    at: float  # seconds since the churn began
    action: str
    ms: float
    ok: bool


@dataclass
class Recorder:
    began: float = field(default_factory=time.monotonic)
    calls: list[Call] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # the first few, for the report
    error_count: int = 0
    placement_failures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        return time.monotonic() - self.began

    def record(self, action: str, ms: float, error: str | None) -> None:
        with self.lock:
            self.calls.append(Call(self.now(), action, ms, error is None))
            if error is not None:
                self.error_count += 1
                if len(self.errors) < 20:
                    self.errors.append(f"{self.now():.0f}s {action}: {error}")

    def between(self, start: float, end: float) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if start <= c.at < end]


def task_definition(family: str, version: int) -> dict[str, Any]:
    return {
        "family": family,
        "containerDefinitions": [
            {
                "name": "app",
                "image": f"registry.example.com/soak/{family}:{version}",
                "memory": 64,
                "essential": True,
                "environment": [{"name": "VERSION", "value": str(version)}],
                "healthCheck": HEALTH_CHECK,
            }
        ],
    }


class Churn:
    def __init__(
        self, port: int, cluster: str, rates: Rates, recorder: Recorder, seed: int = 7
    ) -> None:
        self.port = port
        self.cluster = cluster
        self.rates = rates
        self.recorder = recorder
        self.rng = random.Random(seed)
        self.stop_event = threading.Event()
        self.standalone: deque[str] = deque()
        self.known_lock = threading.Lock()
        self.revision = 1
        self.desired = (rates.service_low + rates.service_high) // 2
        self.threads: list[threading.Thread] = []

    # -- calls -----------------------------------------------------------------------------

    def call(self, client: Client, action: str, **params: Any) -> dict[str, Any] | None:
        raw = client.sign(action, params)
        began = time.perf_counter()
        error: str | None = None
        out: dict[str, Any] | None = None
        try:
            out = client.send(raw)
        except (ApiError, OSError, ValueError) as exc:
            error = str(exc)[:300]
        self.recorder.record(action, (time.perf_counter() - began) * 1000, error)
        return out

    def setup(self) -> None:
        """The batch family, the service at its middle count, the log group and streams."""
        ecs, logs = Ecs(self.port), Client(self.port, "logs", LOGS)
        ecs.call("RegisterTaskDefinition", **task_definition(BATCH_FAMILY, 1))
        ecs.call("RegisterTaskDefinition", **task_definition(SERVICE, self.revision))
        ecs.call(
            "CreateService",
            cluster=self.cluster,
            serviceName=SERVICE,
            taskDefinition=SERVICE,
            desiredCount=self.desired,
            deploymentConfiguration={"maximumPercent": 200, "minimumHealthyPercent": 100},
        )
        logs.call("CreateLogGroup", logGroupName=LOG_GROUP)
        for i in range(STREAMS):
            logs.call("CreateLogStream", logGroupName=LOG_GROUP, logStreamName=f"s{i}")
        ecs.close()
        logs.close()

    # -- workers ---------------------------------------------------------------------------

    def _paced(self, per_second: float, body: Callable[[], None]) -> None:
        """Call `body` `per_second` times a second until stopped (no burst after a stall)."""
        period = 1.0 / per_second
        next_at = time.monotonic()
        while not self.stop_event.is_set():
            body()
            now = time.monotonic()
            next_at = max(next_at + period, now - period)
            self.stop_event.wait(max(0.0, next_at - now))

    def _run(self) -> None:
        ecs = Ecs(self.port)

        def once() -> None:
            count = self.rng.randint(1, 3)
            out = self.call(
                ecs,
                "RunTask",
                cluster=self.cluster,
                taskDefinition=BATCH_FAMILY,
                count=count,
                startedBy="soak",
            )
            if out is None:
                return
            with self.known_lock:
                self.standalone.extend(t["taskArn"] for t in out.get("tasks") or ())
                self.recorder.placement_failures += len(out.get("failures") or ())

        self._paced(self.rates.run, once)

    def _stop(self) -> None:
        ecs = Ecs(self.port)

        def once() -> None:
            with self.known_lock:
                if len(self.standalone) <= self.rates.population:
                    return
                arn = self.standalone.popleft()
            self.call(ecs, "StopTask", cluster=self.cluster, task=arn, reason="soak churn")

        self._paced(self.rates.stop, once)

    def _scale(self) -> None:
        ecs = Ecs(self.port)
        low, high = self.rates.service_low, self.rates.service_high
        step = max(1, (high - low) // 8)

        def once() -> None:
            self.desired = min(high, max(low, self.desired + self.rng.randint(-step, step)))
            self.call(
                ecs,
                "UpdateService",
                cluster=self.cluster,
                service=SERVICE,
                desiredCount=self.desired,
            )

        self._paced(1.0 / self.rates.scale_every, once)

    def _deploy(self) -> None:
        ecs = Ecs(self.port)
        if self.stop_event.wait(self.rates.deploy_every):
            return

        def once() -> None:
            self.revision += 1
            out = self.call(
                ecs, "RegisterTaskDefinition", **task_definition(SERVICE, self.revision)
            )
            if out is not None:
                arn = out["taskDefinition"]["taskDefinitionArn"]
                self.call(
                    ecs, "UpdateService", cluster=self.cluster, service=SERVICE, taskDefinition=arn
                )

        self._paced(1.0 / self.rates.deploy_every, once)

    def _logs(self) -> None:
        logs = Client(self.port, "logs", LOGS)
        n = 0

        def once() -> None:
            nonlocal n
            n += 1
            now = int(time.time() * 1000)
            events = [
                {"timestamp": now, "message": f"soak line {n}-{i} " + "x" * 80} for i in range(100)
            ]
            self.call(
                logs,
                "PutLogEvents",
                logGroupName=LOG_GROUP,
                logStreamName=f"s{n % STREAMS}",
                logEvents=events,
            )

        self._paced(self.rates.logs, once)

    def _reads(self) -> None:
        ecs = Ecs(self.port)
        turn = 0

        def once() -> None:
            nonlocal turn
            turn += 1
            kind = turn % 4
            if kind == 0:
                self.call(ecs, "DescribeServices", cluster=self.cluster, services=[SERVICE])
            elif kind == 1:
                self.call(ecs, "ListTasks", cluster=self.cluster, serviceName=SERVICE)
            elif kind == 2:
                with self.known_lock:
                    arns = list(self.standalone)[-10:]
                if arns:
                    self.call(ecs, "DescribeTasks", cluster=self.cluster, tasks=arns)
            else:
                self.call(ecs, "DescribeClusters", clusters=[self.cluster])

        self._paced(self.rates.reads, once)

    def start(self) -> None:
        for body in (self._run, self._stop, self._scale, self._deploy, self._logs, self._reads):
            thread = threading.Thread(target=body, name=f"churn{body.__name__}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(30)
