#!/usr/bin/env python3
"""Soak: N minutes of steady churn on a simulated fleet, watching the server for leaks,
errors and latency; optionally under hostile requests; optionally the chaos kill test.

- `portside server` (fresh data dir) and `portside sim --instances 1000` (one process);
- the churn (soak_churn.py), at fixed rates: RunTask of 1-3 tasks, StopTask keeping 600
  standalone tasks, a service scaled by a random walk between 300 and 700 every 5 s, a
  deployment of that service every minute, PutLogEvents (100 events) 4 a second, and reads;
- each minute: tasks started/s and stopped/s (from the store: startedAt, stoppedAt), calls/s,
  p50/p99 latency of the churn's calls, errors, the server's RSS and open file descriptors
  (/proc/<pid>); at the end the slope of RSS and fds per minute after the warm-up (least
  squares over a sample every 5 s), which must be flat, and errors, which must be 0.
- `--hostile`: after the warm-up, minutes alternate quiet / hostile; the hostile ones carry
  `--hostile-requests` (1,000) requests from soak_hostile.py, spread evenly. The churn's p99
  in hostile minutes must be within 20% of its p99 in the quiet ones of the same run.
- `--chaos-points N`: the control-plane kill test of tests/chaos with N kill points (the test
  run by pytest, its figures read back), after the soak (`--chaos-only`: instead of it).

    .venv/bin/python bench/soak.py                          # 10 minutes
    .venv/bin/python bench/soak.py --minutes 3 --hostile    # shorter, with hostility
    .venv/bin/python bench/soak.py --chaos-only --chaos-points 20

Writes bench/results/soak.json (the commit, the machine, the settings, every minute, the
verdicts); a run of one part updates its own section.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import api_setup
from api_throughput import (
    ACCESS_KEY,
    BIN,
    REGION,
    ROOT,
    SECRET_KEY,
    base_env,
    load_average,
    machine,
    percentile,
)
from services import Sim, log_findings, portside_server, processes
from signed import Ecs
from soak_churn import Churn, Rates, Recorder
from soak_hostile import KINDS, Outcome, send_one

DEFAULT_OUTPUT = ROOT / "bench" / "results" / "soak.json"
CLUSTER = "soak"
SAMPLE_S = 5.0
P99_BUDGET = 0.20  # the churn's p99 may move this much under hostility
RSS_FLAT_MIB_PER_MIN = 1.0  # or 0.5% of the mean RSS a minute, whichever is larger
FDS_FLAT_PER_MIN = 0.5


# -- processes ---------------------------------------------------------------------------------


def portside_sim(workdir: Path, port: int, instances: int) -> Sim:
    env = base_env()
    env.update(
        AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY, AWS_DEFAULT_REGION=REGION
    )
    argv = [str(BIN / "portside"), "sim", "--endpoint", f"http://127.0.0.1:{port}"]
    argv += ["--cluster", CLUSTER, "--instances", str(instances), "--zones", "a,b,c"]
    argv += ["--state-dir", str(workdir / "sim-state"), "--log-level", "warning"]
    return Sim("portside sim", argv, port, workdir / "sim.log", env, "")


def wait_for_fleet(ecs: Ecs, n: int, sim: Sim, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        clusters = ecs.call("DescribeClusters", clusters=[CLUSTER]).get("clusters") or [{}]
        if int(clusters[0].get("registeredContainerInstancesCount") or 0) >= n:
            return
        if sim.proc is not None and sim.proc.poll() is not None:
            raise RuntimeError(f"portside sim exited:\n{sim.log_tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the fleet did not register {n} instances in {timeout:.0f} s")
        time.sleep(0.5)


def proc_usage(pid: int) -> tuple[float, int, float, float]:
    """(RSS in MiB, open file descriptors, anonymous and file-backed parts of the RSS in MiB)
    of a process, from /proc: a leak grows the anonymous part; the file part is pages of
    files the process maps (SQLite's mmap of its databases), which the kernel can reclaim."""
    fields = {"VmRSS:": 0.0, "RssAnon:": 0.0, "RssFile:": 0.0}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name = line.split(maxsplit=1)[0] if line.strip() else ""
            if name in fields:
                fields[name] = int(line.split()[1]) / 1024
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return fields["VmRSS:"], fds, fields["RssAnon:"], fields["RssFile:"]


# -- figures -----------------------------------------------------------------------------------


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (x, y) points (0 for fewer than two)."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0


def latency(calls: list[Any]) -> dict[str, float]:
    ms = sorted(c.ms for c in calls)
    if not ms:
        return {"p50_ms": 0.0, "p99_ms": 0.0}
    return {"p50_ms": round(percentile(ms, 50), 2), "p99_ms": round(percentile(ms, 99), 2)}


def by_action(calls: list[Any]) -> dict[str, dict[str, float]]:
    """Count and p50/p99 latency of each action's calls."""
    out: dict[str, dict[str, float]] = {}
    for action in sorted({c.action for c in calls}):
        mine = [c for c in calls if c.action == action]
        out[action] = {"calls": len(mine), **latency(mine)}
    return out


def task_rates(db: Path, start: float, end: float) -> tuple[float, float]:
    """Tasks started and stopped a second between two epoch times, from the store."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        started = conn.execute(
            "SELECT count(*) FROM tasks WHERE json_extract(doc, '$.startedAt') >= ? "
            "AND json_extract(doc, '$.startedAt') < ?",
            (start, end),
        ).fetchone()[0]
        stopped = conn.execute(
            "SELECT count(*) FROM tasks WHERE stopped_at >= ? AND stopped_at < ?", (start, end)
        ).fetchone()[0]
    finally:
        conn.close()
    seconds = max(1e-9, end - start)
    return round(started / seconds, 2), round(stopped / seconds, 2)


class Sampler(threading.Thread):
    """The server's and the sim's RSS and fds every SAMPLE_S seconds."""

    def __init__(self, recorder: Recorder, server_pid: int, sim_pid: int) -> None:
        super().__init__(name="sampler", daemon=True)
        self.recorder = recorder
        self.pids = {"server": server_pid, "sim": sim_pid}
        self.samples: list[dict[str, float]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            row: dict[str, float] = {"at": self.recorder.now()}
            for name, pid in self.pids.items():
                rss, fds, anon, mapped = proc_usage(pid)
                row[f"{name}_rss_mib"], row[f"{name}_fds"] = round(rss, 1), fds
                row[f"{name}_anon_mib"], row[f"{name}_file_mib"] = round(anon, 1), round(mapped, 1)
            self.samples.append(row)
            self.done.wait(SAMPLE_S)


class Hostility(threading.Thread):
    """Hostile requests during the hostile minutes, spread evenly over them."""

    def __init__(self, port: int, recorder: Recorder, minutes: list[int], total: int) -> None:
        super().__init__(name="hostility", daemon=True)
        self.port = port
        self.recorder = recorder
        self.minutes = set(minutes)
        self.total = total
        self.outcomes: list[Outcome] = []
        self.sent_in: dict[int, int] = {}
        self.done = threading.Event()
        self.lock = threading.Lock()

    def _one(self, n: int) -> None:
        outcome = send_one(KINDS[n % len(KINDS)], self.port, n)
        with self.lock:
            self.outcomes.append(outcome)

    def schedule(self) -> list[tuple[float, int]]:
        """(when, minute) of each request: the total split between the hostile minutes,
        each minute's share evenly spaced within it."""
        minutes = sorted(self.minutes)
        due: list[tuple[float, int]] = []
        for k, minute in enumerate(minutes):
            share = self.total * (k + 1) // len(minutes) - self.total * k // len(minutes)
            due += [(minute * 60 + i * 60 / share, minute) for i in range(share)]
        return due

    def run(self) -> None:
        if not self.minutes:
            return
        with ThreadPoolExecutor(256, thread_name_prefix="hostile") as pool:
            for n, (when, minute) in enumerate(self.schedule()):
                if self.done.wait(max(0.0, when - self.recorder.now())):
                    return
                pool.submit(self._one, n)
                self.sent_in[minute] = self.sent_in.get(minute, 0) + 1

    def summary(self) -> dict[str, Any]:
        with self.lock:
            outcomes = list(self.outcomes)
        by_kind: dict[str, dict[str, Any]] = {}
        for kind in KINDS:
            mine = [o for o in outcomes if o.kind == kind]
            statuses: dict[str, int] = {}
            for o in mine:
                key = str(o.status) if o.status is not None else "closed"
                statuses[key] = statuses.get(key, 0) + 1
            seconds = sorted(o.seconds for o in mine)
            by_kind[kind] = {
                "sent": len(mine),
                "answers": statuses,
                "bad": sum(o.bad for o in mine),
                "p50_s": round(percentile(seconds, 50), 3) if seconds else None,
                "max_s": round(seconds[-1], 3) if seconds else None,
            }
        bad = [f"{o.kind}: {o.status} {o.detail}" for o in outcomes if o.bad][:10]
        return {
            "sent": len(outcomes),
            "bad": sum(o.bad for o in outcomes),
            "kinds": by_kind,
            "bad_examples": bad,
            "sent_per_minute": self.sent_in,
        }


# -- the soak ----------------------------------------------------------------------------------


def run_soak(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    rates = Rates().scaled(args.rate)
    with processes() as procs:
        server = portside_server(workdir)
        server.start()
        procs.append(server)
        ecs = Ecs(server.port)
        ecs.call("CreateCluster", clusterName=CLUSTER)
        sim = portside_sim(workdir, server.port, args.instances)
        sim.start()
        procs.append(sim)
        wait_for_fleet(ecs, args.instances, sim, max(180.0, args.instances / 5))
        assert server.proc is not None and sim.proc is not None
        recorder = Recorder()
        churn = Churn(server.port, CLUSTER, rates, recorder, seed=args.seed)
        churn.setup()
        recorder.began = time.monotonic()
        epoch0 = time.time()
        sampler = Sampler(recorder, server.proc.pid, sim.proc.pid)
        hostile_minutes = [
            m for m in range(args.warmup, args.minutes) if args.hostile and (m - args.warmup) % 2
        ]
        hostility = Hostility(server.port, recorder, hostile_minutes, args.hostile_requests)
        churn.start()
        sampler.start()
        hostility.start()
        db = workdir / "server-data" / "portside.db"
        minutes: list[dict[str, Any]] = []
        print(
            f"{'min':>3} {'tasks/s':>8} {'stops/s':>8} {'calls/s':>8} {'p50 ms':>7} "
            f"{'p99 ms':>7} {'errors':>6} {'RSS MiB':>8} {'fds':>5} {'hostile':>7}",
            flush=True,
        )
        try:
            for m in range(args.minutes):
                end = recorder.began + (m + 1) * 60
                while time.monotonic() < end:
                    time.sleep(min(1.0, max(0.0, end - time.monotonic())))
                    for proc in (server, sim):
                        if proc.proc is not None and proc.proc.poll() is not None:
                            raise RuntimeError(f"{proc.name} exited:\n{proc.log_tail()}")
                calls = recorder.between(m * 60, (m + 1) * 60)
                started, stopped = task_rates(db, epoch0 + m * 60, epoch0 + (m + 1) * 60)
                last = sampler.samples[-1]
                row = {
                    "minute": m + 1,
                    "tasks_started_per_s": started,
                    "tasks_stopped_per_s": stopped,
                    "calls_per_s": round(len(calls) / 60, 1),
                    **latency(calls),
                    "errors": sum(not c.ok for c in calls),
                    "server_rss_mib": last["server_rss_mib"],
                    "server_fds": last["server_fds"],
                    "sim_rss_mib": last["sim_rss_mib"],
                    "by_action": by_action(calls),
                    "hostile": m in hostile_minutes,
                    "hostile_sent": hostility.sent_in.get(m, 0),
                    "load_average": load_average(),
                }
                minutes.append(row)
                print(
                    f"{m + 1:>3} {started:>8.1f} {stopped:>8.1f} {row['calls_per_s']:>8.1f} "
                    f"{row['p50_ms']:>7.1f} {row['p99_ms']:>7.1f} {row['errors']:>6} "
                    f"{row['server_rss_mib']:>8.1f} {row['server_fds']:>5} "
                    f"{row['hostile_sent'] if row['hostile'] else '':>7}",
                    flush=True,
                )
        finally:
            hostility.done.set()
            churn.stop()
            sampler.done.set()
        hostility.join(60)
        result = summarize(args, rates, recorder, sampler, minutes, hostile_minutes)
        if args.hostile:
            result["hostile"].update(hostility.summary())
        result["log_findings"] = log_findings(server.log_path, sim.log_path)
    return result


def summarize(
    args: argparse.Namespace,
    rates: Rates,
    recorder: Recorder,
    sampler: Sampler,
    minutes: list[dict[str, Any]],
    hostile_minutes: list[int],
) -> dict[str, Any]:
    warm = args.warmup * 60
    after = [s for s in sampler.samples if s["at"] >= warm]
    rss = [(s["at"] / 60, s["server_rss_mib"]) for s in after]
    fds = [(s["at"] / 60, s["server_fds"]) for s in after]
    rss_slope, fds_slope = slope(rss), slope(fds)
    mean_rss = sum(y for _, y in rss) / len(rss) if rss else 0.0
    rss_limit = max(RSS_FLAT_MIB_PER_MIN, mean_rss * 0.005)
    result: dict[str, Any] = {
        "settings": {
            "minutes": args.minutes,
            "warmup_minutes": args.warmup,
            "instances": args.instances,
            "rates": dataclasses.asdict(rates),
            "hostile": args.hostile,
        },
        "minutes": minutes,
        "errors": recorder.error_count,
        "error_examples": recorder.errors,
        "placement_failures": recorder.placement_failures,
        "after_warmup": {
            "rss_mib_per_min": round(rss_slope, 3),
            "rss_flat_limit_mib_per_min": round(rss_limit, 3),
            "rss_flat": abs(rss_slope) <= rss_limit,
            "fds_per_min": round(fds_slope, 3),
            "fds_flat_limit_per_min": FDS_FLAT_PER_MIN,
            "fds_flat": abs(fds_slope) <= FDS_FLAT_PER_MIN,
            "samples": len(after),
            # The same over the run's second half: growth that is still warm-up (caches
            # filling, the store's tables growing toward their hour of stopped tasks) shows
            # here as a smaller slope, a leak as the same one.
            "rss_mib_per_min_second_half": round(slope(rss[len(rss) // 2 :]), 3),
            "fds_per_min_second_half": round(slope(fds[len(fds) // 2 :]), 3),
        },
        "samples": sampler.samples,
    }
    if args.hostile:
        quiet_calls = [
            c
            for m in range(args.warmup, args.minutes)
            if m not in hostile_minutes
            for c in recorder.between(m * 60, (m + 1) * 60)
        ]
        hostile_calls = [c for m in hostile_minutes for c in recorder.between(m * 60, (m + 1) * 60)]
        quiet, loud = latency(quiet_calls)["p99_ms"], latency(hostile_calls)["p99_ms"]
        moved = (loud - quiet) / quiet if quiet else 0.0
        result["hostile"] = {
            "minutes": [m + 1 for m in hostile_minutes],
            "quiet_p99_ms": quiet,
            "hostile_p99_ms": loud,
            "p99_moved": round(moved, 3),
            "p99_within_budget": moved < P99_BUDGET,
        }
    return result


# -- the chaos test ----------------------------------------------------------------------------


def run_chaos(points: int, workdir: Path) -> dict[str, Any]:
    report = workdir / "chaos.json"
    env = {**os.environ, "PORTSIDE_CHAOS_POINTS": str(points), "PORTSIDE_CHAOS_REPORT": str(report)}
    began = time.monotonic()
    test = "tests/chaos/test_control_plane_kill.py"
    proc = subprocess.run(
        [str(BIN / "pytest"), "-q", "-p", "no:cacheprovider", test], cwd=ROOT, env=env, check=False
    )
    figures = json.loads(report.read_text()) if report.exists() else {}
    return {
        "passed": proc.returncode == 0,
        "seconds": round(time.monotonic() - began, 1),
        **figures,
    }


# -- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--minutes", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2, help="minutes before the slopes count")
    p.add_argument("--instances", type=int, default=1000)
    p.add_argument("--rate", type=float, default=1.0, help="scale every churn rate")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--hostile", action="store_true")
    p.add_argument("--hostile-requests", type=int, default=1000)
    p.add_argument("--chaos-points", type=int, default=0)
    p.add_argument("--chaos-only", action="store_true")
    p.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, store)")
    args = p.parse_args(argv)
    if args.minutes <= args.warmup and not args.chaos_only:
        p.error("--minutes must be more than --warmup")
    return args


def verdicts(soak: dict[str, Any] | None, chaos: dict[str, Any] | None) -> list[str]:
    failed = []
    if soak is not None:
        if soak["errors"]:
            failed.append(f"{soak['errors']} errors (must be 0)")
        if not soak["after_warmup"]["rss_flat"]:
            failed.append(f"RSS grows {soak['after_warmup']['rss_mib_per_min']} MiB/min")
        if not soak["after_warmup"]["fds_flat"]:
            failed.append(f"fds grow {soak['after_warmup']['fds_per_min']}/min")
        hostile = soak.get("hostile")
        if hostile and not hostile["p99_within_budget"]:
            failed.append(f"p99 moved {hostile['p99_moved']:.0%} under hostility")
        if hostile and hostile.get("bad"):
            failed.append(f"{hostile['bad']} hostile requests answered 5xx or never")
    if chaos is not None and not chaos.get("passed"):
        failed.append("the chaos kill test failed")
    return failed


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="portside-soak-"))
    soak = chaos = None
    try:
        if not args.chaos_only:
            soak = run_soak(args, workdir)
        if args.chaos_points:
            chaos = run_chaos(args.chaos_points, workdir)
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            subprocess.run(["rm", "-rf", str(workdir)], check=False)
    failed = verdicts(soak, chaos)
    document = json.loads(args.output.read_text()) if args.output.exists() else {}
    document.update(
        date=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        revision=api_setup.working_tree().as_json(),
        machine=machine(),
        verdicts={"failed": failed},
    )
    if soak is not None:
        document["soak"] = soak
    if chaos is not None:
        document["chaos"] = chaos
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=2) + "\n")
    report(soak, chaos, failed)
    return 1 if failed else 0


def report(soak: dict[str, Any] | None, chaos: dict[str, Any] | None, failed: list[str]) -> None:
    if soak is not None:
        a = soak["after_warmup"]
        print(
            f"\nafter warm-up: RSS {a['rss_mib_per_min']:+.2f} MiB/min "
            f"(flat: |slope| <= {a['rss_flat_limit_mib_per_min']}), fds {a['fds_per_min']:+.2f}/min"
            f" (flat: <= {a['fds_flat_limit_per_min']}); over the second half: RSS "
            f"{a['rss_mib_per_min_second_half']:+.2f} MiB/min, fds "
            f"{a['fds_per_min_second_half']:+.2f}/min; errors {soak['errors']}, "
            f"placement failures {soak['placement_failures']}"
        )
        for line in soak["error_examples"][:5]:
            print(f"  error: {line}")
        h = soak.get("hostile")
        if h:
            print(
                f"hostile: {h.get('sent')} sent, {h.get('bad')} bad; churn p99 "
                f"{h['quiet_p99_ms']} ms quiet vs {h['hostile_p99_ms']} ms hostile "
                f"({h['p99_moved']:+.1%}, budget {P99_BUDGET:.0%})"
            )
    if chaos is not None:
        print(
            f"chaos: {'passed' if chaos.get('passed') else 'FAILED'}, "
            f"{len(chaos.get('kills') or [])} kills over {chaos.get('deployments')} deployments "
            f"in {chaos.get('seconds')} s"
        )
    print("verdict: " + ("ok" if not failed else "; ".join(failed)))


if __name__ == "__main__":
    sys.exit(main())
