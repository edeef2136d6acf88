"""The running server's DNS, asked as a host's resolver would: a load balancer's DNSName, an
awsvpc task's privateDnsName while it runs, the `dns` loop in health, `portside dns`."""

from __future__ import annotations

import subprocess
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import dns.rcode
import dns.reversename
import httpx
import orjson
import pytest
from aws_query import query_client
from botocore.credentials import Credentials
from fleet import register, start_fleet, wait_for_status, wait_until
from harness import ACCESS_KEY, BIN, REGION, SECRET_KEY, ServerProcess, free_port

from portside.cli.events import signed_get
from portside.elb.addresses import own_address

NETWORK = {"awsvpcConfiguration": {"subnets": ["subnet-0a1b2c"], "securityGroups": ["sg-0a1b2c"]}}


@pytest.fixture
def address(server: ServerProcess) -> tuple[str, int]:
    host, _, port = orjson.loads((server.data_dir / "server.json").read_bytes())["dns"].rpartition(
        ":"
    )
    return host, int(port)


def ask(address: tuple[str, int], name: Any, rdtype: str = "A") -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    return dns.query.udp(query, address[0], port=address[1], timeout=3)


def answer(address: tuple[str, int], name: Any, rdtype: str = "A") -> list[str] | None:
    """The records' values, or None on NXDOMAIN."""
    response = ask(address, name, rdtype)
    if response.rcode() == dns.rcode.NXDOMAIN:
        return None
    return sorted(r.to_text() for rrset in response.answer for r in rrset)


def test_a_load_balancers_name_resolves_to_where_its_listener_answers(
    server: ServerProcess, address: tuple[str, int]
) -> None:
    elb = query_client(server, "elbv2")
    lb = elb.create_load_balancer(
        Name=f"dns-{uuid.uuid4().hex[:8]}", Subnets=["subnet-0aaa1111", "subnet-0bbb2222"]
    )["LoadBalancers"][0]
    name = lb["DNSName"]
    try:
        port = free_port()
        body = {"StatusCode": "200", "ContentType": "text/plain", "MessageBody": "found it"}
        action = {"Type": "fixed-response", "FixedResponseConfig": body}
        elb.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="HTTP",
            Port=port,
            DefaultActions=[action],
        )
        found = wait_until(lambda: answer(address, name), what=f"{name} to resolve")
        # Its own loopback address, where its listeners answer as well as on 127.0.0.1.
        assert found == [own_address(lb["LoadBalancerArn"])]
        assert found[0].startswith("127.") and found[0] != "127.0.0.1"
        assert ask(address, name).answer[0].ttl == 60

        def served(host: str) -> str | None:
            try:
                with urllib.request.urlopen(f"http://{host}:{port}/", timeout=2) as reply:
                    return str(reply.read().decode())
            except OSError:
                return None

        assert wait_until(lambda: served(found[0]), timeout=20, what="the listener") == "found it"
        assert served("127.0.0.1") == "found it"
    finally:
        elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    wait_until(lambda: answer(address, name) is None, what=f"{name} to go")


def test_an_awsvpc_tasks_name_resolves_while_it_runs(
    server: ServerProcess, address: tuple[str, int], tmp_path: Path
) -> None:
    # Simulated agents give awsvpc tasks an address (10.0.x.y) and report it as ECS does.
    with start_fleet(server, tmp_path, f"dns-{uuid.uuid4().hex[:8]}") as fleet:
        td = register(
            fleet.ecs,
            "dns-awsvpc",
            networkMode="awsvpc",
            containers=[{"name": "app", "image": "busybox", "memory": 64}],
        )
        arn = fleet.ecs.run_task(
            cluster=fleet.cluster, taskDefinition=td, networkConfiguration=NETWORK
        )["tasks"][0]["taskArn"]
        task = wait_for_status(fleet.ecs, fleet.cluster, arn, "RUNNING")
        details = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
        ip, name = details["privateIPv4Address"], details["privateDnsName"]
        assert name == "ip-" + ip.replace(".", "-") + ".ec2.internal"
        assert wait_until(lambda: answer(address, name), what=f"{name}") == [ip]
        reverse = dns.reversename.from_address(ip)
        assert answer(address, reverse, "PTR") == [name + "."]

        fleet.ecs.stop_task(cluster=fleet.cluster, task=arn)
        wait_until(lambda: answer(address, name) is None, what=f"{name} to go")
        assert ask(address, reverse, "PTR").answer == []


def test_health_reports_the_dns_loop(server: ServerProcess) -> None:
    url = server.endpoint + "/_portside/health"
    headers = signed_get(url, Credentials(ACCESS_KEY, SECRET_KEY), REGION)
    loops = {loop["name"]: loop for loop in httpx.get(url, headers=headers).json()["loops"]}
    assert loops["dns"]["passes"] > 0 and loops["dns"]["consecutive_errors"] == 0


def test_portside_dns_shows_the_running_servers_address(
    server: ServerProcess, address: tuple[str, int]
) -> None:
    out = subprocess.run(
        [str(BIN / "portside"), "dns", "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"DNS={address[0]}:{address[1]}\n" in out
    assert "Domains=~ec2.internal ~compute.internal ~elb.portside.internal" in out
    assert "nothing answers" not in out
