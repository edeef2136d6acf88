"""Task containers resolve through Portside's DNS (agent/dns_relay.py), on a real Docker
Engine with `portside agent`: an awsvpc task finds another by its privateDnsName and fetches
from it, a load balancer's DNSName resolves, other names still resolve (the host's
resolver, and a stand-in for it behind a control plane of the test's own), a network
namespace whose resolv.conf names the relay gets the same answers, and the relay's listener
goes with its network. Bridge-mode containers get the relay on docker0 unless their
definition names its own dnsServers.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
from aws_query import query_client
from e2e.conftest import AgentProcess
from e2e.images import INDEX_HTML, busybox_image, docker_available
from e2e.test_tasks_docker import HTTPD, register, run, wait_task
from harness import ServerProcess

from portside.agent.dns_relay import ATTRIBUTE
from portside.dns.forward import read_resolv_conf

_unavailable = docker_available()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(_unavailable is not None, reason=str(_unavailable)),
]


@pytest.fixture(scope="module")
def client() -> Any:
    import docker

    return docker.from_env()


def details(task: dict[str, Any]) -> dict[str, str]:
    (eni,) = task["attachments"]
    return {d["name"]: d["value"] for d in eni["details"]}


def subnet_in(server: ServerProcess, cidr: str) -> str:
    """A new VPC with one subnet of `cidr` (its /16 around it)."""
    ec2 = query_client(server, "ec2")
    block = IPv4Network(cidr).supernet(new_prefix=16)
    vpc = ec2.create_vpc(CidrBlock=str(block))["Vpc"]["VpcId"]
    return str(ec2.create_subnet(VpcId=vpc, CidrBlock=cidr)["Subnet"]["SubnetId"])


def open_group(server: ServerProcess, subnet: str, cidr: str) -> str:
    """A security group of the subnet's VPC letting `cidr` reach port 8080 (security groups
    are enforced: the default group admits its own members only)."""
    ec2 = query_client(server, "ec2")
    vpc = ec2.describe_subnets(SubnetIds=[subnet])["Subnets"][0]["VpcId"]
    group = ec2.create_security_group(
        GroupName="web-" + uuid.uuid4().hex[:8], Description="web", VpcId=vpc
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group, IpProtocol="tcp", FromPort=8080, ToPort=8080, CidrIp=cidr
    )
    return str(group)


def web_tasks(
    server: ServerProcess, agent: AgentProcess, subnet: str, count: int, *groups: str
) -> list[dict[str, Any]]:
    """`count` RUNNING awsvpc tasks serving busybox httpd on 8080 in `subnet` (in `groups`
    when given, else the VPC's default group)."""
    ecs = server.client("ecs")
    td = register(
        ecs,
        [
            {
                "name": "web",
                "image": busybox_image(),
                "memory": 32,
                "command": HTTPD,
                "stopTimeout": 2,
            }
        ],
        networkMode="awsvpc",
    )
    config: dict[str, Any] = {"awsvpcConfiguration": {"subnets": [subnet]}}
    if groups:
        config["awsvpcConfiguration"]["securityGroups"] = list(groups)
    arns = [run(ecs, agent, td, networkConfiguration=config) for _ in range(count)]
    return [wait_task(ecs, agent, arn, "RUNNING") for arn in arns]


def stop_all(server: ServerProcess, agent: AgentProcess, tasks: list[dict[str, Any]]) -> None:
    ecs = server.client("ecs")
    for task in tasks:
        ecs.stop_task(cluster=agent.cluster, task=task["taskArn"])
    for task in tasks:
        wait_task(ecs, agent, task["taskArn"], "STOPPED")


def in_task(client: Any, task: dict[str, Any], script: str) -> tuple[int, str]:
    """A shell script run in the task's (first) container."""
    container = client.containers.get(task["containers"][0]["runtimeId"])
    code, out = container.exec_run(["sh", "-c", script])
    return int(code), out.decode(errors="replace")


def retried(command: str) -> str:
    """A shell command tried up to 20 times, 0.25 s apart (a name just made)."""
    return f"for i in $(seq 20); do {command} && exit 0; sleep 0.25; done; exit 1"


def pause_of(client: Any, task: dict[str, Any]) -> Any:
    mode = client.containers.get(task["containers"][0]["runtimeId"]).attrs["HostConfig"]
    return client.containers.get(mode["NetworkMode"].removeprefix("container:"))


def said(server: ServerProcess, agent: AgentProcess) -> list[str | None]:
    """The agent's instance's `portside.task-dns` attribute."""
    attributes = server.client("ecs").list_attributes(
        cluster=agent.cluster, targetType="container-instance", attributeName=ATTRIBUTE
    )["attributes"]
    return [a.get("value") for a in attributes if a["targetId"] == agent.instance_arn]


def wait_for(check: Callable[[], bool], timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def host_resolvable() -> tuple[str, list[str]] | None:
    """A name outside Portside's zones that this host's resolvers answer, with its
    addresses; None when they answer none (no network here)."""
    for server in read_resolv_conf():
        for name in ("deb.debian.org", "pypi.org", "github.com"):
            try:
                answer = dns.query.udp(dns.message.make_query(name, "A"), server, timeout=2)
            except (OSError, dns.exception.Timeout):
                continue
            found = sorted(r.address for s in answer.answer for r in s if r.rdtype == 1)
            if found:
                return name, found
    return None


def test_an_awsvpc_task_finds_another_by_its_private_dns_name(
    server: ServerProcess, agent: AgentProcess, client: Any
) -> None:
    subnet = subnet_in(server, "10.147.1.0/24")
    web, other = web_tasks(server, agent, subnet, 2)
    name, address = details(web)["privateDnsName"], details(web)["privateIPv4Address"]
    assert name == "ip-" + address.replace(".", "-") + ".ec2.internal"
    # The pause holds the resolver every container of the task shares: the relay on the
    # subnet's gateway.
    assert pause_of(client, other).attrs["HostConfig"]["Dns"] == ["10.147.1.1"]

    code, out = in_task(client, other, retried(f"nslookup {name} | grep -q {address}"))
    assert code == 0, out
    code, out = in_task(client, other, f"wget -q -O - http://{name}:8080/index.html")
    assert (code, out) == (0, INDEX_HTML.decode())
    code, out = in_task(client, other, f"echo | nc -w 2 {name} 8080 && echo open")
    assert code == 0 and "open" in out, out

    # A load balancer's DNSName (Portside's zone too).
    elb = query_client(server, "elbv2")
    lb = elb.create_load_balancer(
        Name="dns-" + uuid.uuid4().hex[:8], Subnets=["subnet-0aaa1111", "subnet-0bbb2222"]
    )
    lb_name = lb["LoadBalancers"][0]["DNSName"]
    try:
        code, out = in_task(client, other, retried(f"nslookup {lb_name} | grep -q 127.0.0.1"))
        assert code == 0, out
    finally:
        elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancers"][0]["LoadBalancerArn"])

    # Names that are not Portside's go on to the host's resolvers, as before.
    outside = host_resolvable()
    if outside is not None:
        other_name, _ = outside
        # The host's upstream may be slow on a loaded machine, and a CDN name's addresses
        # rotate: tried again, and any answer for the name counts.
        lookup = retried(f"nslookup {other_name} | grep -q '^Name:'")
        code, out = in_task(client, other, lookup)
        assert code == 0, out

    # The instance says its tasks have Portside's DNS.
    assert wait_for(lambda: said(server, agent) == ["on"]), said(server, agent)

    # The listener goes with the subnet's network (with its last task).
    assert "task DNS on 10.147.1.1:53" in agent.log()
    stop_all(server, agent, [web, other])
    assert wait_for(lambda: "task DNS off 10.147.1.1:53" in agent.log()), agent.log()[-3000:]


@contextlib.contextmanager
def namespace_on(client: Any, network: str, address: str, resolver: str) -> Iterator[str]:
    """A network namespace made here, plugged into a Docker network's bridge at `address`
    (a /24 in it), whose resolv.conf names `resolver` (ip netns exec mounts
    /etc/netns/<name>/resolv.conf over /etc/resolv.conf)."""
    name = "psdns-" + uuid.uuid4().hex[:8]
    bridge = "br-" + client.networks.get(network).id[:12]
    host_end, ns_end = f"v{name[6:]}h", f"v{name[6:]}n"
    conf = Path("/etc/netns") / name
    steps = [
        ["ip", "netns", "add", name],
        ["ip", "link", "add", host_end, "type", "veth", "peer", "name", ns_end],
        ["ip", "link", "set", ns_end, "netns", name],
        ["ip", "link", "set", host_end, "master", bridge],
        ["ip", "link", "set", host_end, "up"],
        ["ip", "-n", name, "addr", "add", f"{address}/24", "dev", ns_end],
        ["ip", "-n", name, "link", "set", ns_end, "up"],
        ["ip", "-n", name, "link", "set", "lo", "up"],
    ]
    try:
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "resolv.conf").write_text(f"nameserver {resolver}\n")
        for step in steps:
            subprocess.run(step, check=True, capture_output=True)
        yield name
    finally:
        subprocess.run(["ip", "link", "del", host_end], capture_output=True)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
        shutil.rmtree(conf, ignore_errors=True)


def netns(name: str, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", name, *command], capture_output=True, text=True, timeout=30
    )


def test_a_namespace_whose_resolver_is_portsides_reaches_a_task_by_name(
    server: ServerProcess, agent: AgentProcess, client: Any
) -> None:
    subnet = subnet_in(server, "10.147.2.0/24")
    (web,) = web_tasks(server, agent, subnet, 1, open_group(server, subnet, "10.147.2.0/24"))
    name = details(web)["privateDnsName"]
    try:
        with namespace_on(client, f"portside-{subnet}", "10.147.2.250", "10.147.2.1") as ns:
            looked = netns(ns, "busybox", "nslookup", name)
            assert details(web)["privateIPv4Address"] in looked.stdout, looked
            fetched = netns(ns, "curl", "-sS", "--max-time", "5", f"http://{name}:8080/")
            assert fetched.stdout == INDEX_HTML.decode(), fetched
            fetched = netns(ns, "busybox", "wget", "-q", "-O", "-", f"http://{name}:8080/")
            assert fetched.stdout == INDEX_HTML.decode(), fetched
    finally:
        stop_all(server, agent, [web])


class FakeResolver:
    """The host's resolver as a control plane of the test's own sees it: on port 53 of a
    loopback address, answering `NAME` and NXDOMAIN otherwise (UDP)."""

    NAME = "outside.example.test."
    ADDRESS = "10.9.9.9"

    def __init__(self, host: str) -> None:
        self.host = host
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 53))
        self.sock.settimeout(0.2)
        self.asked: list[str] = []
        self._stop = False
        import threading

        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                wire, peer = self.sock.recvfrom(4096)
            except OSError:
                continue
            query = dns.message.from_wire(wire)
            name = query.question[0].name.to_text().lower()
            self.asked.append(name)
            response = dns.message.make_response(query)
            if name == self.NAME and query.question[0].rdtype == dns.rdatatype.A:
                response.answer.append(dns.rrset.from_text(name, 30, "IN", "A", self.ADDRESS))
            elif name != self.NAME:
                response.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(response.to_wire(), peer)

    def close(self) -> None:
        self._stop = True
        self.thread.join(2)
        self.sock.close()


