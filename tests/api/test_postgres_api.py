"""A representative slice of the API on a server whose store is PostgreSQL (`--database`):
tasks run on agents and reach RUNNING, a service keeps its count, CloudWatch Logs take and
give back events, and a second server on the same database (another replica) reads all of
it. The rest of the API suite runs on SQLite; the store's own tests run on both."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner
from fleet import Fleet, register, start_fleet, wait_for_status, wait_until
from harness import BIN, ServerProcess, free_port

from portside.cli.main import cli
from portside.testing.postgres import PostgresServer


@pytest.fixture(scope="module")
def pg_api(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, str]]:
    database = postgres_server.create_database()
    url = postgres_server.url(database)
    proc = ServerProcess(tmp_path_factory.mktemp("pg-server"), None, "--database", url)
    proc.start(timeout=60)
    yield proc, url
    proc.close()


@pytest.fixture(scope="module")
def pg_fleet(
    pg_api: tuple[ServerProcess, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fleet]:
    server, _ = pg_api
    with start_fleet(
        server, tmp_path_factory.mktemp("pg-fleet"), "pg-" + uuid.uuid4().hex[:8], count=2
    ) as fleet:
        yield fleet


def test_run_task_and_services_on_postgres(pg_fleet: Fleet, name: str) -> None:
    ecs, cluster = pg_fleet.ecs, pg_fleet.cluster
    td = register(ecs, name)
    tasks = ecs.run_task(cluster=cluster, taskDefinition=td, count=3)["tasks"]
    assert len({t["taskArn"] for t in tasks}) == 3
    for task in tasks:
        wait_for_status(ecs, cluster, task["taskArn"], "RUNNING")
    described = ecs.describe_tasks(cluster=cluster, tasks=[t["taskArn"] for t in tasks])
    assert {t["lastStatus"] for t in described["tasks"]} == {"RUNNING"}
    ecs.create_service(cluster=cluster, serviceName=name, taskDefinition=td, desiredCount=2)

    def steady() -> bool:
        (svc,) = ecs.describe_services(cluster=cluster, services=[name])["services"]
        return bool(svc["runningCount"] == 2)

    wait_until(steady, timeout=60, what="the service's two tasks running")
    listed = ecs.list_tasks(cluster=cluster, serviceName=name)["taskArns"]
    assert len(listed) == 2
    (found,) = ecs.describe_clusters(clusters=[cluster])["clusters"]
    assert found["runningTasksCount"] == 5 and found["activeServicesCount"] == 1
    ecs.delete_service(cluster=cluster, service=name, force=True)
    for task in tasks:
        ecs.stop_task(cluster=cluster, task=task["taskArn"])


def test_logs_and_a_second_replica_on_postgres(
    pg_api: tuple[ServerProcess, str], tmp_path: Path, name: str
) -> None:
    server, url = pg_api
    logs = server.client("logs")
    logs.create_log_group(logGroupName=name)
    logs.create_log_stream(logGroupName=name, logStreamName="s")
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=name,
        logStreamName="s",
        logEvents=[{"timestamp": now + i, "message": f"line {i}"} for i in range(3)],
    )
    got = logs.get_log_events(logGroupName=name, logStreamName="s", startFromHead=True)
    assert [e["message"] for e in got["events"]] == ["line 0", "line 1", "line 2"]
    ecs = server.client()
    ecs.create_cluster(clusterName=name)

    other = ServerProcess(tmp_path / "replica", None, "--database", url)
    other.start(timeout=60)
    try:
        seen = other.client("logs").get_log_events(
            logGroupName=name, logStreamName="s", startFromHead=True
        )
        assert [e["message"] for e in seen["events"]] == ["line 0", "line 1", "line 2"]
        other.client("logs").put_log_events(
            logGroupName=name,
            logStreamName="s",
            logEvents=[{"timestamp": now + 10, "message": "from the replica"}],
        )
        (cluster,) = other.client().describe_clusters(clusters=[name])["clusters"]
        assert cluster["status"] == "ACTIVE"
    finally:
        other.close()
    filtered = logs.filter_log_events(logGroupName=name, filterPattern="replica")
    assert [e["message"] for e in filtered["events"]] == ["from the replica"]


@pytest.mark.allow_log(r"database .* unavailable")
def test_a_postgres_restart_fails_calls_with_server_exception_then_they_work(
    pg_api: tuple[ServerProcess, str], postgres_server: PostgresServer, name: str
) -> None:
    server, _ = pg_api
    ecs = server.client()
    ecs.create_cluster(clusterName=name)
    postgres_server.stop("immediate")  # as a crash would
    try:
        with pytest.raises(ClientError) as err:
            ecs.create_cluster(clusterName=name + "-lost")
        assert err.value.response["Error"]["Code"] == "ServerException"
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    finally:
        postgres_server.restart()

    def works() -> bool:
        try:
            ecs.create_cluster(clusterName=name + "-after")
        except ClientError:
            return False
        return True

    wait_until(works, timeout=30, what="calls working again")
    found = ecs.describe_clusters(clusters=[name, name + "-after"])["clusters"]
    assert [c["status"] for c in found] == ["ACTIVE", "ACTIVE"]


def test_a_bad_or_unreachable_database_stops_the_start_with_a_reason(tmp_path: Path) -> None:
    def start(database: str) -> subprocess.CompletedProcess[str]:
        argv = [str(BIN / "portside"), "server", "--data-dir", str(tmp_path), "--port", "0"]
        return subprocess.run(
            [*argv, "--database", database], capture_output=True, text=True, timeout=60
        )

    wrong = CliRunner().invoke(cli, ["server", "--database", "mysql://db/x"])
    assert wrong.exit_code == 2 and "must be a PostgreSQL URL" in wrong.output
    port = free_port()
    gone = start(f"postgresql://someone:secret@127.0.0.1:{port}/x")
    assert gone.returncode != 0
    assert f"cannot reach the database postgresql://someone@127.0.0.1:{port}/x" in gone.stderr
    assert "Traceback" not in gone.stderr and "secret" not in gone.stderr
