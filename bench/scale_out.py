#!/usr/bin/env python3
"""Scaling out: the control plane on PostgreSQL, on one, two and three replicas.

Three measurements, each on fresh state (a throwaway PostgreSQL cluster started here,
portside/testing/postgres.py, and fresh data directories):

1. API throughput: the request mix of bench/api_throughput.py (its pre-signed requests, raw
   keep-alive client and worker processes, imported from it) against one replica over SQLite,
   then one, two and three replicas over PostgreSQL, the workers spread evenly over the
   replicas. Each configuration runs the full mix (a write per `--reads-per-write` reads) and
   a reads-only mix. Goals: one PostgreSQL replica >= 0.5x SQLite on the mix; each added
   replica adds >= 0.6x of one replica's rate on reads. On a small machine the replicas,
   PostgreSQL and the clients share the same cores, so the scaling figure says more about the
   machine than about the replicas: `cores` is recorded beside it, and each window's
   `machine_busy_cores`. So the replicas are measured a second time each held to
   `--replica-cores` cores (a CPU cgroup of its own, as on a host of its own; default 0.4),
   which leaves the machine room for what a replica adds: `throughput_per_replica_host`.
2. Placement end to end on PostgreSQL: a simulated fleet of `--instances` instances
   (`portside sim`), RunTask in batches of 10 from `--placers` threads until `--tasks` tasks are
   placed; tasks/s from the first call to the last task RUNNING.
3. Leader failover: two replicas; the leader is killed with SIGKILL `--kills` times (and
   started again as a standby each time); the time from the kill to the other replica's
   "leads" line. Goal: max <= 5 s.

    .venv/bin/python bench/scale_out.py                 # everything, results in bench/results/
    .venv/bin/python bench/scale_out.py --quick         # a short smoke run, writes nothing
    .venv/bin/python bench/scale_out.py --only failover --kills 20
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import api_throughput as at
from host import load_average, machine

from portside.testing.postgres import PostgresServer

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "bench" / "results" / "scale_out.json"
LEADS = re.compile(r"replica (\w+) leads \(epoch (\d+)\)")
GOAL_PG_OVER_SQLITE = 0.5
GOAL_ADDED_REPLICA = 0.6
GOAL_FAILOVER_MAX_S = 5.0


def replica(workdir: Path, name: str, database: str | None) -> at.Server:
    server = at.portside_server(workdir, name)
    if database is not None:
        server.argv += ["--database", database]
    return server


@contextlib.contextmanager
def running(servers: Sequence[at.Server]) -> Iterator[Sequence[at.Server]]:
    try:
        for server in servers:
            server.start(timeout=90)
        yield servers
    finally:
        for server in servers:
            server.stop()


def measure(
    servers: Sequence[at.Server], settings: at.Settings, cycle: list[int]
) -> dict[str, Any]:
    """One window of the mix, worker i on replica i mod N; requests/s and latencies."""
    import multiprocessing as mp

    pools = [
        at.request_pools(
            at.Signer("127.0.0.1", s.port),
            settings.families,
            settings.revisions,
            settings.write_variants,
        )
        for s in servers
    ]
    ctx = mp.get_context("fork")
    ready, go, results = ctx.Queue(), ctx.Queue(), ctx.Queue()
    procs = []
    for i in range(settings.workers):
        server = servers[i % len(servers)]
        job = at.WorkerJob(
            index=i,
            host="127.0.0.1",
            port=server.port,
            pools=pools[i % len(servers)],
            cycle=cycle,
            warmup=settings.warmup,
            duration=settings.duration,
            seed=settings.seed + i,
        )
        procs.append(ctx.Process(target=at.worker_main, args=(job, ready, go, results)))
    latencies: list[float] = []
    requests = errors = 0
    samples: list[str] = []
    try:
        for p in procs:
            p.start()
        for _ in procs:
            ready.get(timeout=60)
        start_at = time.monotonic() + 0.1
        ticks0, cpu0 = _machine_ticks(), sum(s.cpu_seconds() for s in servers)
        for _ in procs:
            go.put(start_at)
        for _ in procs:
            r = results.get(timeout=settings.warmup + settings.duration + 120)
            from array import array

            for raw in r["latencies"]:
                values = array("d")
                values.frombytes(raw)
                latencies += list(values)
            requests += r["measured"]
            errors += r["errors"]
            samples += r["error_samples"]
        ticks1, cpu1 = _machine_ticks(), sum(s.cpu_seconds() for s in servers)
        for p in procs:
            p.join(10)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(5)
    latencies.sort()
    window = settings.warmup + settings.duration
    busy = (ticks1[0] - ticks0[0]) - (ticks1[1] - ticks0[1])
    return {
        "requests_per_s": round(requests / settings.duration, 1),
        "p50_ms": round(at.percentile(latencies, 50), 2),
        "p99_ms": round(at.percentile(latencies, 99), 2),
        "errors": errors,
        "error_samples": samples[:3],
        # How much of the machine the window used (all processes: replicas, PostgreSQL,
        # clients), and the replicas' own CPU per request: what tells a replica that waits
        # on the others (the same figure rising with replicas) from a machine that is full.
        "machine_busy_cores": round(
            (os.cpu_count() or 1) * busy / max(1, ticks1[0] - ticks0[0]), 2
        ),
        "replica_cpu_us_per_request": round(
            (cpu1 - cpu0) / max(1.0, requests * window / settings.duration) * 1e6, 1
        ),
    }


def _machine_ticks() -> tuple[int, int]:
    """(all, idle) CPU ticks of the machine so far (/proc/stat)."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:9]]
    return sum(ticks), ticks[3] + ticks[4]


