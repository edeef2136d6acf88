"""The seed's "real world" lines, run as written against a service of real containers: the
task's privateDnsName from `aws ecs describe-tasks --query`, then `curl` to it on 8080,
from a shell whose resolver is Portside's DNS (what `portside dns` tells a host to do).

The control plane serves DNS on port 53 of a loopback address of its own here
(`--dns-host 127.0.0.153 --dns-port 53`); the shell runs in a mount namespace whose
/etc/resolv.conf names it, so the host's own resolver is left alone. The agent relays its
tasks' queries there too (agent/dns_relay.py). Both AWS CLIs: v1 from the venv (it honours
AWS_ENDPOINT_URL) and v2 (Debian's, given --endpoint-url).
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_query import query_client
from e2e.conftest import AgentProcess
from e2e.images import INDEX_HTML, busybox_image, docker_available
from e2e.test_tasks_docker import HTTPD
from harness import AWS_V2, BIN, ServerProcess

_unavailable = docker_available()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(_unavailable is not None, reason=str(_unavailable)),
]

DNS_HOST = "127.0.0.153"

# As the seed's notes write them (the task from the service, its name, curl on 8080).
LINES = """
TASK=$($AWS ecs list-tasks --cluster "$CLUSTER" --service-name "$SERVICE" \\
  --query 'taskArns[0]' --output text)
curl "http://$($AWS ecs describe-tasks --cluster "$CLUSTER" --tasks "$TASK" \\
  --query 'tasks[0].attachments[0].details[?name==`privateDnsName`].value' --output text):8080"
"""


@pytest.fixture(scope="module")
def dns_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("seed")
    proc = ServerProcess(data / "server", None, "--dns-host", DNS_HOST, "--dns-port", "53")
    try:
        yield proc.start()
    finally:
        proc.close()


@pytest.fixture(scope="module")
def seed_agent(
    dns_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AgentProcess]:
    cluster = "seed" + uuid.uuid4().hex[:8]
    dns_server.client().create_cluster(clusterName=cluster)
    proc = AgentProcess(dns_server, cluster, tmp_path_factory.mktemp("seed-agent") / cluster)
    try:
        yield proc.start()
    finally:
        proc.close()


def web_service(server: ServerProcess, agent: AgentProcess) -> str:
    """A service of two awsvpc tasks serving busybox httpd on 8080, in a subnet of a VPC
    whose group lets the VPC reach 8080; RUNNING when this returns."""
    ec2, ecs = query_client(server, "ec2"), server.client("ecs")
    vpc = ec2.create_vpc(CidrBlock="10.149.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.149.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group, IpProtocol="tcp", FromPort=8080, ToPort=8080, CidrIp="10.149.0.0/16"
    )
    web = {"name": "web", "image": busybox_image(), "memory": 32, "command": HTTPD}
    td = ecs.register_task_definition(
        family="seed-web", networkMode="awsvpc", containerDefinitions=[{**web, "stopTimeout": 2}]
    )["taskDefinition"]["taskDefinitionArn"]
    service = "web-" + uuid.uuid4().hex[:6]
    ecs.create_service(
        cluster=agent.cluster,
        serviceName=service,
        taskDefinition=td,
        desiredCount=2,
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}
        },
    )
    waiter = ecs.get_waiter("services_stable")
    waiter.wait(
        cluster=agent.cluster, services=[service], WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    return service


def run_lines(
    server: ServerProcess, tmp: Path, aws: str, **env: str
) -> subprocess.CompletedProcess[str]:
    """LINES in a shell whose /etc/resolv.conf names Portside's DNS (a mount namespace)."""
    resolv_conf = tmp / "resolv.conf"
    resolv_conf.write_text(f"nameserver {DNS_HOST}\n")
    script = 'mount --bind "$0" /etc/resolv.conf && exec sh -ec "$LINES"'
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script, str(resolv_conf)],
        env={**server.env(), "AWS": aws, "LINES": LINES, "AWS_PAGER": "", **env},
        capture_output=True,
        text=True,
        timeout=90,
    )


def test_the_seeds_curl_to_a_tasks_private_dns_name_answers(
    dns_server: ServerProcess, seed_agent: AgentProcess, tmp_path: Path
) -> None:
    service = web_service(dns_server, seed_agent)
    names = {"CLUSTER": seed_agent.cluster, "SERVICE": service}
    v1 = run_lines(dns_server, tmp_path, str(BIN / "aws"), **names)
    assert (v1.returncode, v1.stdout) == (0, INDEX_HTML.decode()), v1.stderr
    v2 = run_lines(dns_server, tmp_path, f"{AWS_V2} --endpoint-url {dns_server.endpoint}", **names)
    assert (v2.returncode, v2.stdout) == (0, INDEX_HTML.decode()), v2.stderr
    ecs: Any = dns_server.client("ecs")
    ecs.update_service(cluster=seed_agent.cluster, service=service, desiredCount=0)
    ecs.delete_service(cluster=seed_agent.cluster, service=service)
