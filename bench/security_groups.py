#!/usr/bin/env python3
"""Security groups on 100 running awsvpc tasks (issue 14's benchmark): how soon a rule
change holds for all of them, and what writing the host's chains costs against writing the
same rules one `iptables -A` at a time.

Setup: `portside server` (fresh data dir) and `portside agent --driver docker` on it, a VPC
with one /24 subnet, `--tasks` (100) awsvpc tasks in the VPC's default group and one more
(the prober) in a group of its own. Each task is a pause container and one busybox
`sleep` (nothing listens: a probe that gets a TCP RST has crossed the firewall, one whose
SYN is dropped times out).

1. effect: a prober process (this script with --probe) runs inside the prober task's network
   namespace (nsenter), opening a TCP connection to port 8080 of every task again and again
   (non-blocking, 50 ms rounds). AuthorizeSecurityGroupIngress (the prober's group on 8080)
   is called; measured from its return to each task's first RST, per task, and the time by
   which all had it; then RevokeSecurityGroupIngress, to the time by which every task drops
   the prober's SYNs again (a task counts as dropping when 3 rounds in a row time out).
   `--rounds` times each.
2. restore: the host's view with every task, fetched from the gateway as the agent does,
   compiled (agent/firewall/compile.py) and written by `Firewall.apply` under a bench owner
   (chains of their own, no jump: packets never see them): iptables-restore's time, fresh
   and rewriting the same chains, `--rounds` times. Baseline: the same rules, one
   `iptables -w -A CHAIN ...` process per rule (chains made with `iptables -N`), in the same
   run. Reported: both times, the rules, and the ratio.

    .venv/bin/python bench/security_groups.py               # ~3-6 minutes
    .venv/bin/python bench/security_groups.py --tasks 10 --rounds 1 --no-write

Writes bench/results/security-groups.json. The tasks, the agent's chains and the bench's
chains are removed on the way out, whatever happens.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "security-groups.json"
PORT = 8080
ROUND_S = 0.05


# -- the prober (inside the prober task's network namespace) --------------------------------


def probe(addresses: list[str], want_open: bool, limit: float) -> dict[str, float]:
    """Each address -> when (epoch s) it first answered (want_open) or dropped 3 rounds in a
    row (not want_open). Prints "ready" after the first round."""
    seen: dict[str, float] = {}
    drops: dict[str, int] = dict.fromkeys(addresses, 0)
    deadline = time.time() + limit
    first = True
    while len(seen) < len(addresses) and time.time() < deadline:
        sel = selectors.DefaultSelector()
        socks = []
        for address in addresses:
            if address in seen:
                continue
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex((address, PORT))
            sel.register(s, selectors.EVENT_WRITE, address)
            socks.append(s)
        answered: set[str] = set()
        end = time.time() + ROUND_S
        while (left := end - time.time()) > 0 and len(answered) < len(socks):
            for key, _ in sel.select(left):
                sock: Any = key.fileobj
                if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) in (0, errno.ECONNREFUSED):
                    answered.add(key.data)
                sel.unregister(sock)
        now = time.time()
        sel.close()
        for s in socks:
            s.close()
        for address in [a for a in addresses if a not in seen]:
            if want_open:
                if address in answered:
                    seen[address] = now
                continue
            drops[address] = 0 if address in answered else drops[address] + 1
            if drops[address] >= 3:
                seen[address] = now
        if first:
            print("ready", flush=True)
            first = False
    return seen


def probe_main(args: argparse.Namespace) -> int:
    addresses = args.addresses.split(",")
    found = probe(addresses, args.want == "open", args.limit)
    print(json.dumps(found), flush=True)
    return 0


# -- the run ----------------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        sys.path.insert(0, str(ROOT / "tests"))
        from aws_query import query_client
        from e2e.conftest import AgentProcess
        from harness import ServerProcess

        self.args = args
        self.server = ServerProcess(work / "data").start()
        self.ecs = self.server.client("ecs")
        self.ec2 = query_client(self.server, "ec2")
        self.cluster = "sg-bench-" + uuid.uuid4().hex[:6]
        self.ecs.create_cluster(clusterName=self.cluster)
        self.agent = AgentProcess(self.server, self.cluster, work / "agent")
        self.agent.start()

    def close(self) -> None:
        from e2e.conftest import remove_made_by

        from portside.agent.firewall.apply import Firewall
        from portside.agent.firewall.compile import owner_id

        arns = set(self.agent.instance_arns)
        self.agent.kill()
        if self.args.agent_log:
            Path(self.args.agent_log).write_text(self.agent.log())
        remove_made_by(arns)
        for arn in arns:
            with contextlib.suppress(Exception):
                Firewall(owner_id(arn), bridge_check=False).remove()
        self.server.stop()

    def setup(self) -> dict[str, Any]:
        import docker

        sys.path.insert(0, str(ROOT / "bench"))
        from task_start import busybox

        ec2, ecs = self.ec2, self.ecs
        vpc = ec2.create_vpc(CidrBlock="10.95.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.95.0.0/24")["Subnet"]["SubnetId"]
        default = ec2.describe_security_groups(
            Filters=[
                {"Name": "vpc-id", "Values": [vpc]},
                {"Name": "group-name", "Values": ["default"]},
            ]
        )["SecurityGroups"][0]["GroupId"]
        prober = ec2.create_security_group(GroupName="prober", Description="p", VpcId=vpc)
        image = busybox(docker.from_env())
        td = ecs.register_task_definition(
            family="sg-bench",
            networkMode="awsvpc",
            containerDefinitions=[
                {"name": "idle", "image": image, "memory": 8, "command": ["sleep", "3600"]}
            ],
        )["taskDefinition"]["taskDefinitionArn"]

        def run(group: str, count: int) -> list[str]:
            config = {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}}
            out = ecs.run_task(
                cluster=self.cluster, taskDefinition=td, count=count, networkConfiguration=config
            )
            assert not out["failures"], out["failures"]
            return [t["taskArn"] for t in out["tasks"]]

        started = time.monotonic()
        arns: list[str] = []
        left = self.args.tasks
        while left:
            arns += run(default, min(10, left))
            left -= min(10, left)
        prober_arn = run(prober["GroupId"], 1)[0]
        tasks = self.wait_running([*arns, prober_arn])
        took = time.monotonic() - started
        print(f"  {len(tasks)} tasks RUNNING in {took:.1f} s", flush=True)

        def address(task: dict[str, Any]) -> str:
            details = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
            return str(details["privateIPv4Address"])

        targets = [address(tasks[a]) for a in arns]
        runtime = tasks[prober_arn]["containers"][0]["runtimeId"]
        client = docker.from_env()
        mode = client.containers.get(runtime).attrs["HostConfig"]["NetworkMode"]
        pause = client.containers.get(mode.removeprefix("container:"))
        return {
            "default": default,
            "prober": prober["GroupId"],
            "targets": targets,
            "pid": int(pause.attrs["State"]["Pid"]),
            "start_s": took,
        }

    def wait_running(self, arns: list[str], timeout: float = 600) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            found: dict[str, Any] = {}
            for i in range(0, len(arns), 100):
                batch = arns[i : i + 100]
                for t in self.ecs.describe_tasks(cluster=self.cluster, tasks=batch)["tasks"]:
                    found[t["taskArn"]] = t
            states = [found[a]["lastStatus"] for a in arns]
            if all(s == "RUNNING" for s in states):
                return found
            if "STOPPED" in states:
                stopped = next(found[a] for a in arns if found[a]["lastStatus"] == "STOPPED")
                raise RuntimeError(f"a task stopped: {stopped.get('stoppedReason')}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"tasks not RUNNING after {timeout} s: {set(states)}")
            time.sleep(1.0)

    def prober(self, setup: dict[str, Any], want: str) -> subprocess.Popen[str]:
        argv = ["nsenter", "-t", str(setup["pid"]), "-n", sys.executable, __file__, "--probe"]
        argv += ["--addresses", ",".join(setup["targets"]), "--want", want]
        argv += ["--limit", str(self.args.limit)]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the prober did not start")
        return proc

    def change(self, setup: dict[str, Any], authorize: bool) -> dict[str, Any]:
        permission = {
            "IpProtocol": "tcp",
            "FromPort": PORT,
            "ToPort": PORT,
            "UserIdGroupPairs": [{"GroupId": setup["prober"]}],
        }
        proc = self.prober(setup, "open" if authorize else "closed")
        call = (
            self.ec2.authorize_security_group_ingress
            if authorize
            else self.ec2.revoke_security_group_ingress
        )
        call(GroupId=setup["default"], IpPermissions=[permission])
        returned = time.time()
        out, _ = proc.communicate(timeout=self.args.limit + 30)
        seen: dict[str, float] = json.loads(out.strip().splitlines()[-1])
        missing = [a for a in setup["targets"] if a not in seen]
        delays = [max(0.0, seen[a] - returned) for a in setup["targets"] if a in seen]
        return {
            "all_s": max(delays) if delays and not missing else None,
            "p50_s": statistics.median(delays) if delays else None,
            "first_s": min(delays) if delays else None,
            "missing": len(missing),
        }

    def restore(self, setup: dict[str, Any]) -> dict[str, Any]:
        from harness import ACCESS_KEY, REGION, SECRET_KEY

        from portside.agent.client import ControlPlaneClient
        from portside.agent.firewall.apply import Firewall
        from portside.agent.firewall.compile import compile_view
        from portside.gateway import protocol
        from portside.gateway.protocol import SessionOpen, SessionOpened
        from portside.gateway.protocol.network import NETWORK, NetworkView, NetworkViewRequest

        client = ControlPlaneClient(self.server.endpoint, ACCESS_KEY, SECRET_KEY, REGION)
        opened = client.send(protocol.SESSION, SessionOpen((self.agent.instance_arn,)))
        session = SessionOpened.from_wire(opened).session
        view = NetworkView.from_wire(client.send(NETWORK, NetworkViewRequest(session, "", 0)))
        fresh, rewrite = [], []
        owner = "bnch" + uuid.uuid4().hex[:2]
        firewall = Firewall(owner, bridge_check=False)
        rules = 0
        try:
            for _ in range(self.args.rounds):
                firewall.remove()
                done = firewall.apply(view)
                assert done is not None
                fresh.append(done.restore_seconds)
                again = firewall.apply(view)
                assert again is not None
                rewrite.append(again.restore_seconds)
                rules = done.rules
        finally:
            firewall.remove()
        ruleset = compile_view(view, "bnchA" + uuid.uuid4().hex[:1])
        baseline_s, applied = self.one_by_one(ruleset.chains)
        restore_s = statistics.median(fresh)
        return {
            "enis": len(view.enis),
            "rules": rules,
            "restore_fresh_s": restore_s,
            "restore_fresh_rounds_s": fresh,
            "restore_rewrite_s": statistics.median(rewrite),
            "baseline_one_call_per_rule_s": baseline_s,
            "baseline_rules_applied": applied,
            "baseline_over_restore": baseline_s / restore_s if restore_s else None,
        }

    def one_by_one(self, chains: dict[str, list[str]]) -> tuple[float, int]:
        """The same chains with one iptables process per chain and per rule; removed after."""
        started = time.perf_counter()
        applied = 0
        try:
            for name in chains:
                subprocess.run(["iptables", "-w", "5", "-N", name], check=True)
            for name, rules in chains.items():
                for rule in rules:
                    argv = ["iptables", "-w", "5", "-A", name, *rule.split()]
                    subprocess.run(argv, check=True, capture_output=True)
                    applied += 1
            return time.perf_counter() - started, applied
        finally:
            text = "*filter\n" + "".join(f":{c} - [0:0]\n" for c in chains)
            text += "".join(f"-X {c}\n" for c in chains) + "COMMIT\n"
            subprocess.run(["iptables-restore", "-w", "5", "--noflush"], input=text, text=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=float, default=20.0, help="a probe's longest wait, s")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--agent-log", help="copy the agent's log (debug) here")
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--addresses", help=argparse.SUPPRESS)
    parser.add_argument("--want", choices=("open", "closed"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        return probe_main(args)
    if os.geteuid() != 0:
        print("needs root (iptables, nsenter)", file=sys.stderr)
        return 2
    results: dict[str, Any] = {
        "benchmark": "security-groups",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
        ).stdout.strip(),
        "dirty": bool(
            subprocess.run(
                ["git", "status", "--porcelain"], capture_output=True, text=True, cwd=ROOT
            ).stdout.strip()
        ),
        "cores": os.cpu_count(),
        "tasks": args.tasks,
    }
    with tempfile.TemporaryDirectory(prefix="sg-bench-") as tmp:
        bench = Bench(args, Path(tmp))
        try:
            setup = bench.setup()
            results["tasks_start_s"] = setup["start_s"]
            rounds = []
            for i in range(args.rounds):
                opened = bench.change(setup, authorize=True)
                closed = bench.change(setup, authorize=False)
                rounds.append({"authorize": opened, "revoke": closed})
                print(
                    f"  round {i + 1}: authorize -> all {args.tasks} open in "
                    f"{opened['all_s']} s (p50 {opened['p50_s']}); revoke -> all dropping "
                    f"in {closed['all_s']} s",
                    flush=True,
                )
            results["effect_rounds"] = rounds
            alls = [r["authorize"]["all_s"] for r in rounds if r["authorize"]["all_s"] is not None]
            results["authorize_all_s_median"] = statistics.median(alls) if alls else None
            results["authorize_all_s_max"] = max(alls) if alls else None
            results["goal_s"] = 1.0
            results["restore"] = bench.restore(setup)
            print(f"  restore: {json.dumps(results['restore'])}", flush=True)
        finally:
            bench.close()
    results["notes"] = (
        "revoke times count a task as dropping after 3 silent 50 ms rounds (0.15 s of the "
        "figure is the probe's own); the baseline writes the same compiled rules with one "
        "iptables process per rule (iptables-nft reads the whole table on every call)"
    )
    print(json.dumps(results, indent=2))
    if not args.no_write:
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
