#!/usr/bin/env python3
"""Issue 16's benchmark: what task secrets add to a task's start, and how fast the secret
reads are against moto.

Task start: `portside up` (fresh data directory, its local agent) with two task definitions
that differ only in 10 `secrets` (4 whole Secrets Manager secrets, 3 JSON keys of another,
3 SSM SecureString parameters): RunTask -> the first DescribeTasks (polled every --poll ms)
showing RUNNING, the two alternating (the order swapping each round), each task stopped
and STOPPED (unmeasured) before the next starts. On the simulated driver, then on a real
Docker Engine (the e2e tests' FROM-scratch busybox); --drivers chooses. Goal: +20 ms or
less at p50.

Secret reads: GetSecretValue and GetParameter (WithDecryption, a SecureString) against a
fresh `portside server` and `moto_server` serving the same calls, from --workers processes,
each with one keep-alive connection, closed loop, requests signed once before the clock
starts and replayed as raw bytes (api_throughput.py's client); rounds alternate the
servers. Prints requests/s, p50/p99 and Portside/moto.

    .venv/bin/python bench/secrets_bench.py            # ~3 minutes
    .venv/bin/python bench/secrets_bench.py --quick    # a smoke run, writes nothing
    .venv/bin/python bench/secrets_bench.py --drivers simulated --no-reads

Writes bench/results/secrets-<short commit>.json (full runs, or with --output).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import multiprocessing as mp
import random
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import time
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api_throughput import (
    ACCESS_KEY,
    BIN,
    ROOT,
    SECRET_KEY,
    Connection,
    Server,
    base_env,
    free_port,
    moto_server,
    percentile,
    portside_server,
    running,
)
from host import load_average, machine, process_cpu
from load_balancer import short_commit
from signed import ApiError, Client, Ecs
from task_start import (
    MEMORY_MIB,
    TRAP_COMMAND,
    _epoch,
    _phases,
    agent_instance_arns,
    busybox,
    docker_time,
    remove_portside_containers,
    wait_for_agent,
)

CLUSTER = "default"  # `portside up` registers its agent here
EXEC_ROLE = "arn:aws:iam::000000000000:role/ecsTaskExecutionRole"
PLAIN, WITH_SECRETS = "bench-plain", "bench-secrets"
TARGET_OVERHEAD_MS = 20.0  # p50 with 10 secrets <= p50 without + this
TASK_TIMEOUT_S = 60.0
VALUE = "bench-value-"  # every stored value starts so: a read answer must show it decrypted
READS = {
    "GetSecretValue": ("secretsmanager", "secretsmanager"),
    "GetParameter": ("ssm", "AmazonSSM"),
}


# -- task start ---------------------------------------------------------------------------------


def execution_role(port: int) -> None:
    """EXEC_ROLE in IAM, trusting ECS and allowed to read every secret: ECS refuses a role it
    cannot assume, and the agent reads the secrets as it."""
    import boto3
    from api_throughput import ACCESS_KEY, REGION, SECRET_KEY

    iam = boto3.client(
        "iam",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    name = EXEC_ROLE.rsplit("/", 1)[1]
    trust = {"Service": "ecs-tasks.amazonaws.com"}
    iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=json.dumps(
            {"Statement": [{"Effect": "Allow", "Principal": trust, "Action": "sts:AssumeRole"}]}
        ),
    )
    everything = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_role_policy(RoleName=name, PolicyName="all", PolicyDocument=json.dumps(everything))


def store_secrets(port: int) -> list[dict[str, str]]:
    """10 task secrets of three kinds, made through the API; their `secrets` entries."""
    execution_role(port)
    sm = Client(port, *READS["GetSecretValue"])
    ssm = Client(port, *READS["GetParameter"])
    refs = []
    try:
        for i in range(4):
            arn = sm.call("CreateSecret", Name=f"bench/whole-{i}", SecretString=f"{VALUE}{i}")
            refs.append({"name": f"WHOLE_{i}", "valueFrom": arn["ARN"]})
        keys = {"user": "app", "password": secrets.token_hex(12), "host": "db.internal"}
        db = sm.call("CreateSecret", Name="bench/db", SecretString=json.dumps(keys))["ARN"]
        refs += [{"name": f"DB_{k.upper()}", "valueFrom": f"{db}:{k}::"} for k in keys]
        for i in range(3):
            name = f"/bench/param-{i}"
            ssm.call("PutParameter", Name=name, Value=f"{VALUE}{i}", Type="SecureString")
            refs.append({"name": f"PARAM_{i}", "valueFrom": name})
    finally:
        sm.close()
        ssm.close()
    return refs


def register(ecs: Ecs, image: str, refs: list[dict[str, str]]) -> None:
    for family, extra in ((PLAIN, {}), (WITH_SECRETS, {"secrets": refs})):
        container = {
            "name": "main",
            "image": image,
            "memory": MEMORY_MIB,
            "essential": True,
            "command": TRAP_COMMAND,  # exits on SIGTERM: a stop takes no stopTimeout
            "stopTimeout": 2,
            **extra,
        }
        ecs.call(
            "RegisterTaskDefinition",
            family=family,
            executionRoleArn=EXEC_ROLE,
            containerDefinitions=[container],
        )


@dataclass
class Start:
    ms: float
    phases: dict[str, float]


def wait_status(ecs: Ecs, arn: str, status: str, poll_s: float, since: float) -> dict[str, Any]:
    describe = ecs.sign("DescribeTasks", {"cluster": CLUSTER, "tasks": [arn]})
    while True:
        t = time.perf_counter()
        (task,) = ecs.send(describe)["tasks"]
        if task["lastStatus"] == status:
            return dict(task)
        if task["lastStatus"] == "STOPPED":
            raise ApiError(f"task {arn} stopped: {task.get('stoppedReason')}")
        if t - since > TASK_TIMEOUT_S:
            raise ApiError(f"task {arn} not {status} in {TASK_TIMEOUT_S:.0f} s")
        time.sleep(max(0.0, poll_s - (time.perf_counter() - t)))


def start_and_stop(ecs: Ecs, family: str, token: str, poll_s: float, docker: Any) -> Start:
    """RunTask -> RUNNING, timed; then StopTask -> STOPPED, untimed. `docker`: the Engine's
    client, whose times split the containers' phase further (None: the simulated driver)."""
    run = ecs.sign("RunTask", {"cluster": CLUSTER, "taskDefinition": family, "clientToken": token})
    at, t0 = time.time(), time.perf_counter()
    out = ecs.send(run)
    if out.get("failures") or not out.get("tasks"):
        raise ApiError(f"RunTask failed: {out.get('failures')}")
    arn = out["tasks"][0]["taskArn"]
    task = wait_status(ecs, arn, "RUNNING", poll_s, t0)
    t1 = time.perf_counter()
    times = {k: _epoch(task.get(k)) for k in ("createdAt", "pullStartedAt", "pullStoppedAt")}
    made = went = None
    if docker is not None:
        state = docker.api.inspect_container(task["containers"][0]["runtimeId"])
        made, went = docker_time(state.get("Created")), docker_time(state["State"]["StartedAt"])
    started = _epoch(task.get("startedAt"))
    phases = _phases(
        [
            ("api: RunTask sent -> createdAt", times["createdAt"], at),
            (
                "agent: createdAt -> pullStartedAt (task, secrets)",
                times["pullStartedAt"],
                times["createdAt"],
            ),
            (
                "pull: pullStartedAt -> pullStoppedAt",
                times["pullStoppedAt"],
                times["pullStartedAt"],
            ),
            ("create: pullStoppedAt -> docker Created", made, times["pullStoppedAt"]),
            ("start: docker Created -> StartedAt", went, made),
            ("report: StartedAt -> startedAt", started, went),
            ("run: pullStoppedAt -> startedAt", None if made else started, times["pullStoppedAt"]),
            ("observe: startedAt -> client sees RUNNING", at + (t1 - t0), started),
        ]
    )
    ecs.call("StopTask", cluster=CLUSTER, task=arn, reason="bench")
    wait_status(ecs, arn, "STOPPED", poll_s, time.perf_counter())
    return Start((t1 - t0) * 1000.0, phases)


