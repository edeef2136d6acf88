"""Partitions, on hosts made of network namespaces: two `portside server` replicas over one
PostgreSQL database in the root namespace, three `portside sim` agents each in a namespace of
its own, linked to the root namespace by a veth pair (10.X.Y.4i+1/30 on the root side, .4i+2
inside, its default route), each given both replicas. Cutting a link (the root side's end
down: the host's packets go nowhere, nothing is refused) partitions that agent: its instance
goes disconnected, its service tasks are replaced after the grace
(`--lost-instance-grace`), and when the link comes back it stops the tasks the control plane
no longer wants, as ECS's agent does, and leaves the rest (its standalone task, the other
hosts' tasks) running. Everything is named `pc<tag>...` and removed at the end.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fleet import register, wait_until
from harness import BIN, AgentCommand, ServerProcess
from test_replicas_failover import start_both

pytestmark = pytest.mark.slow


def unavailable() -> str | None:
    """None when this machine can make namespaced hosts, else why not."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    missing = [t for t in ("ip", "nsenter") if not shutil.which(t)]
    return f"{', '.join(missing)} not found (iproute2, util-linux)" if missing else None


def sh(*argv: str, check: bool = True) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")
    return done.stdout


def free_prefix() -> str:
    """ "10.X.Y" for a /24 no route here uses."""
    routes = sh("ip", "-4", "route", "show", "table", "all")
    for _ in range(100):
        prefix = f"10.{secrets.randbelow(200) + 20}.{secrets.randbelow(254) + 1}"
        if f"{prefix}." not in routes:
            return prefix
    raise RuntimeError("no free 10.X.Y.0/24 for the test's links")


@dataclass
class Host:
    tag: str
    number: int  # 1, 2, 3...
    prefix: str  # 10.X.Y

    @property
    def netns(self) -> str:
        return f"pc{self.tag}-h{self.number}"

    @property
    def outside(self) -> str:  # the root namespace's end of the link
        return f"pc{self.tag}r{self.number}"

    @property
    def root_side(self) -> str:
        return f"{self.prefix}.{4 * (self.number - 1) + 1}"

    @property
    def host_side(self) -> str:
        return f"{self.prefix}.{4 * (self.number - 1) + 2}"

    def make(self) -> None:
        sh("ip", "netns", "add", self.netns)
        sh("ip", "-n", self.netns, "link", "set", "lo", "up")
        inside = f"pc{self.tag}c{self.number}"
        sh("ip", "link", "add", self.outside, "type", "veth", "peer", "name", inside)
        sh("ip", "link", "set", inside, "netns", self.netns)
        sh("ip", "addr", "add", f"{self.root_side}/30", "dev", self.outside)
        sh("ip", "link", "set", self.outside, "up")
        sh("ip", "-n", self.netns, "addr", "add", f"{self.host_side}/30", "dev", inside)
        sh("ip", "-n", self.netns, "link", "set", inside, "up")
        sh("ip", "-n", self.netns, "route", "add", "default", "via", self.root_side)

    def cut(self) -> None:
        sh("ip", "link", "set", self.outside, "down")

    def mend(self) -> None:
        sh("ip", "link", "set", self.outside, "up")

    def remove(self) -> None:
        sh("ip", "netns", "del", self.netns, check=False)
        sh("ip", "link", "del", self.outside, check=False)

    def endpoints(self, replicas: list[ServerProcess]) -> str:
        """The replicas as this host reaches them (they listen on every address)."""
        return ",".join(f"http://{self.root_side}:{r.port}" for r in replicas)


class SimAgent(AgentCommand):
    """`portside sim` with one instance in a host's namespace, given every replica."""

    def __init__(
        self, host: Host, replicas: list[ServerProcess], cluster: str, root: Path, zone: str
    ) -> None:
        argv = [
            "sim",
            "--endpoint",
            host.endpoints(replicas),
            "--cluster",
            cluster,
            "--instances",
            "1",
            "--zones",
            zone,
            "--attribute",
            f"portside.test.host=h{host.number}",
            "--state-dir",
            str(root / f"sim-h{host.number}"),
            # A stop takes a while, so STOPPING is reported on its own before STOPPED.
            "--stop-delay-ms",
            "1500",
        ]
        super().__init__(replicas[0], root / f"sim-h{host.number}.log", argv)
        self.host = host

    def command(self) -> list[str]:
        return [
            "nsenter",
            f"--net=/var/run/netns/{self.host.netns}",
            str(BIN / "portside"),
            *self.argv,
        ]


def tasks_of(ecs: Any, cluster: str) -> dict[str, dict[str, Any]]:
    """Every task of the cluster (running or stopped), by ARN."""
    arns: list[str] = []
    for desired in ("RUNNING", "STOPPED"):
        arns += ecs.list_tasks(cluster=cluster, desiredStatus=desired)["taskArns"]
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(arns), 100):
        for task in ecs.describe_tasks(cluster=cluster, tasks=arns[start : start + 100])["tasks"]:
            out[task["taskArn"]] = task
    return out


