"""Listener rules route to two ECS services end to end: a real server and its HAProxy,
`portside agent --driver docker`, a real Docker Engine, boto3.

One Application Load Balancer, one HTTP listener whose default action is a fixed 404; a
`path-pattern` rule (/api/*) forwards to service A's target group, a `host-header` rule
(b.example.test) to service B's. Each service runs two busybox httpd tasks that answer
with their service's letter and their hostname, so every answer says where it was served.
Everything is made once for the module; each test puts back what it changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from aws_query import query_client
from e2e.images import docker_available
from e2e.target_groups import fast_target_group
from e2e.test_load_balancer_docker import SUBNETS, container_of, until, web
from harness import ServerProcess, free_port

if TYPE_CHECKING:
    from e2e.conftest import AgentProcess

_unavailable = docker_available()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(_unavailable is not None, reason=f"no Docker for e2e: {_unavailable}"),
]

HOST_B = "b.example.test"
NOT_ROUTED = "no rule matched"
# / and /api/ both answer "$VERSION $(hostname)": a request routed by either rule finds a
# page on either service.
SERVE = (
    'mkdir -p /tmp/www/api && echo "$VERSION $(hostname)" > /tmp/www/index.html '
    "&& cp /tmp/www/index.html /tmp/www/api/index.html && exec httpd -f -p 8080 -h /tmp/www"
)


@dataclass(frozen=True)
class Answer:
    status: int  # 0: no HTTP answer at all
    body: str
    content_type: str = ""

    @property
    def service(self) -> str | None:
        """The service that answered ("a" or "b"), None unless a task did."""
        return self.body.split()[0] if self.status == 200 and self.body else None


class TwoServices:
    """The load balancer, its two target groups and rules, and the two services."""

    def __init__(self, server: ServerProcess, agent: AgentProcess) -> None:
        self.ecs = server.client()
        self.elb = query_client(server, "elbv2")
        self.cluster = agent.cluster
        self.name = f"rules-{agent.cluster[-8:]}"
        lb = self.elb.create_load_balancer(Name=self.name, Subnets=SUBNETS)["LoadBalancers"][0]
        self.lb = lb["LoadBalancerArn"]
        # Deregistered targets go at once: the services are deleted only at the end.
        self.groups = {s: fast_target_group(self.elb, f"{self.name}-{s}", 0) for s in "ab"}
        self.port = free_port()
        self.listener = self.elb.create_listener(
            LoadBalancerArn=self.lb,
            Protocol="HTTP",
            Port=self.port,
            DefaultActions=[
                {
                    "Type": "fixed-response",
                    "FixedResponseConfig": {
                        "StatusCode": "404",
                        "ContentType": "text/plain",
                        "MessageBody": NOT_ROUTED,
                    },
                }
            ],
        )["Listeners"][0]["ListenerArn"]
        # ECS wants a service's target group in use by a load balancer: rules first.
        self.rules = {
            "path": self._rule(10, "path-pattern", "/api/*", "a"),
            "host": self._rule(20, "host-header", HOST_B, "b"),
        }
        self.http = httpx.Client(headers={"Connection": "close"}, timeout=30.0)
        for service in ("a", "b"):
            self._service(service)

    def _rule(self, priority: int, field: str, value: str, service: str) -> str:
        rule = self.elb.create_rule(
            ListenerArn=self.listener,
            Priority=priority,
            Conditions=[{"Field": field, "Values": [value]}],
            Actions=forward(self.groups[service]),
        )["Rules"][0]
        return str(rule["RuleArn"])

    def _service(self, service: str) -> None:
        family = f"{self.name}-{service}"
        td = self.ecs.register_task_definition(
            family=family, containerDefinitions=[web(service, SERVE)]
        )["taskDefinition"]["taskDefinitionArn"]
        self.ecs.create_service(
            cluster=self.cluster,
            serviceName=family,
            taskDefinition=td,
            desiredCount=2,
            launchType="EC2",
            loadBalancers=[
                {
                    "targetGroupArn": self.groups[service],
                    "containerName": "web",
                    "containerPort": 8080,
                }
            ],
            healthCheckGracePeriodSeconds=30,
        )

    def healthy(self) -> bool:
        """Both services' two targets healthy."""
        return all(
            [d["TargetHealth"]["State"] for d in found] == ["healthy"] * 2
            for found in (
                self.elb.describe_target_health(TargetGroupArn=g)["TargetHealthDescriptions"]
                for g in self.groups.values()
            )
        )

    def hostnames(self, service: str) -> set[str]:
        """The hostnames of the service's running tasks' containers."""
        arns = self.ecs.list_tasks(
            cluster=self.cluster, serviceName=f"{self.name}-{service}", desiredStatus="RUNNING"
        )["taskArns"]
        tasks = self.ecs.describe_tasks(cluster=self.cluster, tasks=arns)["tasks"]
        return {container_of(t).attrs["Config"]["Hostname"] for t in tasks}

    def get(self, path: str, host: str | None = None) -> Answer:
        headers = {"Host": host} if host else {}
        try:
            response = self.http.get(f"http://127.0.0.1:{self.port}{path}", headers=headers)
        except httpx.HTTPError as exc:
            return Answer(0, repr(exc))
        return Answer(
            response.status_code, response.text.strip(), response.headers.get("content-type", "")
        )

    def settle(self, service: str, path: str, host: str | None = None) -> list[Answer]:
        """Send the request until three answers in a row come from `service`; every answer
        seen on the way."""
        seen: list[Answer] = []

        def arrived() -> bool:
            seen.append(self.get(path, host))
            return [a.service for a in seen[-3:]] == [service] * 3

        until(arrived, 20, f"GET {path} (Host {host}) to reach service {service}: {seen[-3:]}")
        return seen

    def spread(self, service: str, path: str, host: str | None = None) -> None:
        """Four requests, all answered by `service`, by each of its two tasks."""
        bodies = {self.get(path, host).body for _ in range(4)}
        assert bodies == {f"{service} {h}" for h in self.hostnames(service)}, (path, host)

    def close(self) -> None:
        self.http.close()
        for service in ("a", "b"):
            self.ecs.delete_service(
                cluster=self.cluster, service=f"{self.name}-{service}", force=True
            )
        until(
            lambda: (
                {
                    s["status"]
                    for s in self.ecs.describe_services(
                        cluster=self.cluster, services=[f"{self.name}-a", f"{self.name}-b"]
                    )["services"]
                }
                == {"INACTIVE"}
            ),
            60,
            "the services' tasks to stop",
        )
        self.elb.delete_load_balancer(LoadBalancerArn=self.lb)
        for group in self.groups.values():
            self.elb.delete_target_group(TargetGroupArn=group)


