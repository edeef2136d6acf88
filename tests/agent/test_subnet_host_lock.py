"""The lock around a subnet network's making and removal is the host's (agent/docker/subnets.py
`HostLock`): another process cannot take it while this one holds it, a thread may take it
again inside itself, and it is free again once the outermost hold ends."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from portside.agent.docker.subnets import HostLock

TRY = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
except BlockingIOError:
    print("held")
else:
    print("free")
"""


def other_process_sees(path: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-c", TRY, str(path)], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_another_process_waits_while_it_is_held(tmp_path: Path) -> None:
    lock = HostLock(tmp_path / "subnets.lock")
    assert other_process_sees(lock.path) == "free"
    with lock:
        assert other_process_sees(lock.path) == "held"
        with lock:  # reentrant in the thread that holds it
            assert other_process_sees(lock.path) == "held"
        assert other_process_sees(lock.path) == "held"
    assert other_process_sees(lock.path) == "free"


def test_threads_of_one_process_take_it_in_turn(tmp_path: Path) -> None:
    lock = HostLock(tmp_path / "subnets.lock")
    inside = 0
    most = 0
    guard = threading.Lock()

    def hold() -> None:
        nonlocal inside, most
        for _ in range(200):
            with lock:
                with guard:
                    inside += 1
                    most = max(most, inside)
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=hold) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most == 1
    assert other_process_sees(lock.path) == "free"