def portside_up(workdir: Path, driver: str) -> Server:
    port = free_port()
    env = base_env()
    env.update(PORTSIDE_ACCESS_KEY_ID=ACCESS_KEY, PORTSIDE_SECRET_ACCESS_KEY=SECRET_KEY)
    data = workdir / f"up-{driver}"
    argv = [str(BIN / "portside"), "up", "--data-dir", str(data), "--port", str(port)]
    argv += ["--driver", driver, "--metadata-port", "0"]
    return Server(
        f"portside up --driver {driver}",
        argv,
        port,
        workdir / f"up-{driver}.log",
        env,
        "/_portside/health",
    )


def measure_starts(
    workdir: Path, driver: str, n: int, warmup: int, poll_s: float
) -> dict[str, list[Start]]:
    server = portside_up(workdir, driver)
    image, client = "busybox", None
    if driver == "docker":
        import docker

        client = docker.from_env()
        image = busybox(client)
    samples: dict[str, list[Start]] = {PLAIN: [], WITH_SECRETS: []}
    instances: set[str] = set()
    try:
        with running([server]):
            ecs = Ecs(server.port)
            try:
                instances.update(wait_for_agent(ecs, server))
                register(ecs, image, store_secrets(server.port))
                run_id = secrets.token_hex(4)
                for i in range(warmup + n):
                    order = (PLAIN, WITH_SECRETS) if i % 2 == 0 else (WITH_SECRETS, PLAIN)
                    for family in order:
                        token = f"{run_id}-{i}-{family}"
                        got = start_and_stop(ecs, family, token, poll_s, client)
                        if i >= warmup:
                            samples[family].append(got)
                    if i >= warmup and (i - warmup + 1) % 10 == 0:
                        done = i - warmup + 1
                        print(f"  {driver}: {done}/{n} rounds", flush=True)
            finally:
                ecs.close()
    finally:
        if client is not None:
            instances |= agent_instance_arns(workdir / f"up-{driver}")
            remove_portside_containers(client, instances, set())
    return samples


