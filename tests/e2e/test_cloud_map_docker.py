"""Cloud Map names on a real Docker Engine with `portside agent`: a `frontend` task finds
`backend.<namespace>` (A records of an awsvpc service's tasks, registered through its
serviceRegistries) through Portside's DNS and gets busybox httpd's answer; scaled 1 -> 3
the name gives three records; a stopped task's record goes before the task stops; a
bridge-mode service is found through SRV with its dynamic host ports."""

from __future__ import annotations

import urllib.request
import uuid
from typing import Any

import dns.message
import dns.query
import dns.rcode
import orjson
import pytest
from aws_query import query_client
from e2e.conftest import AgentProcess
from e2e.images import INDEX_HTML, busybox_image, docker_available
from e2e.test_task_dns_docker import in_task, open_group, retried, subnet_in, wait_for
from e2e.test_tasks_docker import HTTPD, register, run, wait_task
from fleet import wait_until
from harness import ServerProcess

_unavailable = docker_available()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(_unavailable is not None, reason=str(_unavailable)),
]


@pytest.fixture(scope="module")
def client() -> Any:
    import docker

    return docker.from_env()


def _dns(server: ServerProcess) -> tuple[str, int]:
    host, _, port = orjson.loads((server.data_dir / "server.json").read_bytes())["dns"].rpartition(
        ":"
    )
    return host, int(port)


def ask(server: ServerProcess, name: str, rdtype: str = "A") -> list[str]:
    host, port = _dns(server)
    response = dns.query.udp(dns.message.make_query(name, rdtype), host, port=port, timeout=3)
    if response.rcode() == dns.rcode.NXDOMAIN:
        return []
    return sorted(r.to_text() for rrset in response.answer for r in rrset)


def _cloud_map(
    server: ServerProcess, vpc: str, records: list[str]
) -> tuple[Any, str, dict[str, Any]]:
    sd = server.client("servicediscovery")
    sd.meta.config.inject_host_prefix = False
    ns_name = f"e2e{uuid.uuid4().hex[:8]}.local"
    op = sd.create_private_dns_namespace(Name=ns_name, Vpc=vpc)["OperationId"]
    ns = wait_until(
        lambda: (
            sd.get_operation(OperationId=op)["Operation"]["Status"] == "SUCCESS"
            and sd.get_operation(OperationId=op)["Operation"]["Targets"]["NAMESPACE"]
        ),
        what="the namespace",
    )
    service = sd.create_service(
        Name="backend",
        NamespaceId=ns,
        DnsConfig={"DnsRecords": [{"Type": t, "TTL": 5} for t in records]},
    )["Service"]
    return sd, ns_name, service


def _running(ecs: Any, agent: AgentProcess, service: str) -> list[dict[str, Any]]:
    arns = ecs.list_tasks(cluster=agent.cluster, serviceName=service)["taskArns"]
    tasks = ecs.describe_tasks(cluster=agent.cluster, tasks=arns)["tasks"] if arns else []
    return [t for t in tasks if t["lastStatus"] == "RUNNING"]


def _ip(task: dict[str, Any]) -> str:
    details = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
    return str(details["privateIPv4Address"])


