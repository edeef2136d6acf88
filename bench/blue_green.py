#!/usr/bin/env python3
"""Blue/green through CodeDeploy and ECS's native BLUE_GREEN (issue 21) against a rolling
deployment, in one run.

`portside up --driver docker` (its own data dir, PORTSIDE_CODEDEPLOY_WAIT_SCALE=0: the
shift's own waits are zero) runs two services of `--tasks` (4) busybox httpd tasks (bridge,
dynamic host ports), the same definition and health check (HTTP, interval 5 s, timeout 2 s,
healthy threshold 2), each behind its own ALB:

- rolling: the ECS deployment controller, minimumHealthyPercent 100, maximumPercent 200, one
  instance target group; `UpdateService --force-new-deployment`. Measured from the call to
  the new deployment COMPLETED with every target healthy ("traffic fully on the new
  revision") and to every old task STOPPED ("old revision terminated").
- blue/green: the CODE_DEPLOY controller, a target group pair behind a production and a test
  listener, CodeDeployDefault.ECSAllAtOnce, termination wait 0; `CreateDeployment` with an
  AppSpec naming a new revision. Measured from the call to the production listener
  forwarding everything to the green group ("traffic fully on green", polled every 0.1 s)
  and to the deployment Succeeded with every blue task STOPPED ("blue terminated").

- native blue/green: the ECS controller with deploymentConfiguration.strategy BLUE_GREEN,
  bakeTimeInMinutes 0, the same pair in the load balancer's advancedConfiguration (the
  production and test listeners' default rules); `UpdateService` with a new revision.
  Measured as the CodeDeploy side: the production rule forwarding everything to green, and
  the deployment COMPLETED with every blue task STOPPED.

(A service cannot change its deployment controller in Portside, so the two sides are two
services made alike, side by side.) A paced open-loop client (bench/load_balancer.py's,
`--rate` requests/s, keep-alive) sends through each side's production listener from before
the deployment until it is over: every request that is not a 200 is a failure (goal 0).

    .venv/bin/python bench/blue_green.py             # ~3 minutes
    .venv/bin/python bench/blue_green.py --quick     # 2 tasks, writes nothing

Writes bench/results/blue-green-<short commit>.json. The server, its HAProxy and the
containers are stopped on the way out, whatever happens.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from host import load_average, machine
from load_balancer import (
    HEALTH_PATH,
    Balancer,
    PacedClient,
    aws_client,
    cleanup,
    short_commit,
    wait_until,
)

ROOT = Path(__file__).resolve().parent.parent
SERVE = (  # the health checks ask for load_balancer.HEALTH_PATH
    'mkdir -p /tmp/www && echo "$VERSION $(hostname)" > /tmp/www/index.html '
    f"&& echo ok > /tmp/www{HEALTH_PATH} && exec httpd -f -p 8080 -h /tmp/www"
)
GRACE_S = 10


def container(image: str, version: str) -> dict[str, Any]:
    return {
        "name": "web",
        "image": image,
        "memory": 32,
        "command": ["sh", "-c", SERVE],
        "environment": [{"name": "VERSION", "value": version}],
        "portMappings": [{"containerPort": 8080}],
        "linuxParameters": {"initProcessEnabled": True},
        "stopTimeout": 2,
    }


class Side:
    def __init__(self, endpoint: str, cluster: str, image: str, count: int, name: str) -> None:
        self.ecs = aws_client("ecs", endpoint)
        self.cluster, self.name, self.count, self.image = cluster, name, count, image
        self.lb = Balancer(endpoint, name=name, target_type="instance")
        self.blue = self.lb.group(f"{name}-b", 5)
        self.port = self.lb.listener(self.blue)

    def register(self, version: str) -> str:
        out = self.ecs.register_task_definition(
            family=self.name, containerDefinitions=[container(self.image, version)]
        )
        return str(out["taskDefinition"]["taskDefinitionArn"])

    def describe(self) -> dict[str, Any]:
        return dict(
            self.ecs.describe_services(cluster=self.cluster, services=[self.name])["services"][0]
        )

    def healthy(self, group: str) -> int:
        found = self.lb.elb.describe_target_health(TargetGroupArn=group)
        return sum(
            1 for d in found["TargetHealthDescriptions"] if d["TargetHealth"]["State"] == "healthy"
        )

    def tasks_stopped(self, arns: list[str]) -> bool:
        out = self.ecs.describe_tasks(cluster=self.cluster, tasks=arns)["tasks"]
        return all(t["lastStatus"] == "STOPPED" for t in out)

    def running(self) -> list[str]:
        return list(self.ecs.list_tasks(cluster=self.cluster, serviceName=self.name)["taskArns"])

    def deploy(self) -> dict[str, float]:
        """Deploy a new revision: the seconds to traffic on it and to the old one stopped."""
        raise NotImplementedError


class Rolling(Side):
    def __init__(self, endpoint: str, cluster: str, image: str, count: int) -> None:
        super().__init__(endpoint, cluster, image, count, "bg-rolling")
        self.ecs.create_service(
            cluster=cluster,
            serviceName=self.name,
            taskDefinition=self.register("1"),
            desiredCount=count,
            launchType="EC2",
            loadBalancers=[
                {"targetGroupArn": self.blue, "containerName": "web", "containerPort": 8080}
            ],
            deploymentConfiguration={"maximumPercent": 200, "minimumHealthyPercent": 100},
            healthCheckGracePeriodSeconds=GRACE_S,
        )

    def steady(self) -> bool:
        s = self.describe()
        (only, *more) = s["deployments"]
        return (
            not more
            and only["rolloutState"] == "COMPLETED"
            and s["runningCount"] == self.count
            and self.healthy(self.blue) == self.count
        )

    def deploy(self) -> dict[str, float]:
        old = self.running()
        t0 = time.monotonic()
        self.ecs.update_service(
            cluster=self.cluster, service=self.name, taskDefinition=self.register("2")
        )
        first = self.describe()["deployments"][0]["id"]
        wait_until(
            lambda: self.describe()["deployments"][0]["id"] == first and self.steady(),
            300,
            "the rolling deployment to complete",
            every=0.1,
        )
        traffic = time.monotonic() - t0
        wait_until(lambda: self.tasks_stopped(old), 120, "the old tasks to stop", every=0.1)
        return {
            "traffic_on_new_s": round(traffic, 2),
            "old_terminated_s": round(time.monotonic() - t0, 2),
        }


class BlueGreen(Side):
    def __init__(self, endpoint: str, cluster: str, image: str, count: int) -> None:
        super().__init__(endpoint, cluster, image, count, "bg-bluegreen")
        self.cd = aws_client("codedeploy", endpoint)
        self.green = self.lb.group(f"{self.name}-g", 5)
        self.test_port = self.lb.listener(self.blue)
        listeners = self.lb.elb.describe_listeners(LoadBalancerArn=self.lb.arn)["Listeners"]
        by_port = {lst["Port"]: lst["ListenerArn"] for lst in listeners}
        self.prod, self.test = by_port[self.port], by_port[self.test_port]
        self.ecs.create_service(
            cluster=cluster,
            serviceName=self.name,
            taskDefinition=self.register("1"),
            desiredCount=count,
            launchType="EC2",
            deploymentController={"type": "CODE_DEPLOY"},
            loadBalancers=[
                {"targetGroupArn": self.blue, "containerName": "web", "containerPort": 8080}
            ],
            healthCheckGracePeriodSeconds=GRACE_S,
        )
        self.cd.create_application(applicationName=self.name, computePlatform="ECS")
        self.cd.create_deployment_group(
            applicationName=self.name,
            deploymentGroupName=self.name,
            serviceRoleArn="arn:aws:iam::000000000000:role/codedeploy",
            deploymentConfigName="CodeDeployDefault.ECSAllAtOnce",
            deploymentStyle={
                "deploymentType": "BLUE_GREEN",
                "deploymentOption": "WITH_TRAFFIC_CONTROL",
            },
            blueGreenDeploymentConfiguration={
                "terminateBlueInstancesOnDeploymentSuccess": {
                    "action": "TERMINATE",
                    "terminationWaitTimeInMinutes": 0,
                }
            },
            ecsServices=[{"serviceName": self.name, "clusterName": cluster}],
            loadBalancerInfo={
                "targetGroupPairInfoList": [
                    {
                        "targetGroups": [
                            {"name": f"{self.name}-b"},
                            {"name": f"{self.name}-g"},
                        ],
                        "prodTrafficRoute": {"listenerArns": [self.prod]},
                        "testTrafficRoute": {"listenerArns": [self.test]},
                    }
                ]
            },
        )

    def steady(self) -> bool:
        sets = self.describe()["taskSets"]
        return (
            len(sets) == 1
            and sets[0]["stabilityStatus"] == "STEADY_STATE"
            and self.healthy(self.blue) == self.count
        )

    def on_green(self) -> bool:
        action = self.lb.elb.describe_listeners(ListenerArns=[self.prod])["Listeners"][0][
            "DefaultActions"
        ][0]
        groups = {g["TargetGroupArn"]: g["Weight"] for g in action["ForwardConfig"]["TargetGroups"]}
        return groups.get(self.green) == 100 and not groups.get(self.blue)

    def deploy(self) -> dict[str, float]:
        old = self.running()
        td = self.register("2")
        spec = json.dumps(
            {
                "version": 0.0,
                "Resources": [
                    {
                        "TargetService": {
                            "Type": "AWS::ECS::Service",
                            "Properties": {
                                "TaskDefinition": td,
                                "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 8080},
                            },
                        }
                    }
                ],
            }
        )
        t0 = time.monotonic()
        ident = self.cd.create_deployment(
            applicationName=self.name,
            deploymentGroupName=self.name,
            revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": spec}},
        )["deploymentId"]
        wait_until(self.on_green, 300, "traffic on green", every=0.1)
        traffic = time.monotonic() - t0

        def succeeded() -> bool:
            info = self.cd.get_deployment(deploymentId=ident)["deploymentInfo"]
            if info["status"] in ("Failed", "Stopped"):
                raise RuntimeError(
                    f"the deployment {info['status']}: {info.get('errorInformation')}"
                )
            return info["status"] == "Succeeded"

        wait_until(succeeded, 120, "the deployment to succeed", every=0.1)
        wait_until(lambda: self.tasks_stopped(old), 120, "blue's tasks to stop", every=0.1)
        return {
            "traffic_on_new_s": round(traffic, 2),
            "old_terminated_s": round(time.monotonic() - t0, 2),
        }


class Native(Side):
    """ECS's native BLUE_GREEN: the ECS controller, the same target group pair, production
    and test listener rules in the load balancer's advancedConfiguration, bake time 0."""

    def __init__(self, endpoint: str, cluster: str, image: str, count: int) -> None:
        super().__init__(endpoint, cluster, image, count, "bg-native")
        self.green = self.lb.group(f"{self.name}-g", 5)
        self.test_port = self.lb.listener(self.blue)
        listeners = self.lb.elb.describe_listeners(LoadBalancerArn=self.lb.arn)["Listeners"]
        by_port = {lst["Port"]: lst["ListenerArn"] for lst in listeners}
        self.prod_rule = self._default_rule(by_port[self.port])
        advanced = {
            "alternateTargetGroupArn": self.green,
            "productionListenerRule": self.prod_rule,
            "testListenerRule": self._default_rule(by_port[self.test_port]),
            "roleArn": "arn:aws:iam::000000000000:role/ecs-elb",
        }
        self.ecs.create_service(
            cluster=cluster,
            serviceName=self.name,
            taskDefinition=self.register("1"),
            desiredCount=count,
            launchType="EC2",
            loadBalancers=[
                {
                    "targetGroupArn": self.blue,
                    "containerName": "web",
                    "containerPort": 8080,
                    "advancedConfiguration": advanced,
                }
            ],
            deploymentConfiguration={"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 0},
            healthCheckGracePeriodSeconds=GRACE_S,
        )

    def _default_rule(self, listener: str) -> str:
        rules = self.lb.elb.describe_rules(ListenerArn=listener)["Rules"]
        return str(next(r["RuleArn"] for r in rules if r["IsDefault"]))

    def steady(self) -> bool:
        s = self.describe()
        (only, *more) = s["deployments"]
        return (
            not more
            and only["rolloutState"] == "COMPLETED"
            and s["runningCount"] == self.count
            and self.healthy(self.blue) == self.count
        )

    def on_green(self) -> bool:
        rule = self.lb.elb.describe_rules(RuleArns=[self.prod_rule])["Rules"][0]
        forward = rule["Actions"][0].get("ForwardConfig") or {}
        groups = {g["TargetGroupArn"]: g["Weight"] for g in forward.get("TargetGroups") or ()}
        return groups.get(self.green) == 100 and not groups.get(self.blue)

    def deploy(self) -> dict[str, float]:
        old = self.running()
        t0 = time.monotonic()
        self.ecs.update_service(
            cluster=self.cluster, service=self.name, taskDefinition=self.register("2")
        )
        wait_until(self.on_green, 300, "traffic on green", every=0.1)
        traffic = time.monotonic() - t0
        first = self.describe()["deployments"][0]["id"]
        wait_until(
            lambda: (
                self.describe()["deployments"][0]["id"] == first
                and self.describe()["deployments"][0]["rolloutState"] == "COMPLETED"
            ),
            120,
            "the deployment to complete",
            every=0.1,
        )
        wait_until(lambda: self.tasks_stopped(old), 120, "blue's tasks to stop", every=0.1)
        return {
            "traffic_on_new_s": round(traffic, 2),
            "old_terminated_s": round(time.monotonic() - t0, 2),
        }


def under_load(side: Side, rate: float, workdir: Path, started: dict[str, Any]) -> dict[str, Any]:
    client = PacedClient(side.port, rate, workdir / f"{side.name}-client.log")
    started["client"] = client
    time.sleep(2.0)
    figures = side.deploy()
    time.sleep(1.0)
    result = client.finish()
    started["client"] = None
    return {
        **figures,
        "requests": result["sent"],
        "failed_requests": result["failed"],
        "failure_samples": result["failures"][:5],
        "latency_ms": result["latency_ms"],
    }


def run(workdir: Path, started: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    import docker
    from services import DOCKER_CLUSTER, portside_up, wait_for_agent
    from signed import Ecs
    from task_start import agent_instance_arns, busybox, remove_portside_containers

    client = docker.from_env()
    image = busybox(client)
    up = portside_up(workdir)
    up.env["PORTSIDE_CODEDEPLOY_WAIT_SCALE"] = "0"
    data_dir = workdir / "up-data"
    started["later"].append(
        (
            "the deployments' containers",
            lambda: remove_portside_containers(client, agent_instance_arns(data_dir), set()),
        )
    )
    started["servers"].append((up, data_dir))
    up.start()
    api = Ecs(up.port)
    wait_for_agent(api, up)
    api.close()
    endpoint = f"http://127.0.0.1:{up.port}"
    rolling = Rolling(endpoint, DOCKER_CLUSTER, image, args.tasks)
    blue_green = BlueGreen(endpoint, DOCKER_CLUSTER, image, args.tasks)
    native = Native(endpoint, DOCKER_CLUSTER, image, args.tasks)
    sides = (rolling, blue_green, native)
    try:
        wait_until(lambda: all(side.steady() for side in sides), 300, "all steady", 1.0)
    except RuntimeError:
        for side in sides:
            s = side.describe()
            print(side.name, s["runningCount"], s.get("taskSets"), s["events"][:5], file=sys.stderr)
            print(side.lb.elb.describe_target_health(TargetGroupArn=side.blue), file=sys.stderr)
        raise
    out = {"rolling": under_load(rolling, args.rate, workdir, started)}
    print(f"  rolling: {out['rolling']}", flush=True)
    out["blue_green"] = under_load(blue_green, args.rate, workdir, started)
    print(f"  blue/green: {out['blue_green']}", flush=True)
    out["native_blue_green"] = under_load(native, args.rate, workdir, started)
    print(f"  native BLUE_GREEN: {out['native_blue_green']}", flush=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.tasks = 2
    commit, dirty = short_commit()
    doc: dict[str, Any] = {
        "benchmark": "blue_green",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "dirty": dirty,
        "machine": {**machine(), "load_average_at_start": load_average()},
        "setup": {
            "tasks": args.tasks,
            "rate_per_s": args.rate,
            "health_check": f"HTTP {HEALTH_PATH}, interval 5 s, timeout 2 s, healthy threshold 2",
            "rolling": "minimumHealthyPercent 100, maximumPercent 200",
            "blue_green": "CodeDeployDefault.ECSAllAtOnce, termination wait 0, "
            "PORTSIDE_CODEDEPLOY_WAIT_SCALE=0",
            "native_blue_green": "ECS controller, strategy BLUE_GREEN, bakeTimeInMinutes 0",
        },
        "goals": {"failed_requests_max": 0},
    }
    with tempfile.TemporaryDirectory(prefix="bench-bg-") as tmp, cleanup() as started:
        doc["results"] = run(Path(tmp), started, args)
    doc["machine"]["load_average_at_end"] = load_average()
    text = json.dumps(doc, indent=2)
    print(text)
    if not args.quick:
        out = ROOT / "bench" / "results" / f"blue-green-{commit}.json"
        out.write_text(text + "\n")
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
