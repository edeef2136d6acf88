"""An Application Load Balancer made through the ELBv2 API serves real traffic through the
server's HAProxy: targets answer in turn, health checks show in DescribeTargetHealth with
ELB's states and reasons, a deregistered target drains and goes, rules route by path. A
network load balancer's TCP listener passes bytes; a restarted Portside leaves the load
balancer serving throughout and the new server adopts HAProxy."""

from __future__ import annotations

import socket
import socketserver
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


def alb(elb: Any, name: str, **health: Any) -> tuple[str, int]:
    """An application load balancer whose HTTP listener (on a free port) forwards to a new
    `ip` target group checking /health every 5 s: (the group's ARN, the listener's port)."""
    lb = elb.create_load_balancer(Name=name, Subnets=SUBNETS)["LoadBalancers"][0]
    tg = elb.create_target_group(
        Name=name,
        Protocol="HTTP",
        Port=80,
        VpcId="vpc-1",
        TargetType="ip",
        HealthCheckPath="/health",
        HealthCheckIntervalSeconds=5,
        HealthCheckTimeoutSeconds=2,
        HealthyThresholdCount=2,
        **health,
    )["TargetGroups"][0]["TargetGroupArn"]
    port = free_port()
    elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=port,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
    )
    return str(tg), port


def test_targets_answer_in_turn_go_unhealthy_and_drain(
    lb_server: ServerProcess, backends: list[Backend]
) -> None:
    elb = query_client(lb_server, "elbv2")
    tg, port = alb(elb, "web", UnhealthyThresholdCount=2)
    elb.modify_target_group_attributes(
        TargetGroupArn=tg,
        Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "2"}],
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


class EchoServer:
    """A TCP target on 127.0.0.1 that sends back every byte it receives, and counts the
    connections that carried data (a TCP health check connects and closes, sending none)."""

    def __init__(self) -> None:
        self.served = 0
        echo, lock = self, threading.Lock()

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                counted = False
                while data := self.request.recv(65536):
                    if not counted:
                        counted = True
                        with lock:
                            echo.served += 1
                    self.request.sendall(data)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def echo_through(port: int, payload: bytes) -> bytes:
    """Send `payload` to 127.0.0.1:`port`, half-close, and return all that comes back."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(payload)
        conn.shutdown(socket.SHUT_WR)
        got = b""
        while chunk := conn.recv(65536):
            got += chunk
    return got


def test_network_load_balancer_tcp_listener_passes_bytes(lb_server: ServerProcess) -> None:
    elb = query_client(lb_server, "elbv2")
    echoes = [EchoServer() for _ in range(2)]
    try:
        lb = elb.create_load_balancer(Name="tcp", Type="network", Subnets=SUBNETS)
        lb_arn = lb["LoadBalancers"][0]["LoadBalancerArn"]
        tg = elb.create_target_group(
            Name="tcp",
            Protocol="TCP",
            Port=7,
            VpcId="vpc-1",
            TargetType="ip",
            HealthCheckIntervalSeconds=5,
            HealthCheckTimeoutSeconds=2,
            HealthyThresholdCount=2,
        )["TargetGroups"][0]
        assert tg["HealthCheckProtocol"] == "TCP"
        tg_arn = tg["TargetGroupArn"]
        port = free_port()
        listener = elb.create_listener(
            LoadBalancerArn=lb_arn,
            Protocol="TCP",
            Port=port,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}],
        )["Listeners"][0]
        assert listener["Protocol"] == "TCP"
        elb.register_targets(
            TargetGroupArn=tg_arn, Targets=[{"Id": "127.0.0.1", "Port": e.port} for e in echoes]
        )
        ports = [e.port for e in echoes]
        until(
            lambda: all(states(elb, tg_arn).get(p, ("",))[0] == "healthy" for p in ports),
            what="two healthy TCP targets",
        )
        assert states(elb, tg_arn) == {p: ("healthy", None) for p in ports}

        payloads = [bytes([i]) * 1000 + b"\x00\xff\r\n" + str(i).encode() for i in range(8)]
        assert [echo_through(port, data) for data in payloads] == payloads
        big = bytes(range(256)) * 4096  # 1 MiB, every byte value
        assert echo_through(port, big) == big
        assert all(e.served >= 3 for e in echoes), [e.served for e in echoes]
    finally:
        for e in echoes:
            e.close()


class Client(threading.Thread):
    """Sends requests to 127.0.0.1:`port` one after another, a new connection each, until
    stopped; records every request and every failure (no answer, or not 200 from a known
    target)."""

    def __init__(self, port: int, names: set[str]) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.names = names
        self.sent = 0
        self.failures: list[tuple[int, str]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            status, body = get(self.port)
            self.sent += 1
            if status != 200 or body not in self.names:
                self.failures.append((status, body))
            time.sleep(0.01)

    def stop(self) -> None:
        self.halt.set()
        self.join(10)


def haproxy_master(data_dir: Path) -> tuple[int, int]:
    """The pid and reload count of the HAProxy master serving from `data_dir`."""
    from portside.dataplane.haproxy.layout import Layout
    from portside.dataplane.haproxy.runtime import MasterApi

    procs = MasterApi(str(Layout(data_dir / "haproxy").master_socket)).show_proc()
    return procs.master.pid, procs.master.reloads


def test_restarted_portside_keeps_the_load_balancer_serving(
    lb_server: ServerProcess, backends: list[Backend]
) -> None:
    elb = query_client(lb_server, "elbv2")
    tg, port = alb(elb, "restart")
    first, second, third = backends
    elb.register_targets(
        TargetGroupArn=tg,
        Targets=[{"Id": "127.0.0.1", "Port": b.port} for b in (first, second)],
    )
    until(
        lambda: all(states(elb, tg).get(b.port, ("",))[0] == "healthy" for b in (first, second)),
        what="two healthy targets",
    )
    until(lambda: {get(port)[1] for _ in range(6)} == {"b0", "b1"}, what="b0 and b1 serving")

    master, reloads = haproxy_master(lb_server.data_dir)
    client = Client(port, {"b0", "b1", "b2"})
    client.start()
    restarted = ServerProcess(lb_server.data_dir, lb_server.port)
    try:
        until(lambda: client.sent >= 20, what="requests before the stop")
        lb_server.stop()
        assert not lb_server.running()
        stopped_at = client.sent
        until(lambda: client.sent >= stopped_at + 20, what="requests while no server runs")
        assert haproxy_master(lb_server.data_dir) == (master, reloads)  # left serving
        restarted.start()
        started_at = client.sent
        elb = query_client(restarted, "elbv2")
        assert states(elb, tg) == {b.port: ("healthy", None) for b in (first, second)}
        until(lambda: client.sent >= started_at + 20, what="requests after the restart")

        # The new server adopted HAProxy and applies changes to it: a target registered
        # through it takes traffic.
        elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": "127.0.0.1", "Port": third.port}])
        until(lambda: states(elb, tg).get(third.port, ("",))[0] == "healthy", what="b2 healthy")
        until(lambda: "b2" in {get(port)[1] for _ in range(6)}, what="b2 serving")
        until(lambda: client.sent >= started_at + 60, what="requests after the registration")
        # Adopted, not replaced: the same master, reloaded to the new server's configuration.
        pid, reloads_now = haproxy_master(lb_server.data_dir)
        assert pid == master and reloads_now > reloads
    finally:
        client.stop()
        restarted.close()
    assert client.failures == [], f"{len(client.failures)} of {client.sent} failed"
    assert client.sent > started_at + 60