def start_summary(samples: dict[str, list[Start]]) -> dict[str, Any]:
    def stats(values: Sequence[float]) -> dict[str, float]:
        ordered = sorted(values)
        return {
            "n": len(ordered),
            "p50_ms": round(percentile(ordered, 50), 2),
            "p90_ms": round(percentile(ordered, 90), 2),
            "mean_ms": round(statistics.fmean(ordered), 2),
        }

    plain, with_secrets = samples[PLAIN], samples[WITH_SECRETS]
    out: dict[str, Any] = {
        "without_secrets": stats([s.ms for s in plain]),
        "with_10_secrets": stats([s.ms for s in with_secrets]),
    }
    out["diff_p50_ms"] = round(
        out["with_10_secrets"]["p50_ms"] - out["without_secrets"]["p50_ms"], 2
    )
    out["diff_p90_ms"] = round(
        out["with_10_secrets"]["p90_ms"] - out["without_secrets"]["p90_ms"], 2
    )
    # Each round's pair ran back to back: steadier than the difference of two medians.
    paired = [b.ms - a.ms for a, b in zip(plain, with_secrets, strict=True)]
    out["paired_diff_p50_ms"] = round(statistics.median(paired), 2)
    out["target_met"] = out["diff_p50_ms"] <= TARGET_OVERHEAD_MS
    out["samples_ms"] = {
        "without_secrets": [round(s.ms, 2) for s in plain],
        "with_10_secrets": [round(s.ms, 2) for s in with_secrets],
    }
    out["phases_p50_ms"] = {
        label: {
            name: round(statistics.median(s.phases[name] for s in runs if name in s.phases), 2)
            for name in dict.fromkeys(k for s in runs for k in s.phases)
        }
        for label, runs in (("without_secrets", plain), ("with_10_secrets", with_secrets))
        if runs
    }
    return out