def instance_of_host(ecs: Any, cluster: str, number: int) -> dict[str, Any]:
    arns = ecs.list_container_instances(
        cluster=cluster, filter=f"attribute:portside.test.host == h{number}"
    )["containerInstanceArns"]
    if len(arns) != 1:
        return {}
    (inst,) = ecs.describe_container_instances(cluster=cluster, containerInstances=arns)[
        "containerInstances"
    ]
    return dict(inst)


# The control plane finalised the lost tasks as STOPPED (ops/tasks.stop, agent gone); the
# returning agent's STOPPING report for them is refused, and logged as an error.
def test_a_partitioned_agent_is_replaced_and_on_return_stops_only_what_is_no_longer_wanted(
    tmp_path: Path, postgres_url: str, name: str
) -> None:
    why = unavailable()
    if why:
        pytest.skip(why)
    tag, prefix = secrets.token_hex(2), free_prefix()
    hosts = [Host(tag, n, prefix) for n in (1, 2, 3)]
    replicas = [
        ServerProcess(
            tmp_path / r,
            None,
            "--database",
            postgres_url,
            "--host",
            "0.0.0.0",
            "--lost-instance-grace",
            "2",
        )
        for r in ("a", "b")
    ]
    agents: list[SimAgent] = []
    try:
        for host in hosts:
            host.make()
        start_both(replicas)
        ecs = replicas[1].client()
        ecs.create_cluster(clusterName=name)
        agents = [
            SimAgent(h, replicas, name, tmp_path, z) for h, z in zip(hosts, "abc", strict=True)
        ]
        for agent in agents:
            agent.start()
        insts = [
            wait_until(lambda n=n: instance_of_host(ecs, name, n), 30, f"h{n}") for n in (1, 2, 3)
        ]
        cut = insts[2]["containerInstanceArn"]
        td = register(ecs, name)
        ecs.create_service(cluster=name, serviceName="web", taskDefinition=td, desiredCount=6)
        # A standalone task on the host to be cut: nobody replaces it, and it stays wanted.
        (alone,) = ecs.start_task(cluster=name, taskDefinition=td, containerInstances=[cut])[
            "tasks"
        ]

        def running() -> dict[str, dict[str, Any]]:
            return {a: t for a, t in tasks_of(ecs, name).items() if t["lastStatus"] == "RUNNING"}

        wait_until(lambda: len(running()) == 7, 60, "6 service tasks and the standalone one")
        before = running()
        on_cut = {a for a, t in before.items() if t["containerInstanceArn"] == cut}
        service_on_cut = on_cut - {alone["taskArn"]}
        elsewhere = set(before) - on_cut
        assert service_on_cut, "the spread put service tasks on every host"

        hosts[2].cut()
        wait_until(
            lambda: not instance_of_host(ecs, name, 3)["agentConnected"], 60, "h3 disconnected"
        )

        def replaced() -> bool:
            now = tasks_of(ecs, name)
            wanted = [
                t
                for t in now.values()
                if t.get("group") == "service:web" and t["desiredStatus"] == "RUNNING"
            ]
            return len(wanted) == 6 and all(
                t["containerInstanceArn"] != cut and t["lastStatus"] == "RUNNING" for t in wanted
            )

        wait_until(replaced, 60, "h3's service tasks replaced on h1 and h2")
        now = tasks_of(ecs, name)
        assert all(now[a]["desiredStatus"] == "STOPPED" for a in service_on_cut)
        assert now[alone["taskArn"]]["desiredStatus"] == "RUNNING"

        hosts[2].mend()
        wait_until(lambda: instance_of_host(ecs, name, 3)["agentConnected"], 60, "h3 back")
        wait_until(
            lambda: all(
                t["lastStatus"] == "STOPPED"
                for a, t in tasks_of(ecs, name).items()
                if a in service_on_cut
            ),
            60,
            "h3's replaced tasks stopped by its agent",
        )

        # Its agent did stop them: each one's STOPPING report came (and was refused, the
        # control plane having finalised it).
        def reported() -> set[str]:
            text = "".join(r.log() for r in replicas)
            return {a for a in service_on_cut if f"{a}: STOPPED -> STOPPING" in text}

        wait_until(lambda: reported() == service_on_cut, 30, "h3's agent stopping them")
        after = tasks_of(ecs, name)
        # The rest was not touched: the standalone task runs on, so do the other hosts' tasks.
        assert after[alone["taskArn"]]["lastStatus"] == "RUNNING"
        assert all(after[a]["lastStatus"] == "RUNNING" for a in elsewhere)
        web = ecs.describe_services(cluster=name, services=["web"])["services"][0]
        assert web["runningCount"] == 6
    finally:
        for agent in agents:
            agent.kill()
        for replica in replicas:
            replica.close()
        for host in hosts:
            host.remove()
