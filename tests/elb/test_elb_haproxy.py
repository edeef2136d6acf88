"""An Application Load Balancer made through the ELBv2 API serves real traffic through the
server's HAProxy: targets answer in turn, health checks show in DescribeTargetHealth with
ELB's states and reasons, a deregistered target drains and goes, rules route by path."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aws_query import query_client
from harness import ServerProcess, free_port

SUBNETS = ["subnet-0aaa1111", "subnet-0bbb2222"]


class Backend:
    """An HTTP target on 127.0.0.1 that answers its name; /health answers `health`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.health = 200
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = 200, backend.name.encode()
                if self.path == "/health":
                    status = backend.health
                self.send_response(status)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def until(check: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def get(port: int, path: str = "/") -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


@pytest.fixture
def lb_server(tmp_path: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path / "data").start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def backends() -> Iterator[list[Backend]]:
    made = [Backend(f"b{i}") for i in range(3)]
    yield made
    for b in made:
        b.close()


def states(elb: Any, tg: str) -> dict[int, tuple[str, str | None]]:
    found = elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
    return {
        d["Target"]["Port"]: (d["TargetHealth"]["State"], d["TargetHealth"].get("Reason"))
        for d in found
    }


def test_targets_answer_in_turn_go_unhealthy_and_drain(
    lb_server: ServerProcess, backends: list[Backend]
) -> None:
    elb = query_client(lb_server, "elbv2")
    lb = elb.create_load_balancer(Name="web", Subnets=SUBNETS)["LoadBalancers"][0]
    tg = elb.create_target_group(
        Name="web",
        Protocol="HTTP",
        Port=80,
        VpcId="vpc-1",
        TargetType="ip",
        HealthCheckPath="/health",
        HealthCheckIntervalSeconds=5,
        HealthCheckTimeoutSeconds=2,
        HealthyThresholdCount=2,
        UnhealthyThresholdCount=2,
    )["TargetGroups"][0]["TargetGroupArn"]
    elb.modify_target_group_attributes(
        TargetGroupArn=tg,
        Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "2"}],
    )
    port = free_port()
    elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=port,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
    )
    elb.register_targets(
        TargetGroupArn=tg, Targets=[{"Id": "127.0.0.1", "Port": b.port} for b in backends]
    )
    ports = [b.port for b in backends]
    until(
        lambda: all(states(elb, tg).get(p, ("",))[0] == "healthy" for p in ports),
        what="three healthy targets",
    )
    seen = {get(port)[1] for _ in range(12)}
    assert seen == {"b0", "b1", "b2"}

    backends[1].health = 500
    until(
        lambda: states(elb, tg)[ports[1]] == ("unhealthy", "Target.ResponseCodeMismatch"),
        what="b1 unhealthy",
    )
    assert {get(port)[1] for _ in range(12)} == {"b0", "b2"}

    elb.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": "127.0.0.1", "Port": ports[2]}])
    assert states(elb, tg)[ports[2]] == ("draining", "Target.DeregistrationInProgress")
    until(lambda: ports[2] not in states(elb, tg), what="b2 deregistered")
    until(lambda: {get(port)[1] for _ in range(6)} == {"b0"}, what="traffic on b0 only")


def test_rules_route_by_path_and_answer_fixed(
    lb_server: ServerProcess, backends: list[Backend]
) -> None:
    elb = query_client(lb_server, "elbv2")
    lb = elb.create_load_balancer(Name="paths", Subnets=SUBNETS)["LoadBalancers"][0]

    def group(name: str, backend: Backend) -> str:
        arn = elb.create_target_group(
            Name=name,
            Protocol="HTTP",
            Port=80,
            VpcId="vpc-1",
            TargetType="ip",
            HealthCheckIntervalSeconds=5,
            HealthCheckTimeoutSeconds=2,
            HealthyThresholdCount=2,
        )["TargetGroups"][0]["TargetGroupArn"]
        elb.register_targets(
            TargetGroupArn=arn, Targets=[{"Id": "127.0.0.1", "Port": backend.port}]
        )
        return str(arn)

    api, web = group("api", backends[0]), group("web", backends[1])
    port = free_port()
    listener = elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=port,
        DefaultActions=[
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {
                    "StatusCode": "404",
                    "ContentType": "text/plain",
                    "MessageBody": "nothing here",
                },
            }
        ],
    )["Listeners"][0]["ListenerArn"]
    for priority, path, tg in ((10, "/api/*", api), (20, "/web/*", web)):
        elb.create_rule(
            ListenerArn=listener,
            Priority=priority,
            Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": [path]}}],
            Actions=[{"Type": "forward", "TargetGroupArn": tg}],
        )
    until(lambda: get(port, "/api/x") == (200, "b0"), what="/api/* on b0")
    assert get(port, "/web/y") == (200, "b1")
    assert get(port, "/other") == (404, "nothing here")