def throughput(
    workdir: Path,
    pg: PostgresServer,
    settings: at.Settings,
    replicas: Sequence[int],
    *,
    replica_cores: float | None = None,
) -> dict[str, Any]:
    """The mix and reads on SQLite and on 1..N PostgreSQL replicas. With `replica_cores`,
    each replica is held to that many cores (a CPU cgroup of its own), as on a host of its
    own, and SQLite is left out: what adding a replica adds when the machine is not full."""
    out: dict[str, Any] = {}
    mixed = at.mix_cycle(settings.reads_per_write)
    reads = [a for a in mixed if a != at.RTD]
    configs: list[tuple[str, str | None, int]] = []
    if replica_cores is None:
        configs.append(("sqlite-1", None, 1))
    else:
        out["replica_cores"] = replica_cores
    configs += [(f"postgresql-{n}", "pg", n) for n in replicas]
    for label, kind, n in configs:
        database = pg.url(pg.create_database()) if kind == "pg" else None
        servers = [replica(workdir, f"{label}-{i}", database) for i in range(n)]
        with running(servers), contextlib.ExitStack() as limits:
            if replica_cores is not None:
                for server in servers:
                    assert server.proc is not None
                    limits.enter_context(CpuLimit(server.name, replica_cores)).add(server.proc.pid)
            at.preload(servers[0], settings)
            out[label] = {
                "replicas": n,
                "mix": measure(servers, settings, mixed),
                "reads": measure(servers, settings, reads),
            }
        print(f"{label}: {json.dumps(out[label])}", flush=True)
    one = out.get("postgresql-1")
    if one is not None:
        if "sqlite-1" in out:
            out["postgresql_over_sqlite"] = round(
                one["mix"]["requests_per_s"] / max(out["sqlite-1"]["mix"]["requests_per_s"], 1e-9),
                2,
            )
        base = one["reads"]["requests_per_s"]
        added = {}
        for n in replicas:
            if n > 1:
                rate = out[f"postgresql-{n}"]["reads"]["requests_per_s"]
                added[str(n)] = round((rate - base) / (n - 1) / max(base, 1e-9), 2)
        out["reads_added_per_replica_over_one"] = added
    return out


class CpuLimit:
    """A CPU cgroup (v2's cpu.max, or v1's CFS quota) holding processes to `cores` cores;
    removed on exit, its processes moved back to the root group first."""

    def __init__(self, name: str, cores: float) -> None:
        v2 = Path("/sys/fs/cgroup/cgroup.controllers")
        if v2.exists() and "cpu" in v2.read_text().split():
            self.root = Path("/sys/fs/cgroup")
        elif Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").exists():
            self.root = Path("/sys/fs/cgroup/cpu")
        else:
            raise RuntimeError("no CPU cgroup controller here: --replica-cores needs one")
        self.path = self.root / f"portside-scale-{name}-{os.getpid()}"
        self.path.mkdir()
        period = 100_000
        quota = max(1000, int(cores * period))
        if self.root.name == "cgroup":
            (self.path / "cpu.max").write_text(f"{quota} {period}")
        else:
            (self.path / "cpu.cfs_period_us").write_text(str(period))
            (self.path / "cpu.cfs_quota_us").write_text(str(quota))

    def add(self, pid: int) -> None:
        (self.path / "cgroup.procs").write_text(str(pid))

    def __enter__(self) -> CpuLimit:
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            for pid in (self.path / "cgroup.procs").read_text().split():
                with contextlib.suppress(OSError):
                    (self.root / "cgroup.procs").write_text(pid)
        with contextlib.suppress(OSError):
            self.path.rmdir()


