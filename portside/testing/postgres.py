"""A throwaway PostgreSQL server for tests and benchmarks.

Debian's `postgresql` binaries (`initdb`, `pg_ctl`, found on PATH or under
/usr/lib/postgresql/*/bin), a cluster initialised into a fresh temporary directory, listening
on a unix socket in that directory and on 127.0.0.1 at a free port, trusting every local
connection. PostgreSQL refuses to run as root, so as root the cluster belongs to a system user
of its own (`portside-pg`, made with useradd when absent). Durability against a power cut is
off unless asked for (fsync, full_page_writes): a test's data need not survive one; a commit
still reaches the operating system before it is acknowledged, so a killed server loses
nothing, as in production.

Each test gets a database of its own (`create_database`: CREATE DATABASE copies template0,
milliseconds), so one server serves a whole session; `restart` and `stop` let a test take the
database away under a store and bring it back.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

SYSTEM_USER = "portside-pg"
SUPERUSER = "postgres"


def find_bin(name: str) -> str | None:
    """The path of PostgreSQL's program `name`, or None when PostgreSQL is not installed."""
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def available() -> str | None:
    """None when a server can be started here, else why not (for a skip's reason)."""
    missing = [b for b in ("initdb", "pg_ctl", "postgres") if find_bin(b) is None]
    if missing:
        return (
            f"PostgreSQL is not installed (no {', '.join(missing)}): "
            "scripts/ensure-test-deps.sh installs Debian's postgresql"
        )
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ensure_user(name: str) -> pwd.struct_passwd:
    """The system user `name`, made when absent (several test processes may race: one
    useradd wins, the others find the user made)."""
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        result = subprocess.run(
            [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode == 0:
            continue
        if time.monotonic() > deadline:
            raise RuntimeError(f"useradd {name} failed: {result.stderr.strip()}")
        time.sleep(0.2)  # /etc/passwd locked by another useradd: it may be making this user


class PostgresServer:
    """One PostgreSQL cluster in a temporary directory; `start`, then `create_database` per
    test; `close` stops it and removes the directory."""

    def __init__(self, *, durable: bool = False, max_connections: int = 300) -> None:
        reason = available()
        if reason is not None:
            raise RuntimeError(reason)
        self.durable = durable
        self.max_connections = max_connections
        self.port = 0
        self.root = Path(tempfile.mkdtemp(prefix="portside-pg-"))
        self.data = self.root / "data"
        self.sockets = self.root / "sockets"
        self.log = self.root / "postgresql.log"
        self._user: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            self._user = _ensure_user(SYSTEM_USER)
        self.sockets.mkdir()
        if self._user is not None:
            for path in (self.root, self.sockets):
                os.chown(path, self._user.pw_uid, self._user.pw_gid)
        self._running = False

    # -- running programs as the cluster's owner ---------------------------------------------

    def _run(self, argv: list[str], *, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, Any] = {}
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        if self._user is not None:
            kwargs.update(user=self._user.pw_uid, group=self._user.pw_gid, extra_groups=[])
            env["HOME"] = str(self.root)
        result = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            env=env,
            cwd=self.root,
            timeout=timeout,
            check=False,
            **kwargs,
        )
        if result.returncode != 0:
            tail = ""
            with contextlib.suppress(OSError):
                tail = "\n".join(self.log.read_text().splitlines()[-20:])
            raise RuntimeError(
                f"{' '.join(argv)} failed ({result.returncode}): "
                f"{result.stdout.strip()} {result.stderr.strip()}\n{tail}"
            )
        return result

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> PostgresServer:
        if not self.data.exists():
            self._run(
                [
                    str(find_bin("initdb")),
                    "-D",
                    str(self.data),
                    "-U",
                    SUPERUSER,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                ]
            )
        self._start()
        atexit.register(self.close)  # a test run interrupted still stops it
        return self

    def _start(self) -> None:
        # A free port may be taken by the time the server binds it: try again on another.
        for attempt in range(5):
            self.port = self.port or _free_port()
            try:
                self._pg_ctl("start", "-w", "-t", "60", "-o", self._options())
            except RuntimeError:
                if attempt == 4:
                    raise
                self.port = 0
                continue
            self._running = True
            return

    def _options(self) -> str:
        opts = [
            f"-p {self.port}",
            "-c listen_addresses=127.0.0.1",
            f"-c unix_socket_directories={self.sockets}",
            f"-c max_connections={self.max_connections}",
            "-c shared_buffers=32MB",
            "-c log_min_messages=warning",
        ]
        if not self.durable:
            # A commit still reaches the operating system before it is acknowledged: a
            # server killed (not the machine) loses nothing, as in production.
            opts += ["-c fsync=off", "-c full_page_writes=off"]
        return " ".join(opts)

    def _pg_ctl(self, *args: str) -> None:
        self._run([str(find_bin("pg_ctl")), "-D", str(self.data), "-l", str(self.log), *args])

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`immediate`: as a crash would, no checkpoint)."""
        if self._running:
            self._running = False
            self._pg_ctl("stop", "-w", "-t", "60", "-m", mode)

    def restart(self, mode: str = "fast") -> None:
        """Stop and start again on the same port: every connection to it breaks."""
        self.stop(mode)
        self._start()

    def close(self) -> None:
        atexit.unregister(self.close)
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- databases ----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._running

    def url(self, database: str = "postgres") -> str:
        """A libpq URL of `database` over TCP (what a user passes `--database`)."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def socket_url(self, database: str = "postgres") -> str:
        """The same over the unix socket (faster; what the store tests use)."""
        return f"postgresql://{SUPERUSER}@/{database}?host={self.sockets}&port={self.port}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.socket_url(), autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self, name: str | None = None, *, template: str = "template0") -> str:
        """A new database (a random name unless given), a copy of `template` (by default
        empty); returns its name. A template must have no open connection."""
        name = name or "t" + uuid.uuid4().hex[:16]
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return name

    def drop_database(self, name: str) -> None:
        """Drop `name`, closing whatever connections are still open to it."""
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
