"""Two hosts on one machine, for tests of what crosses hosts: each a network namespace with
a Docker Engine of its own and `portside agent` in it, the two joined by a veth pair (their
underlay, 10.250.R.1 and .2/24), each also linked to the root namespace (10.251.R.0/30 and
.4/30, its default route) where the control plane listens on the first link's root side.

    with TwoHosts.made(tmp_path) as hosts:   # engines and agents started concurrently
        hosts.server, hosts.first.client (docker), hosts.first.agent, hosts.first.ip(...)

The engines are started with `nsenter --net` only (not `ip netns exec`, which also remounts
/sys and so hides the cgroup hierarchies from the agent): each dockerd runs its own managed
containerd under its exec root, keeps its images and containers under its data root, and
writes its iptables rules in its namespace. Everything is named `ps<tag>...` for the run's
random tag and goes at the end: agents killed, containers removed, engines stopped, their
mounts and directories removed, the namespaces (and every device in them) deleted.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from e2e.conftest import AgentProcess
from e2e.images import busybox_image, busybox_path
from harness import Process, ServerProcess

from portside.agent.driver import LABEL_TASK_ARN

TOOLS = ("ip", "bridge", "nsenter", "dockerd", "nft")


def unavailable() -> str | None:
    """None when this machine can make the two hosts, else why not."""
    if os.geteuid() != 0:
        return "network namespaces and a Docker Engine in each need root"
    missing = [t for t in TOOLS if not shutil.which(t)]
    if missing:
        return f"{', '.join(missing)} not found (iproute2, util-linux, docker.io, nftables)"
    if busybox_path() is None:
        return "no static busybox; run scripts/ensure-test-deps.sh (busybox-static)"
    return None


def sh(*argv: str, check: bool = True) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")
    return done.stdout


class NamespacedServer(ServerProcess):
    """`portside server` listening on an address of the root namespace the hosts reach."""

    def __init__(self, data_dir: Path, host: str) -> None:
        super().__init__(data_dir, None, "--host", host)
        self.host = host

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"


class NamespacedAgent(AgentProcess):
    """`portside agent` in a host's namespace, on its engine, giving its underlay address."""

    def __init__(self, host: Host, server: ServerProcess, cluster: str, state_dir: Path) -> None:
        super().__init__(server, cluster, state_dir)
        self.host = host
        self.env["DOCKER_HOST"] = host.docker_host
        self.options = [
            "--attribute",
            f"ecs.private-ip={host.underlay}",
            "--attribute",
            f"portside.test.host={host.name}",
        ]

    def command(self) -> list[str]:
        return ["nsenter", f"--net=/var/run/netns/{self.host.netns}", *super().command()]

    def close(self) -> None:
        self.kill()


