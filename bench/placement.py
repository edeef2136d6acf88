#!/usr/bin/env python3
"""Placement throughput and control-plane memory, on simulated fleets in three zones.

Three parts, each runnable alone (`--part`):

- placer: the pure placer in-process (`portside.scheduler.placer.place`) on hand-built fleets
  of 1,000, 5,000 and 10,000 instances: binpack memory; spread by zone then instance; random
  with a memberOf constraint that half the fleet meets. RunTask-shaped calls (10 tasks each)
  and single-task calls, each call seeing the fleet as the previous calls left it.
- e2e: a real `portside server` (fresh data dir) and `portside sim --instances 1000`; RunTask
  batches of 10 from a few client threads (pre-signed requests over keep-alive connections)
  until 20,000 tasks are RUNNING on the simulated agents: tasks/s, RunTask latency.
- rss: `portside sim --instances 10000` and 100,000 tasks of 16 MiB: the server's peak RSS
  (VmHWM), within a time budget (RSS growth per 10k tasks extrapolated when it runs out).

    .venv/bin/python bench/placement.py                  # every part (~15 minutes)
    .venv/bin/python bench/placement.py --quick          # small fleets; writes nothing
    .venv/bin/python bench/placement.py --part e2e --profile 10   # py-spy server and sim

Prints tables against the anchors (kube-scheduler's CI floor, Nomad's C1M) and the targets;
writes bench/results/placement.json (full runs; a part run alone updates its own section).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from api_throughput import (
    ACCESS_KEY,
    BIN,
    ROOT,
    SECRET_KEY,
    Connection,
    Server,
    base_env,
    free_port,
    load_average,
    machine,
    percentile,
    process_cpu,
)
from signed import Ecs

DEFAULT_OUTPUT = ROOT / "bench" / "results" / "placement.json"

REGION = "us-east-1"
ACCOUNT = "000000000000"
TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113."
ZONES = ("a", "b", "c")
RESIGN_S = 300.0  # signatures stay valid 15 minutes; re-sign well before
POLL_COST_FACTOR = 4.0  # DescribeClusters costs O(instances): poll at most 1/(1+this) of the time
MAX_ERRORS = 500  # failed RunTask calls before a run stops sending more

# Anchors: scheduling throughput of two well-known schedulers.
KUBE_PODS_PER_S = 680.0  # kube-scheduler's scheduler_perf CI floor, 5,000 nodes
NOMAD_PER_S = 3750.0  # Nomad's C1M: ~1M containers in ~4.5 minutes on five servers
ANCHORS = {"kube-scheduler": KUBE_PODS_PER_S, "Nomad C1M": NOMAD_PER_S}

# Targets.
PLACER_TARGETS = {1000: 5000.0, 10000: 1000.0}  # placements/s at that many instances
E2E_TARGET = 500.0  # tasks/s, first RunTask -> all RUNNING, 1,000 instances
RSS_TARGET_MIB = 1024.0  # VmHWM with 10,000 instances and 100,000 tasks

GROUP = "family:bench-placement"
MEMBER_OF = "attribute:ecs.instance-type =~ m5.*"
SCENARIOS: dict[str, tuple[str, list[dict[str, str]], list[dict[str, str]]]] = {
    # name: (description, placementStrategy, placementConstraints)
    "binpack": ("binpack memory", [{"type": "binpack", "field": "memory"}], []),
    "spread": (
        "spread zone, then instanceId",
        [
            {"type": "spread", "field": "attribute:ecs.availability-zone"},
            {"type": "spread", "field": "instanceId"},
        ],
        [],
    ),
    "random": (
        f"random + memberOf({MEMBER_OF})",
        [{"type": "random"}],
        [{"type": "memberOf", "expression": MEMBER_OF}],
    ),
}
# mode: (tasks per call, placer kept between calls). "kept" is what RunTask runs (a Session per
# cluster and ask, refreshed with the instances that changed); "fresh" builds the placer's
# state from the whole fleet on every call (`place()`), as the control plane did before.
MODES = {
    "runtask": (10, True),
    "single": (1, True),
    "runtask-fresh": (10, False),
    "single-fresh": (1, False),
}

# =============================================================================================
# Part 1: the placer alone
# =============================================================================================


def make_fleet(n: int, rng: random.Random) -> list[Any]:
    """`n` instances as the placer sees them: 4 vCPU / 16 GiB each, zones a, b, c in turn,
    every other one an m5.large (the rest c5.large), the attributes a real agent registers,
    and 0-39 tasks of another group already on each (so binpack has an order to follow)."""
    from portside.agent.attributes import default_attributes
    from portside.scheduler.candidates import Candidate

    fleet = []
    for i in range(n):
        zone = f"{REGION}{ZONES[i % len(ZONES)]}"
        kind = "m5.large" if i % 2 == 0 else "c5.large"
        attributes = {a["name"]: a.get("value") for a in default_attributes(zone, kind)}
        used = rng.randrange(40)
        fleet.append(
            Candidate(
                arn=f"arn:aws:ecs:{REGION}:{ACCOUNT}:container-instance/bench/"
                f"{rng.getrandbits(128):032x}",
                ec2_instance_id=f"i-{rng.getrandbits(68):017x}",
                registered_at=1.7e9 + i,
                cpu_free=4096 - 10 * used,
                memory_free=16384 - 64 * used,
                ports_tcp=frozenset({22, 2375, 2376, 51678, 51679}),
                attributes=attributes,
                running_tasks_count=used,
                group_counts={"family:other": used} if used else {},
            )
        )
    return fleet


@dataclass
class PlacerCell:
    instances: int
    scenario: str
    mode: str
    calls: int = 0
    placed: int = 0
    unplaced: int = 0
    wall_s: float = 0.0  # in place() only
    cpu_s: float = 0.0  # this thread's CPU in place()
    carry_s: float = 0.0  # carrying the view over to the next call
    setup_ms: float = 0.0  # one call with count=0: the per-call O(instances) part
    build_ms: float = 0.0  # kept modes: building the session (once per fleet view and ask)
    latencies_ms: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)
        rate = self.placed / self.wall_s if self.wall_s else 0.0
        # The targets are for the placer RunTask runs (kept); the fresh modes are its baseline.
        target = PLACER_TARGETS.get(self.instances) if MODES[self.mode][1] else None
        return {
            "instances": self.instances,
            "scenario": self.scenario,
            "strategy": SCENARIOS[self.scenario][0],
            "mode": self.mode,
            "tasks_per_call": MODES[self.mode][0],
            "placer_kept_between_calls": MODES[self.mode][1],
            "calls": self.calls,
            "placed": self.placed,
            "unplaced": self.unplaced,
            "placements_per_s": round(rate, 1),
            "placements_per_cpu_s": round(self.placed / self.cpu_s, 1) if self.cpu_s else None,
            "call_p50_ms": round(percentile(lat, 50), 3),
            "call_p99_ms": round(percentile(lat, 99), 3),
            "setup_ms_per_call": round(self.setup_ms, 3),
            "carry_over_us_per_call": round(1e6 * self.carry_s / self.calls, 1)
            if self.calls
            else None,
            "vs_anchors": {k: round(rate / v, 2) for k, v in ANCHORS.items()},
            "target": target,
            "target_met": None if target is None else rate >= target,
            "session_build_ms": round(self.build_ms, 3) if self.build_ms else None,
        }


def measure_placer(
    fleet: Sequence[Any], scenario: str, mode: str, duration: float, seed: int
) -> PlacerCell:
    """Calls of MODES[mode] tasks for `duration` seconds of placing. Each call sees the
    fleet as the previous calls left it: the chosen candidates are rebuilt with their new
    free CPU and memory, group count and task count (what the store's view does). A kept
    placer is refreshed with those before each call, inside the timed part, as
    ops/placement.py does."""
    from portside.scheduler.candidates import Ask
    from portside.scheduler.demand import Demand
    from portside.scheduler.placer import place
    from portside.scheduler.session import Session

    _, strategy, constraints = SCENARIOS[scenario]
    count, kept = MODES[mode]
    demand = Demand(cpu=10, memory=64)
    ask = Ask(demand=demand, group=GROUP, strategy=strategy, constraints=constraints)
    rng = random.Random(seed)
    view = list(fleet)
    where = {c.arn: i for i, c in enumerate(view)}
    cell = PlacerCell(len(view), scenario, mode)
    replace = dataclasses.replace
    place(ask, count, view, rng)  # warm-up: compiles the query, fills caches
    session = None
    if kept:
        t0 = time.perf_counter()
        session = Session(ask, view)
        session.refresh({})
        cell.build_ms = (time.perf_counter() - t0) * 1000.0
    changed: dict[str, Any] = {}
    while cell.wall_s < duration:
        t0, c0 = time.perf_counter(), time.thread_time()
        if session is not None:
            session.refresh(changed)
            result = session.place(count, rng)
        else:
            result = place(ask, count, view, rng)
        t1, c1 = time.perf_counter(), time.thread_time()
        changed = {}
        for arn in result.chosen:
            if arn is None:
                cell.unplaced += 1
                continue
            i = where[arn]
            c = view[i]
            groups = dict(c.group_counts)
            groups[GROUP] = groups.get(GROUP, 0) + 1
            view[i] = changed[arn] = replace(
                c,
                cpu_free=c.cpu_free - demand.cpu,
                memory_free=c.memory_free - demand.memory,
                group_counts=groups,
                running_tasks_count=c.running_tasks_count + 1,
            )
            cell.placed += 1
        t2 = time.perf_counter()
        cell.calls += 1
        cell.wall_s += t1 - t0
        cell.cpu_s += c1 - c0
        cell.carry_s += t2 - t1
        cell.latencies_ms.append((t1 - t0) * 1000.0)
        if cell.unplaced:
            break  # the fleet is full: stop rather than time failures
    setups = []
    for _ in range(5):
        t0 = time.perf_counter()
        if session is not None:
            session.refresh(changed)
            changed = {}
            session.place(0, rng)
        else:
            place(ask, 0, view, rng)
        setups.append((time.perf_counter() - t0) * 1000.0)
    cell.setup_ms = statistics.median(setups)
    return cell


def profile_placer(fleet: Sequence[Any], scenario: str, calls: int, seed: int) -> dict[str, Any]:
    """cProfile of `calls` single-task calls: where a call's time goes, ms per call (own time
    and with callees) for the functions with the most own time."""
    import cProfile
    import pstats

    from portside.scheduler.candidates import Ask
    from portside.scheduler.demand import Demand
    from portside.scheduler.placer import place

    _, strategy, constraints = SCENARIOS[scenario]
    ask = Ask(
        demand=Demand(cpu=10, memory=64), group=GROUP, strategy=strategy, constraints=constraints
    )
    rng = random.Random(seed)
    place(ask, 1, fleet, rng)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        place(ask, 1, fleet, rng)
    profiler.disable()
    stats: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    rows = sorted(stats.items(), key=lambda kv: -kv[1][2])[:10]
    return {
        f"{func} ({_frame(f'x ({path}:{line})').split(' (', 1)[1]}:{line}": {
            "own_ms_per_call": round(1000 * tt / calls, 3),
            "total_ms_per_call": round(1000 * ct / calls, 3),
        }
        for (path, line, func), (_cc, _nc, tt, ct, _callers) in rows
    }


def run_placer(
    fleets: Sequence[int], duration: float, seed: int, profile: bool = False
) -> dict[str, Any]:
    cells: list[dict[str, Any]] = []
    before = process_cpu()
    started = time.perf_counter()
    for n in fleets:
        fleet = make_fleet(n, random.Random(seed))
        for scenario in SCENARIOS:
            for mode in MODES:
                load_before = load_average()
                cell = measure_placer(fleet, scenario, mode, duration, seed)
                s = cell.summary()
                # Other jobs on the machine skew a cell: its load average says how much.
                s["load_average_before_after"] = [load_before[0], load_average()[0]]
                cells.append(s)
                print(
                    f"  {n:>6,} instances  {s['strategy']:<55} {mode:<14} "
                    f"{s['placements_per_s']:>9,.0f}/s  call p50 {s['call_p50_ms']:.2f} ms",
                    flush=True,
                )
    elapsed = time.perf_counter() - started
    others = other_cpu(before, process_cpu(), exclude_groups=set())
    profiles = {}
    if profile and fleets:
        fleet = make_fleet(max(fleets), random.Random(seed))
        for scenario in SCENARIOS:
            profiles[scenario] = profile_placer(fleet, scenario, 30, seed)
    return {
        "cells": cells,
        "profiles_single_task_calls": {str(max(fleets)): profiles} if profiles else None,
        "elapsed_s": round(elapsed, 1),
        "duration_per_cell_s": duration,
        "task": {"cpu": 10, "memory": 64, "group": GROUP},
        "fleet": "4096 CPU units / 16384 MiB each; zones a,b,c in turn; every other instance "
        "m5.large (memberOf matches half); 0-39 tasks of another group already on each; the "
        "~55 attributes a real agent registers",
        **cpu_noise(others, elapsed),
    }


def print_placer(part: dict[str, Any]) -> None:
    print("\nPart 1 - the placer alone (in-process), placements/s")
    head = ("instances", "strategy", "placer", "tasks/call", "placements/s", "per CPU-s")
    head += ("call p50 ms",)
    head += ("p99 ms", "setup ms", "x kube 680", "x Nomad 3,750", "target")
    rows: list[tuple[str, ...]] = [head]
    for c in part["cells"]:
        target = c["target"]
        verdict = (
            "-" if target is None else f">={target:,.0f} {'met' if c['target_met'] else 'NOT MET'}"
        )
        rows.append(
            (
                f"{c['instances']:,}",
                c["strategy"],
                "kept" if c.get("placer_kept_between_calls") else "fresh",
                str(c["tasks_per_call"]),
                f"{c['placements_per_s']:,.0f}",
                f"{c['placements_per_cpu_s']:,.0f}" if c["placements_per_cpu_s"] else "-",
                f"{c['call_p50_ms']:.2f}",
                f"{c['call_p99_ms']:.2f}",
                f"{c['setup_ms_per_call']:.2f}",
                f"{c['vs_anchors']['kube-scheduler']:.1f}x",
                f"{c['vs_anchors']['Nomad C1M']:.2f}x",
                verdict,
            )
        )
    print_rows(rows)
    print(
        "  setup ms: one call with count=0, the part of every call that is O(instances); "
        "kube's 680/s is at 5,000 nodes"
    )
    warn_noise(part, "placer")
    for size, by_scenario in (part.get("profiles_single_task_calls") or {}).items():
        for scenario, rows in by_scenario.items():
            print(
                f"\n  cProfile, {int(size):,} instances, {SCENARIOS[scenario][0]}, one task per "
                "call (ms per call; cProfile inflates them):"
            )
            for name, v in rows.items():
                print(
                    f"    own {v['own_ms_per_call']:7.2f}  with callees "
                    f"{v['total_ms_per_call']:7.2f}  {name}"
                )


# =============================================================================================
# Signed ECS calls
# =============================================================================================


class Signed:
    """One request, signed once and replayed (RunTask without a clientToken may be sent
    again and again); re-signed every RESIGN_S, within the 15-minute signature window."""

    def __init__(self, ecs: Ecs, action: str, params: dict[str, Any]) -> None:
        self.ecs, self.action, self.params = ecs, action, params
        self.lock = threading.Lock()
        self.at = time.monotonic()
        self.bytes = ecs.sign(action, params)

    def raw(self) -> bytes:
        if time.monotonic() - self.at > RESIGN_S:
            with self.lock:
                if time.monotonic() - self.at > RESIGN_S:
                    self.bytes = self.ecs.sign(self.action, self.params)
                    self.at = time.monotonic()
        return self.bytes


# =============================================================================================
# Processes
# =============================================================================================


def portside_server(workdir: Path, cluster: str) -> Server:
    """A server with a fresh data directory of its own: a part must not start on what the
    part before it left (the rss part used to find the e2e part's 20,000 tasks)."""
    port = free_port()
    env = base_env()
    env.update(PORTSIDE_ACCESS_KEY_ID=ACCESS_KEY, PORTSIDE_SECRET_ACCESS_KEY=SECRET_KEY)
    data = workdir / f"portside-data-{cluster}"
    argv = [str(BIN / "portside"), "server", "--data-dir", str(data)]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    return Server(
        name="portside",
        argv=argv,
        port=port,
        log_path=workdir / f"portside-{cluster}.log",
        env=env,
        ready_path="/_portside/health",
    )


class Sim(Server):
    """`portside sim`: no HTTP endpoint of its own to wait for; ready when the control plane
    lists its instances (the caller waits for that)."""

    def start(self, timeout: float = 30) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        time.sleep(0.5)
        if self.proc.poll() is not None:
            raise RuntimeError(f"portside sim exited at once:\n{self.log_tail()}")


def portside_sim(workdir: Path, port: int, cluster: str, instances: int) -> Sim:
    env = base_env()
    env.update(
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_DEFAULT_REGION=REGION,
    )
    endpoint = f"http://127.0.0.1:{port}"
    argv = [str(BIN / "portside"), "sim", "--endpoint", endpoint, "--cluster", cluster]
    argv += ["--instances", str(instances), "--zones", ",".join(ZONES)]
    argv += ["--state-dir", str(workdir / f"sim-{cluster}"), "--log-level", "warning"]
    return Sim(
        name="sim",
        argv=argv,
        port=port,
        log_path=workdir / f"sim-{cluster}.log",
        env=env,
        ready_path="",
    )


@contextlib.contextmanager
def processes() -> Iterator[list[Server]]:
    """A list to start processes into; every one is stopped (process group: SIGINT, then
    SIGKILL) on the way out, last started first, whatever happens (SIGTERM included)."""

    def on_term(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, on_term)
    started: list[Server] = []
    try:
        yield started
    finally:
        for proc in reversed(started):
            try:
                proc.stop()
            except Exception as exc:  # keep stopping the others
                print(f"warning: stopping {proc.name}: {exc}", file=sys.stderr)
        signal.signal(signal.SIGTERM, previous)


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, KiB."""
    out: dict[str, int] = {}
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                name, value = line.split(":", 1)
                out[name] = int(value.split()[0])
    return out


def other_cpu(
    before: dict[int, tuple[str, int, float]],
    after: dict[int, tuple[str, int, float]],
    exclude_groups: set[int],
) -> dict[str, float]:
    """CPU seconds by command name of every process but ours and the excluded groups."""
    ours = os.getpid()
    others: dict[str, float] = {}
    for pid, (name, group, cpu) in after.items():
        if pid == ours or group in exclude_groups:
            continue
        spent = cpu - before[pid][2] if pid in before else cpu
        if spent > 0:
            others[name] = others.get(name, 0.0) + spent
    return others


def cpu_noise(others: dict[str, float], elapsed: float) -> dict[str, Any]:
    return {
        "other_cpu_percent_of_one_core": round(100 * sum(others.values()) / elapsed, 1)
        if elapsed
        else 0.0,
        "other_cpu_top": {
            name: round(100 * cpu / elapsed, 1)
            for name, cpu in sorted(others.items(), key=lambda kv: -kv[1])[:5]
        }
        if elapsed
        else {},
    }


def warn_noise(part: dict[str, Any], name: str) -> None:
    other = part.get("other_cpu_percent_of_one_core", 0.0)
    print(f"  other processes' CPU (noise): {other:.0f}% of a core")
    if other > 15:
        top = ", ".join(f"{k} {v:.0f}%" for k, v in part.get("other_cpu_top", {}).items())
        print(
            f"warning: other processes used {other:.0f}% of a core during the {name} part "
            f"({top}): its figures are skewed; rerun on an idle machine"
        )


def group_cpu(snapshot: dict[int, tuple[str, int, float]], group: int) -> float:
    return sum(cpu for _, g, cpu in snapshot.values() if g == group)


# =============================================================================================
# Profiling the server (py-spy)
# =============================================================================================


class Profiler:
    """`py-spy record` on the server for `seconds`, raw (collapsed stacks) output."""

    def __init__(self, pid: int, seconds: float, out: Path) -> None:
        self.out = out
        self.proc: subprocess.Popen[bytes] | None = None
        spy = BIN / "py-spy"
        if not spy.exists():
            print("warning: no .venv/bin/py-spy; not profiling", file=sys.stderr)
            return
        argv = [str(spy), "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "100"]
        argv += ["--nonblocking", "-f", "raw", "-o", str(out)]
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.DEVNULL,
            stderr=out.with_suffix(".log").open("wb"),
            start_new_session=True,
        )

    def finish(self, timeout: float = 60) -> dict[str, Any] | None:
        if self.proc is None:
            return None
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        if not self.out.exists():
            return None
        return summarize_profile(self.out)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def _frame(text: str) -> str:
    """'fn (path/file.py:123)' -> 'fn (file path relative to the repo or site-packages)'."""
    name, _, where = text.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("/site-packages/", "/work/main/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})"


def summarize_profile(path: Path, top: int = 20) -> dict[str, Any]:
    """Self and inclusive sample shares per function, from py-spy's collapsed stacks."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        count = int(n)
        frames = [
            _frame(f) for f in stack.split(";") if f and not f.startswith(("process ", "thread "))
        ]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for f in set(frames):
            inclusive[f] += count
    pct = (lambda c: round(100.0 * c / total, 1)) if total else (lambda c: 0.0)
    return {
        "samples": total,
        "self_percent": {k: pct(v) for k, v in own.most_common(top)},
        "inclusive_percent": {k: pct(v) for k, v in inclusive.most_common(top * 2)},
    }


def print_profile(profile: dict[str, Any] | None, title: str) -> None:
    if not profile:
        return
    print(f"\n{title}: py-spy, {profile['samples']:,} samples of non-idle threads")
    print("  self time (leaf function):")
    for name, p in list(profile["self_percent"].items())[:15]:
        print(f"    {p:5.1f}%  {name}")
    print("  inclusive (function and what it calls):")
    for name, p in list(profile["inclusive_percent"].items())[:25]:
        print(f"    {p:5.1f}%  {name}")


# =============================================================================================
# Driving RunTask
# =============================================================================================


@dataclass
class Sample:
    t: float  # perf_counter
    running: int
    pending: int
    placed: int  # tasks the answered RunTask calls placed so far
    rss_kib: int
    hwm_kib: int


@dataclass
class Drive:
    """What one RunTask run saw."""

    calls: list[tuple[float, float, int, int]] = field(default_factory=list)
    # (sent at perf_counter, latency ms, tasks placed, failures)
    errors: list[str] = field(default_factory=list)
    failure_reasons: Counter[str] = field(default_factory=Counter)
    samples: list[Sample] = field(default_factory=list)
    poll_ms: list[float] = field(default_factory=list)
    first_sent: float = 0.0
    last_answer: float = 0.0
    all_running_at: float | None = None
    budget_hit: bool = False
    aborted: str | None = None  # why the run ended early (a process exited)
    cpu: dict[str, float] = field(default_factory=dict)
    others: dict[str, float] = field(default_factory=dict)
    elapsed: float = 0.0

    @property
    def placed(self) -> int:
        return sum(c[2] for c in self.calls)


def create_cluster_and_definition(ecs: Ecs, cluster: str, family: str, memory: int) -> None:
    ecs.call("CreateCluster", clusterName=cluster)
    ecs.call(
        "RegisterTaskDefinition",
        family=family,
        containerDefinitions=[
            {
                "name": "main",
                "image": "public.ecr.aws/docker/library/busybox:latest",
                "cpu": 10,
                "memory": memory,
                "essential": True,
                "command": ["sleep", "3600"],
            }
        ],
    )


def cluster_counts(ecs: Ecs, raw: bytes) -> dict[str, int]:
    out = ecs.send(raw)
    clusters = out.get("clusters") or [{}]
    c = clusters[0]
    return {
        "running": int(c.get("runningTasksCount") or 0),
        "pending": int(c.get("pendingTasksCount") or 0),
        "instances": int(c.get("registeredContainerInstancesCount") or 0),
    }


def wait_for_fleet(
    ecs: Ecs, cluster: str, n: int, sim: Server, poll: float, started: float
) -> float:
    """Until DescribeClusters counts `n` instances; the seconds since `started` (perf_counter)."""
    timeout = max(180.0, n / 10)
    describe = ecs.sign("DescribeClusters", {"clusters": [cluster]})
    last = -1
    while True:
        t0 = time.perf_counter()
        got = cluster_counts(ecs, describe)["instances"]
        took = time.perf_counter() - t0
        if got >= n:
            return time.perf_counter() - started
        if sim.proc is not None and sim.proc.poll() is not None:
            raise RuntimeError(f"portside sim exited:\n{sim.log_tail()}")
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"only {got} of {n} instances registered in {timeout:.0f} s")
        if got // 1000 != last // 1000 and got:
            print(f"  ... {got:,} instances registered", flush=True)
        last = got
        time.sleep(max(poll, POLL_COST_FACTOR * took))


