"""portside/dirlock.py: one owner per directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from portside.dirlock import AGENT_LOCK, DirectoryInUse, DirLock


def test_a_second_lock_on_a_directory_is_refused_naming_the_holder(tmp_path: Path) -> None:
    with DirLock.acquire(tmp_path / "d") as first:
        first.record(port=4810)
        with pytest.raises(DirectoryInUse) as err:
            DirLock.acquire(tmp_path / "d")
    message = str(err.value)
    assert f"the data directory {(tmp_path / 'd').resolve()} is in use" in message
    assert f"(pid {os.getpid()}, port 4810)" in message


def test_a_released_lock_is_free_again_and_locks_are_per_file(tmp_path: Path) -> None:
    DirLock.acquire(tmp_path).release()
    with DirLock.acquire(tmp_path), DirLock.acquire(tmp_path, AGENT_LOCK, "agent state"):
        pass
    DirLock.acquire(tmp_path).release()


def test_taking_a_lock_writes_nothing(tmp_path: Path) -> None:
    with DirLock.acquire(tmp_path) as lock:
        lock.record(port=1)
    before = (tmp_path / "portside.lock").stat()
    with DirLock.acquire(tmp_path):
        after = (tmp_path / "portside.lock").stat()
    assert (after.st_mtime_ns, after.st_size) == (before.st_mtime_ns, before.st_size)


def test_the_lock_dies_with_its_holder(tmp_path: Path) -> None:
    code = (
        "import sys, time; from pathlib import Path; from portside.dirlock import DirLock;"
        "DirLock.acquire(Path(sys.argv[1])).record(port=7); print('locked', flush=True);"
        "time.sleep(60)"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        with pytest.raises(DirectoryInUse, match=rf"\(pid {holder.pid}, port 7\)"):
            DirLock.acquire(tmp_path)
    finally:
        holder.kill()
        holder.wait()
    # Killed (no chance to tidy): the kernel dropped its lock; its stale record names no one.
    lock = DirLock.acquire(tmp_path)
    assert orjson.loads((tmp_path / "portside.lock").read_bytes())["pid"] == holder.pid
    with pytest.raises(DirectoryInUse, match=r"\(pid unknown: it is still starting\)"):
        DirLock.acquire(tmp_path)
    lock.release()
