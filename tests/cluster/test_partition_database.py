"""Two `portside server` replicas cut off from their PostgreSQL database: it is stopped as a
crash would stop it and started again. Meanwhile calls answer ServerException (HTTP 500)
on either replica; a client that retries (boto3's standard retry mode) sees its calls
succeed once the database is back, and every call acknowledged, before, during or after,
is there afterwards. The replicas reconnect by themselves: a leader runs the loops again
(a service scales), and the agent, given both, stays connected."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from fleet import register, wait_until
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess
from test_replicas_failover import running, start_both

from portside.agent.session import Agent
from portside.testing.agent import start_simulated_agent
from portside.testing.postgres import PostgresServer

RETRYING = Config(retries={"mode": "standard", "max_attempts": 10})


def retrying(replica: ServerProcess) -> Any:
    """An ECS client with boto3's standard retries (the harness's clients do not retry)."""
    return boto3.client(
        "ecs",
        endpoint_url=replica.endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=RETRYING,
    )


class Writer(threading.Thread):
    """CreateCluster after CreateCluster through a retrying client, alternating replicas,
    until told to stop: the names of those acknowledged, and any call that failed anyway."""

    def __init__(self, replicas: list[ServerProcess], prefix: str) -> None:
        super().__init__(daemon=True)
        self.clients = [retrying(r) for r in replicas]
        self.prefix = prefix
        self.acknowledged: list[str] = []
        self.failed: list[str] = []
        self.done = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.done.is_set():
            name = f"{self.prefix}-{n}"
            try:
                self.clients[n % len(self.clients)].create_cluster(clusterName=name)
                self.acknowledged.append(name)
            except ClientError as exc:
                self.failed.append(f"{name}: {exc}")
            n += 1


def server_exception(ecs: Any) -> bool:
    try:
        ecs.list_clusters()
    except ClientError as exc:
        error = exc.response
        return bool(
            error["Error"]["Code"] == "ServerException"
            and error["ResponseMetadata"]["HTTPStatusCode"] == 500
        )
    return False


@pytest.mark.allow_log(r"database .* unavailable")
def test_replicas_ride_out_a_database_restart_and_nothing_acknowledged_is_lost(
    tmp_path: Path, postgres_server: PostgresServer, postgres_url: str, name: str
) -> None:
    replicas = [ServerProcess(tmp_path / r, None, "--database", postgres_url) for r in ("a", "b")]
    agent: Agent | None = None
    writer = Writer(replicas, name)
    try:
        start_both(replicas)
        ecs = retrying(replicas[0])
        ecs.create_cluster(clusterName=name)
        agent = start_simulated_agent(
            ",".join(r.endpoint for r in replicas),
            ACCESS_KEY,
            SECRET_KEY,
            tmp_path / "ag",
            name,
            region=REGION,
        )
        td = register(ecs, name)
        ecs.create_service(cluster=name, serviceName="web", taskDefinition=td, desiredCount=2)
        wait_until(lambda: len(running(ecs, name, "web")) == 2, 30, "2 tasks")
        writer.start()
        wait_until(lambda: len(writer.acknowledged) >= 5, 30, "calls before")

        postgres_server.stop("immediate")  # as a crash would
        try:
            for replica in replicas:
                once = replica.client()  # no retries
                wait_until(lambda once=once: server_exception(once), 30, "a ServerException")
            during = len(writer.acknowledged)
        finally:
            postgres_server.restart()
        wait_until(lambda: len(writer.acknowledged) >= during + 10, 60, "calls after")
        writer.done.set()
        writer.join(60)
        assert writer.failed == []

        # Every acknowledged call's cluster is there, on either replica.
        names = writer.acknowledged
        for replica in replicas:
            found: list[str] = []
            for at in range(0, len(names), 100):
                out = replica.client().describe_clusters(clusters=names[at : at + 100])
                found += [c["clusterName"] for c in out["clusters"] if c["status"] == "ACTIVE"]
            assert sorted(found) == sorted(names)

        # The loops run again (a leader, whichever), and the agent is with us still.
        ecs.update_service(cluster=name, service="web", desiredCount=3)
        wait_until(lambda: len(running(ecs, name, "web")) == 3, 60, "a 3rd task")
        (inst,) = ecs.describe_container_instances(
            cluster=name, containerInstances=[agent.instance_arn]
        )["containerInstances"]
        assert inst["agentConnected"]
    finally:
        writer.done.set()
        if agent is not None:
            agent.stop()
        for replica in replicas:
            replica.close()