def list_instances(ecs: Ecs, cluster: str, n: int) -> float:
    """Page through ListContainerInstances (100 a page): it must list `n`. Seconds."""
    started = time.perf_counter()
    listed, token = 0, None
    while True:
        params: dict[str, Any] = {"cluster": cluster, "maxResults": 100}
        if token:
            params["nextToken"] = token
        page = ecs.call("ListContainerInstances", **params)
        listed += len(page.get("containerInstanceArns") or ())
        token = page.get("nextToken")
        if not token:
            break
    if listed != n:
        raise RuntimeError(f"ListContainerInstances lists {listed} instances, expected {n}")
    return time.perf_counter() - started


def warm_up(ecs: Ecs, cluster: str, family: str, timeout: float = 120.0) -> float:
    """One task, until RUNNING: the sim's session is open and its pipeline works. Seconds."""
    started = time.perf_counter()
    out = ecs.call("RunTask", cluster=cluster, taskDefinition=family, count=1, startedBy="warm-up")
    if out.get("failures") or len(out.get("tasks") or ()) != 1:
        raise RuntimeError(f"warm-up RunTask failed: {out.get('failures')}")
    describe = ecs.sign("DescribeClusters", {"clusters": [cluster]})
    while True:
        t0 = time.perf_counter()
        running = cluster_counts(ecs, describe)["running"]
        took = time.perf_counter() - t0
        if running >= 1:
            return time.perf_counter() - started
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"the warm-up task was not RUNNING in {timeout:.0f} s")
        time.sleep(max(0.1, POLL_COST_FACTOR * took))


