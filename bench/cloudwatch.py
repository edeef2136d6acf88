#!/usr/bin/env python3
"""Issue 18's CloudWatch benchmark: PutMetricData datapoints/s and GetMetricData latency over
10,000 series x 1 day of 1-minute data, Portside against moto in the same run.

Data: 10,000 series (namespace Bench, 10 metric names x 1,000 `Task` dimension values), one
datapoint a minute each, for the day before the run. PutMetricData requests carry 1,000
datapoints (one minute of 1,000 series), AWS JSON 1.0 as newer SDKs send it, SigV4-signed,
from --clients threads each with a keep-alive connection.

1. Both servers, same data: the first --peer-minutes of the day (10,000 x 60 = 600,000
   datapoints by default) put into a fresh `portside server` and a fresh `moto_server`;
   datapoints/s of each. Then GetMetricData over that hour (10 MetricStat queries at 60 s;
   moto has no metric math, so none here), --queries times on Portside and --peer-queries
   on moto: p50/p99 and the ratio.
2. Portside alone at full scale: the rest of the day (14.4 M datapoints in all), then
   GetMetricData over the whole day: one series (1,440 points), 10 series with a SUM,
   100 series at 300 s. moto holds every datapoint as a Python object and scans them all for
   each query, so it is not loaded with the full day (memory); its figures are from step 1.

    .venv/bin/python bench/cloudwatch.py             # ~15 minutes on 2 cores
    .venv/bin/python bench/cloudwatch.py --quick     # 1,000 series x 30 min, writes nothing

Writes bench/results/cloudwatch.json (full runs, or with --output).
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from api_throughput import (
    ACCESS_KEY,
    REGION,
    SECRET_KEY,
    Connection,
    Server,
    moto_server,
    percentile,
    portside_server,
)
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from host import load_average, machine
from load_balancer import short_commit

TARGET = "GraniteServiceVersion20100801"
NAMES = 10
BATCH = 1000
RESULTS = Path(__file__).resolve().parent / "results"


class Client:
    """Signed CloudWatch JSON 1.0 calls over one keep-alive connection."""

    def __init__(self, port: int) -> None:
        self.netloc = f"127.0.0.1:{port}"
        self.conn = Connection("127.0.0.1", port, timeout=600)
        self.auth = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "monitoring", REGION)

    def call(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        body = orjson.dumps(params)
        request = AWSRequest(
            method="POST",
            url=f"http://{self.netloc}/",
            data=body,
            headers={
                "Content-Type": "application/x-amz-json-1.0",
                "X-Amz-Target": f"{TARGET}.{action}",
                "x-amzn-query-mode": "true",
            },
        )
        self.auth.add_auth(request)
        lines = [b"POST / HTTP/1.1", f"Host: {self.netloc}".encode()]
        lines += [f"{k}: {v}".encode() for k, v in request.headers.items()]
        lines += [f"Content-Length: {len(body)}".encode(), b"", b""]
        for attempt in range(2):
            try:
                status, answer = self.conn.exchange(b"\r\n".join(lines) + body)
                break
            except (OSError, ValueError):
                self.conn.close()
                if attempt:
                    raise
        if status != 200:
            raise RuntimeError(f"{action}: HTTP {status}: {answer[:300]!r}")
        return orjson.loads(answer) if answer else {}

    def close(self) -> None:
        self.conn.close()


def series_datum(i: int) -> tuple[str, list[dict[str, str]]]:
    return f"M{i % NAMES}", [{"Name": "Task", "Value": f"task-{i // NAMES:04d}"}]


def put_body(series: int, first: int, minute_ts: int) -> dict[str, Any]:
    data = []
    for i in range(first, min(first + BATCH, series)):
        name, dims = series_datum(i)
        data.append(
            {
                "MetricName": name,
                "Dimensions": dims,
                "Timestamp": minute_ts,
                "Value": float((i * 7 + minute_ts // 60) % 100),
                "Unit": "Percent",
            }
        )
    return {"Namespace": "Bench", "MetricData": data}


def load(server: Server, series: int, start: int, minutes: range, clients: int) -> float:
    """Put `minutes` of every series; returns datapoints/s."""
    jobs = [(m, f) for m in minutes for f in range(0, series, BATCH)]
    counter = itertools.count()
    errors: list[BaseException] = []

    def work() -> None:
        client = Client(server.port)
        try:
            while not errors:
                n = next(counter)
                if n >= len(jobs):
                    return
                minute, first = jobs[n]
                client.call("PutMetricData", put_body(series, first, start + 60 * minute))
        except BaseException as exc:
            errors.append(exc)
        finally:
            client.close()

    began = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return series * len(minutes) / (time.perf_counter() - began)


def stat_query(qid: str, i: int, period: int) -> dict[str, Any]:
    name, dims = series_datum(i)
    metric = {"Namespace": "Bench", "MetricName": name, "Dimensions": dims}
    return {"Id": qid, "MetricStat": {"Metric": metric, "Period": period, "Stat": "Average"}}


def timed(server: Server, params: Callable[[int], dict[str, Any]], rounds: int,
          expect: int) -> list[float]:  # fmt: skip
    client = Client(server.port)
    took = []
    try:
        for r in range(rounds):
            began = time.perf_counter()
            answer = client.call("GetMetricData", params(r))
            took.append((time.perf_counter() - began) * 1000)
            got = sum(len(res["Values"]) for res in answer["MetricDataResults"])
            if got < expect:
                raise RuntimeError(f"{server.name}: GetMetricData gave {got} points, not {expect}")
    finally:
        client.close()
    return sorted(took)


def summary(ms: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(ms, 50), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
        "min_ms": round(ms[0], 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--series", type=int, default=10_000)
    ap.add_argument("--minutes", type=int, default=1440)
    ap.add_argument("--peer-minutes", type=int, default=60)
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--queries", type=int, default=30)
    # moto scans every datapoint it holds for each query (~40 s a call at 600,000 of them)
    ap.add_argument("--peer-queries", type=int, default=5)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--output", type=Path)
    args = ap.parse_args()
    if args.quick:
        args.series, args.minutes, args.peer_minutes, args.queries = 1000, 30, 10, 5
        args.peer_queries = 3
    now = int(time.time() // 60 * 60)
    start = now - args.minutes * 60
    workdir = Path(tempfile.mkdtemp(prefix="cw-bench-"))
    portside, moto = portside_server(workdir), moto_server(workdir)
    result: dict[str, Any] = {
        "benchmark": "cloudwatch",
        "series": args.series,
        "minutes": args.minutes,
        "peer_minutes": args.peer_minutes,
        "datapoints_per_request": BATCH,
        "clients": args.clients,
        "machine": machine(),
    }
    try:
        portside.start()
        moto.start()
        peer = range(args.peer_minutes)
        rates = {s.name: load(s, args.series, start, peer, args.clients) for s in (portside, moto)}
        result["put_equal"] = {k: round(v) for k, v in rates.items()}
        result["put_equal"]["ratio"] = round(rates["portside"] / rates["moto"], 2)
        print(f"PutMetricData, {args.series} x {args.peer_minutes} min: "
              f"portside {rates['portside']:,.0f} dp/s, moto {rates['moto']:,.0f} dp/s, "
              f"ratio {rates['portside'] / rates['moto']:.2f}x")  # fmt: skip
        hour_end = start + args.peer_minutes * 60

        def ten(r: int) -> dict[str, Any]:
            base = (r * 37) % (args.series - 10)
            queries = [stat_query(f"m{k}", base + k, 60) for k in range(10)]
            return {"MetricDataQueries": queries, "StartTime": start, "EndTime": hour_end}

        expect = 10 * args.peer_minutes
        lat = {
            "portside": timed(portside, ten, args.queries, expect),
            "moto": timed(moto, ten, args.peer_queries, expect),
        }
        result["get_equal"] = {k: summary(v) for k, v in lat.items()}
        ratio = percentile(lat["moto"], 50) / percentile(lat["portside"], 50)
        result["get_equal"]["moto_over_portside_p50"] = round(ratio, 2)
        print(f"GetMetricData (10 series, {args.peer_minutes} min): portside "
              f"p50 {percentile(lat['portside'], 50):.1f} ms, moto "
              f"p50 {percentile(lat['moto'], 50):.1f} ms; moto/portside {ratio:.2f}x")  # fmt: skip
        moto.stop()
        rest = range(args.peer_minutes, args.minutes)
        full_rate = load(portside, args.series, start, rest, args.clients)
        result["put_full"] = {"portside": round(full_rate)}
        print(f"PutMetricData, the rest of {args.series} x {args.minutes} min: "
              f"portside {full_rate:,.0f} dp/s")  # fmt: skip
        day_end = start + args.minutes * 60
        shapes: dict[str, tuple[Callable[[int], dict[str, Any]], int]] = {
            "one_series_day_60s": (
                lambda r: {"MetricDataQueries": [stat_query("m", r % args.series, 60)],
                           "StartTime": start, "EndTime": day_end},
                args.minutes,
            ),
            "ten_series_sum_day_60s": (
                lambda r: {"MetricDataQueries": [
                    *(stat_query(f"m{k}", (r * 11 + k) % args.series, 60) for k in range(10)),
                    {"Id": "total", "Expression": "SUM(METRICS())"}],
                    "StartTime": start, "EndTime": day_end},
                11 * args.minutes,
            ),
            "hundred_series_day_300s": (
                lambda r: {"MetricDataQueries": [
                    stat_query(f"m{k}", (r * 101 + k) % args.series, 300) for k in range(100)],
                    "StartTime": start, "EndTime": day_end},
                100 * (args.minutes // 5),
            ),
        }  # fmt: skip
        result["get_full"] = {}
        for label, (params, points) in shapes.items():
            ms = timed(portside, params, args.queries, points)
            result["get_full"][label] = summary(ms)
            print(f"GetMetricData {label}: p50 {percentile(ms, 50):.1f} ms, "
                  f"p99 {percentile(ms, 99):.1f} ms")  # fmt: skip
        db = portside_data(workdir) / "metrics.db"
        result["metrics_db_bytes"] = sum(
            p.stat().st_size for p in db.parent.glob("metrics.db*") if p.exists()
        )
        commit, dirty = short_commit()
        result.update(commit=commit, dirty=dirty, load_average=load_average())
    finally:
        portside.stop()
        moto.stop()
    print(json.dumps(result, indent=2))
    if args.output or not args.quick:
        out = args.output or RESULTS / "cloudwatch.json"
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {out}")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


def portside_data(workdir: Path) -> Path:
    return workdir / "portside-data"


if __name__ == "__main__":
    sys.exit(main())