def placement(
    workdir: Path, pg: PostgresServer, instances: int, tasks: int, placers: int
) -> dict[str, Any]:
    """Tasks/s to RUNNING on a simulated fleet, one replica over PostgreSQL."""
    import boto3
    from botocore.config import Config

    database = pg.url(pg.create_database())
    server = replica(workdir, "placement", database)
    with running([server]):
        endpoint = f"http://127.0.0.1:{server.port}"
        ecs = boto3.client(
            "ecs",
            endpoint_url=endpoint,
            region_name=at.REGION,
            aws_access_key_id=at.ACCESS_KEY,
            aws_secret_access_key=at.SECRET_KEY,
            config=Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=32),
        )
        ecs.create_cluster(clusterName="place")
        env = {**at.base_env(), "AWS_ACCESS_KEY_ID": at.ACCESS_KEY}
        env.update(AWS_SECRET_ACCESS_KEY=at.SECRET_KEY, AWS_DEFAULT_REGION=at.REGION)
        sim = at.Server(
            name="sim",
            argv=[
                str(at.BIN / "portside"),
                "sim",
                "--endpoint",
                endpoint,
                "--cluster",
                "place",
                "--instances",
                str(instances),
                "--state-dir",
                str(workdir / "sim-state"),
            ],
            port=server.port,
            log_path=workdir / "sim.log",
            env=env,
            ready_path="/_portside/health",
        )
        sim.start(timeout=60)
        try:
            deadline = time.monotonic() + 600
            while len(_instances(ecs)) < instances:
                assert time.monotonic() < deadline, "the fleet did not register"
                time.sleep(1)
            family = ecs.register_task_definition(
                family="place",
                containerDefinitions=[{"name": "app", "image": "busybox", "memory": 32}],
            )["taskDefinition"]["taskDefinitionArn"]
            placed: list[str] = []
            failures = 0
            lock = threading.Lock()
            began = time.monotonic()

            def place(share: int) -> None:
                nonlocal failures
                done = 0
                while done < share:
                    count = min(10, share - done)
                    out = ecs.run_task(cluster="place", taskDefinition=family, count=count)
                    with lock:
                        placed.extend(t["taskArn"] for t in out["tasks"])
                        failures += len(out["failures"])
                    done += count

            threads = [
                threading.Thread(target=place, args=(tasks // placers,)) for _ in range(placers)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            calls_s = time.monotonic() - began
            while _running(ecs) < len(placed):
                assert time.monotonic() < deadline, "the tasks did not all run"
                time.sleep(0.5)
            total_s = time.monotonic() - began
        finally:
            sim.stop()
    return {
        "instances": instances,
        "tasks": len(placed),
        "failures": failures,
        "run_task_calls_s": round(calls_s, 2),
        "to_running_s": round(total_s, 2),
        "tasks_per_s": round(len(placed) / total_s, 1),
    }


def _instances(ecs: Any) -> list[str]:
    pages = ecs.get_paginator("list_container_instances").paginate(cluster="place")
    return [a for p in pages for a in p["containerInstanceArns"]]


def _running(ecs: Any) -> int:
    clusters = ecs.describe_clusters(clusters=["place"])["clusters"]
    return int(clusters[0]["runningTasksCount"]) if clusters else 0


def failover(workdir: Path, pg: PostgresServer, kills: int) -> dict[str, Any]:
    """Kill the leader `kills` times; seconds until the other replica leads, each time."""
    database = pg.url(pg.create_database())
    servers = [replica(workdir, f"failover-{i}", database) for i in range(2)]
    took: list[float] = []
    with running(servers):
        for _ in range(kills):
            offsets = {s.name: len(_log(s)) for s in servers}
            leader = _wait_leader(servers, {s.name: 0 for s in servers}, last=True)
            (other,) = (s for s in servers if s is not leader)
            offsets[other.name] = len(_log(other))
            assert leader.proc is not None
            leader.proc.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            leader.proc.wait(10)
            _wait_leader([other], offsets)
            took.append(time.monotonic() - killed)
            print(f"failover {len(took)}: {took[-1]:.2f} s", flush=True)
            leader.start(timeout=90)  # back as a standby
    return {
        "kills": kills,
        "seconds": [round(t, 2) for t in took],
        "p50_s": round(statistics.median(took), 2),
        "max_s": round(max(took), 2),
    }


def _log(server: at.Server) -> str:
    return server.log_path.read_text(errors="replace") if server.log_path.exists() else ""


def _wait_leader(
    servers: Sequence[at.Server], offsets: dict[str, int], last: bool = False
) -> at.Server:
    """The replica whose log says it leads (since `offsets`); with `last`, the one whose
    latest "leads" line has the highest epoch."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        best: tuple[int, at.Server] | None = None
        for server in servers:
            if server.proc is None or server.proc.poll() is not None:
                continue
            found = LEADS.findall(_log(server)[offsets.get(server.name, 0) :])
            if found:
                epoch = int(found[-1][1])
                if best is None or epoch > best[0]:
                    best = (epoch, server)
        if best is not None:
            return best[1]
        time.sleep(0.02)
    raise RuntimeError("no replica leads")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--duration", type=float, default=8.0, help="measured seconds per window")
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--workers", type=int, default=6)
    p.add_argument("--reads-per-write", type=int, default=10)
    p.add_argument("--replicas", default="1,2,3", help="PostgreSQL replica counts to measure")
    p.add_argument(
        "--replica-cores",
        type=float,
        default=0.4,
        help="also measure with each replica held to this many cores, as on a host of its "
        "own (0: not)",
    )
    p.add_argument("--instances", type=int, default=1000)
    p.add_argument("--tasks", type=int, default=2000)
    p.add_argument("--placers", type=int, default=4)
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--only", choices=["throughput", "placement", "failover"], action="append")
    p.add_argument("--quick", action="store_true", help="short windows, few kills, no output")
    p.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = p.parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.kills = 2.0, 0.5, 3
        args.instances, args.tasks = 100, 200
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    only = set(args.only or ["throughput", "placement", "failover"])
    settings = at.Settings(
        workers=args.workers,
        warmup=args.warmup,
        duration=args.duration,
        preload=200,
        families=20,
        reads_per_write=args.reads_per_write,
        write_variants=50,
        seed=7,
    )
    doc: dict[str, Any] = {
        "benchmark": "scale_out",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "machine": {**machine(), "load_average_at_start": load_average()},
        "settings": vars(args) | {"output": str(args.output)},
        "goals": {
            "postgresql_over_sqlite": GOAL_PG_OVER_SQLITE,
            "reads_added_per_replica_over_one": GOAL_ADDED_REPLICA,
            "failover_max_s": GOAL_FAILOVER_MAX_S,
        },
    }
    with tempfile.TemporaryDirectory(prefix="portside-scale-") as tmp, PostgresServer() as pg:
        workdir = Path(tmp)
        if "throughput" in only:
            counts = [int(n) for n in args.replicas.split(",") if n]
            doc["throughput"] = throughput(workdir, pg, settings, counts)
            if args.replica_cores:
                doc["throughput_per_replica_host"] = throughput(
                    workdir, pg, settings, counts, replica_cores=args.replica_cores
                )
        if "placement" in only:
            doc["placement"] = placement(workdir, pg, args.instances, args.tasks, args.placers)
            print(f"placement: {json.dumps(doc['placement'])}", flush=True)
        if "failover" in only:
            doc["failover"] = failover(workdir, pg, args.kills)
            print(f"failover: {json.dumps(doc['failover'])}", flush=True)
    doc["machine"]["load_average_at_end"] = load_average()
    print(json.dumps({k: v for k, v in doc.items() if k not in ("machine", "settings")}, indent=2))
    if not args.quick:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"wrote {args.output}")
    return 0


def _commit() -> str:
    """The commit measured (with "+dirty" when the tree has changes)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{head}+dirty" if dirty else head


if __name__ == "__main__":
    sys.exit(main())