class MemorySampler:
    """VmRSS/VmHWM of a process every `every` seconds, on a thread, with a label for the
    phase the caller says it is in."""

    def __init__(self, pid: int, every: float = 0.5) -> None:
        self.pid = pid
        self.every = every
        self.phase = "start"
        self.samples: list[tuple[float, str, int, int]] = []  # (s, phase, rss KiB, hwm KiB)
        self.started = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            mem = memory_kib(self.pid)
            if mem:
                t = time.perf_counter() - self.started
                self.samples.append((t, self.phase, mem["VmRSS"], mem["VmHWM"]))

    def mark(self, phase: str) -> dict[str, float]:
        """Enter a phase; the memory as the last one ended (MiB)."""
        mem = memory_kib(self.pid)
        self.phase = phase
        return {
            "rss_mib": round(mem.get("VmRSS", 0) / 1024, 1),
            "vmhwm_mib": round(mem.get("VmHWM", 0) / 1024, 1),
        }

    def stop(self) -> dict[str, dict[str, float]]:
        """Per phase: the highest VmRSS seen, and VmHWM at its end (MiB)."""
        self._stop.set()
        self._thread.join(5)
        out: dict[str, dict[str, float]] = {}
        for _, phase, rss, hwm in self.samples:
            o = out.setdefault(phase, {"max_rss_mib": 0.0, "vmhwm_mib_at_end": 0.0})
            o["max_rss_mib"] = max(o["max_rss_mib"], round(rss / 1024, 1))
            o["vmhwm_mib_at_end"] = round(hwm / 1024, 1)
        return out


