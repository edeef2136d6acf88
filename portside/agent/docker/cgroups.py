"""Task-level CPU and memory limits: one cgroup per task, given to Docker as the cgroup parent
of every container of the task, so the limits hold for all of them together. This is the ECS
agent's "task resource limits" feature (agent/api/task/task_linux.go BuildLinuxResourceSpec,
taskresource/cgroup): `/ecs/<task-id>` there, `/portside/<task-id>` here.

- task cpu (units) -> CFS quota over a 100 ms period: quota = cpu / 1024 * 100000 us.
- no task cpu -> the sum of the containers' CPU shares (each at least 2), as the agent does.
- task memory (MiB) -> the cgroup's memory limit; a container asking for more is an error.

cgroup v1 (the controllers mounted under /sys/fs/cgroup/<controller>) and cgroup v2 (one
unified tree, detected by /sys/fs/cgroup/cgroup.controllers) are both written; v2 is written
by the kernel's documented interface (cpu.max, cpu.weight, memory.max) but is untested here.
Docker creates the task directory in the other v1 hierarchies itself (pids, blkio...); remove
takes it out of every hierarchy.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portside.agent.driver import DriverError, TaskSpec
from portside.model.units import parse_cpu, parse_memory

CGROUP_ROOT = Path("/sys/fs/cgroup")
PREFIX = "portside"
CPU_PERIOD_US = 100_000  # ECS_CGROUP_CPU_PERIOD's default
MIN_CPU_QUOTA_US = 1_000  # the kernel refuses a smaller quota
MIN_CPU_SHARES = 2
MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class TaskLimits:
    cpu_quota_us: int | None
    cpu_period_us: int
    cpu_shares: int | None
    memory_bytes: int | None


def task_limits(task: TaskSpec) -> TaskLimits | None:
    """What the task's cgroup enforces, or None when the task sets neither cpu nor memory."""
    cpu = parse_cpu(str(task.cpu)) if task.cpu else None
    memory = parse_memory(str(task.memory)) if task.memory else None
    if not cpu and not memory:
        return None
    containers: list[Mapping[str, Any]] = list(task.definition.get("containerDefinitions") or ())
    if memory:
        for c in containers:
            if int(c.get("memory") or 0) > memory:
                raise DriverError(
                    "ResourceInitializationError: container memory limit"
                    f"({c.get('memory')}) greater than task memory limit({memory})"
                )
    quota = max(cpu * CPU_PERIOD_US // 1024, MIN_CPU_QUOTA_US) if cpu else None
    shares = None
    if not cpu:
        shares = sum(max(int(c.get("cpu") or 0), MIN_CPU_SHARES) for c in containers)
    return TaskLimits(quota, CPU_PERIOD_US, shares or None, memory * MIB if memory else None)


def cgroup_parent(task_id: str) -> str:
    return f"/{PREFIX}/{task_id}"


def v2_weight(shares: int) -> int:
    """CPU shares (2..262144) -> cgroup v2 cpu.weight (1..10000), runc's conversion."""
    return 1 + ((max(shares, 2) - 2) * 9999) // 262142


class TaskCgroups:
    def __init__(self, root: Path = CGROUP_ROOT) -> None:
        self.root = root
        self.version = 2 if (root / "cgroup.controllers").exists() else 1

    def parent(self, task_id: str) -> str:
        return cgroup_parent(task_id)

    def unusable(self) -> str | None:
        """Why this host's cgroups can't be written, or None when they can."""
        if not self.root.is_dir():
            return f"{self.root} does not exist"
        dirs = [self.root] if self.version == 2 else [self.root / "cpu", self.root / "memory"]
        for d in dirs:
            if not d.is_dir() or not os.access(d, os.W_OK):
                return f"{d} is missing or not writable"
        return None

    def create(self, task_id: str, limits: TaskLimits) -> str:
        """Make the task's cgroup with its limits; return the cgroup parent for Docker."""
        try:
            if self.version == 2:
                self._create_v2(task_id, limits)
            else:
                self._create_v1(task_id, limits)
        except OSError as exc:
            raise DriverError(
                f"ResourceInitializationError: failed to create task cgroup: {exc}"
            ) from exc
        return cgroup_parent(task_id)

    def _create_v1(self, task_id: str, limits: TaskLimits) -> None:
        cpu = self.root / "cpu" / PREFIX / task_id
        cpu.mkdir(parents=True, exist_ok=True)
        if limits.cpu_quota_us is not None:
            (cpu / "cpu.cfs_period_us").write_text(str(limits.cpu_period_us))
            (cpu / "cpu.cfs_quota_us").write_text(str(limits.cpu_quota_us))
        if limits.cpu_shares is not None:
            (cpu / "cpu.shares").write_text(str(limits.cpu_shares))
        memory = self.root / "memory" / PREFIX / task_id
        memory.mkdir(parents=True, exist_ok=True)
        if limits.memory_bytes is not None:
            (memory / "memory.limit_in_bytes").write_text(str(limits.memory_bytes))

    def _create_v2(self, task_id: str, limits: TaskLimits) -> None:
        top = self.root / PREFIX
        path = top / task_id
        path.mkdir(parents=True, exist_ok=True)
        # Controllers must be enabled down the tree for the task's cgroup (and its containers
        # below it) to have cpu.* and memory.* files.
        for d in (self.root, top, path):
            with contextlib.suppress(OSError):
                (d / "cgroup.subtree_control").write_text("+cpu +memory")
        if limits.cpu_quota_us is not None:
            (path / "cpu.max").write_text(f"{limits.cpu_quota_us} {limits.cpu_period_us}")
        if limits.cpu_shares is not None:
            (path / "cpu.weight").write_text(str(v2_weight(limits.cpu_shares)))
        if limits.memory_bytes is not None:
            (path / "memory.max").write_text(str(limits.memory_bytes))

    def remove(self, task_id: str, attempts: int = 10) -> bool:
        """Remove the task's cgroup from every hierarchy; False if some part is still busy
        (a container of the task still exists in it). Idempotent."""
        if self.version == 2:
            paths = [self.root / PREFIX / task_id]
        else:
            paths = [h / PREFIX / task_id for h in sorted(self.root.iterdir()) if h.is_dir()]
        done = True
        for path in paths:
            done = _rmdir(path, attempts) and done
        return done


def _rmdir(path: Path, attempts: int) -> bool:
    # A container's own cgroup goes away a moment after it exits: retry briefly on EBUSY.
    for i in range(attempts):
        try:
            path.rmdir()
            return True
        except FileNotFoundError:
            return True
        except OSError as exc:
            if exc.errno != errno.EBUSY or i == attempts - 1:
                return False
            time.sleep(0.05)
    return False
