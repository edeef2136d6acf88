"""Starting a control plane or an agent: one owner per directory, the port bound before
anything is touched, a damaged database refused (portside/dirlock.py, portside/startup.py)."""

from __future__ import annotations

import hashlib
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import BIN, ServerProcess, free_port

from portside.startup import StartupError, listen

# "At once": well under the time a server takes to come up and run its loops.
AT_ONCE = 15.0


def portside(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `portside ARGS` to its exit (a TimeoutExpired fails the test: it did not exit)."""
    return subprocess.run(
        [str(BIN / "portside"), *args],
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=AT_ONCE,
    )


def snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    """Every file under root: size, mtime and content hash."""
    return {
        str(p.relative_to(root)): (
            p.stat().st_size,
            p.stat().st_mtime_ns,
            hashlib.sha256(p.read_bytes()).hexdigest(),
        )
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def running(tmp_path: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path / "data", log_path=tmp_path / "first.log").start()
    yield server
    server.stop()


@pytest.fixture
def occupied_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


# -- one owner per data directory -----------------------------------------------------------


@pytest.mark.parametrize("command", ["server", "up"])
def test_a_second_control_plane_on_a_data_directory_exits_at_once(
    running: ServerProcess, command: str
) -> None:
    assert running.proc is not None
    extra = ["--driver", "simulated"] if command == "up" else []
    data = str(running.data_dir)
    out = portside(running, command, "--data-dir", data, "--port", str(free_port()), *extra)
    assert out.returncode != 0
    message = " ".join(out.stderr.split())
    assert f"{running.data_dir.resolve()} is in use" in message
    assert f"pid {running.proc.pid}, port {running.port}" in message
    # The first one never noticed.
    assert running.client().list_clusters()["clusterArns"] is not None
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("second", ["agent", "up"])
def test_a_second_agent_on_a_state_directory_exits_at_once(
    server: ServerProcess, tmp_path: Path, name: str, second: str
) -> None:
    server.client().create_cluster(clusterName=name)
    state = tmp_path / "data" / "agent"  # where `portside up --data-dir data` keeps its agent's
    args = ["agent", "--driver", "simulated", "--cluster", name, "--state-dir", str(state)]
    args += ["--metadata-port", str(free_port())]
    log = tmp_path / "agent.log"
    with log.open("wb") as out:
        first = subprocess.Popen(
            [str(BIN / "portside"), *args], env=server.env(), stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while "agent running" not in log.read_text():
            assert first.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        if second == "up":
            data = str(state.parent)
            args = ["up", "--driver", "simulated", "--data-dir", data, "--port", str(free_port())]
        out = portside(server, *args)
        assert out.returncode != 0
        message = " ".join(out.stderr.split())
        assert f"agent state directory {state.resolve()} is in use" in message
        assert f"pid {first.pid}," in message
    finally:
        first.terminate()
        first.wait(10)


# -- a failed start leaves no trace ---------------------------------------------------------


@pytest.mark.parametrize("command", ["server", "up"])
def test_a_start_that_cannot_bind_its_port_leaves_the_data_directory_as_it_was(
    tmp_path: Path, occupied_port: int, command: str
) -> None:
    data = tmp_path / "data"
    used = ServerProcess(data, log_path=tmp_path / "first.log").start()
    used.client().create_cluster(clusterName="kept")
    used.stop()
    before = snapshot(data)
    extra = ["--driver", "simulated"] if command == "up" else []
    out = portside(used, command, "--data-dir", str(data), "--port", str(occupied_port), *extra)
    assert out.returncode != 0
    assert snapshot(data) == before  # nothing read, rewritten, upgraded or started
    assert f"cannot listen on 127.0.0.1:{occupied_port}" in out.stderr
    assert "agent" not in out.stderr.lower()


def test_listen_binds_every_address_or_says_why_not(occupied_port: int) -> None:
    with pytest.raises(StartupError, match=rf"cannot listen on 127\.0\.0\.1:{occupied_port}: "):
        listen("127.0.0.1", occupied_port)
    socks = listen("127.0.0.1", 0)
    try:
        assert [s.getsockname()[0] for s in socks] == ["127.0.0.1"]
        assert not socks[0].get_inheritable()  # no child process keeps the port
    finally:
        for s in socks:
            s.close()


# -- a damaged database is refused ----------------------------------------------------------


def corrupt_a_page(db: Path, table: str) -> None:
    """Overwrite the b-tree page header of `table`'s root page, as a torn write would."""
    conn = sqlite3.connect(db)
    (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    (page_size,) = conn.execute("PRAGMA page_size").fetchone()
    conn.close()
    with db.open("r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(b"\xa5" * 64)


def test_a_corrupt_database_is_refused_at_start_with_what_to_do(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = ServerProcess(data, log_path=tmp_path / "server.log").start()
    ecs = server.client()
    for i in range(50):
        ecs.create_cluster(clusterName=f"c{i}")
    server.stop()
    db = data / "portside.db"
    assert not (data / "portside.db-wal").exists()  # a clean stop checkpointed everything
    corrupt_a_page(db, "clusters")
    out = portside(server, "server", "--data-dir", str(data), "--port", str(free_port()))
    assert out.returncode != 0
    message = " ".join(out.stderr.split())
    assert f"the database {db} is damaged" in message
    assert "restore the file from a backup" in message
    assert "Traceback" not in out.stderr
