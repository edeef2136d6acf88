"""One owner per directory: an exclusive flock on a lock file inside it.

A control plane locks its data directory and an agent its state directory before reading or
writing anything there; a second process on the same directory gets `DirectoryInUse` with
the holder's pid and port (written into the lock file once the holder is serving), and exits.

The lock is the open file description's: the kernel drops it when the holder exits, however
it exits (kill -9 included), so a stale lock file never blocks a restart. The file itself is
never removed (removing it would let two processes lock two different inodes of one name).
Taking a lock writes nothing: the holder's details go in with `record`, which a server calls
only once its port is bound, so a start that fails leaves the directory as it found it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Any

import orjson

from portside.processes import alive
from portside.startup import StartupError

SERVER_LOCK = "portside.lock"
AGENT_LOCK = "agent.lock"


class DirectoryInUse(StartupError):
    pass


class DirLock:
    """An exclusive lock on `directory`, held until `release` or the process's exit."""

    def __init__(self, directory: Path, fd: int, path: Path) -> None:
        self.directory = directory
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(
        cls, directory: Path, name: str = SERVER_LOCK, what: str = "data", *, shared: bool = False
    ) -> DirLock:
        """Lock `directory` (made if missing) or raise DirectoryInUse naming the holder.
        `shared`: server replicas over one SQLite database (portside/cluster) each hold the
        lock shared; a server alone holds it exclusive, so neither kind starts beside the
        other."""
        directory = directory.expanduser().resolve()
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / name
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe(_read(fd))
            os.close(fd)
            raise DirectoryInUse(
                f"the {what} directory {directory} is in use by another Portside process "
                f"({holder}). Stop that process first, or give this one another directory."
            ) from None
        except BaseException:
            os.close(fd)
            raise
        return cls(directory, fd, path)

    def record(self, **holder: Any) -> None:
        """Write who holds the lock (this pid and `holder`) for a second process's message."""
        if self._fd is None:
            raise RuntimeError("lock released")
        data = orjson.dumps({"pid": os.getpid(), **holder})
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> DirLock:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


def _read(fd: int) -> dict[str, Any]:
    try:
        doc = orjson.loads(os.pread(fd, 4096, 0))
    except (OSError, orjson.JSONDecodeError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _describe(holder: dict[str, Any]) -> str:
    # The file may still name an earlier holder (gone) while the new one starts up.
    if not isinstance(holder.get("pid"), int) or not alive(holder["pid"]):
        return "pid unknown: it is still starting"
    parts = [f"pid {holder['pid']}"]
    parts += [f"{k.replace('_', ' ')} {v}" for k, v in holder.items() if k != "pid"]
    return ", ".join(parts)
