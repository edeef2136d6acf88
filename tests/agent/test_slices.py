"""agent/docker/slices.py: task limits as systemd slices (Docker's systemd cgroup driver).
The calls are checked against systemd's D-Bus API as busctl takes them; no host here runs
systemd as PID 1, so nothing here makes a real slice (README, "What is enforced where")."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from portside.agent.docker.cgroups import TaskLimits
from portside.agent.docker.slices import SystemdSlices, escape, properties, slice_name
from portside.agent.driver import DriverError

CALL = ["busctl", "call", "org.freedesktop.systemd1", "/org/freedesktop/systemd1"]
MANAGER = "org.freedesktop.systemd1.Manager"


class Busctl:
    """Records calls; answers each with the next (returncode, stderr) given."""

    def __init__(self, *answers: tuple[int, str]) -> None:
        self.calls: list[list[str]] = []
        self.answers = list(answers)

    def __call__(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(argv))
        code, err = self.answers.pop(0) if self.answers else (0, "")
        return subprocess.CompletedProcess(argv, code, "", err)


def test_names_are_escaped_slices_under_portside() -> None:
    assert slice_name("0123abcd") == "portside-0123abcd.slice"
    assert escape("a-b/c") == "a\\x2db\\x2fc"  # a dash would make a deeper slice


def test_limits_become_slice_properties() -> None:
    half = TaskLimits(
        cpu_quota_us=50_000, cpu_period_us=100_000, cpu_shares=None, memory_bytes=128 << 20
    )
    props = {name: (kind, value) for name, kind, value in properties(half)}
    assert props["CPUQuotaPerSecUSec"] == ("t", "500000")  # 512 units: half a CPU
    assert props["MemoryMax"] == ("t", str(128 << 20))
    assert "CPUWeight" not in props
    shares = TaskLimits(
        cpu_quota_us=None, cpu_period_us=100_000, cpu_shares=1024, memory_bytes=None
    )
    props = {name: (kind, value) for name, kind, value in properties(shares)}
    assert props["CPUWeight"] == ("t", "39")
    assert "MemoryMax" not in props and "CPUQuotaPerSecUSec" not in props


def test_create_starts_a_transient_slice_and_remove_stops_it() -> None:
    bus = Busctl()
    slices = SystemdSlices(run=bus)
    limits = TaskLimits(50_000, 100_000, None, 64 << 20)
    assert slices.create("t1", limits) == "portside-t1.slice" == slices.parent("t1")
    start = bus.calls[0]
    assert start[:8] == [
        *CALL,
        MANAGER,
        "StartTransientUnit",
        "ssa(sv)a(sa(sv))",
        "portside-t1.slice",
    ]
    assert start[8] == "fail"
    assert start[9] == str(len(properties(limits)))
    assert start[-1] == "0"  # no auxiliary units
    assert slices.remove("t1")
    assert bus.calls[1] == [*CALL, MANAGER, "StopUnit", "ss", "portside-t1.slice", "fail"]


def test_a_slice_left_by_an_earlier_agent_gets_the_limits_set() -> None:
    bus = Busctl((1, "Call failed: Unit portside-t1.slice already exists. (UnitExists)"))
    SystemdSlices(run=bus).create("t1", TaskLimits(None, 100_000, 2, None))
    assert bus.calls[1][5:9] == ["SetUnitProperties", "sba(sv)", "portside-t1.slice", "true"]


def test_failures_are_the_ecs_agents_resource_errors() -> None:
    bus = Busctl((1, "Access denied"))
    with pytest.raises(DriverError, match=r"^ResourceInitializationError: .*Access denied"):
        SystemdSlices(run=bus).create("t1", TaskLimits(None, 100_000, 2, None))
    assert SystemdSlices(run=Busctl((1, "Unit portside-t.slice not loaded. (NoSuchUnit)"))).remove(
        "t"
    )
    assert not SystemdSlices(run=Busctl((1, "Access denied"))).remove("t")


def test_unusable_without_systemd(tmp_path: Path) -> None:
    assert SystemdSlices(systemd_dir=tmp_path / "none").unusable() == (
        "systemd is not running on this host"
    )
    answers = Busctl((1, "Failed to connect to bus: No such file or directory"))
    assert "does not answer" in str(SystemdSlices(run=answers, systemd_dir=tmp_path).unusable())
    missing_unit = Busctl((1, "Unit portside.slice not loaded. (NoSuchUnit)"))
    assert SystemdSlices(run=missing_unit, systemd_dir=tmp_path).unusable() is None