def drive(
    port: int,
    cluster: str,
    family: str,
    tasks: int,
    clients: int,
    server: Server,
    sim: Server,
    poll: float,
    budget: float | None,
    settle_timeout: float,
    progress_every: float,
    profile: tuple[float, Path] | None = None,
) -> tuple[Drive, dict[str, Any] | None]:
    """RunTask x10 from `clients` threads until `tasks` are placed (or `budget` seconds have
    passed), polling DescribeClusters every `poll` s until they are all RUNNING."""
    assert server.proc is not None and sim.proc is not None
    result = Drive()
    setup = Ecs(port)
    run_task = Signed(
        setup,
        "RunTask",
        {"cluster": cluster, "taskDefinition": family, "count": 10, "launchType": "EC2"},
    )
    describe = setup.sign("DescribeClusters", {"clusters": [cluster]})
    baseline = cluster_counts(setup, describe)["running"]
    calls_wanted = -(-tasks // 10)
    lock = threading.Lock()
    issued = 0
    stop = threading.Event()
    deadline: list[float] = [float("inf")]

    def take() -> bool:
        nonlocal issued
        with lock:
            if len(result.errors) >= MAX_ERRORS:
                stop.set()
            if issued >= calls_wanted or stop.is_set() or time.perf_counter() >= deadline[0]:
                return False
            issued += 1
            return True

    def client() -> None:
        conn = Connection("127.0.0.1", port, timeout=120)
        try:
            while take():
                raw = run_task.raw()
                t0 = time.perf_counter()
                try:
                    status, body = conn.exchange(raw)
                except (OSError, ValueError) as exc:
                    conn.close()
                    with lock:
                        result.errors.append(f"RunTask: {exc!r}")
                    continue
                t1 = time.perf_counter()
                if status != 200:
                    with lock:
                        result.errors.append(f"RunTask: HTTP {status} {body[:300]!r}")
                    continue
                data = orjson.loads(body)
                placed = len(data.get("tasks") or ())
                failures = data.get("failures") or []
                with lock:
                    result.calls.append((t0, (t1 - t0) * 1000.0, placed, len(failures)))
                    for f in failures:
                        result.failure_reasons[str(f.get("reason"))] += 1
                    result.last_answer = max(result.last_answer, t1)
        finally:
            conn.close()

    threads = [
        threading.Thread(target=client, name=f"client-{i}", daemon=True) for i in range(clients)
    ]
    cpu_before = process_cpu()
    result.first_sent = time.perf_counter()
    if budget is not None:
        deadline[0] = result.first_sent + budget
    profilers: dict[str, Profiler] = {}
    if profile is not None:
        seconds, out = profile
        profilers["server"] = Profiler(server.proc.pid, seconds, out)
        profilers["sim"] = Profiler(sim.proc.pid, seconds, out.with_name(f"{out.stem}-sim.txt"))
    for t in threads:
        t.start()
    next_progress = result.first_sent + progress_every
    goal: int | None = None
    done_submitting_at: float | None = None
    try:
        wait = poll
        while True:
            time.sleep(wait)
            t0 = time.perf_counter()
            try:
                counts = cluster_counts(setup, describe)
            except (OSError, RuntimeError) as exc:
                dead = [
                    p for p in (server, sim) if p.proc is not None and p.proc.poll() is not None
                ]
                if not dead:
                    raise
                result.aborted = (
                    f"{dead[0].name} exited (code {dead[0].proc.returncode}) "  # type: ignore[union-attr]
                    f"{time.perf_counter() - result.first_sent:.0f} s into the run: {exc!r}"
                )
                break
            took = time.perf_counter() - t0
            result.poll_ms.append(took * 1000.0)
            wait = max(poll, POLL_COST_FACTOR * took)  # the poll costs the server O(instances)
            with lock:
                placed = sum(c[2] for c in result.calls)
            mem = memory_kib(server.proc.pid)
            now = time.perf_counter()
            result.samples.append(
                Sample(
                    now - result.first_sent,
                    counts["running"] - baseline,
                    counts["pending"],
                    placed,
                    mem.get("VmRSS", 0),
                    mem.get("VmHWM", 0),
                )
            )
            if now >= next_progress:
                next_progress += progress_every
                print(
                    f"  {now - result.first_sent:6.1f} s: {placed:,} placed, "
                    f"{counts['running'] - baseline:,} RUNNING, server RSS "
                    f"{mem.get('VmRSS', 0) / 1024:,.0f} MiB",
                    flush=True,
                )
            if goal is None and not any(t.is_alive() for t in threads):
                goal = placed
                done_submitting_at = now
                result.budget_hit = issued < calls_wanted
            if goal is not None:
                if counts["running"] - baseline >= goal:
                    result.all_running_at = now
                    break
                assert done_submitting_at is not None
                if now - done_submitting_at > settle_timeout:
                    print(
                        f"warning: {counts['running'] - baseline:,} of {goal:,} tasks RUNNING "
                        f"{settle_timeout:.0f} s after the last RunTask; giving up",
                        file=sys.stderr,
                    )
                    break
            dead = [p for p in (server, sim) if p.proc is not None and p.proc.poll() is not None]
            if dead:
                result.aborted = (
                    f"{dead[0].name} exited (code {dead[0].proc.returncode}) "  # type: ignore[union-attr]
                    f"{now - result.first_sent:.0f} s into the run"
                )
                break
    except BaseException:
        for p in profilers.values():
            p.stop()
        raise
    finally:
        stop.set()
        for t in threads:
            t.join(130)
        setup.close()
    end = result.all_running_at or time.perf_counter()
    cpu_after = process_cpu()
    result.elapsed = end - result.first_sent
    result.cpu = {  # a process that exited is missing from cpu_after: 0 then
        "server": max(
            0.0, group_cpu(cpu_after, server.proc.pid) - group_cpu(cpu_before, server.proc.pid)
        ),
        "sim": max(0.0, group_cpu(cpu_after, sim.proc.pid) - group_cpu(cpu_before, sim.proc.pid)),
        "client": cpu_after.get(os.getpid(), ("", 0, 0.0))[2]
        - cpu_before.get(os.getpid(), ("", 0, 0.0))[2],
    }
    spies = {p.proc.pid for p in profilers.values() if p.proc is not None}
    result.others = other_cpu(cpu_before, cpu_after, {server.proc.pid, sim.proc.pid, *spies})
    summaries = {name: p.finish() for name, p in profilers.items()}
    return result, (summaries or None)


def drive_summary(d: Drive) -> dict[str, Any]:
    lat = sorted(c[1] for c in d.calls)
    placed = d.placed
    placing_s = d.last_answer - d.first_sent if d.calls else 0.0
    rate = placed / d.elapsed if d.all_running_at and d.elapsed else None
    return {
        "runtask_calls": len(d.calls),
        "tasks_placed": placed,
        "tasks_unplaced": sum(c[3] for c in d.calls),
        "failure_reasons": dict(d.failure_reasons),
        "errors": len(d.errors),
        "error_samples": d.errors[:5],
        "first_runtask_to_all_running_s": round(d.elapsed, 2) if d.all_running_at else None,
        "tasks_per_s": round(rate, 1) if rate else None,
        "runtask_phase_s": round(placing_s, 2),
        "placements_per_s_while_submitting": round(placed / placing_s, 1) if placing_s else None,
        "running_lag_after_last_answer_s": round(d.all_running_at - d.last_answer, 2)
        if d.all_running_at
        else None,
        "runtask_p50_ms": round(percentile(lat, 50), 2),
        "runtask_p90_ms": round(percentile(lat, 90), 2),
        "runtask_p99_ms": round(percentile(lat, 99), 2),
        "runtask_max_ms": round(lat[-1], 2) if lat else None,
        "describe_clusters_poll_p50_ms": round(percentile(sorted(d.poll_ms), 50), 2),
        "server_cpu_percent_of_one_core": round(100 * d.cpu["server"] / d.elapsed, 1),
        "sim_cpu_percent_of_one_core": round(100 * d.cpu["sim"] / d.elapsed, 1),
        "client_cpu_percent_of_one_core": round(100 * d.cpu["client"] / d.elapsed, 1),
        "server_cpu_ms_per_task": round(1000 * d.cpu["server"] / placed, 3) if placed else None,
        "budget_hit": d.budget_hit,
        "aborted": d.aborted,
        **cpu_noise(d.others, d.elapsed),
    }


# =============================================================================================
# Part 2: end to end
# =============================================================================================


_ID = re.compile(r"[0-9a-f]{8}-|[0-9a-f]{16}|\d{2}:\d{2}:\d{2}")


def log_findings(*logs: Path) -> dict[str, int]:
    """Counts of trouble in the server's and the sim's logs."""
    found: Counter[str] = Counter()
    for path in logs:
        with contextlib.suppress(OSError):
            for line in path.read_text(errors="replace").splitlines():
                if "database is locked" in line and line.startswith("sqlite3."):
                    found[f"{path.stem}: sqlite3 'database is locked'"] += 1
                elif " ERROR " in line or " WARNING " in line:
                    words = [w for w in line.split()[1:7] if not _ID.search(w)]
                    found[f"{path.stem}: {' '.join(words)}"] += 1
    return dict(found.most_common(10))


@dataclass
class Bring:
    """A server and a registered, warmed-up simulated fleet."""

    server: Server
    sim: Server
    memory: MemorySampler
    registration_s: float
    listing_s: float
    warm_up_s: float
    milestones: dict[str, dict[str, float]]


def bring_up(
    procs: list[Server],
    workdir: Path,
    cluster: str,
    family: str,
    memory: int,
    instances: int,
    poll: float,
) -> Bring:
    """Start `portside server`, create the cluster and the task definition, start `portside
    sim`, wait until the instances are all listed, run one task to RUNNING. Samples the
    server's memory through every phase."""
    server = portside_server(workdir, cluster)
    server.start()
    procs.append(server)
    assert server.proc is not None
    sampler = MemorySampler(server.proc.pid)
    milestones = {"server started": sampler.mark("sim registering")}
    ecs = Ecs(server.port)
    try:
        create_cluster_and_definition(ecs, cluster, family, memory=memory)
        sim = portside_sim(workdir, server.port, cluster, instances)
        sim_started = time.perf_counter()
        sim.start()
        procs.append(sim)
        print(f"  registering {instances:,} simulated instances ...", flush=True)
        registration = wait_for_fleet(ecs, cluster, instances, sim, poll, sim_started)
        milestones["instances registered"] = sampler.mark("ListContainerInstances")
        listing = list_instances(ecs, cluster, instances)
        milestones["instances listed"] = sampler.mark("warm-up task")
        warm = warm_up(ecs, cluster, family, timeout=max(120.0, instances / 30))
        milestones["warm-up task RUNNING"] = sampler.mark("RunTask")
    finally:
        ecs.close()
    m = milestones["warm-up task RUNNING"]
    print(
        f"  {instances:,} instances registered in {registration:.1f} s, listed in {listing:.1f} s; "
        f"warm-up task RUNNING after {warm:.2f} s; server VmRSS {m['rss_mib']:,.0f} MiB, "
        f"VmHWM {m['vmhwm_mib']:,.0f} MiB",
        flush=True,
    )
    return Bring(server, sim, sampler, registration, listing, warm, milestones)


def bring_summary(b: Bring, instances: int) -> dict[str, Any]:
    return {
        "registration_s": round(b.registration_s, 2),
        "registration_per_s": round(instances / b.registration_s, 1) if b.registration_s else None,
        "list_container_instances_s": round(b.listing_s, 2),
        "warm_up_task_s": round(b.warm_up_s, 3),
        "server_memory_milestones": b.milestones,
        "server_memory_by_phase": b.memory.stop(),
    }


def run_e2e(
    workdir: Path,
    instances: int,
    tasks: int,
    clients: int,
    budget: float,
    profile: float,
    keep: list[bool],
) -> dict[str, Any]:
    cluster, family = "bench-e2e", "bench-placement"
    with processes() as procs:
        b = bring_up(procs, workdir, cluster, family, 64, instances, poll=0.5)
        server, sim = b.server, b.sim
        assert server.proc is not None
        print(f"  {tasks:,} tasks in RunTask x10 from {clients} clients ...", flush=True)
        d, prof = drive(
            server.port,
            cluster,
            family,
            tasks,
            clients,
            server,
            sim,
            poll=0.25,
            budget=budget,
            settle_timeout=180.0,
            progress_every=5.0,
            profile=(profile, workdir / "e2e-profile.txt") if profile else None,
        )
        b.milestones["all RUNNING"] = b.memory.mark("end")
    s = drive_summary(d)
    s["log_findings"] = log_findings(server.log_path, sim.log_path)
    if d.errors or d.aborted or not d.all_running_at:
        keep[0] = True
    rate = s["tasks_per_s"]
    return {
        "instances": instances,
        "tasks": tasks,
        "clients": clients,
        "task_definition": {"containers": 1, "cpu": 10, "memory": 64},
        "placement": "RunTask default (random), launchType EC2, count 10, no clientToken",
        "budget_s": budget,
        **bring_summary(b, instances),
        **s,
        "rss_growth_mib_per_10k_tasks": round(g, 1) if (g := late_slope(d)) is not None else None,
        "server_vmhwm_mib_before": b.milestones["warm-up task RUNNING"]["vmhwm_mib"],
        "server_vmhwm_mib_after": b.milestones["all RUNNING"]["vmhwm_mib"],
        "vs_anchors": {k: round(rate / v, 3) for k, v in ANCHORS.items()} if rate else None,
        "target_tasks_per_s": E2E_TARGET,
        "target_met": bool(rate and rate >= E2E_TARGET),
        "profile": prof,
        "profiled": bool(profile),
        "timeline": timeline(d, 20),
    }


def timeline(d: Drive, points: int) -> list[dict[str, Any]]:
    """A thinned series of (seconds, placed, RUNNING, pending, RSS MiB)."""
    samples = d.samples
    if not samples:
        return []
    step = max(1, len(samples) // points)
    chosen = samples[::step]
    if chosen[-1] is not samples[-1]:
        chosen.append(samples[-1])
    return [
        {
            "t_s": round(s.t, 2),
            "placed": s.placed,
            "running": s.running,
            "pending": s.pending,
            "rss_mib": round(s.rss_kib / 1024, 1),
        }
        for s in chosen
    ]


def print_e2e(part: dict[str, Any]) -> None:
    p = part
    print(
        f"\nPart 2 - end to end: portside server + portside sim, {p['instances']:,} instances, "
        f"{p['tasks']:,} tasks (RunTask x10, {p['clients']} client threads)"
    )
    rate = p["tasks_per_s"]
    rows: list[tuple[str, ...]] = [("", "value", "")]
    rows.append(
        (
            "registration",
            f"{p['registration_s']:.1f} s",
            f"{p['registration_per_s']:,.0f} instances/s",
        )
    )
    rows.append(
        (
            f"first RunTask -> {p['tasks_placed']:,} RUNNING",
            f"{p['first_runtask_to_all_running_s']} s",
            f"{rate:,.0f} tasks/s" if rate else "did not complete",
        )
    )
    rows.append(
        (
            "RunTask phase only",
            f"{p['runtask_phase_s']:.1f} s",
            f"{p['placements_per_s_while_submitting'] or 0:,.0f} tasks placed/s",
        )
    )
    rows.append(
        (
            "RUNNING lag after the last RunTask answer",
            f"{p['running_lag_after_last_answer_s']} s",
            "",
        )
    )
    rows.append(
        (
            "RunTask latency p50 / p90 / p99 / max",
            f"{p['runtask_p50_ms']:.1f} / {p['runtask_p90_ms']:.1f} / {p['runtask_p99_ms']:.1f} "
            f"/ {p['runtask_max_ms']:.1f} ms",
            "",
        )
    )
    rows.append(("errors, unplaced tasks", f"{p['errors']}, {p['tasks_unplaced']}", ""))
    if p["budget_hit"]:
        rows.append(
            ("time budget", f"ran out after {p['tasks_placed']:,} of {p['tasks']:,} tasks", "")
        )
    rows.append(
        (
            "CPU % of a core: server / sim / client",
            f"{p['server_cpu_percent_of_one_core']:.0f} / {p['sim_cpu_percent_of_one_core']:.0f} "
            f"/ {p['client_cpu_percent_of_one_core']:.0f}",
            f"server {p['server_cpu_ms_per_task']} ms CPU per task",
        )
    )
    rows.append(
        ("DescribeClusters (the poll) p50", f"{p['describe_clusters_poll_p50_ms']:.1f} ms", "")
    )
    rows.append(
        (
            "server VmHWM before / after",
            f"{p['server_vmhwm_mib_before']:,.0f} / {p['server_vmhwm_mib_after']:,.0f} MiB",
            f"RSS growth {p['rss_growth_mib_per_10k_tasks']} MiB per 10k tasks (last third)",
        )
    )
    if rate:
        for name, anchor in ANCHORS.items():
            rows.append((f"vs {name} ({anchor:,.0f}/s)", f"{rate / anchor:.2f}x", ""))
    rows.append(
        (
            f"target >= {E2E_TARGET:,.0f} tasks/s",
            "met" if p["target_met"] else "NOT MET",
            "(profiled run: py-spy costs the server and the sim a little)"
            if p.get("profiled")
            else "",
        )
    )
    print_rows(rows)
    warn_noise(p, "e2e")
    print_findings(p)
    for name, prof in (p.get("profile") or {}).items():
        print_profile(prof, f"{name} profile during the RunTask phase")


# =============================================================================================
# Part 3: peak RSS
# =============================================================================================


def slope_mib_per_10k(points: Sequence[tuple[int, int]]) -> float | None:
    """Least-squares slope of RSS (KiB) over tasks, as MiB per 10,000 tasks."""
    pts = [(x, y) for x, y in points if x > 0]
    if len(pts) < 3 or pts[-1][0] - pts[0][0] < 200:
        return None
    mx = statistics.fmean(x for x, _ in pts)
    my = statistics.fmean(y for _, y in pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    if not sxx:
        return None
    sxy = sum((x - mx) * (y - my) for x, y in pts)
    return (sxy / sxx) * 10_000 / 1024


def late_slope(d: Drive) -> float | None:
    """RSS growth per 10k tasks over the last third of the run: before that, RSS climbs with
    the per-request working set (every RunTask and DescribeClusters materialises the whole
    fleet, and each of the server's worker threads keeps its malloc arena at its peak), which
    says nothing about what a task costs."""
    if not d.samples:
        return None
    since = d.samples[-1].t * 2 / 3
    return slope_mib_per_10k([(x.placed, x.rss_kib) for x in d.samples if x.t >= since])


def run_rss(
    workdir: Path,
    instances: int,
    tasks: int,
    clients: int,
    budget: float,
    profile: float,
    keep: list[bool],
) -> dict[str, Any]:
    cluster, family = "bench-rss", "bench-rss"
    started = time.perf_counter()
    with processes() as procs:
        b = bring_up(procs, workdir, cluster, family, 16, instances, poll=2.0)
        server, sim = b.server, b.sim
        assert server.proc is not None
        after_registration = b.milestones["warm-up task RUNNING"]
        print(f"  up to {tasks:,} tasks within {budget:.0f} s of RunTask ...", flush=True)
        d, prof = drive(
            server.port,
            cluster,
            family,
            tasks,
            clients,
            server,
            sim,
            poll=5.0,
            budget=budget,
            settle_timeout=300.0,
            progress_every=30.0,
            profile=(profile, workdir / "rss-profile.txt") if profile else None,
        )
        at_end = memory_kib(server.proc.pid)
        b.milestones["end"] = b.memory.mark("end")
    s = drive_summary(d)
    s["log_findings"] = log_findings(server.log_path, sim.log_path)
    if d.errors or d.aborted:
        keep[0] = True
    placed = d.placed
    slope_all = slope_mib_per_10k([(x.placed, x.rss_kib) for x in d.samples])
    slope = late_slope(d)
    hwm = at_end.get("VmHWM", 0) / 1024
    rss_end = at_end.get("VmRSS", 0) / 1024
    reached_all = placed >= tasks and d.all_running_at is not None
    projected = None
    if not reached_all and slope is not None:
        projected = max(hwm, rss_end + slope * (tasks - placed) / 10_000)
    rate = placed / s["runtask_phase_s"] if s["runtask_phase_s"] else None
    return {
        "instances": instances,
        "tasks_wanted": tasks,
        "clients": clients,
        "task_definition": {"containers": 1, "cpu": 10, "memory": 16},
        "budget_s": budget,
        **bring_summary(b, instances),
        "rss_mib_after_registration": after_registration["rss_mib"],
        "vmhwm_mib_after_registration": after_registration["vmhwm_mib"],
        "tasks_reached": placed,
        "reached_all": reached_all,
        "vmhwm_mib": round(hwm, 1),
        "rss_mib_at_end": round(rss_end, 1),
        "rss_growth_mib_per_10k_tasks": round(slope, 1) if slope is not None else None,
        "rss_growth_mib_per_10k_tasks_whole_run": round(slope_all, 1)
        if slope_all is not None
        else None,
        "runtask_working_set_mib": round(
            max((x.rss_kib for x in d.samples), default=0) / 1024 - after_registration["rss_mib"],
            1,
        ),
        "projected_vmhwm_mib_at_wanted_tasks": round(projected, 1) if projected else None,
        "projected_seconds_for_wanted_tasks": round(tasks / rate, 0)
        if rate and not reached_all
        else None,
        **s,
        "target_vmhwm_mib": RSS_TARGET_MIB,
        "target_met": (hwm <= RSS_TARGET_MIB) if reached_all else None,
        "projected_target_met": (projected <= RSS_TARGET_MIB) if projected else None,
        "elapsed_s": round(time.perf_counter() - started, 1),
        "profile": prof,
        "profiled": bool(profile),
        "timeline": timeline(d, 30),
    }


def print_findings(part: dict[str, Any]) -> None:
    if part.get("aborted"):
        print(f"  ABORTED: {part['aborted']}; the figures cover the run until then")
    for e in part["error_samples"]:
        print(f"  error: {e}")
    for what, n in part.get("log_findings", {}).items():
        print(f"  log: {n:,} x {what}")


def print_rss(part: dict[str, Any]) -> None:
    p = part
    print(
        f"\nPart 3 - peak RSS of the control plane: {p['instances']:,} instances, "
        f"{p['tasks_wanted']:,} tasks of 16 MiB wanted (budget {p['budget_s']:.0f} s of RunTask)"
    )
    rows: list[tuple[str, ...]] = [("", "value")]
    rows.append(
        (
            "registration",
            f"{p['registration_s']:.1f} s ({p['registration_per_s']:,.0f} instances/s)",
        )
    )
    rows.append(
        (
            "server after registration: VmRSS / VmHWM",
            f"{p['rss_mib_after_registration']:,.0f} / "
            f"{p['vmhwm_mib_after_registration']:,.0f} MiB",
        )
    )
    rows.append(
        (
            "tasks placed",
            f"{p['tasks_reached']:,} of {p['tasks_wanted']:,}"
            + ("" if p["reached_all"] else " (time budget ran out)" if p["budget_hit"] else ""),
        )
    )
    rows.append(
        (
            "RunTask rate at this fleet size",
            f"{p['placements_per_s_while_submitting'] or 0:,.1f} tasks/s; RunTask p50 "
            f"{p['runtask_p50_ms']:.0f} ms, p99 {p['runtask_p99_ms']:.0f} ms",
        )
    )
    rows.append(("server VmHWM at the end", f"{p['vmhwm_mib']:,.0f} MiB"))
    rows.append(
        (
            "RSS growth per 10k tasks (last third of the run)",
            f"{p['rss_growth_mib_per_10k_tasks']} MiB (whole run: "
            f"{p['rss_growth_mib_per_10k_tasks_whole_run']} MiB)"
            if p["rss_growth_mib_per_10k_tasks"] is not None
            else "-",
        )
    )
    rows.append(
        (
            "RunTask working set (max RSS - RSS after warm-up)",
            f"{p['runtask_working_set_mib']:,.0f} MiB",
        )
    )
    if p["projected_vmhwm_mib_at_wanted_tasks"]:
        rows.append(
            (
                f"projected VmHWM at {p['tasks_wanted']:,} tasks",
                f"{p['projected_vmhwm_mib_at_wanted_tasks']:,.0f} MiB (linear)",
            )
        )
    if p["projected_seconds_for_wanted_tasks"]:
        rows.append(
            (
                f"projected time for {p['tasks_wanted']:,} tasks",
                f"{p['projected_seconds_for_wanted_tasks'] / 60:,.0f} minutes at this rate",
            )
        )
    rows.append(
        (
            "CPU % of a core: server / sim / client",
            f"{p['server_cpu_percent_of_one_core']:.0f} / {p['sim_cpu_percent_of_one_core']:.0f} "
            f"/ {p['client_cpu_percent_of_one_core']:.0f}",
        )
    )
    if p["target_met"] is not None:
        verdict = "met" if p["target_met"] else "NOT MET"
    elif p["projected_target_met"] is not None:
        verdict = ("met" if p["projected_target_met"] else "NOT MET") + " (projected)"
    else:
        verdict = "unknown"
    rows.append((f"target VmHWM <= {RSS_TARGET_MIB:,.0f} MiB", verdict))
    print_rows(rows)
    warn_noise(p, "rss")
    print_findings(p)
    for name, prof in (p.get("profile") or {}).items():
        print_profile(prof, f"{name} profile during the RunTask phase")


# =============================================================================================
# Report and main
# =============================================================================================


def print_rows(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print(
            "  "
            + "  ".join(
                c.ljust(widths[i]) if i <= 1 else c.rjust(widths[i]) for i, c in enumerate(r)
            ).rstrip()
        )


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str] = {}
    for package in ("portside", "botocore", "uvicorn", "starlette", "orjson", "py-spy"):
        with contextlib.suppress(PackageNotFoundError):
            out[package] = version(package)
    import sqlite3

    out["sqlite"] = sqlite3.sqlite_version
    return out


def git_commit() -> str | None:
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "portside"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    return None


def source() -> dict[str, Any]:
    """Which Portside was measured: this checkout (commit, +dirty when portside/ has
    uncommitted changes), or another tree on PYTHONPATH (e.g. a `git archive` of a commit)."""
    import portside

    where = Path(portside.__file__).resolve().parent.parent
    if where == ROOT:
        return {"path": str(where), "commit": git_commit()}
    return {"path": str(where), "commit": None}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--part", choices=("placer", "e2e", "rss"), help="run one part only")
    p.add_argument("--quick", action="store_true", help="small fleets; writes no results file")
    p.add_argument("--fleets", default="1000,5000,10000", help="placer: fleet sizes")
    p.add_argument("--duration", type=float, default=3.0, help="placer: seconds per cell")
    p.add_argument("--instances", type=int, default=1000, help="e2e: simulated instances")
    p.add_argument("--tasks", type=int, default=20_000, help="e2e: tasks to run")
    p.add_argument("--e2e-budget", type=float, default=900.0, help="e2e: seconds of RunTask")
    p.add_argument("--rss-instances", type=int, default=10_000)
    p.add_argument("--rss-tasks", type=int, default=100_000)
    # 100,000 tasks at 10,000 instances take ~10 minutes on a quiet 2-core machine.
    p.add_argument("--rss-budget", type=float, default=1500.0, help="rss: seconds of RunTask")
    p.add_argument("--clients", type=int, default=4, help="RunTask client threads")
    p.add_argument(
        "--profile",
        type=float,
        default=0.0,
        help="py-spy the server and the sim for N seconds of the RunTask phase; cProfile "
        "the placer",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--output", type=Path, help=f"results file (default {DEFAULT_OUTPUT})")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, data)")
    p.add_argument("--check", action="store_true", help="exit 1 when a target is not met")
    args = p.parse_args(argv)
    if args.quick:
        args.fleets = "200,1000"
        args.duration = min(args.duration, 0.5)
        args.instances, args.tasks = min(args.instances, 100), min(args.tasks, 1000)
        args.rss_instances, args.rss_tasks = min(args.rss_instances, 300), min(args.rss_tasks, 3000)
        args.rss_budget = min(args.rss_budget, 30.0)
        args.e2e_budget = min(args.e2e_budget, 60.0)
    args.fleet_sizes = [int(x) for x in str(args.fleets).split(",") if x.strip()]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with contextlib.suppress(AttributeError, ValueError):
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    parts = [args.part] if args.part else ["placer", "e2e", "rss"]
    load_at_start = load_average()
    if load_at_start[0] > 0.5:
        print(
            f"warning: the machine is not idle (load average {load_at_start}); other jobs skew "
            "the figures (see 'other processes' CPU')",
            file=sys.stderr,
        )
    results: dict[str, dict[str, Any]] = {}
    workdir = Path(tempfile.mkdtemp(prefix="portside-bench-placement-"))
    keep = [args.keep]
    try:
        if "placer" in parts:
            print(
                f"Part 1: the placer alone, fleets {args.fleet_sizes}, {args.duration:g} s per cell"
            )
            results["placer"] = run_placer(
                args.fleet_sizes, args.duration, args.seed, profile=bool(args.profile)
            )
        if "e2e" in parts:
            print(f"\nPart 2: end to end, {args.instances:,} instances, {args.tasks:,} tasks")
            results["e2e"] = run_e2e(
                workdir,
                args.instances,
                args.tasks,
                args.clients,
                args.e2e_budget,
                args.profile,
                keep,
            )
        if "rss" in parts:
            print(f"\nPart 3: peak RSS, {args.rss_instances:,} instances, {args.rss_tasks:,} tasks")
            results["rss"] = run_rss(
                workdir,
                args.rss_instances,
                args.rss_tasks,
                args.clients,
                args.rss_budget,
                args.profile,
                keep,
            )
    except BaseException:
        keep[0] = True
        raise
    finally:
        if keep[0]:
            print(f"logs and data kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    if "placer" in results:
        print_placer(results["placer"])
    if "e2e" in results:
        print_e2e(results["e2e"])
    if "rss" in results:
        print_rss(results["rss"])

    load_at_end = load_average()
    output = args.output or (None if args.quick else DEFAULT_OUTPUT)
    if output is not None:
        write_results(output, results, args, load_at_start, load_at_end)

    failed = any(r.get("errors") for r in results.values())
    if failed:
        return 1
    if args.check:
        met = all(c["target_met"] is not False for c in results.get("placer", {}).get("cells", []))
        met = met and results.get("e2e", {}).get("target_met", True) is not False
        rss = results.get("rss", {})
        met = (
            met
            and rss.get("target_met") is not False
            and rss.get("projected_target_met") is not False
        )
        return 0 if met else 1
    return 0


def write_results(
    output: Path,
    results: dict[str, dict[str, Any]],
    args: argparse.Namespace,
    load_at_start: list[float],
    load_at_end: list[float],
) -> None:
    """Each part keeps its own date and settings, so a part run alone updates only its own
    section of an existing file."""
    document: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        old = json.loads(output.read_text())
        if old.get("benchmark") == "placement":
            document = old
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    document.update(
        {
            "benchmark": "placement",
            "date": now,
            "machine": {
                **machine(),
                "load_average_at_start": load_at_start,
                "load_average_at_end": load_at_end,
            },
            "versions": versions(),
            "source": source(),
            "anchors": {
                "kube-scheduler_pods_per_s": KUBE_PODS_PER_S,
                "kube-scheduler_note": "scheduler_perf CI threshold, 5,000 nodes",
                "nomad_c1m_per_s": NOMAD_PER_S,
                "nomad_note": "C1M: ~1M containers in ~4.5 minutes on five servers",
            },
            "targets": {
                "placer_placements_per_s": {str(k): v for k, v in PLACER_TARGETS.items()},
                "e2e_tasks_per_s_at_1000_instances": E2E_TARGET,
                "rss_vmhwm_mib_at_10000_instances_100000_tasks": RSS_TARGET_MIB,
            },
        }
    )
    parts = document.setdefault("parts", {})
    for name, part in results.items():
        parts[name] = {"date": now, "seed": args.seed, "source": source(), **part}
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nwrote {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")


if __name__ == "__main__":
    sys.exit(main())
