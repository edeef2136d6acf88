"""A full disk under a running server (a small tmpfs as its data directory): writes fail
with ECS's ServerException and a clear log line, nothing of them is applied, and the server
carries on once there is space again."""

from __future__ import annotations

import errno
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from harness import ServerProcess

# Big enough that a few dozen writes fill what SQLite's WAL has room for.
ENV = [{"name": f"VAR_{i}", "value": "x" * 200} for i in range(60)]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"kernel feature: cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Take every free byte of the disk; the file that holds them."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def register(ecs: Any, family: str) -> int:
    td = ecs.register_task_definition(
        family=family,
        containerDefinitions=[{"name": "c", "image": "busybox", "memory": 32, "environment": ENV}],
    )["taskDefinition"]
    return int(td["revision"])


@pytest.mark.allow_log(r"storage: no space left for ", r"failed: The server's storage is full")
def test_a_full_disk_fails_writes_cleanly_and_the_server_carries_on(
    small_disk: Path, tmp_path: Path, name: str
) -> None:
    log = tmp_path / "server.log"
    server = ServerProcess(small_disk / "data", log_path=log).start()
    try:
        ecs = server.client()
        ecs.create_cluster(clusterName="before")
        filler = fill(small_disk)
        revisions: list[int] = []
        for _ in range(500):
            try:
                revisions.append(register(ecs, name))
            except ClientError as exc:
                failure = exc.response
                break
        else:
            pytest.fail("no write failed on a full disk")
        assert failure["Error"]["Code"] == "ServerException"
        assert failure["ResponseMetadata"]["HTTPStatusCode"] == 500
        with pytest.raises(ClientError, match="ServerException"):
            ecs.create_cluster(clusterName="during")
        text = log.read_text()
        assert f"no space left for {small_disk / 'data' / 'portside.db'}" in text
        assert "Traceback" not in text

        filler.unlink()
        # Nothing of the failed calls was applied: no cluster, no revision, no number used.
        assert ecs.describe_clusters(clusters=["during"])["clusters"] == []
        listed = ecs.list_task_definitions(familyPrefix=name)["taskDefinitionArns"]
        assert len(listed) == len(revisions)
        # And the server goes on as before.
        assert register(ecs, name) == len(revisions) + 1
        ecs.create_cluster(clusterName="after")
        found = ecs.describe_clusters(clusters=["before", "after"])["clusters"]
        assert [c["status"] for c in found] == ["ACTIVE", "ACTIVE"]
        assert server.proc is not None and server.proc.poll() is None
    finally:
        server.stop()


@pytest.mark.allow_log(r"storage: no space left for ", r"failed: The server's storage is full")
def test_a_full_disk_fails_log_writes_cleanly_too(
    small_disk: Path, tmp_path: Path, name: str
) -> None:
    log = tmp_path / "server.log"
    server = ServerProcess(small_disk / "data", log_path=log).start()
    try:
        logs = server.client("logs")
        logs.create_log_group(logGroupName=name)
        logs.create_log_stream(logGroupName=name, logStreamName="s")
        filler = fill(small_disk)
        event = {"timestamp": 0, "message": "m" * 4000}
        put = 0
        for _ in range(2000):
            try:
                event["timestamp"] = int(time.time() * 1000)
                logs.put_log_events(logGroupName=name, logStreamName="s", logEvents=[event] * 50)
                put += 50
            except ClientError as exc:
                failure = exc.response
                break
        else:
            pytest.fail("no log write failed on a full disk")
        assert failure["Error"]["Code"] == "ServerException"
        assert failure["ResponseMetadata"]["HTTPStatusCode"] == 500
        text = log.read_text()
        assert f"no space left for {small_disk / 'data' / 'logs.db'}" in text
        assert "Traceback" not in text

        filler.unlink()
        stored = logs.get_log_events(logGroupName=name, logStreamName="s", limit=10_000)
        assert len(stored["events"]) == put  # the refused batch left nothing behind
        logs.put_log_events(logGroupName=name, logStreamName="s", logEvents=[event])
        assert server.proc is not None and server.proc.poll() is None
    finally:
        server.stop()