class ServerWithResolver(ServerProcess):
    """`portside server` in a mount namespace of its own where /etc/resolv.conf names
    `resolver`: its DNS forwards there what is not Portside's."""

    def __init__(self, data_dir: Path, resolver: str) -> None:
        super().__init__(data_dir)
        self.resolv_conf = data_dir.parent / f"{data_dir.name}-resolv.conf"
        self.resolv_conf.write_text(f"nameserver {resolver}\n")

    def command(self, name: str = "server") -> list[str]:
        script = 'mount --bind "$0" /etc/resolv.conf && exec "$@"'
        return ["unshare", "-m", "sh", "-c", script, str(self.resolv_conf), *super().command(name)]


@pytest.fixture
def forwarding_server(tmp_path: Path) -> Iterator[tuple[ServerProcess, FakeResolver]]:
    resolver = FakeResolver("127.0.0.149")
    server = ServerWithResolver(tmp_path / "server", resolver.host)
    try:
        yield server.start(), resolver
    finally:
        server.close()
        resolver.close()


def test_other_names_are_forwarded_to_the_control_planes_resolver(
    forwarding_server: tuple[ServerProcess, FakeResolver], client: Any, tmp_path: Path
) -> None:
    server, resolver = forwarding_server
    cluster = "dns" + uuid.uuid4().hex[:8]
    server.client("ecs").create_cluster(clusterName=cluster)
    agent = AgentProcess(server, cluster, tmp_path / "agent")
    try:
        agent.start()
        subnet = subnet_in(server, "10.148.1.0/24")
        (task,) = web_tasks(server, agent, subnet, 1)
        code, out = in_task(client, task, retried(f"nslookup {resolver.NAME}"))
        assert code == 0 and resolver.ADDRESS in out, out
        assert resolver.NAME in resolver.asked
        code, out = in_task(client, task, "nslookup nowhere.example.test")
        assert code != 0 and "NXDOMAIN" in out, out
        stop_all(server, agent, [task])
    finally:
        agent.close()


