#!/usr/bin/env python3
"""ECS's own metrics: what sampling 1,000 simulated tasks and publishing their AWS/ECS
metrics costs the control plane, in CPU seconds per minute, against the same control plane
with neither (issue 18's "control-plane CPU cost of sampling 1,000 simulated tasks every
minute").

Two phases in one run, each on a fresh `portside server` and `portside sim` (10 tasks an
instance) running one service of --tasks tasks, measured once the service is steady over
--rounds rounds of --window seconds (the median round counts):

- baseline: the agents send no samples (PORTSIDE_STATS_INTERVAL=0) and the publisher has
  nothing to do (--metric-period 86400: its one pass is at start, before the window);
- metrics: the agents sample every --interval seconds (15, the agent's default) and the
  publisher publishes every --period seconds (60, AWS's), the cluster with Container
  Insights enabled (--insights) or not.

The difference is the cost of ECS metrics; the sim's CPU is shown for the agents' side. The
publisher's own pass time comes from the server's `/metrics` (loop durations). Writes
bench/results/ecs-metrics.json.

    .venv/bin/python bench/ecs_metrics.py                       # 1,000 tasks, ~9 minutes
    .venv/bin/python bench/ecs_metrics.py --quick               # 200 tasks, short; no file
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import httpx
from api_throughput import ACCESS_KEY, ROOT, SECRET_KEY, load_average, machine, process_cpu
from botocore.config import Config
from services import (
    REGION,
    SIM_CLUSTER,
    Profiler,
    create_service,
    portside_server,
    portside_sim,
    print_profile,
    processes,
    steady,
    wait_for,
    wait_for_fleet,
)
from signed import Ecs

DEFAULT_OUTPUT = ROOT / "bench" / "results" / "ecs-metrics.json"
SERVICE = "metered"
TASKS_PER_INSTANCE = 10


def group_cpu(group: int) -> float:
    return sum(cpu for _, g, cpu in process_cpu().values() if g == group)


def loop_busy(port: int, loop: str) -> float | None:
    """Seconds the server's loop `loop` spent in its passes so far (its /metrics)."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    except httpx.HTTPError:
        return None
    for line in text.splitlines():
        if line.startswith("portside_loop_pass_duration_seconds_sum") and f'loop="{loop}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return None