def forward(group: str) -> list[dict[str, Any]]:
    return [{"Type": "forward", "TargetGroupArn": group}]


@pytest.fixture(scope="module")
def routed(server: ServerProcess, agent: AgentProcess) -> Iterator[TwoServices]:
    made = TwoServices(server, agent)
    try:
        until(made.healthy, 90, "both services' targets to be healthy")
        yield made
    finally:
        made.close()


def test_each_rule_routes_to_its_own_service_and_the_rest_gets_the_fixed_404(
    routed: TwoServices,
) -> None:
    assert len(routed.hostnames("a")) == 2 and len(routed.hostnames("b")) == 2
    routed.spread("a", "/api/")
    routed.spread("b", "/", HOST_B)
    # ELB compares host names without case and without the port.
    assert routed.get("/api/index.html").service == "a"
    assert routed.get("/", "B.Example.Test").service == "b"
    assert routed.get("/", f"{HOST_B}:{routed.port}").service == "b"
    # Paths are compared with case; /api/* needs the slash.
    for path, host in [("/", None), ("/api", None), ("/API/", None), ("/", "a.example.test")]:
        assert routed.get(path, host) == Answer(404, NOT_ROUTED, "text/plain"), (path, host)


def test_modify_rule_moves_the_rules_traffic_to_the_other_service(routed: TwoServices) -> None:
    elb, path_rule, host_rule = routed.elb, routed.rules["path"], routed.rules["host"]
    routed.settle("a", "/api/")
    routed.settle("b", "/", HOST_B)
    try:
        # The two rules swap services: each target group stays in use.
        changed = elb.modify_rule(RuleArn=path_rule, Actions=forward(routed.groups["b"]))
        assert changed["Rules"][0]["Actions"][0]["TargetGroupArn"] == routed.groups["b"]
        elb.modify_rule(RuleArn=host_rule, Actions=forward(routed.groups["a"]))
        seen = routed.settle("b", "/api/") + routed.settle("a", "/", HOST_B)
        assert all(a.status == 200 for a in seen), seen  # no request failed meanwhile
        routed.spread("b", "/api/")
        routed.spread("a", "/", HOST_B)
        assert routed.get("/").status == 404
    finally:
        elb.modify_rule(RuleArn=path_rule, Actions=forward(routed.groups["a"]))
        elb.modify_rule(RuleArn=host_rule, Actions=forward(routed.groups["b"]))
    seen = routed.settle("a", "/api/") + routed.settle("b", "/", HOST_B)
    assert all(a.status == 200 for a in seen), seen


def test_set_rule_priorities_changes_which_rule_wins(routed: TwoServices) -> None:
    elb, path_rule, host_rule = routed.elb, routed.rules["path"], routed.rules["host"]
    # GET /api/ to b.example.test matches both rules: the lower priority wins.
    routed.settle("a", "/api/", HOST_B)
    try:
        changed = elb.set_rule_priorities(
            RulePriorities=[
                {"RuleArn": path_rule, "Priority": 20},
                {"RuleArn": host_rule, "Priority": 10},
            ]
        )["Rules"]
        assert [(r["RuleArn"], r["Priority"]) for r in changed] == [
            (host_rule, "10"),
            (path_rule, "20"),
        ]
        seen = routed.settle("b", "/api/", HOST_B)
        assert all(a.status == 200 for a in seen), seen
        routed.spread("b", "/api/", HOST_B)
        # A request that matches one rule only is routed as before.
        routed.spread("a", "/api/")
        routed.spread("b", "/", HOST_B)
    finally:
        elb.set_rule_priorities(
            RulePriorities=[
                {"RuleArn": path_rule, "Priority": 10},
                {"RuleArn": host_rule, "Priority": 20},
            ]
        )
    seen = routed.settle("a", "/api/", HOST_B)
    assert all(a.status == 200 for a in seen), seen