@dataclass
class Host:
    """One of the two: its namespace, addresses and engine."""

    name: str  # h1, h2
    tag: str
    number: int  # 1, 2
    octet: int  # R in the addresses
    root: Path  # its directories
    engine: Process | None = None
    client: Any = None
    agent: NamespacedAgent | None = None
    task_ids: set[str] = field(default_factory=set)

    @property
    def netns(self) -> str:
        return f"ps{self.tag}-{self.name}"

    @property
    def underlay(self) -> str:
        return f"10.250.{self.octet}.{self.number}"

    @property
    def root_side(self) -> str:  # the root namespace's end of this host's link
        return f"10.251.{self.octet}.{4 * (self.number - 1) + 1}"

    @property
    def host_side(self) -> str:
        return f"10.251.{self.octet}.{4 * (self.number - 1) + 2}"

    @property
    def exec_root(self) -> Path:
        return Path(f"/var/run/ps{self.tag}-d{self.number}")

    @property
    def socket(self) -> Path:
        return Path(f"/var/run/ps{self.tag}-d{self.number}.sock")

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"

    def ip(self, *argv: str) -> str:
        """`ip` in this host's namespace."""
        return sh("ip", "-n", self.netns, *argv)

    def run(self, *argv: str) -> str:
        """A command in this host's namespace."""
        return sh("nsenter", f"--net=/var/run/netns/{self.netns}", *argv)

    def fragments_made(self) -> int:
        """IPv4 fragments this host's stack has made (its namespace's Ip: FragCreates)."""
        lines = [line.split() for line in self.run("cat", "/proc/net/snmp").splitlines()]
        names, values = [fields for fields in lines if fields[0] == "Ip:"][:2]
        return int(values[names.index("FragCreates")])

    def vxlan_devices(self) -> list[dict[str, Any]]:
        return list(json.loads(self.ip("-d", "-j", "link", "show", "type", "vxlan") or "[]"))

    def flood_peers(self, device: str) -> set[str]:
        """The underlay addresses a VXLAN device floods to (its all-zero MAC entries)."""
        fdb = json.loads(sh("bridge", "-n", self.netns, "-j", "fdb", "show", "dev", device))
        return {e["dst"] for e in fdb if e.get("mac") == "00:00:00:00:00:00" and "dst" in e}

    # -- making and removing ---------------------------------------------------------------

    def make_namespace(self) -> None:
        sh("ip", "netns", "add", self.netns)
        self.ip("link", "set", "lo", "up")
        outside, inside = f"ps{self.tag}r{self.number}", f"ps{self.tag}c{self.number}"
        sh("ip", "link", "add", outside, "type", "veth", "peer", "name", inside)
        sh("ip", "link", "set", inside, "netns", self.netns)
        sh("ip", "addr", "add", f"{self.root_side}/30", "dev", outside)
        sh("ip", "link", "set", outside, "up")
        self.ip("addr", "add", f"{self.host_side}/30", "dev", inside)
        self.ip("link", "set", inside, "up")
        self.ip("route", "add", "default", "via", self.root_side)

    def start_engine(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.engine = Process(self.root / "dockerd.log", name=f"dockerd {self.name}", checked=False)
        self.engine.spawn(
            [
                "nsenter",
                f"--net=/var/run/netns/{self.netns}",
                "dockerd",
                "--data-root",
                str(self.root / "data"),
                "--exec-root",
                str(self.exec_root),
                "--pidfile",
                str(self.root / "dockerd.pid"),
                "-H",
                self.docker_host,
                "--bridge=none",
                "--shutdown-timeout=2",
            ]
        )
        import docker

        def answers() -> bool:
            try:
                self.client = docker.DockerClient(base_url=self.docker_host, timeout=60)
                return bool(self.client.ping())
            except docker.errors.DockerException:
                return False

        self.engine.wait_until(answers, 60, every=0.1)
        busybox_image(self.client)

    def remove_containers(self) -> None:
        if self.client is None:
            return
        with contextlib.suppress(Exception):
            for c in self.client.containers.list(all=True, ignore_removed=True):
                self.task_ids.add(str(c.labels.get(LABEL_TASK_ARN, "")).rsplit("/", 1)[-1])
                with contextlib.suppress(Exception):
                    c.remove(force=True, v=True)

    def stop_engine(self) -> None:
        if self.engine is not None:
            self.engine.stop()
        for mount in _mounts_under(self.root, self.exec_root):
            sh("umount", "-l", mount, check=False)
        shutil.rmtree(self.exec_root, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()
        shutil.rmtree(self.root / "data", ignore_errors=True)

    def remove_namespace(self) -> None:
        sh("ip", "netns", "del", self.netns, check=False)
        sh("ip", "link", "del", f"ps{self.tag}r{self.number}", check=False)


def _mounts_under(*roots: Path) -> list[str]:
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4]
            if any(point.startswith(str(r)) for r in roots):
                found.append(point)
    return sorted(found, key=len, reverse=True)


def _free_octet() -> int:
    """R for 10.250.R.0/24 and 10.251.R.0/28, unused by any route here."""
    routes = sh("ip", "-4", "route", "show", "table", "all")
    for _ in range(100):
        octet = secrets.randbelow(254) + 1
        if f"10.251.{octet}." not in routes and f"10.250.{octet}." not in routes:
            return octet
    raise RuntimeError("no free 10.251.R.0/28 for the test's links")


@dataclass
class TwoHosts:
    server: NamespacedServer
    first: Host
    second: Host
    cluster: str

    @property
    def hosts(self) -> tuple[Host, Host]:
        return (self.first, self.second)

    @classmethod
    @contextlib.contextmanager
    def made(cls, root: Path) -> Iterator[TwoHosts]:
        tag, octet = secrets.token_hex(2), _free_octet()
        first, second = (Host(f"h{n}", tag, n, octet, root / f"h{n}") for n in (1, 2))
        server: NamespacedServer | None = None
        try:
            for host in (first, second):
                host.make_namespace()
            outside1, outside2 = f"ps{tag}u1", f"ps{tag}u2"
            sh("ip", "link", "add", outside1, "type", "veth", "peer", "name", outside2)
            for host, dev in ((first, outside1), (second, outside2)):
                sh("ip", "link", "set", dev, "netns", host.netns)
                host.ip("addr", "add", f"{host.underlay}/24", "dev", dev)
                host.ip("link", "set", dev, "up")
            server = NamespacedServer(root / "server", first.root_side)
            with ThreadPoolExecutor(3) as pool:
                started = [pool.submit(h.start_engine) for h in (first, second)]
                pool.submit(server.start).result()
                for f in started:
                    f.result()
            cluster = "mh" + tag
            server.client().create_cluster(clusterName=cluster)
            for host in (first, second):
                host.agent = NamespacedAgent(host, server, cluster, root / f"agent-{host.name}")
            with ThreadPoolExecutor(2) as pool:
                for f in [pool.submit(h.agent.start) for h in (first, second) if h.agent]:
                    f.result()
            yield cls(server, first, second, cluster)
        finally:
            _teardown(server, first, second)


def _teardown(server: ServerProcess | None, *hosts: Host) -> None:
    for host in hosts:
        if host.agent is not None:
            host.agent.close()
    with ThreadPoolExecutor(len(hosts)) as pool:
        list(pool.map(lambda h: (h.remove_containers(), h.stop_engine()), hosts))
    from portside.agent.docker.cgroups import TaskCgroups

    cgroups = TaskCgroups()
    for task_id in filter(None, {t for h in hosts for t in h.task_ids}):
        with contextlib.suppress(OSError):
            cgroups.remove(task_id)
    for host in hosts:
        host.remove_namespace()
    if server is not None:
        server.close()


def wait_for(check: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> Any:
    """Poll `check` until it gives something true; its last value, or AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s (last: {value!r})")
        time.sleep(every)
