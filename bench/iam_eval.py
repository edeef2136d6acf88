#!/usr/bin/env python3
"""Issue 17's micro-benchmark: what one policy evaluation costs, for a caller with a
20-statement identity policy (the API throughput goal, >= 0.9x of no enforcement, leaves a
few microseconds per call for the decision).

Two ways to reach the same decisions, over the same mix of requests (RunTask with
ecs:cluster, DescribeTasks on three tasks, StopTask on a tagged task with a policy variable,
ListClusters, a refused CreateService, an explicit Deny):

- compiled: `evaluate()` with the document compiled once and kept (the way enforcement
  runs: `compile_policy` caches by text, each policy keeps its statements per action);
- naive: the document parsed from its JSON text and compiled again on every call.

Prints microseconds per evaluation (median of --rounds) and naive/compiled.

    .venv/bin/python bench/iam_eval.py            # ~10 s
    .venv/bin/python bench/iam_eval.py --quick    # a smoke run, writes nothing

Writes bench/results/iam-eval-<short commit>.json (full runs, or with --output).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from portside.iam.policy import Caller, Request, Target, evaluate  # noqa: E402
from portside.iam.policy.compiled import CompiledPolicy, compile_policy  # noqa: E402
from portside.iam.policy.document import parse  # noqa: E402

ACCOUNT = "123456789012"
REGION = "us-east-1"


def arn(resource: str) -> str:
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:{resource}"


def policy_text() -> str:
    """20 statements of the kinds ECS users write: read-only wildcards, one cluster's writes,
    tag conditions with a policy variable, a Deny, other services' grants."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "Read",
            "Effect": "Allow",
            "Action": ["ecs:Describe*", "ecs:List*"],
            "Resource": "*",
        },
        {
            "Sid": "RunOnProd",
            "Effect": "Allow",
            "Action": "ecs:RunTask",
            "Resource": arn("task-definition/web:*"),
            "Condition": {"ArnEquals": {"ecs:cluster": arn("cluster/prod")}},
        },
        {
            "Sid": "StopTeamTasks",
            "Effect": "Allow",
            "Action": "ecs:StopTask",
            "Resource": arn("task/*"),
            "Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}},
        },
        {
            "Sid": "NoDeletes",
            "Effect": "Deny",
            "Action": ["ecs:Delete*", "ecs:Deregister*"],
            "Resource": "*",
        },
        {
            "Sid": "Exec",
            "Effect": "Allow",
            "Action": "ecs:ExecuteCommand",
            "Resource": [arn("cluster/prod"), arn("task/prod/*")],
            "Condition": {"StringEquals": {"ecs:container-name": "app"}},
        },
        {
            "Sid": "FromOffice",
            "Effect": "Deny",
            "Action": "ecs:UpdateService",
            "Resource": "*",
            "Condition": {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}},
        },
        {
            "Sid": "Tagging",
            "Effect": "Allow",
            "Action": "ecs:TagResource",
            "Resource": "*",
            "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}},
        },
    ]
    for i in range(13):
        statements.append(
            {"Sid": f"Other{i}", "Effect": "Allow",
             "Action": ["logs:PutLogEvents", "ssm:GetParameter*", f"secretsmanager:Get{i}*"],
             "Resource": [f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/team{i}/*",
                          f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/team{i}/*"],
             "Condition": {"StringLike": {"aws:RequestTag/owner": [f"team{i}-*"]}}}
        )  # fmt: skip
    assert len(statements) == 20
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def requests() -> list[tuple[Request, bool]]:
    alice = Caller(
        arn=f"arn:aws:iam::{ACCOUNT}:user/alice",
        account=ACCOUNT,
        user_name="alice",
        user_id="AIDAEXAMPLEALICE",
        tags={"team": "blue"},
    )
    prod = {"ecs:cluster": arn("cluster/prod")}
    tasks = [Target(arn(f"task/prod/{i:032x}"), prod) for i in range(3)]
    tagged = Target(arn("task/prod/" + "f" * 32), {**prod, "aws:ResourceTag/team": "blue"})
    return [
        (Request.of("ecs:RunTask", alice, [arn("task-definition/web:7")], prod), True),
        (Request.of("ecs:DescribeTasks", alice, tasks), True),
        (Request.of("ecs:StopTask", alice, [tagged]), True),
        (Request.of("ecs:ListClusters", alice), True),
        (Request.of("ecs:CreateService", alice, [arn("service/prod/web")], prod), False),
        (Request.of("ecs:DeleteCluster", alice, [arn("cluster/prod")]), False),
    ]


def run(fn: Any, n: int) -> float:
    """Microseconds per call of fn over n calls."""
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer calls; writes no results file")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--calls", type=int, default=20000, help="evaluations per round (compiled)")
    p.add_argument("--output", type=Path)
    args = p.parse_args()
    calls = 2000 if args.quick else args.calls
    rounds = 3 if args.quick else args.rounds
    text = policy_text()
    mix = requests()
    for request, expected in mix:  # both ways agree, and with what the mix says
        assert evaluate(request, [text]).allowed is expected, request.action
        naive = CompiledPolicy(parse(text))
        assert evaluate(request, [naive]).allowed is expected, request.action

    compiled = compile_policy(text)
    state = {"i": 0}

    def cached() -> None:
        request = mix[state["i"] % len(mix)][0]
        state["i"] += 1
        evaluate(request, [compiled])

    def cached_text() -> None:
        request = mix[state["i"] % len(mix)][0]
        state["i"] += 1
        evaluate(request, [text])  # through compile_policy's cache, as enforcement may call it

    def reparsed() -> None:
        request = mix[state["i"] % len(mix)][0]
        state["i"] += 1
        evaluate(request, [CompiledPolicy(parse(text))])

    figures: dict[str, list[float]] = {"compiled": [], "cached_text": [], "naive": []}
    for _ in range(rounds):
        figures["compiled"].append(run(cached, calls))
        figures["cached_text"].append(run(cached_text, calls))
        figures["naive"].append(run(reparsed, max(calls // 20, 100)))
    med = {k: statistics.median(v) for k, v in figures.items()}
    ratio = med["naive"] / med["compiled"]
    print(f"20-statement policy, {len(mix)} requests in the mix, {rounds} rounds (median)")
    print(f"  compiled once        {med['compiled']:8.2f} us/evaluation")
    print(f"  by text (cached)     {med['cached_text']:8.2f} us/evaluation")
    print(f"  re-parsed each call  {med['naive']:8.2f} us/evaluation")
    print(f"  naive / compiled     {ratio:8.1f}x")
    if args.quick and not args.output:
        return
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    out = args.output or ROOT / "bench" / "results" / f"iam-eval-{commit}.json"
    out.write_text(
        json.dumps(
            {
                "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "machine": platform.node(),
                "python": platform.python_version(),
                "commit": commit,
                "rounds": rounds,
                "calls": calls,
                "us_per_evaluation": med,
                "rounds_us": figures,
                "naive_over_compiled": ratio,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
