#!/usr/bin/env python3
"""Issue 18's auto scaling benchmark, first figure: seconds from load applied to a service
until it has reached its new desired count with every task RUNNING, through target tracking
on ECS's own CPUUtilization.

One `portside server --metric-period P` (P = --period, 1 s by default: the shortened period
tests and demos use) and one in-process agent on the simulated driver sampling every
--interval seconds. Each round: a fresh service of 2 tasks (1,024 CPU units reserved each),
a scalable target 2-10 and a target tracking policy at 50% CPU; then the load model sets
every container to 90% of its reservation, and the clock runs until the service's desired
count is 4 (ceil(2 x 90 / 50)) and then until 4 tasks are RUNNING. Reported: per round the
two times (load -> desired count, desired count -> RUNNING) and their p50/max.

Computed for AWS's default period (60 s): the scaling action itself and the task starts do
not depend on the period; detection does. With the load applied at a uniformly random point
of a period, the partial period already breaches when more than 5/9 of it was loaded (90 x
f > 50), so AlarmHigh's third breaching datapoint closes on average P/2 + 2P + (5/9)P =
3.06 P after the load, and the evaluator looks `settle(P)` later (cloudwatch/evaluator.py;
3 s at 60 s). So the figure at 60 s = (measured detection - model(P)) + model(60) +
measured start, where model(P) = 3.06 P + settle(P): the overheads measured at P are kept.

    .venv/bin/python bench/autoscaling.py            # 5 rounds at 1 s
    .venv/bin/python bench/autoscaling.py --quick    # 2 rounds, writes nothing

Writes bench/results/autoscaling.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
from api_throughput import ACCESS_KEY, ROOT, SECRET_KEY, portside_server
from botocore.config import Config
from host import load_average, machine
from load_balancer import short_commit

from portside.cloudwatch.evaluator import settle
from portside.testing.agent import start_simulated_agent

REGION = "us-east-1"
DIM = "ecs:service:DesiredCount"
DEFAULT_OUTPUT = ROOT / "bench" / "results" / "autoscaling.json"


def import_dnspython() -> None:
    """bench/dns.py would shadow dnspython, which the in-process agent imports when it starts:
    import it with this directory out of the path first."""
    here = sys.path.pop(0)
    try:
        import portside.dns.server  # noqa: F401
    finally:
        sys.path.insert(0, here)


def detection_model(period: float) -> float:
    return (0.5 + 2 + 5 / 9) * period + settle(int(period))


def client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"max_attempts": 3}),
    )


def wait(check: Any, timeout: float, what: str) -> float:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.02)
    return time.time()


def one_round(ecs: Any, aas: Any, cw: Any, driver: Any, cluster: str, td: str) -> dict[str, float]:
    name = "s" + uuid.uuid4().hex[:8]
    ecs.create_service(cluster=cluster, serviceName=name, taskDefinition=td, desiredCount=2)

    def service() -> dict[str, Any]:
        return dict(ecs.describe_services(cluster=cluster, services=[name])["services"][0])

    wait(lambda: service()["runningCount"] == 2, 60, "2 RUNNING")
    rid = f"service/{cluster}/{name}"
    aas.register_scalable_target(ServiceNamespace="ecs", ResourceId=rid, ScalableDimension=DIM,
                                 MinCapacity=2, MaxCapacity=10)  # fmt: skip
    alarms = aas.put_scaling_policy(
        PolicyName="cpu50", ServiceNamespace="ecs", ResourceId=rid, ScalableDimension=DIM,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 50.0, "ScaleOutCooldown": 600,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
        },
    )["Alarms"]  # fmt: skip
    # A policy in place before the load, as in use: its alarms evaluated on the idle service.
    high = [a["AlarmName"] for a in alarms if "-AlarmHigh-" in a["AlarmName"]]

    def evaluated() -> bool:
        return bool(cw.describe_alarms(AlarmNames=high)["MetricAlarms"][0]["StateValue"] == "OK")

    wait(evaluated, 60, "the policy's alarm evaluated")
    tasks = ecs.list_tasks(cluster=cluster, serviceName=name)["taskArns"]
    start = time.time()
    for arn in tasks:
        driver.load.set(driver.clock(), 0.9 * 1024, 128, task_arn=arn)
    decided = wait(lambda: service()["desiredCount"] == 4, 120, "desired count 4")
    # The new tasks carry the same load (as a spread load would be: 45% each).
    for arn in ecs.list_tasks(cluster=cluster, serviceName=name)["taskArns"]:
        if arn not in tasks:
            driver.load.set(driver.clock(), 0.45 * 1024, 128, task_arn=arn)
    running = wait(lambda: service()["runningCount"] == 4, 120, "4 RUNNING")
    for arn in tasks:
        driver.load.set(driver.clock(), 0.45 * 1024, 128, task_arn=arn)
    aas.deregister_scalable_target(ServiceNamespace="ecs", ResourceId=rid, ScalableDimension=DIM)
    ecs.delete_service(cluster=cluster, service=name, force=True)
    return {"detect": decided - start, "start": running - decided, "total": running - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--period", type=int, default=1)
    parser.add_argument("--interval", type=float, default=0.2, help="agent sampling, seconds")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    rounds = 2 if args.quick else args.rounds
    import_dnspython()
    os.environ["PORTSIDE_STATS_INTERVAL"] = str(args.interval)
    with tempfile.TemporaryDirectory(prefix="bench-autoscaling-") as tmp:
        work = Path(tmp)
        server = portside_server(work)
        server.argv += ["--metric-period", str(args.period)]
        server.start()
        endpoint = f"http://127.0.0.1:{server.port}"
        ecs, aas = client(endpoint, "ecs"), client(endpoint, "application-autoscaling")
        cw = client(endpoint, "cloudwatch")
        cluster = "bench"
        ecs.create_cluster(clusterName=cluster)
        td = ecs.register_task_definition(
            family="burner", cpu="1024", memory="512",
            containerDefinitions=[{"name": "app", "image": "busybox", "memory": 64}],
        )["taskDefinition"]["taskDefinitionArn"]  # fmt: skip
        agent = start_simulated_agent(
            endpoint, ACCESS_KEY, SECRET_KEY, work / "agent", cluster, cpu=65536, memory=65536
        )
        try:
            results = []
            for i in range(rounds):
                r = one_round(ecs, aas, cw, agent.driver, cluster, td)
                print(f"round {i + 1}: load -> desired {r['detect']:.2f} s, "
                      f"-> RUNNING {r['start']:.2f} s, total {r['total']:.2f} s")  # fmt: skip
                results.append(r)
        finally:
            agent.stop()
            server.stop()

    def summary(key: str) -> dict[str, float]:
        values = sorted(r[key] for r in results)
        return {"p50": round(statistics.median(values), 3), "max": round(values[-1], 3)}

    detect, start = summary("detect"), summary("start")
    aws = {
        k: round(detect[k] - detection_model(args.period) + detection_model(60) + start[k], 1)
        for k in ("p50", "max")
    }
    out = {
        "benchmark": "autoscaling",
        "commit": short_commit(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "load_average": load_average(),
        "period_s": args.period,
        "agent_sampling_s": args.interval,
        "rounds": results,
        "load_to_desired_s": detect,
        "desired_to_running_s": start,
        "load_to_running_s": summary("total"),
        "model_detection_s": {
            "at_period": round(detection_model(args.period), 2),
            "at_60": round(detection_model(60), 2),
        },
        "computed_load_to_running_at_60s_period_s": aws,
    }
    print(json.dumps({k: v for k, v in out.items() if k not in ("rounds", "machine")}, indent=1))
    if not args.quick or args.output:
        path = args.output or DEFAULT_OUTPUT
        path.write_text(json.dumps(out, indent=1) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
