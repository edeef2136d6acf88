"""Task-level CPU and memory limits when Docker's cgroup driver is systemd: one transient
slice per task, `portside-<task-id>.slice` (under `portside.slice`), made through systemd's
D-Bus API with the task's limits and given to Docker as the cgroup parent of every container
of the task. This is what the ECS agent does on such hosts (`ecstasks-<task-id>.slice`).
systemd owns that part of the cgroup tree, so the limits are systemd properties rather
than files written by hand (systemd would write its own values over them).

- task cpu (units) -> CPUQuotaPerSecUSec = cpu / 1024 s per second (the CFS quota that
  cgroups.py writes, over systemd's default 100 ms period).
- no task cpu -> CPUWeight from the containers' CPU shares, runc's conversion.
- task memory (MiB) -> MemoryMax.

The calls go through `busctl`, which ships with systemd: no D-Bus library to depend on.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from portside.agent.docker.cgroups import PREFIX, TaskLimits, v2_weight
from portside.agent.driver import DriverError

log = logging.getLogger("portside.agent.cgroups")

SYSTEMD = ["org.freedesktop.systemd1", "/org/freedesktop/systemd1"]
MANAGER = "org.freedesktop.systemd1.Manager"

Run = Callable[[Sequence[str]], subprocess.CompletedProcess[str]]


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=30, check=False)


def escape(name: str) -> str:
    """systemd's unit-name escaping of one path component (`-` would mean a sub-slice)."""
    out = []
    for i, ch in enumerate(name):
        if ch.isascii() and (ch.isalnum() or ch in ":_" or (ch == "." and i > 0)):
            out.append(ch)
        else:
            out.extend(f"\\x{b:02x}" for b in ch.encode())
    return "".join(out)


def slice_name(task_id: str) -> str:
    return f"{PREFIX}-{escape(task_id)}.slice"


def properties(limits: TaskLimits) -> list[tuple[str, str, str]]:
    """The slice's systemd properties: (name, D-Bus type, value)."""
    props = [
        ("Description", "s", "Portside task limits"),
        ("CPUAccounting", "b", "true"),
        ("MemoryAccounting", "b", "true"),
    ]
    if limits.cpu_quota_us is not None:
        per_sec = limits.cpu_quota_us * 1_000_000 // limits.cpu_period_us
        props.append(("CPUQuotaPerSecUSec", "t", str(per_sec)))
    if limits.cpu_shares is not None:
        props.append(("CPUWeight", "t", str(v2_weight(limits.cpu_shares))))
    if limits.memory_bytes is not None:
        props.append(("MemoryMax", "t", str(limits.memory_bytes)))
    return props


def _flat(props: list[tuple[str, str, str]]) -> list[str]:
    return [str(len(props)), *(x for p in props for x in p)]


class SystemdSlices:
    """TaskCgroups' interface (cgroups.py) over systemd: `create` makes the task's slice,
    `remove` stops it."""

    def __init__(self, run: Run = _run, systemd_dir: Path = Path("/run/systemd/system")) -> None:
        self._run = run
        self._systemd_dir = systemd_dir

    def parent(self, task_id: str) -> str:
        return slice_name(task_id)

    def unusable(self) -> str | None:
        """Why slices can't be made here, or None when they can."""
        if not self._systemd_dir.is_dir():
            return "systemd is not running on this host"
        if self._run is _run and shutil.which("busctl") is None:
            return "busctl (systemd) is not installed"
        done = self._call("GetUnit", "s", f"{PREFIX}.slice")
        if done.returncode != 0 and "NoSuchUnit" not in done.stderr + done.stdout:
            return f"systemd's D-Bus API does not answer: {done.stderr.strip()}"
        return None

    def create(self, task_id: str, limits: TaskLimits) -> str:
        """Make the task's slice with its limits (or set them on the one made before an
        agent restart); return the cgroup parent for Docker."""
        name = slice_name(task_id)
        props = properties(limits)
        done = self._call(
            "StartTransientUnit", "ssa(sv)a(sa(sv))", name, "fail", *_flat(props), "0"
        )
        if done.returncode != 0 and "UnitExists" in done.stderr + done.stdout:
            done = self._call("SetUnitProperties", "sba(sv)", name, "true", *_flat(props))
        if done.returncode != 0:
            raise DriverError(
                f"ResourceInitializationError: failed to create task slice {name}: "
                f"{done.stderr.strip() or done.stdout.strip()}"
            )
        return name

    def remove(self, task_id: str, attempts: int = 10) -> bool:
        """Stop the task's slice; True when it is gone (or never was). Idempotent."""
        done = self._call("StopUnit", "ss", slice_name(task_id), "fail")
        if done.returncode == 0 or "NoSuchUnit" in done.stderr + done.stdout:
            return True
        log.info("could not stop %s: %s", slice_name(task_id), done.stderr.strip())
        return False

    def _call(self, method: str, signature: str, *args: str) -> subprocess.CompletedProcess[str]:
        return self._run(["busctl", "call", *SYSTEMD, MANAGER, method, signature, *args])
