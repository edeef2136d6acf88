#!/usr/bin/env python3
"""ECS API throughput with IAM enforcement on (issue 17): an IAM user whose 20-statement
identity policy allows the mix, against the account's root (never evaluated) in the same run,
on the same server.

api_throughput.py's client and mix (DescribeClusters, DescribeTaskDefinition,
ListTaskDefinitions, RegisterTaskDefinition with tags: one write per ten reads; requests
SigV4-signed once and replayed by worker processes over keep-alive connections), one
`portside server` from the working tree preloaded with 1,000 task definitions. The user's
policy has 20 statements, as a team's policy might: a Deny, NotAction, conditions on
aws:RequestedRegion and ecs:cluster, statements for logs, ssm, ecr and secrets, and the
statements the mix needs last, so every call scans them all. Each call of the user's is
evaluated (its own action, ecs:TagResource beside RegisterTaskDefinition's tags); the root's
never are. Rounds alternate root and user (order reversed each round); the ratio printed is
the median of the per-round user/root requests/s (goal >= 0.9), with the server CPU per
request beside it.

    .venv/bin/python bench/api_throughput_iam.py            # 1 s warm-up + 10 s each
    .venv/bin/python bench/api_throughput_iam.py --quick    # a smoke run, writes nothing

Writes bench/results/api-throughput-iam.json (full runs, or with --output).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import api_throughput as at
import boto3
from botocore.auth import SigV4Auth
from botocore.config import Config
from botocore.credentials import Credentials
from host import busy_percent, load_average, machine

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "bench" / "results" / "api-throughput-iam.json"
ACCOUNT = "000000000000"
USER = "bench-user"
TARGET_RATIO = 0.9


def policy() -> dict[str, Any]:
    """20 statements; those the mix needs come last."""
    ecs = f"arn:aws:ecs:{at.REGION}:{ACCOUNT}"
    region = {"StringEquals": {"aws:RequestedRegion": [at.REGION, "eu-west-1"]}}
    statements: list[dict[str, Any]] = [
        {"Effect": "Deny", "Action": ["ecs:DeleteCluster", "ecs:DeleteService"], "Resource": "*"},
        {"Effect": "Deny", "NotAction": ["ecs:*", "logs:*", "ssm:Get*", "ecr:*"], "Resource": "*",
         "Condition": {"StringEquals": {"aws:RequestedRegion": "ap-south-2"}}},
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": f"arn:aws:logs:{at.REGION}:{ACCOUNT}:log-group:/ecs/*"},
        {"Effect": "Allow", "Action": "logs:Describe*", "Resource": "*"},
        {"Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:GetParameters"],
         "Resource": f"arn:aws:ssm:{at.REGION}:{ACCOUNT}:parameter/bench/*"},
        {"Effect": "Allow", "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
         "Resource": f"arn:aws:ecr:{at.REGION}:{ACCOUNT}:repository/bench-*"},
        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
         "Resource": f"arn:aws:secretsmanager:{at.REGION}:{ACCOUNT}:secret:bench/*"},
        {"Effect": "Allow", "Action": ["ecs:RunTask", "ecs:StartTask"],
         "Resource": f"{ecs}:task-definition/bench-svc-*",
         "Condition": {"ArnEquals": {"ecs:cluster": f"{ecs}:cluster/{at.CLUSTER}"}}},
        {"Effect": "Allow", "Action": "ecs:StopTask", "Resource": f"{ecs}:task/{at.CLUSTER}/*",
         "Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}},
        {"Effect": "Allow", "Action": ["ecs:UpdateService", "ecs:CreateService"],
         "Resource": f"{ecs}:service/{at.CLUSTER}/*"},
        {"Effect": "Allow", "Action": "ecs:ListTasks", "Resource": "*",
         "Condition": {"ArnEquals": {"ecs:cluster": f"{ecs}:cluster/{at.CLUSTER}"}}},
        {"Effect": "Allow", "Action": "iam:PassRole",
         "Resource": f"arn:aws:iam::{ACCOUNT}:role/bench-*",
         "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}},
        {"Effect": "Allow", "Action": "ecs:DescribeServices",
         "Resource": f"{ecs}:service/{at.CLUSTER}/*"},
        {"Effect": "Allow", "Action": "ecs:DescribeTasks",
         "Resource": f"{ecs}:task/{at.CLUSTER}/*"},
        {"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
         "Condition": region},
        # What the mix needs:
        {"Effect": "Allow", "Action": ["ecs:DescribeTaskDefinition", "ecs:ListTaskDefinitions"],
         "Resource": "*", "Condition": region},
        {"Effect": "Allow", "Action": ["ecs:DescribeClusters", "ecs:ListContainerInstances"],
         "Resource": f"{ecs}:cluster/{at.CLUSTER}"},
        {"Effect": "Allow", "Action": "ecs:RegisterTaskDefinition",
         "Resource": f"{ecs}:task-definition/bench-svc-*"},
        {"Effect": "Allow", "Action": "ecs:TagResource", "Resource": "*",
         "Condition": {"StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}}},
    ]  # fmt: skip
    assert len(statements) == 20
    return {"Version": "2012-10-17", "Statement": statements}


def make_user(server: at.Server) -> dict[str, str]:
    """The IAM user, its policy attached, and an access key (made by the root, through IAM)."""
    iam = boto3.client(
        "iam",
        endpoint_url=f"http://127.0.0.1:{server.port}",
        region_name=at.REGION,
        aws_access_key_id=at.ACCESS_KEY,
        aws_secret_access_key=at.SECRET_KEY,
        config=Config(retries={"max_attempts": 1}),
    )
    iam.create_user(UserName=USER, Tags=[{"Key": "team", "Value": "bench"}])
    # A managed policy: 20 statements pass an inline user policy's 2,048 characters.
    text = json.dumps(policy(), separators=(",", ":"))
    arn = iam.create_policy(PolicyName="bench-team", PolicyDocument=text)["Policy"]["Arn"]
    iam.attach_user_policy(UserName=USER, PolicyArn=arn)
    key = iam.create_access_key(UserName=USER)["AccessKey"]
    return {"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}


def signer_for(server: at.Server, key: dict[str, str] | None) -> at.Signer:
    signer = at.Signer("127.0.0.1", server.port)
    if key is not None:
        signer.auth = SigV4Auth(Credentials(key["id"], key["secret"]), "ecs", at.REGION)
    return signer


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per side")
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--preload", type=int, default=1000)
    p.add_argument("--families", type=int, default=50)
    p.add_argument("--reads-per-write", type=int, default=10)
    p.add_argument("--write-variants", type=int, default=4)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="short run; writes no results file")
    p.add_argument("--output", type=Path)
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, data)")
    args = p.parse_args(argv)
    if args.quick:
        args.duration, args.warmup = min(args.duration, 2.0), min(args.warmup, 0.5)
        args.preload, args.families, args.rounds = 200, 10, 2
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = at.Settings(
        workers=args.workers,
        warmup=args.warmup,
        duration=args.duration,
        preload=args.preload,
        families=args.families,
        reads_per_write=args.reads_per_write,
        write_variants=args.write_variants,
        seed=args.seed,
        rounds=args.rounds,
    )
    load: dict[str, Any] = {"load_average_at_start": load_average()}
    load["busy_percent_of_one_core_at_start"] = round(busy_percent(), 1)
    workdir = Path(tempfile.mkdtemp(prefix="portside-bench-iam-"))
    server = at.portside_server(workdir, "portside", ROOT)
    outcomes: dict[str, at.Outcome] = {}
    try:
        with at.running([server]):
            sides = {"root": server, "user": dataclasses.replace(server, name="user")}
            preloaded = at.preload(server, settings)
            key = make_user(server)
            pools = {
                name: at.request_pools(
                    signer_for(server, None if name == "root" else key),
                    settings.families,
                    settings.revisions,
                    settings.write_variants,
                )
                for name in sides
            }
            for name, side in sides.items():
                at.sanity_check(side, pools[name], peer=False)
                outcomes[name] = at.Outcome(server=name, preload_s=preloaded)
            cycle = at.mix_cycle(settings.reads_per_write)
            per_round = settings.duration / settings.rounds
            order = list(sides)
            for r in range(settings.rounds):
                line = []
                for name in order if r % 2 == 0 else order[::-1]:
                    part = at.measure(
                        sides[name],
                        settings,
                        pools[name],
                        warmup=settings.warmup if r < 2 else min(settings.warmup, 0.25),
                        duration=per_round,
                        seed=settings.seed + 100 * r,
                        cycle=cycle,
                    )
                    outcomes[name].add(part)
                    line.append(f"{name} {part.rps:,.0f}")
                print(f"  round {r + 1}: {', '.join(line)} req/s", flush=True)
    finally:
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    load["load_average_at_end"] = load_average()
    cores = os.cpu_count() or 1
    results = {name: at.summary(o, cores) for name, o in outcomes.items()}
    rps = at.ratio(outcomes, "user", "root", TARGET_RATIO)
    cpu = at.ratio(outcomes, "root", "user", None, at.CPU)  # root's CPU/request over user's
    assert rps is not None and cpu is not None
    print()
    at.print_table(results)
    print()
    at.print_ratio("IAM user (20 statements) / root requests/s", rps)
    at.print_ratio("root / IAM user server CPU per request", cpu)
    for name, summary in results.items():
        for sample in summary["error_samples"]:
            print(f"{name} error: {sample}")
    output = args.output or (None if args.quick else DEFAULT_OUTPUT)
    if output is not None:
        doc = {
            "benchmark": "api_throughput_iam",
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": {**machine(), **load},
            "versions": at.versions(),
            "source": at.api_setup.working_tree().as_json(),
            "client": {
                "workers": settings.workers,
                "warmup_s": settings.warmup,
                "duration_s_per_side": settings.duration,
                "rounds": settings.rounds,
                "mix_cycle": [at.ACTIONS[a] for a in cycle],
                "preloaded_task_definitions": settings.families * settings.revisions,
            },
            "policy_statements": len(policy()["Statement"]),
            "policy": policy(),
            "results": results,
            "ratios": {
                "user/root requests_per_s": rps.as_json(),
                "root/user server_cpu_us_per_request": cpu.as_json(),
            },
            "target": {"user_over_root_min": TARGET_RATIO, "met": rps.met},
        }
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"\nwrote {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")
    return 1 if any(r["errors"] for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
