"""`portside migrate`: a single-host installation's state (SQLite: the store, logs, metrics)
copied into PostgreSQL and read back through the API of a server on it; a target that
already holds state is refused."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from pathlib import Path

from fleet import register, start_fleet, wait_for_status
from harness import BIN, ServerProcess

from portside.testing.postgres import PostgresServer


def migrate(source: Path, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "portside"), "migrate", "--from", str(source), "--to", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_migrate_a_data_directory_and_read_it_back(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    cluster = "m" + uuid.uuid4().hex[:8]
    sqlite_dir = tmp_path / "single-host"
    single = ServerProcess(sqlite_dir).start(timeout=60)
    try:
        with start_fleet(single, tmp_path / "agents", cluster) as fleet:
            ecs = fleet.ecs
            td = register(ecs, cluster)
            (task,) = ecs.run_task(cluster=cluster, taskDefinition=td)["tasks"]
            wait_for_status(ecs, cluster, task["taskArn"], "RUNNING")
            logs = single.client("logs")
            logs.create_log_group(logGroupName=cluster)
            logs.create_log_stream(logGroupName=cluster, logStreamName="s")
            now = int(time.time() * 1000)
            logs.put_log_events(
                logGroupName=cluster,
                logStreamName="s",
                logEvents=[{"timestamp": now, "message": "before the move"}],
            )
            instances = ecs.list_container_instances(cluster=cluster)["containerInstanceArns"]
            single.client("ssm").put_parameter(
                Name=f"/{cluster}/pw", Value="s3cret", Type="SecureString"
            )
            single.client("cloudwatch").put_metric_data(
                Namespace=cluster,
                MetricData=[
                    {"MetricName": "m", "Value": v, "Timestamp": now / 1000} for v in (1, 3)
                ],
            )
    finally:
        single.close()

    url = postgres_server.url(postgres_server.create_database())
    done = migrate(sqlite_dir, url)
    assert done.returncode == 0, done.stderr
    assert "migrated" in done.stdout and "master.key" in done.stdout
    again = migrate(sqlite_dir, url)
    assert again.returncode != 0 and "already holds Portside state" in again.stderr

    # As the command says: the KMS master key goes to the replica's data directory.
    (tmp_path / "replica").mkdir()
    shutil.copy2(sqlite_dir / "master.key", tmp_path / "replica" / "master.key")
    moved = ServerProcess(tmp_path / "replica", None, "--database", url).start(timeout=60)
    try:
        ecs = moved.client()
        (found,) = ecs.describe_clusters(clusters=[cluster])["clusters"]
        assert found["status"] == "ACTIVE" and found["registeredContainerInstancesCount"] == 1
        assert ecs.list_container_instances(cluster=cluster)["containerInstanceArns"] == instances
        (copied,) = ecs.describe_tasks(cluster=cluster, tasks=[task["taskArn"]])["tasks"]
        assert copied["taskDefinitionArn"] == td and copied["lastStatus"] == "RUNNING"
        assert ecs.list_task_definitions(familyPrefix=cluster)["taskDefinitionArns"] == [td]
        # The counters came along: the next revision follows the copied one.
        assert register(ecs, cluster).endswith(":2")
        got = moved.client("logs").get_log_events(
            logGroupName=cluster, logStreamName="s", startFromHead=True
        )
        assert [e["message"] for e in got["events"]] == ["before the move"]
        secret = moved.client("ssm").get_parameter(Name=f"/{cluster}/pw", WithDecryption=True)
        assert secret["Parameter"]["Value"] == "s3cret"
        stats = moved.client("cloudwatch").get_metric_statistics(
            Namespace=cluster,
            MetricName="m",
            StartTime=now / 1000 - 120,
            EndTime=now / 1000 + 120,
            Period=60,
            Statistics=["Sum", "SampleCount"],
        )
        assert sum(p["Sum"] for p in stats["Datapoints"]) == 4.0
        ecs.stop_task(cluster=cluster, task=task["taskArn"])
    finally:
        moved.close()
