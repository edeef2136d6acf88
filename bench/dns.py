#!/usr/bin/env python3
"""Portside's DNS: task names answered per second against dnsmasq, and how fast a task's
name follows the task.

`portside server` (fresh data directory, its DNS on a free loopback port) and a `portside sim`
fleet are started here; `--tasks` awsvpc tasks are run on the fleet, which gives each an
address as an agent does. Then:

- appear: for every task (started `--batch` per RunTask, one by default), the time from the
  change that gives its document an address to the first answer with its address. The
  script reads the feed from the server's database (read-only, polled every `--poll-ms`) and,
  from the moment it reads the change, asks for the name every `--probe-ms`. Two figures
  bracket the truth: from the change's `at` (stamped inside its transaction, before the
  commit that makes it visible: an upper bound, with up to `--probe-ms` more), and from when
  the script read it (after the commit: `from_read_ms`, nearly a lower bound). Goal: p99 of
  the first <= 200 ms.
- throughput: dnsperf (Debian's; same binary, same query file, same load for both) against
  Portside and against dnsmasq serving the same names from a hosts file (`--addn-hosts`,
  `--local` for the zones, so a miss is NXDOMAIN there too, as it is in Portside). Every
  query is one task's A record, the names in random order. Two loads, in `--rounds` rounds
  whose order alternates so load from elsewhere hits both: saturated (`--in-flight` queries
  outstanding, as many as are answered) and paced (`--paced-qps`). queries/s and the
  latency percentiles come from dnsperf's per-query lines (-v). The ratio is the median of
  the rounds' Portside/dnsmasq ratios.
- gone: StopTask on each task; the time from the commit that asks it to stop to the first
  NXDOMAIN, and whether that came before the task's STOPPED commit (the fleet takes
  `--stop-delay-ms` to stop a container, as a container trapping SIGTERM would).

    .venv/bin/python bench/dns.py            # 300 tasks, 3 rounds of 2 x 8 s, ~2 minutes
    .venv/bin/python bench/dns.py --quick    # 50 tasks, 1 round of 3 s, writes nothing

Writes bench/results/dns-<short HEAD>.json (full runs, or with --output). dnsmasq and
dnsperf are Debian packages (`apt-get install dnsmasq-base dnsperf`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
import select
import shutil
import socket
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import orjson
from api_throughput import (
    ACCESS_KEY,
    REGION,
    ROOT,
    SECRET_KEY,
    free_port,
    percentile,
    portside_server,
)
from host import busy_percent, load_average, machine
from placement import portside_sim, processes
from signed import Ecs

# This script is bench/dns.py, and its folder is on sys.path: dnspython's `dns` is found
# with the folder left out.
_HERE = str(Path(__file__).resolve().parent)
_KEPT = list(sys.path)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(_HERE)]
import dns.message  # noqa: E402
import dns.version  # noqa: E402

sys.path[:] = _KEPT

CLUSTER = "dns-bench"
APPEAR_GOAL_MS = 200.0


# -- watching the feed and the names ------------------------------------------------------


@dataclass
class TaskTimes:
    name: str = ""
    addressed_at: float | None = None  # the change that first gave it an address (`at`)
    addressed_seen: float | None = None  # when this script first read that change
    resolved_at: float | None = None  # first answer with the address
    stop_asked_at: float | None = None  # the change with desiredStatus STOPPED (`at`)
    stop_asked_seen: float | None = None
    gone_at: float | None = None  # first NXDOMAIN after that
    stopped_at: float | None = None  # commit with lastStatus STOPPED


class Prober(threading.Thread):
    """Asks for each watched name every `interval` until the answer is the one awaited (an
    address, or NXDOMAIN), and notes when it came."""

    def __init__(self, address: tuple[str, int], interval: float) -> None:
        super().__init__(daemon=True)
        self.address = address
        self.interval = interval
        self.lock = threading.Lock()
        self.pending: dict[str, tuple[bool, TaskTimes]] = {}  # name -> (want present, times)
        self.stopping = False
        self.queries = 0

    def watch(self, times: TaskTimes, present: bool) -> None:
        with self.lock:
            self.pending[times.name] = (present, times)

    def outstanding(self) -> int:
        with self.lock:
            return len(self.pending)

    def run(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.connect(self.address)
        wires: dict[str, bytes] = {}
        ident = 0
        while not self.stopping:
            with self.lock:
                pending = list(self.pending.items())
            asked: dict[int, str] = {}
            for name, _ in pending:
                if name not in wires:
                    wires[name] = dns.message.make_query(name, "A").to_wire()
                ident = (ident + 1) & 0xFFFF
                asked[ident] = name
                sock.send(struct.pack("!H", ident) + wires[name][2:])
                self.queries += 1
            deadline = time.monotonic() + self.interval
            while (left := deadline - time.monotonic()) > 0:
                if not select.select([sock], [], [], left)[0]:
                    break
                data = sock.recv(4096)
                now = time.time()
                name = asked.get(struct.unpack_from("!H", data)[0], "")
                rcode, answers = data[3] & 0xF, struct.unpack_from("!H", data, 6)[0]
                with self.lock:
                    held = self.pending.get(name)
                    if held is None:
                        continue
                    want, times = held
                    if want and rcode == 0 and answers:
                        times.resolved_at = now
                    elif not want and rcode == 3:
                        times.gone_at = now
                    else:
                        continue
                    del self.pending[name]
        sock.close()


class FeedWatch(threading.Thread):
    """Reads the server's change feed (its SQLite database, read-only) for task documents
    and hands their names to the prober as they get an address or are asked to stop."""

    def __init__(self, db: Path, prober: Prober, interval: float) -> None:
        super().__init__(daemon=True)
        self.db = db
        self.prober = prober
        self.interval = interval
        self.tasks: dict[str, TaskTimes] = {}
        self.stopping = False

    def run(self) -> None:
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, check_same_thread=False)
        after = 0
        while not self.stopping:
            rows = conn.execute(
                "SELECT seq, at, key, doc FROM changes WHERE seq > ? AND tbl = 'tasks' "
                "ORDER BY seq",
                (after,),
            ).fetchall()
            for seq, at, key, doc in rows:
                after = seq
                if doc is not None:
                    self._saw(key, at, orjson.loads(doc))
            time.sleep(self.interval)
        conn.close()

    def _saw(self, key: str, at: float, doc: dict[str, Any]) -> None:
        times = self.tasks.setdefault(key, TaskTimes())
        if times.addressed_at is None:
            details = {
                d["name"]: d.get("value")
                for a in doc.get("attachments") or ()
                for d in a.get("details") or ()
            }
            if details.get("privateIPv4Address") and details.get("privateDnsName"):
                times.name = str(details["privateDnsName"]) + "."
                times.addressed_at, times.addressed_seen = at, time.time()
                self.prober.watch(times, present=True)
        if times.stop_asked_at is None and doc.get("desiredStatus") == "STOPPED":
            times.stop_asked_at, times.stop_asked_seen = at, time.time()
            if times.name:
                self.prober.watch(times, present=False)
        if times.stopped_at is None and doc.get("lastStatus") == "STOPPED":
            times.stopped_at = at


def latencies_ms(pairs: list[tuple[float | None, float | None]]) -> dict[str, Any]:
    values = sorted(1000 * (b - a) for a, b in pairs if a is not None and b is not None)
    missing = sum(1 for a, b in pairs if a is not None and b is None)
    return {
        "n": len(values),
        "missing": missing,
        "p50": round(percentile(values, 50), 1),
        "p90": round(percentile(values, 90), 1),
        "p99": round(percentile(values, 99), 1),
        "max": round(values[-1], 1) if values else None,
    }


# -- dnsperf ----------------------------------------------------------------------------------

_LINE = re.compile(r"^> (\S+) \S+ \S+ ([0-9.]+)$")


def dnsperf(port: int, queries: Path, seconds: float, in_flight: int, qps: int | None) -> dict:
    argv = ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", str(queries)]
    argv += ["-l", str(seconds), "-q", str(in_flight), "-t", "2", "-v"]
    if qps:
        argv += ["-Q", str(qps)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    lat: list[float] = []
    codes: dict[str, int] = {}
    for line in out.splitlines():
        found = _LINE.match(line)
        if found:
            codes[found.group(1)] = codes.get(found.group(1), 0) + 1
            lat.append(1000 * float(found.group(2)))
    lat.sort()
    qps_line = re.search(r"Queries per second:\s+([0-9.]+)", out)
    lost = re.search(r"Queries lost:\s+(\d+)", out)
    return {
        "queries_per_s": round(float(qps_line.group(1)), 1) if qps_line else 0.0,
        "answered": len(lat),
        "lost": int(lost.group(1)) if lost else None,
        "rcodes": codes,
        "latency_ms": {
            "p50": round(percentile(lat, 50), 3),
            "p99": round(percentile(lat, 99), 3),
            "max": round(lat[-1], 3) if lat else None,
        },
    }


def dnsmasq(workdir: Path, names: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    hosts = workdir / "hosts"
    hosts.write_text("".join(f"{ip} {name.rstrip('.')}\n" for name, ip in names.items()))
    port = free_port()
    argv = ["dnsmasq", "--no-daemon", "--conf-file=/dev/null", f"--port={port}"]
    argv += ["--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts"]
    argv += [f"--addn-hosts={hosts}", "--local=/ec2.internal/", "--local=/compute.internal/"]
    argv += ["--cache-size=10000", "--local-ttl=5"]
    log = (workdir / "dnsmasq.log").open("ab")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    return proc, port


def wait_answering(port: int, name: str, timeout: float = 10) -> None:
    query = dns.message.make_query(name, "A").to_wire()
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.2)
        while time.monotonic() < deadline:
            sock.sendto(query, ("127.0.0.1", port))
            try:
                if sock.recv(512)[3] & 0xF == 0:
                    return
            except TimeoutError:
                continue
    raise RuntimeError(f"nothing answers {name} on port {port}")


# -- the run ----------------------------------------------------------------------------------


@dataclass
class Settings:
    tasks: int
    instances: int
    seconds: float
    rounds: int
    in_flight: int
    paced_qps: int
    poll_ms: float
    probe_ms: float
    stop_delay_ms: float
    batch: int


@dataclass
class Run:
    settings: Settings
    machine_start: dict[str, Any] = field(default_factory=dict)
    throughput: dict[str, Any] = field(default_factory=dict)
    appear: dict[str, Any] = field(default_factory=dict)
    gone: dict[str, Any] = field(default_factory=dict)


def network(port: int) -> dict[str, Any]:
    """The default VPC's subnets: each task gets an ENI (an address) in one when it starts."""
    keys = {"aws_access_key_id": ACCESS_KEY, "aws_secret_access_key": SECRET_KEY}
    ec2 = boto3.client("ec2", endpoint_url=f"http://127.0.0.1:{port}", region_name=REGION, **keys)
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]]
    return {"awsvpcConfiguration": {"subnets": subnets}}