def phase(args: argparse.Namespace, workdir: Path, *, metrics: bool) -> dict[str, Any]:
    name = "metrics" if metrics else "baseline"
    instances = max(1, args.tasks // TASKS_PER_INSTANCE)
    work = workdir / name
    work.mkdir()
    with processes() as started:
        server = portside_server(work)
        server.argv += ["--metric-period", str(args.period if metrics else 86400)]
        server.start()
        started.append(server)
        ecs = Ecs(server.port)
        settings = [
            {"name": "containerInsights", "value": "enabled" if args.insights else "disabled"}
        ]
        ecs.call("CreateCluster", clusterName=SIM_CLUSTER, settings=settings)
        sim = portside_sim(work, server.port, instances)
        sim.env["PORTSIDE_STATS_INTERVAL"] = str(args.interval if metrics else 0)
        sim.start()
        started.append(sim)
        wait_for_fleet(ecs, instances, sim, timeout=120)
        td = ecs.call(
            "RegisterTaskDefinition",
            family="metered",
            cpu="256",
            memory="128",
            containerDefinitions=[{"name": "app", "image": "busybox", "essential": True}],
        )["taskDefinition"]["taskDefinitionArn"]
        create_service(ecs, SIM_CLUSTER, SERVICE, td, args.tasks)
        wait_for(ecs, SIM_CLUSTER, SERVICE, steady(args.tasks), timeout=300)
        time.sleep(args.settle)  # the first samples in, the start's work done
        assert server.proc is not None and sim.proc is not None
        profiler = Profiler(server.proc.pid, work / "server.spy") if args.profile else None
        rounds: list[dict[str, float]] = []
        for _ in range(args.rounds):
            busy0 = loop_busy(server.port, "ecs-metrics") or 0.0
            server0, sim0 = group_cpu(server.proc.pid), group_cpu(sim.proc.pid)
            t0 = time.monotonic()
            time.sleep(args.window)
            server1, sim1 = group_cpu(server.proc.pid), group_cpu(sim.proc.pid)
            elapsed = time.monotonic() - t0
            busy1 = loop_busy(server.port, "ecs-metrics") or 0.0
            rounds.append(
                {
                    "server": round(60 * (server1 - server0) / elapsed, 3),
                    "sim": round(60 * (sim1 - sim0) / elapsed, 3),
                    "publisher": round(60 * (busy1 - busy0) / elapsed, 3),
                }
            )
        if profiler is not None:
            print_profile(profiler.finish(), f"server, {name}")
        out: dict[str, Any] = {
            "window_s": args.window,
            "rounds": rounds,
            # The median round: another process's burst on this shared machine, or the
            # fleet's own occasional work, lands in one round, not in the figure.
            "server_cpu_s_per_min": statistics.median(r["server"] for r in rounds),
            "sim_cpu_s_per_min": statistics.median(r["sim"] for r in rounds),
            "publisher_pass_s_per_min": statistics.median(r["publisher"] for r in rounds),
            "load_average": load_average(),
        }
        if metrics:
            out["cpu_utilization"] = _check(server.port, args)
        return out


def _check(port: int, args: argparse.Namespace) -> dict[str, int]:
    """The service's CPUUtilization datapoints over the run (there must be some), and the
    task values they hold (their SampleCounts)."""
    cw = boto3.client(
        "cloudwatch",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"max_attempts": 1}),
    )
    now = time.time()
    points = cw.get_metric_statistics(
        Namespace="AWS/ECS",
        MetricName="CPUUtilization",
        Dimensions=[
            {"Name": "ClusterName", "Value": SIM_CLUSTER},
            {"Name": "ServiceName", "Value": SERVICE},
        ],
        StartTime=now - args.rounds * args.window - args.settle - 120,
        EndTime=now,
        Period=args.period,
        Statistics=["SampleCount"],
    )["Datapoints"]
    if not points:
        raise RuntimeError("no CPUUtilization datapoint was published")
    return {"datapoints": len(points), "tasks_in_them": sum(int(p["SampleCount"]) for p in points)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--window", type=float, default=60.0, help="seconds a round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds a phase (median)")
    parser.add_argument("--settle", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=15.0, help="agents' sampling, s")
    parser.add_argument("--period", type=int, default=60, help="--metric-period")
    parser.add_argument("--insights", action="store_true", help="Container Insights on")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--profile", action="store_true", help="py-spy the server (no file)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    if args.quick:
        args.tasks, args.window, args.settle, args.interval, args.period = 200, 20.0, 5.0, 2.0, 10
        args.rounds = 1
    with tempfile.TemporaryDirectory(prefix="bench-ecs-metrics-") as tmp:
        baseline = phase(args, Path(tmp), metrics=False)
        measured = phase(args, Path(tmp), metrics=True)
    extra = measured["server_cpu_s_per_min"] - baseline["server_cpu_s_per_min"]
    result = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "tasks": args.tasks,
        "instances": max(1, args.tasks // TASKS_PER_INSTANCE),
        "sampling_interval_s": args.interval,
        "metric_period_s": args.period,
        "container_insights": args.insights,
        "baseline": baseline,
        "metrics": measured,
        "extra_server_cpu_s_per_min": round(extra, 3),
        "ratio": round(
            measured["server_cpu_s_per_min"] / max(1e-9, baseline["server_cpu_s_per_min"]), 2
        ),
        "extra_sim_cpu_s_per_min": round(
            measured["sim_cpu_s_per_min"] - baseline["sim_cpu_s_per_min"], 3
        ),
    }
    print(
        f"{args.tasks} simulated tasks, samples every {args.interval:g} s, "
        f"published every {args.period} s"
    )
    print(f"  control plane, baseline : {baseline['server_cpu_s_per_min']:.3f} CPU-s/min")
    print(f"  control plane, metrics  : {measured['server_cpu_s_per_min']:.3f} CPU-s/min")
    print(f"  difference              : {extra:+.3f} CPU-s/min  (x{result['ratio']})")
    print(f"  publisher passes        : {measured['publisher_pass_s_per_min']:.3f} s/min")
    print(f"  sim (agents) difference : {result['extra_sim_cpu_s_per_min']:+.3f} CPU-s/min")
    if not (args.quick or args.profile):
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.output}")
    else:
        json.dump(result, sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
