"""The AWS CLI against the logs API: v1 (the venv's) get-log-events and filter-log-events,
v2 (Debian's /usr/bin/aws, the only one with `logs tail`) tail and tail --follow."""

from __future__ import annotations

import os
import queue
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from harness import ServerProcess
from logs.logcalls import now_ms

AWS_V2 = Path("/usr/bin/aws")
needs_v2 = pytest.mark.skipif(
    not AWS_V2.exists(), reason="AWS CLI v2 (/usr/bin/aws, Debian's awscli) is not installed"
)
# awscli v2's FollowLogEventsGenerator sleeps this long between polls, client side
# (awscli/customizations/logs/tail.py, _TIME_TO_SLEEP = 5): a new line shows within it.
TAIL_POLL = 5.0


def seed(logs: Any, group: str, stream: str, lines: list[str]) -> int:
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    start = now_ms() - 30_000
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": start + i, "message": m} for i, m in enumerate(lines)],
    )
    return start


def test_v1_get_log_events(server: ServerProcess, logs: Any, group: str) -> None:
    seed(logs, group, "app/web/abc", ["hello", "world"])
    out = server.aws(
        "logs", "get-log-events", "--log-group-name", group,
        "--log-stream-name", "app/web/abc", "--start-from-head",
    )  # fmt: skip
    assert [e["message"] for e in out["events"]] == ["hello", "world"]
    assert out["nextForwardToken"].startswith("f/")


def test_v1_filter_log_events(server: ServerProcess, logs: Any, group: str) -> None:
    seed(logs, group, "s", ["GET / 200", "ERROR boom", "ERROR timeout"])
    out = server.aws(
        "logs", "filter-log-events", "--log-group-name", group,
        "--filter-pattern", "ERROR -timeout",
    )  # fmt: skip
    assert [(e["logStreamName"], e["message"]) for e in out["events"]] == [("s", "ERROR boom")]


def _v2(server: ServerProcess, *args: str) -> list[str]:
    return [str(AWS_V2), "--endpoint-url", server.endpoint, "--no-cli-pager", *args]


@needs_v2
def test_v2_tail(server: ServerProcess, logs: Any, group: str) -> None:
    seed(logs, group, "app/web/abc", ["first line", "second line"])
    proc = subprocess.run(
        _v2(server, "logs", "tail", group, "--since", "1h", "--format", "short"),
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == ["first line", "second line"]


@needs_v2
def test_v2_tail_follow_shows_a_new_line(server: ServerProcess, logs: Any, group: str) -> None:
    seed(logs, group, "s", ["before"])
    proc = subprocess.Popen(
        _v2(server, "logs", "tail", group, "--follow", "--format", "short"),
        env={**server.env(), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    try:
        assert lines.get(timeout=30).endswith(" before")
        logs.put_log_events(
            logGroupName=group,
            logStreamName="s",
            logEvents=[{"timestamp": now_ms(), "message": "after"}],
        )
        # It polls every TAIL_POLL s: the line shows at its next poll, however late that is.
        shown = lines.get(timeout=TAIL_POLL + 30)
        assert shown.endswith(" after")
    finally:
        proc.terminate()
        proc.wait(10)


def test_logs_survive_a_server_kill(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data").start()
    try:
        logs = server.client("logs")
        logs.create_log_group(logGroupName="durable")
        seed(logs, "durable", "s", [f"line {i}" for i in range(100)])
        server.kill()  # SIGKILL: nothing gets to flush
        server.start()
        out = server.client("logs").get_log_events(
            logGroupName="durable", logStreamName="s", startFromHead=True
        )
        assert [e["message"] for e in out["events"]] == [f"line {i}" for i in range(100)]
    finally:
        server.stop()
    assert os.path.exists(tmp_path / "data" / "logs.db")