def test_frontend_reaches_backend_by_its_cloud_map_name(
    server: ServerProcess, agent: AgentProcess, client: Any
) -> None:
    ecs = server.client("ecs")
    subnet = subnet_in(server, "10.148.1.0/24")
    group = open_group(server, subnet, "10.148.0.0/16")
    vpc = query_client(server, "ec2").describe_subnets(SubnetIds=[subnet])["Subnets"][0]["VpcId"]
    sd, ns_name, backend = _cloud_map(server, vpc, ["A"])
    name = f"backend.{ns_name}"
    network = {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}}
    web = {
        "name": "web",
        "image": busybox_image(),
        "memory": 32,
        "command": HTTPD,
        "stopTimeout": 2,
    }
    td = register(ecs, [web], networkMode="awsvpc")
    service = "backend-" + uuid.uuid4().hex[:6]
    ecs.create_service(
        cluster=agent.cluster,
        serviceName=service,
        taskDefinition=td,
        desiredCount=1,
        networkConfiguration=network,
        serviceRegistries=[{"registryArn": backend["Arn"]}],
    )
    frontend = None
    try:
        first = wait_until(lambda: _running(ecs, agent, service), timeout=60, what="backend")
        assert wait_until(lambda: ask(server, name), what=name) == [_ip(first[0])]
        front_td = register(ecs, [{**web, "name": "frontend"}], networkMode="awsvpc")
        frontend = wait_task(
            ecs, agent, run(ecs, agent, front_td, networkConfiguration=network), "RUNNING"
        )
        code, out = in_task(
            client, frontend, retried(f"wget -q -O - http://{name}:8080/index.html")
        )
        assert (code, out) == (0, INDEX_HTML.decode())

        ecs.update_service(cluster=agent.cluster, service=service, desiredCount=3)

        def three() -> list[str] | None:
            ips = sorted(_ip(t) for t in _running(ecs, agent, service))
            return ips if len(ips) == 3 and ask(server, name) == ips else None

        ips = wait_until(three, timeout=90, what="three records")
        code, out = in_task(client, frontend, f"nslookup {name}")
        assert code == 0 and all(ip in out for ip in ips), out

        # The record goes with the stop request, while the task is still stopping.
        gone = _running(ecs, agent, service)[0]
        ecs.stop_task(cluster=agent.cluster, task=gone["taskArn"])
        assert wait_until(lambda: _ip(gone) not in ask(server, name), timeout=2, what="removal")
        status = ecs.describe_tasks(cluster=agent.cluster, tasks=[gone["taskArn"]])["tasks"][0]
        assert status["lastStatus"] != "STOPPED"
    finally:
        ecs.update_service(cluster=agent.cluster, service=service, desiredCount=0)
        ecs.delete_service(cluster=agent.cluster, service=service, force=True)
        if frontend is not None:
            ecs.stop_task(cluster=agent.cluster, task=frontend["taskArn"])
        wait_for(lambda: not sd.list_instances(ServiceId=backend["Id"])["Instances"], 60)


def test_bridge_tasks_are_found_through_srv_with_their_host_ports(
    server: ServerProcess, agent: AgentProcess
) -> None:
    ecs = server.client("ecs")
    vpc = query_client(server, "ec2").describe_vpcs()["Vpcs"][0]["VpcId"]
    sd, ns_name, backend = _cloud_map(server, vpc, ["SRV"])
    name = f"backend.{ns_name}"
    web = {
        "name": "web",
        "image": busybox_image(),
        "memory": 32,
        "command": HTTPD,
        "stopTimeout": 2,
        "portMappings": [{"containerPort": 8080, "hostPort": 0}],
    }
    td = register(ecs, [web], networkMode="bridge")
    service = "srv-" + uuid.uuid4().hex[:6]
    ecs.create_service(
        cluster=agent.cluster,
        serviceName=service,
        taskDefinition=td,
        desiredCount=2,
        serviceRegistries=[
            {"registryArn": backend["Arn"], "containerName": "web", "containerPort": 8080}
        ],
    )
    try:
        tasks = wait_until(
            lambda: (found := _running(ecs, agent, service)) and len(found) == 2 and found,
            timeout=60,
            what="two bridge tasks",
        )
        ports = sorted(str(t["containers"][0]["networkBindings"][0]["hostPort"]) for t in tasks)

        def srv() -> list[str] | None:
            found = ask(server, name, "SRV")
            return found if len(found) == 2 else None

        records = wait_until(srv, what="two SRV records")
        assert sorted(r.split()[2] for r in records) == ports
        for record in records:
            priority, weight, port, target = record.split()
            assert (priority, weight) == ("1", "1")
            (address,) = ask(server, target, "A")
            with urllib.request.urlopen(f"http://{address}:{port}/index.html", timeout=5) as r:
                assert r.read() == INDEX_HTML
    finally:
        ecs.update_service(cluster=agent.cluster, service=service, desiredCount=0)
        ecs.delete_service(cluster=agent.cluster, service=service, force=True)
        wait_for(lambda: not sd.list_instances(ServiceId=backend["Id"])["Instances"], 60)