def test_bridge_containers_get_the_relay_on_docker0_unless_they_name_their_own(
    server: ServerProcess, agent: AgentProcess, client: Any
) -> None:
    ecs = server.client("ecs")
    subnet = subnet_in(server, "10.147.3.0/24")
    (web,) = web_tasks(server, agent, subnet, 1)
    name, address = details(web)["privateDnsName"], details(web)["privateIPv4Address"]
    sleep = ["sleep", "600"]
    image = busybox_image()
    td = register(
        ecs,
        [
            {"name": "ours", "image": image, "memory": 32, "command": sleep, "stopTimeout": 1},
            {
                "name": "theirs",
                "image": image,
                "memory": 32,
                "command": sleep,
                "stopTimeout": 1,
                "dnsServers": ["192.0.2.53"],
                "dnsSearchDomains": ["corp.example.test"],
            },
        ],
        networkMode="bridge",
    )
    task = wait_task(ecs, agent, run(ecs, agent, td), "RUNNING")
    try:
        by_name = {c["name"]: client.containers.get(c["runtimeId"]) for c in task["containers"]}
        theirs = by_name["theirs"].attrs["HostConfig"]
        assert (theirs["Dns"], theirs["DnsSearch"]) == (["192.0.2.53"], ["corp.example.test"])
        ours = by_name["ours"].attrs["HostConfig"]["Dns"]
        gateway = client.api.inspect_network("bridge")["IPAM"]["Config"][0].get("Gateway")
        gateway = gateway or "172.17.0.1"
        if ours:
            # The relay on docker0: Portside's names resolve there too.
            assert ours == [gateway]
            assert wait_for(lambda: said(server, agent) == ["on"]), said(server, agent)
            code, out = by_name["ours"].exec_run(["sh", "-c", retried(f"nslookup {name}")])
            assert code == 0 and address in out.decode(), out
        else:
            # Port 53 on docker0 is another's (an agent of another control plane on this
            # Docker Engine, a resolver of the host): Docker's resolver, and it is said.
            assert ours in ([], None)
            off = f"off: {gateway}:53"
            assert wait_for(lambda: str(said(server, agent)).startswith(f"['{off}"))
            assert f"task DNS cannot listen on {gateway}:53" in agent.log()
    finally:
        stop_all(server, agent, [web, task])


