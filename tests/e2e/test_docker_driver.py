"""The Docker driver against a real Docker Engine, through the driver only (no server).

Images are built locally FROM scratch with the host's static busybox (e2e/images.py).
Everything a test makes carries its own instance ARN label, and is removed by that label.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e.images import INDEX_HTML, busybox_image, docker_available
from e2e.signals import wait_for_trap

from portside.agent import driver as drv
from portside.agent.docker.driver import DockerDriver
from portside.agent.driver import (
    ContainerSpec,
    ContainerState,
    DriverError,
    TaskResources,
    TaskSpec,
)

_unavailable = docker_available()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(_unavailable is not None, reason=str(_unavailable)),
]


@pytest.fixture(scope="module")
def image() -> str:
    return busybox_image()


@pytest.fixture(scope="module")
def driver() -> DockerDriver:
    return DockerDriver()


class Harness:
    """Runs tasks through the driver for one test and cleans up after it."""

    def __init__(self, driver: DockerDriver, image: str) -> None:
        self.driver = driver
        self.image = image
        self.instance = (
            f"arn:aws:ecs:us-east-1:000000000000:container-instance/e2e/{uuid.uuid4().hex}"
        )
        self.tasks: list[tuple[TaskSpec, TaskResources]] = []

    def task(self, containers: list[dict[str, Any]], **td: Any) -> tuple[TaskSpec, TaskResources]:
        task_id = uuid.uuid4().hex
        cpu, memory = td.pop("cpu", None), td.pop("memory", None)
        defs = [{"image": self.image, "essential": True, **c} for c in containers]
        definition = {"family": "e2e", "containerDefinitions": defs, **td}
        spec = TaskSpec(
            task_arn=f"arn:aws:ecs:us-east-1:000000000000:task/e2e/{task_id}",
            task_id=task_id,
            cluster="e2e",
            instance_arn=self.instance,
            family="e2e",
            revision=1,
            definition=definition,
            cpu=cpu,
            memory=memory,
        )
        resources = self.driver.setup_task(spec)
        self.tasks.append((spec, resources))
        return spec, resources

    def run(
        self,
        task: tuple[TaskSpec, TaskResources],
        name: str,
        env: dict[str, str] | None = None,
        volumes_from: dict[str, str] | None = None,
    ) -> str:
        spec, resources = task
        definition = next(c for c in spec.definition["containerDefinitions"] if c["name"] == name)
        labels = {
            drv.LABEL_MANAGED: "true",
            drv.LABEL_INSTANCE: self.instance,
            drv.LABEL_TASK_ARN: spec.task_arn,
            drv.LABEL_CONTAINER: name,
            drv.LABEL_ROLE: "container",
        }
        cs = ContainerSpec(spec, name, definition, resources, env or {}, labels, volumes_from or {})
        runtime_id = self.driver.create(cs)
        self.driver.start(runtime_id)
        return runtime_id

    def wait(
        self, runtime_id: str, until: Callable[[ContainerState], bool], timeout: float = 15
    ) -> ContainerState:
        deadline = time.monotonic() + timeout
        while True:
            state = self.driver.inspect(runtime_id)
            if until(state) or time.monotonic() > deadline:
                return state
            time.sleep(0.1)

    def exited(self, runtime_id: str, timeout: float = 15) -> ContainerState:
        return self.wait(runtime_id, lambda s: s.status == "exited", timeout)

    def logs(self, runtime_id: str) -> str:
        return str(self.driver.client.containers.get(runtime_id).logs().decode())

    def close(self) -> None:
        client = self.driver.client
        label = {"label": f"{drv.LABEL_INSTANCE}={self.instance}"}
        for spec, resources in self.tasks:
            with contextlib.suppress(Exception):
                self.driver.teardown_task(spec, resources)
        for c in client.containers.list(all=True, filters=label):
            with contextlib.suppress(Exception):
                self.driver.remove(c.id)
        for n in client.networks.list(filters=label):
            with contextlib.suppress(Exception):
                n.remove()
        for v in client.volumes.list(filters=label):
            with contextlib.suppress(Exception):
                v.remove()


@pytest.fixture
def h(driver: DockerDriver, image: str) -> Iterator[Harness]:
    harness = Harness(driver, image)
    yield harness
    harness.close()


def leftovers(h: Harness) -> list[str]:
    client = h.driver.client
    label = {"label": f"{drv.LABEL_INSTANCE}={h.instance}"}
    return [
        *(f"container {c.name}" for c in client.containers.list(all=True, filters=label)),
        *(f"network {n.name}" for n in client.networks.list(filters=label)),
        *(f"volume {v.name}" for v in client.volumes.list(filters=label)),
    ]


def test_container_lifecycle(h: Harness) -> None:
    task = h.task(
        [
            {
                "name": "app",
                "command": ["sh", "-c", "echo $GREETING $EXTRA; sleep 60"],
                "environment": [{"name": "GREETING", "value": "hello"}],
                "dockerLabels": {"team": "e2e"},
            }
        ]
    )
    assert task[1].gateway  # docker0's address
    runtime_id = h.run(task, "app", env={"EXTRA": "world"})
    state = h.wait(runtime_id, lambda s: "hello" in h.logs(runtime_id))
    assert state.status == "running" and state.exit_code is None
    assert state.started_at and abs(state.started_at - time.time()) < 60
    assert state.image_digest and state.image_digest.startswith("sha256:")
    assert state.labels["team"] == "e2e" and state.labels[drv.LABEL_CONTAINER] == "app"
    assert h.logs(runtime_id).strip() == "hello world"

    assert [s.runtime_id for s in h.driver.list_managed(h.instance)] == [runtime_id]

    h.driver.stop(runtime_id, 1)
    stopped = h.driver.inspect(runtime_id)
    assert stopped.status == "exited" and stopped.finished_at
    h.driver.stop(runtime_id, 1)  # idempotent
    h.driver.teardown_task(*task)
    h.driver.remove(runtime_id)
    h.driver.remove(runtime_id)  # idempotent
    assert h.driver.inspect(runtime_id).status == "missing"
    assert h.driver.list_managed(h.instance) == []


def test_dynamic_host_port(h: Harness) -> None:
    httpd = {
        "name": "web",
        "command": ["httpd", "-f", "-p", "8080", "-h", "/www"],
        "portMappings": [{"containerPort": 8080, "hostPort": 0, "protocol": "tcp"}],
    }
    runtime_id = h.run(h.task([httpd]), "web")
    state = h.driver.inspect(runtime_id)
    v4 = [b for b in state.network_bindings if b["bindIP"] == "0.0.0.0"]
    assert len(v4) == 1
    assert v4[0]["containerPort"] == 8080 and v4[0]["protocol"] == "tcp"
    port = v4[0]["hostPort"]
    assert port > 0
    deadline = time.monotonic() + 10
    while True:
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    assert response.status_code == 200
    assert response.content == INDEX_HTML


def test_awsvpc_task_shares_localhost(h: Harness) -> None:
    task = h.task(
        [
            {"name": "web", "command": ["httpd", "-f", "-p", "8080", "-h", "/www"]},
            {
                "name": "client",
                "command": [
                    "sh",
                    "-c",
                    "for i in 1 2 3 4 5 6 7 8 9 10; do "
                    "wget -qO- http://localhost:8080/ && exit 0; sleep 0.2; done; exit 1",
                ],
            },
        ],
        networkMode="awsvpc",
        volumes=[{"name": "scratch"}],
    )
    spec, res = task
    assert res.network_name == f"portside-{spec.task_id[:12]}"
    assert res.pause_id and res.ip_address and res.mac_address and res.gateway
    assert res.gateway.rsplit(".", 1)[0] == res.ip_address.rsplit(".", 1)[0]
    web = h.run(task, "web")
    client = h.run(task, "client")
    done = h.exited(client)
    assert done.exit_code == 0, h.logs(client)
    assert h.logs(client) == INDEX_HTML.decode()
    assert h.driver.inspect(web).network_bindings == []  # the task's IP, not host ports

    managed = {s.runtime_id: s for s in h.driver.list_managed(h.instance)}
    assert set(managed) == {web, client, res.pause_id}
    assert managed[res.pause_id].labels[drv.LABEL_ROLE] == "pause"
    assert managed[res.pause_id].labels[drv.LABEL_TASK_ARN] == spec.task_arn

    h.driver.stop(web, 1)
    h.driver.teardown_task(spec, res)
    h.driver.teardown_task(spec, res)  # idempotent
    h.driver.remove(web)
    h.driver.remove(client)
    assert leftovers(h) == []


def test_task_volumes(h: Harness, tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("from the host\n")
    task = h.task(
        [
            {
                "name": "writer",
                "command": ["sh", "-c", "cat /host/in.txt > /data/out.txt"],
                "mountPoints": [
                    {"sourceVolume": "data", "containerPath": "/data"},
                    {"sourceVolume": "host", "containerPath": "/host", "readOnly": True},
                ],
            },
            {
                "name": "reader",
                "command": [
                    "sh",
                    "-c",
                    "cat /data/out.txt; touch /host/x 2>/dev/null || echo read-only",
                ],
                "volumesFrom": [{"sourceContainer": "writer", "readOnly": True}],
            },
        ],
        volumes=[{"name": "data"}, {"name": "host", "host": {"sourcePath": str(tmp_path)}}],
    )
    writer = h.run(task, "writer")
    assert h.exited(writer).exit_code == 0
    reader = h.run(task, "reader", volumes_from={"writer": writer})
    assert h.exited(reader).exit_code == 0
    assert h.logs(reader) == "from the host\nread-only\n"
    h.driver.teardown_task(*task)
    h.driver.remove(writer)
    h.driver.remove(reader)
    assert leftovers(h) == []


def test_exit_codes(h: Harness) -> None:
    task = h.task([{"name": "three", "command": ["sh", "-c", "exit 3"]}])
    state = h.exited(h.run(task, "three"))
    assert (state.status, state.exit_code, state.oom_killed) == ("exited", 3, False)


def test_start_failure(h: Harness) -> None:
    task = h.task([{"name": "bad", "command": ["/no/such/binary"]}])
    with pytest.raises(DriverError) as err:
        h.run(task, "bad")
    assert err.value.reason.startswith("CannotStartContainerError: Error response from daemon:")
    assert "/no/such/binary" in err.value.reason


def test_health_check_and_events(h: Harness) -> None:
    hc = {"interval": 1, "timeout": 2, "retries": 1}
    task = h.task(
        [
            {
                "name": "sick",
                "command": ["sleep", "60"],
                "healthCheck": {"command": ["CMD-SHELL", "exit 1"], **hc},
            },
            {
                "name": "well",
                "command": ["sleep", "60"],
                "healthCheck": {"command": ["true"], **hc},
            },
        ]
    )
    stop = threading.Event()
    seen: list[drv.DriverEvent] = []

    def follow() -> None:
        seen.extend(h.driver.events(stop))

    follower = threading.Thread(target=follow)
    follower.start()
    try:
        time.sleep(0.3)
        sick, well = h.run(task, "sick"), h.run(task, "well")
        assert h.driver.inspect(sick).health == "UNKNOWN"  # Docker's "starting"
        assert h.wait(sick, lambda s: s.health == "UNHEALTHY").health == "UNHEALTHY"
        assert h.wait(well, lambda s: s.health == "HEALTHY").health == "HEALTHY"
        h.driver.stop(sick, 0)
        h.wait(sick, lambda s: any(e.runtime_id == sick and e.kind == "die" for e in seen), 5)
    finally:
        stop.set()
        follower.join(30)
    assert not follower.is_alive()  # events() ends when told to, mid-stream
    kinds = {(e.runtime_id, e.kind) for e in seen}
    assert {(sick, "start"), (sick, "health"), (sick, "die"), (well, "health")} <= kinds


def test_oom_kill(h: Harness) -> None:
    task = h.task(
        [{"name": "hog", "memory": 8, "command": ["sh", "-c", "head -c 64m /dev/zero | tail"]}]
    )
    state = h.exited(h.run(task, "hog"))
    assert state.oom_killed is True
    assert state.exit_code == 137


def test_task_cgroup_limits(h: Harness) -> None:
    reason = h.driver._cgroups_unusable()
    if reason:
        pytest.skip(f"task cgroups not usable here: {reason}")
    task = h.task([{"name": "app", "command": ["sleep", "60"]}], cpu="512", memory="64")
    spec, res = task
    assert res.cgroup_parent == f"/portside/{spec.task_id}"
    runtime_id = h.run(task, "app")
    root = h.driver._cgroups.root
    if h.driver._cgroups.version == 1:
        cpu, memory = root / "cpu" / res.cgroup_parent[1:], root / "memory" / res.cgroup_parent[1:]
        assert (cpu / "cpu.cfs_quota_us").read_text().strip() == "50000"
        assert (cpu / "cpu.cfs_period_us").read_text().strip() == "100000"
        assert (memory / "memory.limit_in_bytes").read_text().strip() == str(64 * 1024 * 1024)
        assert (memory / runtime_id).is_dir()  # the container lives under the task's cgroup
    else:
        group = root / res.cgroup_parent[1:]
        assert (group / "cpu.max").read_text().split() == ["50000", "100000"]
        assert (group / "memory.max").read_text().strip() == str(64 * 1024 * 1024)
    h.driver.stop(runtime_id, 0)
    h.driver.teardown_task(spec, res)
    assert not any(p.exists() for p in root.glob(f"*/portside/{spec.task_id}"))
    assert not (root / "portside" / spec.task_id).exists()


def test_stop_timeout_then_kill(h: Harness) -> None:
    task = h.task(
        [
            {
                "name": "stubborn",
                "command": ["sh", "-c", "trap '' TERM; sleep 100 & wait; sleep 100"],
            },
            {"name": "polite", "command": ["sh", "-c", "trap 'exit 0' TERM; sleep 100 & wait"]},
        ]
    )
    stubborn, polite = h.run(task, "stubborn"), h.run(task, "polite")
    wait_for_trap(stubborn)
    wait_for_trap(polite)
    t0 = time.monotonic()
    h.driver.stop(stubborn, 2)
    elapsed = time.monotonic() - t0
    state = h.driver.inspect(stubborn)
    assert (state.status, state.exit_code) == ("exited", 137)  # SIGKILL...
    assert elapsed >= 1.9  # ...once the timeout was over
    h.driver.stop(polite, 30)
    assert h.driver.inspect(polite).exit_code == 0  # SIGTERM handled (a SIGKILL: 137)


def test_missing_image(driver: DockerDriver) -> None:
    with pytest.raises(DriverError) as err:
        driver.pull(f"portside-test/does-not-exist-{uuid.uuid4().hex[:8]}:1")
    assert err.value.reason.startswith("CannotPullContainerError: ")


def test_pull_prefers_cached(driver: DockerDriver, image: str) -> None:
    digest = driver.pull(image)
    assert digest and digest.startswith("sha256:")
    always = DockerDriver(driver.client, pull_behavior="always")
    with pytest.raises(DriverError, match=r"^CannotPullContainerError: "):
        always.pull(image)  # a local-only image cannot be pulled
    assert DockerDriver(driver.client, pull_behavior="default").pull(image) == digest


def test_host_resources(driver: DockerDriver) -> None:
    cpu, memory = driver.host_resources()
    info = driver.client.info()
    assert cpu == info["NCPU"] * 1024
    assert memory == info["MemTotal"] // (1024 * 1024)