def wait_for_fleet(ecs: Ecs, instances: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = ecs.call("ListContainerInstances", cluster=CLUSTER, maxResults=100)
        if len(listed["containerInstanceArns"]) >= min(instances, 100):
            return
        time.sleep(0.2)
    raise RuntimeError(f"the fleet did not register in {timeout} s")


def run_tasks(ecs: Ecs, port: int, count: int, batch: int, watch: FeedWatch) -> list[str]:
    awsvpc = network(port)
    family = ecs.call(
        "RegisterTaskDefinition",
        family="dns-bench",
        networkMode="awsvpc",
        containerDefinitions=[{"name": "app", "image": "busybox", "memory": 32}],
    )["taskDefinition"]["taskDefinitionArn"]
    arns: list[str] = []
    while len(arns) < count:
        out = ecs.call(
            "RunTask",
            cluster=CLUSTER,
            taskDefinition=family,
            count=min(batch, count - len(arns)),
            networkConfiguration=awsvpc,
        )
        arns += [t["taskArn"] for t in out["tasks"]]
        if not out["tasks"]:
            time.sleep(0.2)  # the fleet is still registering
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if all(watch.tasks.get(a, TaskTimes()).addressed_at for a in arns):
            return arns
        time.sleep(0.1)
    raise RuntimeError("the tasks did not all get an address in 2 minutes")


def settle(prober: Prober, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while prober.outstanding() and time.monotonic() < deadline:
        time.sleep(0.05)


def measure(workdir: Path, settings: Settings) -> Run:
    run = Run(settings)
    run.machine_start = {
        "load_average_at_start": load_average(),
        "busy_percent_of_one_core_at_start": round(busy_percent(), 1),
    }
    with processes() as started:
        server = portside_server(workdir)
        dns_port = free_port()
        server.argv += ["--dns-port", str(dns_port)]
        server.start()
        started.append(server)
        sim = portside_sim(workdir, server.port, CLUSTER, settings.instances)
        sim.argv += ["--stop-delay-ms", str(settings.stop_delay_ms)]
        ecs = Ecs(server.port)
        ecs.call("CreateCluster", clusterName=CLUSTER)
        sim.start()
        started.append(sim)
        wait_for_fleet(ecs, settings.instances)

        prober = Prober(("127.0.0.1", dns_port), settings.probe_ms / 1000)
        watch = FeedWatch(
            workdir / "portside-data" / "portside.db", prober, settings.poll_ms / 1000
        )
        prober.start()
        watch.start()
        arns = run_tasks(ecs, server.port, settings.tasks, settings.batch, watch)
        settle(prober)
        times = [watch.tasks[a] for a in arns]
        run.appear = latencies_ms([(t.addressed_at, t.resolved_at) for t in times])
        run.appear["from_read_ms"] = latencies_ms(
            [(t.addressed_seen, t.resolved_at) for t in times]
        )
        run.appear["goal_p99_ms"] = APPEAR_GOAL_MS
        run.appear["met"] = run.appear["p99"] <= APPEAR_GOAL_MS and not run.appear["missing"]
        print(f"appear: {run.appear}")

        names = {t.name: "" for t in times}
        for arn, desc in describe(ecs, arns).items():
            details = {d["name"]: d["value"] for d in desc["attachments"][0]["details"]}
            names[watch.tasks[arn].name] = details["privateIPv4Address"]
        run.throughput = throughput(workdir, names, dns_port, settings)

        for arn in arns:
            ecs.call("StopTask", cluster=CLUSTER, task=arn)
        settle(prober)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(t.stopped_at for t in times):
            time.sleep(0.1)
        run.gone = latencies_ms([(t.stop_asked_at, t.gone_at) for t in times])
        run.gone["from_read_ms"] = latencies_ms([(t.stop_asked_seen, t.gone_at) for t in times])
        run.gone["before_stopped"] = sum(
            1 for t in times if t.gone_at and t.stopped_at and t.gone_at < t.stopped_at
        )
        run.gone["stop_asked_to_stopped_ms"] = latencies_ms(
            [(t.stop_asked_at, t.stopped_at) for t in times]
        )
        run.gone["probe_queries"] = prober.queries
        print(f"gone: {run.gone}")
        prober.stopping = watch.stopping = True
    return run


def describe(ecs: Ecs, arns: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for i in range(0, len(arns), 100):
        out = ecs.call("DescribeTasks", cluster=CLUSTER, tasks=arns[i : i + 100])
        found.update({t["taskArn"]: t for t in out["tasks"]})
    return found


def throughput(
    workdir: Path, names: dict[str, str], dns_port: int, settings: Settings
) -> dict[str, Any]:
    queries = workdir / "queries.txt"
    order = list(names)
    random.Random(7).shuffle(order)
    queries.write_text("".join(f"{n.rstrip('.')} A\n" for n in order))
    proc, dnsmasq_port = dnsmasq(workdir, names)
    try:
        wait_answering(dnsmasq_port, order[0])
        wait_answering(dns_port, order[0])
        ports = {"portside": dns_port, "dnsmasq": dnsmasq_port}
        rounds: list[dict[str, Any]] = []
        for r in range(settings.rounds):
            sides = ["portside", "dnsmasq"] if r % 2 == 0 else ["dnsmasq", "portside"]
            one: dict[str, Any] = {"saturated": {}, "paced": {}}
            for side in sides:
                one["saturated"][side] = dnsperf(
                    ports[side], queries, settings.seconds, settings.in_flight, None
                )
                one["paced"][side] = dnsperf(
                    ports[side], queries, settings.seconds, settings.in_flight, settings.paced_qps
                )
            print(f"round {r + 1}: " + json.dumps(one["saturated"]))
            rounds.append(one)
    finally:
        proc.terminate()
        proc.wait(10)
    summary: dict[str, Any] = {"rounds": rounds}
    for load in ("saturated", "paced"):
        per_side = {}
        for side in ("portside", "dnsmasq"):
            runs = [r[load][side] for r in rounds]
            per_side[side] = {
                "queries_per_s_median": statistics.median(x["queries_per_s"] for x in runs),
                "p50_ms_median": statistics.median(x["latency_ms"]["p50"] for x in runs),
                "p99_ms_median": statistics.median(x["latency_ms"]["p99"] for x in runs),
                "lost": sum(x["lost"] or 0 for x in runs),
            }
        ratios = [
            r[load]["portside"]["queries_per_s"] / max(1e-9, r[load]["dnsmasq"]["queries_per_s"])
            for r in rounds
        ]
        per_side["portside_over_dnsmasq_qps"] = round(statistics.median(ratios), 3)
        per_side["ratio_of_medians"] = round(
            per_side["portside"]["queries_per_s_median"]
            / max(1e-9, per_side["dnsmasq"]["queries_per_s_median"]),
            3,
        )
        summary[load] = per_side
    return summary


def dnsperf_version() -> str:
    out = subprocess.run(["dnsperf", "-h"], capture_output=True, text=True, check=False)
    found = re.search(r"Version (\S+)", out.stdout + out.stderr)
    return found.group(1) if found else "unknown"


def versions() -> dict[str, str]:
    def first_line(*argv: str) -> str:
        try:
            out = subprocess.run(argv, capture_output=True, text=True, check=False)
        except OSError:
            return "absent"
        text = (out.stdout or out.stderr).strip().splitlines()
        return text[0] if text else ""

    return {
        "dnspython": dns.version.version,
        "dnsmasq": first_line("dnsmasq", "--version"),
        "dnsperf": dnsperf_version(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=300)
    parser.add_argument("--instances", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=8.0, help="per dnsperf run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--in-flight", type=int, default=100)
    parser.add_argument("--paced-qps", type=int, default=5000)
    parser.add_argument("--poll-ms", type=float, default=5.0, help="feed polling interval")
    parser.add_argument("--probe-ms", type=float, default=5.0, help="name probing interval")
    parser.add_argument("--stop-delay-ms", type=float, default=300.0)
    parser.add_argument("--batch", type=int, default=1, help="tasks per RunTask (1-10)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    for tool in ("dnsmasq", "dnsperf"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: apt-get install dnsmasq-base dnsperf")
    if args.quick:
        args.tasks, args.seconds, args.rounds = 50, 3.0, 1
    settings = Settings(
        args.tasks,
        args.instances,
        args.seconds,
        args.rounds,
        args.in_flight,
        args.paced_qps,
        args.poll_ms,
        args.probe_ms,
        args.stop_delay_ms,
        args.batch,
    )
    workdir = Path(tempfile.mkdtemp(prefix="portside-dns-bench-"))
    try:
        run = measure(workdir, settings)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"kept {workdir}")
    commit = subprocess.run(
        ["git", "--no-optional-locks", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = bool(
        subprocess.run(
            ["git", "--no-optional-locks", "-C", str(ROOT), "status", "--porcelain", "portside"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    )
    result = {
        "benchmark": "dns",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "dirty": dirty,
        "machine": {**machine(), **run.machine_start, "load_average_at_end": load_average()},
        "versions": versions(),
        "settings": vars(settings),
        "client": "dnsperf -q IN_FLIGHT -t 2 -v (saturated), plus -Q PACED_QPS (paced); "
        "probes: this script's UDP client",
        "appear": run.appear,
        "gone": run.gone,
        "throughput": run.throughput,
    }
    sat = run.throughput["saturated"]
    print(
        f"saturated: portside {sat['portside']['queries_per_s_median']:.0f} q/s "
        f"(p99 {sat['portside']['p99_ms_median']} ms), dnsmasq "
        f"{sat['dnsmasq']['queries_per_s_median']:.0f} q/s "
        f"(p99 {sat['dnsmasq']['p99_ms_median']} ms): ratio {sat['portside_over_dnsmasq_qps']}"
    )
    paced = run.throughput["paced"]
    print(
        f"paced {settings.paced_qps} q/s: p99 portside {paced['portside']['p99_ms_median']} ms, "
        f"dnsmasq {paced['dnsmasq']['p99_ms_median']} ms"
    )
    print(f"appear p99 {run.appear['p99']} ms (goal {APPEAR_GOAL_MS}); gone p99 {run.gone['p99']}")
    output = args.output or (None if args.quick else ROOT / "bench/results" / f"dns-{commit}.json")
    if output is not None:
        output.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {output}")


if __name__ == "__main__":
    main()