def test_a_restarted_agent_serves_its_running_tasks_resolver_again(
    server: ServerProcess, start_agent: Callable[..., AgentProcess], client: Any
) -> None:
    agent = start_agent()
    subnet = subnet_in(server, "10.147.4.0/24")
    web, other = web_tasks(server, agent, subnet, 2)
    name, address = details(web)["privateDnsName"], details(web)["privateIPv4Address"]
    agent.kill()  # its tasks run on, their resolver with it gone
    agent.start()
    assert agent.log().count("task DNS on 10.147.4.1:53") == 2
    code, out = in_task(client, other, retried(f"nslookup {name} | grep -q {address}"))
    assert code == 0, out
    stop_all(server, agent, [web, other])


def test_a_task_on_a_network_of_its_own_resolves_through_its_gateway(
    server: ServerProcess, agent: AgentProcess, client: Any
) -> None:
    """A subnet id EC2 cannot parse keeps the older per-task network (network.py): the relay
    listens on that network's bridge address."""
    ecs = server.client("ecs")
    td = register(
        ecs,
        [
            {
                "name": "web",
                "image": busybox_image(),
                "memory": 32,
                "command": HTTPD,
                "stopTimeout": 2,
            }
        ],
        networkMode="awsvpc",
    )
    config = {"awsvpcConfiguration": {"subnets": ["subnet-0e2e"]}}
    task = wait_task(ecs, agent, run(ecs, agent, td, networkConfiguration=config), "RUNNING")
    pause = pause_of(client, task)
    (network,) = pause.attrs["NetworkSettings"]["Networks"].values()
    assert pause.attrs["HostConfig"]["Dns"] == [network["Gateway"]]
    elb = query_client(server, "elbv2")
    lb = elb.create_load_balancer(
        Name="own-" + uuid.uuid4().hex[:8], Subnets=["subnet-0aaa1111", "subnet-0bbb2222"]
    )["LoadBalancers"][0]
    try:
        script = retried(f"nslookup {lb['DNSName']} | grep -q 127.0.0.1")
        code, out = in_task(client, task, script)
        assert code == 0, out
    finally:
        elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
        stop_all(server, agent, [task])
