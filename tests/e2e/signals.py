"""Waiting for a container's shell to install its signal trap, by looking at what its PID 1
ignores or catches (/proc/PID/status), rather than sleeping and hoping it has."""

from __future__ import annotations

import signal
import time
from pathlib import Path


def handles(pid: int, signum: int) -> bool:
    """Whether process `pid` ignores or catches `signum` (SigIgn/SigCgt in /proc)."""
    bit = 1 << (signum - 1)
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("SigIgn", "SigCgt") and int(value.strip(), 16) & bit:
            return True
    return False


def wait_for_trap(runtime_id: str, signum: int = signal.SIGTERM, timeout: float = 30) -> None:
    """Wait until the container's PID 1 has a disposition of its own for `signum`."""
    import docker

    pid = int(docker.from_env().api.inspect_container(runtime_id)["State"]["Pid"])
    deadline = time.monotonic() + timeout
    while not handles(pid, signum):
        assert time.monotonic() < deadline, f"{runtime_id[:12]} never trapped signal {signum}"
        time.sleep(0.02)
