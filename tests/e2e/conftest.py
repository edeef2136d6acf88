"""Fixtures for the end-to-end tests: `portside agent --driver docker` as a subprocess on the
session's server, each agent on a fresh cluster with its own state directory and a free
metadata port; and `portside up` as a user starts it.

Everything an agent makes carries its instance ARN as a label (io.portside.instance-arn), so
teardown kills the agent and removes exactly what it made: containers (pause containers
included), networks, volumes and the task cgroups left behind by a killed agent.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from harness import BIN, AgentCommand, ServerProcess, free_port

from portside.agent.driver import LABEL_INSTANCE, LABEL_TASK_ARN


class AgentProcess(AgentCommand):
    """`portside agent --driver docker` on a server, as an operator runs it (with `options`
    added to its command line)."""

    def __init__(
        self, server: ServerProcess, cluster: str, state_dir: Path, cleanup_wait: float = 3600.0
    ) -> None:
        super().__init__(server, state_dir.parent / f"{state_dir.name}.log", [])
        self.cluster = cluster
        self.state_dir = state_dir
        self.cleanup_wait = cleanup_wait
        self.metadata_port = free_port()
        self.options: list[str] = []
        self.instance_arns: set[str] = set()

    @property
    def instance_arn(self) -> str:
        return str(self._saved().get("containerInstanceArn", ""))

    def _saved(self) -> dict[str, Any]:
        path = self.state_dir / "instance.json"
        return dict(json.loads(path.read_bytes())) if path.exists() else {}

    def command(self) -> list[str]:
        return [
            str(BIN / "portside"),
            "agent",
            "--endpoint",
            self.server.endpoint,
            "--cluster",
            self.cluster,
            "--driver",
            "docker",
            "--state-dir",
            str(self.state_dir),
            "--metadata-port",
            str(self.metadata_port),
            "--cleanup-wait",
            str(self.cleanup_wait),
            "--log-level",
            "debug",
            *self.options,
        ]

    def start(self, timeout: float = 30) -> AgentProcess:
        """Start the agent and wait until it has registered and opened its session."""
        super().start(timeout)
        self.instance_arns.add(self.instance_arn)
        return self

    def close(self) -> None:
        self.kill()
        stop_service_connect(self.state_dir)
        remove_made_by(self.instance_arns)


def stop_service_connect(state_dir: Path) -> None:
    """Stop the Service Connect HAProxy a killed agent left (a restarted agent adopts it)."""
    from portside.dataplane.haproxy.process import HAProxy

    home = state_dir / "service-connect"
    if home.exists():
        HAProxy(home).stop_adopted()
    # And any process still serving from there (a reload's worker the master lost track of).
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError, ValueError):
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            if argv and argv[0].endswith(b"haproxy") and str(home).encode() in b" ".join(argv):
                os.kill(int(proc.name), signal.SIGKILL)


def remove_made_by(instance_arns: set[str]) -> None:
    """Remove every container, network and volume labelled with one of these instance ARNs,
    and the task cgroups of their tasks."""
    import docker

    from portside.agent.docker.cgroups import TaskCgroups
    from portside.agent.firewall.apply import Firewall, FirewallError
    from portside.agent.firewall.compile import owner_id

    def remove(container: Any) -> None:
        with contextlib.suppress(docker.errors.APIError):
            container.remove(force=True, v=True)

    client = docker.from_env()
    task_ids: set[str] = set()
    for arn in filter(None, instance_arns):
        label = {"label": f"{LABEL_INSTANCE}={arn}"}
        containers = client.containers.list(all=True, filters=label, ignore_removed=True)
        task_ids |= {str(c.labels.get(LABEL_TASK_ARN, "")).rsplit("/", 1)[-1] for c in containers}
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(remove, containers))
        for n in client.networks.list(filters=label):
            with contextlib.suppress(docker.errors.APIError):
                n.remove()
        for v in client.volumes.list(filters=label):
            with contextlib.suppress(docker.errors.APIError):
                v.remove(force=True)
    cgroups = TaskCgroups()
    for task_id in filter(None, task_ids):
        with contextlib.suppress(OSError):
            cgroups.remove(task_id)
    # A killed agent's security-group chains (the next agent would remove them too).
    for arn in filter(None, instance_arns):
        with contextlib.suppress(FirewallError, OSError):
            Firewall(owner_id(arn), bridge_check=False).remove()


class UpProcess(ServerProcess):
    """`portside up` (control plane and local docker agent in one process) on a free port."""

    def start(self, timeout: float = 30) -> UpProcess:
        self.name = "portside up"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        offset = self.spawn(self.command("up"), self.env())
        self.wait_until(lambda: "agent running" in self.log()[offset:], timeout, offset)
        assert self.healthy()
        return self

    @property
    def instance_arns(self) -> set[str]:
        path = self.data_dir / "agent" / "instance.json"
        saved = json.loads(path.read_bytes()) if path.exists() else {}
        return {saved.get("containerInstanceArn", ""), saved.get("fargateArn", "")}


def _new_agent(server: ServerProcess, root: Path, cleanup_wait: float) -> AgentProcess:
    cluster = "e2e" + uuid.uuid4().hex[:10]
    server.client().create_cluster(clusterName=cluster)
    return AgentProcess(server, cluster, root / cluster, cleanup_wait)


@pytest.fixture(scope="module")
def agent(
    server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AgentProcess]:
    """One agent for the module's scenarios that need nothing special from it."""
    proc = _new_agent(server, tmp_path_factory.mktemp("agents"), 3600.0)
    try:
        yield proc.start()
    finally:
        proc.close()


@pytest.fixture
def up(tmp_path: Path) -> Iterator[UpProcess]:
    """`portside up` on a free port with its own data directory. Its agent listens for the
    metadata endpoint on the default port, 51680: every other agent here takes a free one."""
    proc = UpProcess(tmp_path / "up", free_port())
    try:
        yield proc.start()
    finally:
        proc.stop()
        stop_service_connect(proc.data_dir / "agent")
        remove_made_by(proc.instance_arns)


@pytest.fixture
def start_agent(server: ServerProcess, tmp_path: Path) -> Iterator[Callable[..., AgentProcess]]:
    """A factory of agents of the test's own (`cleanup_wait=` seconds)."""
    made: list[AgentProcess] = []

    def start(cleanup_wait: float = 3600.0) -> AgentProcess:
        proc = _new_agent(server, tmp_path, cleanup_wait)
        made.append(proc)
        return proc.start()

    yield start
    for proc in made:
        proc.close()