# -- secret reads -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadJob:
    port: int
    requests: list[bytes]
    warmup: float
    duration: float
    seed: int


def read_worker(job: ReadJob, connected: Any, results: Any) -> None:
    """Closed loop over one keep-alive connection, from the moment every worker is
    connected."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn = Connection("127.0.0.1", job.port)
    conn.connect()
    connected.wait(30)
    measure_from = time.monotonic() + job.warmup
    end = measure_from + job.duration
    rng, latencies = random.Random(job.seed), array("d")
    errors = 0
    samples: list[str] = []
    marker = VALUE.encode()
    while (t0 := time.monotonic()) < end:
        try:
            status, body = conn.exchange(job.requests[rng.randrange(len(job.requests))])
        except (OSError, ValueError) as exc:
            conn.close()
            status, body = -1, repr(exc).encode()
        t1 = time.monotonic()
        if status != 200 or marker not in body:
            errors += 1
            if len(samples) < 3:
                samples.append(f"{status} {body[:200]!r}")
        elif t0 >= measure_from and t1 <= end:
            latencies.append((t1 - t0) * 1000.0)
    conn.close()
    results.put({"latencies": latencies.tobytes(), "errors": errors, "samples": samples})


@dataclass
class Reads:
    duration: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    server_cpu_s: float = 0.0
    rounds_rps: list[float] = field(default_factory=list)


def measure_reads(server: Server, requests: list[bytes], args: argparse.Namespace) -> Reads:
    """One window: --workers fresh processes, `warmup` unmeasured seconds, then a round's
    share of --duration measured."""
    duration = args.duration / args.rounds
    ctx = mp.get_context("fork")
    connected, results = ctx.Barrier(args.workers + 1), ctx.Queue()
    jobs = [
        ReadJob(server.port, requests, args.read_warmup, duration, i) for i in range(args.workers)
    ]
    procs = [
        ctx.Process(target=read_worker, args=(j, connected, results), daemon=True) for j in jobs
    ]
    out = Reads(duration=duration)
    try:
        for p in procs:
            p.start()
        connected.wait(30)
        measure_from = time.monotonic() + args.read_warmup
        time.sleep(args.read_warmup)
        before = server.cpu_seconds(process_cpu())
        time.sleep(max(0.0, measure_from + duration - time.monotonic()))
        out.server_cpu_s = server.cpu_seconds(process_cpu()) - before
        for _ in procs:
            r = results.get(timeout=60)
            values = array("d")
            values.frombytes(r["latencies"])
            out.latencies += values
            out.errors += r["errors"]
            out.error_samples += r["samples"]
        for p in procs:
            p.join(10)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
    out.rounds_rps.append(len(out.latencies) / duration)
    return out


def read_requests(port: int, action: str) -> list[bytes]:
    """Store 10 values of the kind `action` reads, check that the server answers them
    decrypted, and return the signed requests that read them."""
    client = Client(port, *READS[action])
    try:
        names = [f"/bench/read-{i}" for i in range(10)]
        if action == "GetSecretValue":
            for i, name in enumerate(names):
                client.call("CreateSecret", Name=name, SecretString=f"{VALUE}{i}")
            raw = [client.sign(action, {"SecretId": name}) for name in names]
            shown = client.send(raw[0])["SecretString"]
        else:
            for i, name in enumerate(names):
                client.call("PutParameter", Name=name, Value=f"{VALUE}{i}", Type="SecureString")
            raw = [client.sign(action, {"Name": n, "WithDecryption": True}) for n in names]
            shown = client.send(raw[0])["Parameter"]["Value"]
    finally:
        client.close()
    if shown != f"{VALUE}0":
        raise RuntimeError(f"{action} on :{port} answered {shown!r}, not the stored value")
    return raw


def compare_reads(workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    servers = {"portside": portside_server(workdir), "moto": moto_server(workdir)}
    totals: dict[str, dict[str, Reads]] = {a: {s: Reads() for s in servers} for a in READS}
    with running(list(servers.values())):
        pools = {a: {s: read_requests(v.port, a) for s, v in servers.items()} for a in READS}
        for action in READS:
            for r in range(args.rounds):
                order = list(servers) if r % 2 == 0 else list(servers)[::-1]
                for name in order:
                    got = measure_reads(servers[name], pools[action][name], args)
                    total = totals[action][name]
                    total.duration += got.duration
                    total.latencies += got.latencies
                    total.errors += got.errors
                    total.error_samples += got.error_samples[: 3 - len(total.error_samples)]
                    total.server_cpu_s += got.server_cpu_s
                    total.rounds_rps += got.rounds_rps
                rps = {s: totals[action][s].rounds_rps[-1] for s in servers}
                print(
                    f"  {action} round {r + 1}/{args.rounds}: "
                    + "  ".join(f"{s} {v:.0f}/s" for s, v in rps.items()),
                    flush=True,
                )
    return {action: read_summary(per) for action, per in totals.items()}


def read_summary(per: dict[str, Reads]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, r in per.items():
        ordered = sorted(r.latencies)
        out[name] = {
            "requests_per_s": round(len(ordered) / r.duration, 1),
            "p50_ms": round(percentile(ordered, 50), 3),
            "p99_ms": round(percentile(ordered, 99), 3),
            "errors": r.errors,
            "error_samples": r.error_samples,
            "server_cpu_us_per_request": round(1e6 * r.server_cpu_s / max(1, len(ordered)), 1),
            "rounds_requests_per_s": [round(x, 1) for x in r.rounds_rps],
        }
    ours, theirs = per["portside"], per["moto"]
    out["ratio_portside_over_moto"] = round(
        out["portside"]["requests_per_s"] / out["moto"]["requests_per_s"], 2
    )
    out["ratio_median_of_rounds"] = round(
        statistics.median(a / b for a, b in zip(ours.rounds_rps, theirs.rounds_rps, strict=True)), 2
    )
    return out


# -- main ---------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--n-sim", type=int, default=60, help="measured rounds, simulated driver")
    p.add_argument("--n-docker", type=int, default=30, help="measured rounds, Docker")
    p.add_argument("--warmup", type=int, default=3, help="unmeasured rounds first")
    p.add_argument("--poll", type=float, default=10.0, help="DescribeTasks poll interval, ms")
    p.add_argument(
        "--drivers", default="simulated,docker", help="where tasks start (comma-separated)"
    )
    p.add_argument("--duration", type=float, default=8.0, help="measured s per server and call")
    p.add_argument("--rounds", type=int, default=4, help="the duration's split; servers alternate")
    p.add_argument("--read-warmup", type=float, default=0.5, help="unmeasured s per round")
    p.add_argument("--workers", type=int, default=4, help="client processes (connections)")
    p.add_argument("--no-reads", action="store_true", help="task starts only; writes nothing")
    p.add_argument("--quick", action="store_true", help="small counts; writes nothing")
    p.add_argument(
        "--output", type=Path, help="results file (default bench/results/secrets-<commit>.json)"
    )
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, data)")
    args = p.parse_args(argv)
    if args.quick:
        args.n_sim, args.n_docker, args.warmup = 10, 4, 1
        args.duration, args.rounds = 2.0, 2
    return args


@contextlib.contextmanager
def workspace(keep: bool) -> Iterator[Path]:
    workdir = Path(tempfile.mkdtemp(prefix="portside-bench-secrets-"))
    failed = True
    try:
        yield workdir
        failed = False
    finally:
        if failed or keep:
            print(f"logs and data kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def docker_answers() -> bool:
    try:
        import docker

        docker.from_env().ping()
        return True
    except Exception as exc:
        print(
            f"no Docker Engine ({exc}): task starts on the simulated driver only", file=sys.stderr
        )
        return False


def report(starts: dict[str, Any], reads: dict[str, Any]) -> None:
    print("\nRunTask -> RUNNING, 10 secrets against none (same run, alternating):")
    for driver, s in starts.items():
        a, b = s["without_secrets"], s["with_10_secrets"]
        print(
            f"  {driver:9}  without p50 {a['p50_ms']:7.1f} p90 {a['p90_ms']:7.1f}   "
            f"with p50 {b['p50_ms']:7.1f} p90 {b['p90_ms']:7.1f}   "
            f"diff p50 {s['diff_p50_ms']:+6.1f} p90 {s['diff_p90_ms']:+6.1f} "
            f"(paired {s['paired_diff_p50_ms']:+.1f}) ms: "
            f"{'met' if s['target_met'] else 'NOT MET'} (<= +{TARGET_OVERHEAD_MS:.0f})"
        )
        for label, phases in s["phases_p50_ms"].items():
            print(
                f"      {label}: "
                + ", ".join(f"{k.split(':')[0]} {v:.1f}" for k, v in phases.items())
            )
    print("\nSecret reads, closed loop:" if reads else "")
    for action, r in reads.items():
        p, m = r["portside"], r["moto"]
        print(
            f"  {action:15} Portside {p['requests_per_s']:7.0f}/s p99 {p['p99_ms']:6.2f} ms   "
            f"moto {m['requests_per_s']:6.0f}/s p99 {m['p99_ms']:6.2f} ms   "
            f"Portside/moto {r['ratio_portside_over_moto']:.2f}x "
            f"(median of rounds {r['ratio_median_of_rounds']:.2f}x)"
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    load_at_start = load_average()
    commit, dirty = short_commit()
    started = time.monotonic()
    drivers = [d for d in args.drivers.split(",") if d != "docker" or docker_answers()]
    with workspace(args.keep) as workdir:
        starts = {}
        for driver in drivers:
            n = args.n_sim if driver == "simulated" else args.n_docker
            print(
                f"task starts on the {driver} driver: {args.warmup} warm-up + {n} rounds",
                flush=True,
            )
            starts[driver] = start_summary(
                measure_starts(workdir, driver, n, args.warmup, args.poll / 1000)
            )
        reads = {}
        if not args.no_reads:
            print(
                f"secret reads: {args.workers} workers, {args.duration:.0f} s per server and call",
                flush=True,
            )
            reads = compare_reads(workdir, args)
    load_at_end = load_average()
    report(starts, reads)
    print(f"\nload average {load_at_start} at start, {load_at_end} at the end")
    errors = sum(r[s]["errors"] for r in reads.values() for s in ("portside", "moto"))
    output = args.output or (
        None
        if args.quick or args.no_reads
        else ROOT / "bench" / "results" / f"secrets-{commit}.json"
    )
    if output is not None:
        document = {
            "benchmark": "secrets",
            "commit": commit,
            "dirty": dirty,
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": {
                **machine(),
                "load_average_at_start": load_at_start,
                "load_average_at_end": load_at_end,
            },
            "settings": {
                "task_start": {
                    "drivers": drivers,
                    "rounds": {"simulated": args.n_sim, "docker": args.n_docker},
                    "warmup_rounds": args.warmup,
                    "poll_interval_ms": args.poll,
                    "secrets": "4 whole Secrets Manager secrets, 3 JSON keys of one, "
                    "3 SSM SecureString parameters",
                    "how": "portside up --driver <d>, fresh data dir; the two task definitions "
                    "alternate (order swapping each round); each task STOPPED before the next",
                },
                "reads": {
                    "workers": args.workers,
                    "duration_s_per_server_and_call": args.duration,
                    "rounds": args.rounds,
                    "warmup_s_per_round": args.read_warmup,
                    "client": "closed loop, one keep-alive connection per worker, requests "
                    "signed once",
                },
                "elapsed_s": round(time.monotonic() - started, 1),
            },
            "task_start": starts,
            "secret_reads": reads,
            "target_start_overhead_p50_ms_max": TARGET_OVERHEAD_MS,
        }
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(document, indent=2) + "\n")
        print(f"wrote {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
