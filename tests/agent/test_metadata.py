from __future__ import annotations

import asyncio
import re
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import pytest

from portside.agent.metadata.server import DEFAULT_PORT, MetadataServer
from portside.agent.metadata.shapes import (
    ContainerMeta,
    HealthMeta,
    NetworkMeta,
    PortMeta,
    TaskMeta,
    VolumeMeta,
    container_document,
    rfc3339_nano,
    task_document,
)
from portside.testing.net import connects, other_host_address

# Keys of the developer guide's v4 examples ("Amazon ECS task metadata v4 examples": an EC2
# task, awsvpc, run by a service), in the order the agent prints them.
DOC_CONTAINER_KEYS = [
    "DockerId", "Name", "DockerName", "Image", "ImageID", "Labels", "DesiredStatus",
    "KnownStatus", "Limits", "CreatedAt", "StartedAt", "Type", "LogDriver", "LogOptions",
    "ContainerARN", "Networks",
]  # fmt: skip
DOC_AWSVPC_NETWORK_KEYS = [
    "NetworkMode", "IPv4Addresses", "AttachmentIndex", "MACAddress", "IPv4SubnetCIDRBlock",
    "PrivateDNSName", "SubnetGatewayIpv4Address",
]  # fmt: skip
DOC_TASK_KEYS = [
    "Cluster", "TaskARN", "Family", "Revision", "DesiredStatus", "KnownStatus",
    "PullStartedAt", "PullStoppedAt", "AvailabilityZone", "LaunchType", "Containers",
]  # fmt: skip
DOC_TASK_WITH_TAGS_KEYS = [
    "Cluster", "TaskARN", "Family", "Revision", "DesiredStatus", "KnownStatus",
    "PullStartedAt", "PullStoppedAt", "AvailabilityZone", "TaskTags", "ContainerInstanceTags",
    "LaunchType", "Containers",
]  # fmt: skip
# The bridge-mode shapes: Ports as the agent prints them since HostIp was added to v4
# (aws/amazon-ecs-agent#3136), Networks as Docker's network settings give them.
DOC_PORT_KEYS = ["ContainerPort", "Protocol", "HostPort", "HostIp"]
DOC_BRIDGE_NETWORK_KEYS = ["NetworkMode", "IPv4Addresses"]

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")
T0 = 1601599385.602352  # 2020-10-02T00:43:05.602352Z

ACCOUNT = "111122223333"
TASK_ARN = f"arn:aws:ecs:us-west-2:{ACCOUNT}:task/default/158d1c8083dd49d6b527399fd6414f5c"
LABELS = {
    "com.amazonaws.ecs.cluster": "default",
    "com.amazonaws.ecs.container-name": "curl",
    "com.amazonaws.ecs.task-arn": TASK_ARN,
    "com.amazonaws.ecs.task-definition-family": "curltest",
    "com.amazonaws.ecs.task-definition-version": "26",
}
ENI = NetworkMeta(
    mode="awsvpc",
    ipv4_addresses=("10.0.2.61",),
    mac_address="0e:10:e2:01:bd:91",
    ipv4_subnet_cidr="10.0.2.0/24",
    ipv4_gateway="10.0.2.1",
    private_dns_name="ip-10-0-2-61.us-west-2.compute.internal",
)


def make_task(**kw: Any) -> TaskMeta:
    base = TaskMeta(
        task_arn=TASK_ARN,
        cluster="default",
        cluster_arn=f"arn:aws:ecs:us-west-2:{ACCOUNT}:cluster/default",
        family="curltest",
        revision=26,
        desired_status="RUNNING",
        known_status="RUNNING",
        network_mode="awsvpc",
        pull_started_at=T0 + 0.6,
        pull_stopped_at=T0 + 0.71,
        availability_zone="us-west-2d",
        launch_type="EC2",
        task_tags={"tag-use": "task-metadata-endpoint-test"},
        instance_tags={"tag_key": "tag_value"},
    )
    return replace(base, **kw)


def make_container(**kw: Any) -> ContainerMeta:
    base = ContainerMeta(
        name="curl",
        runtime_id="ee08638adaaf009d78c248913f629e38299471d45fe7dc944d1039077e3424ca",
        docker_name="ecs-curltest-26-curl-a0e7dba5aca6d8cb2e00",
        image=f"{ACCOUNT}.dkr.ecr.us-west-2.amazonaws.com/curltest:latest",
        image_id="sha256:d691691e9652791a60114e67b365688d20d19940dde7c4736ea30e660d8d3553",
        labels=LABELS,
        desired_status="RUNNING",
        known_status="RUNNING",
        cpu_units=10,
        memory_mib=128,
        created_at=T0 + 0.72,
        started_at=T0 + 1.16,
        container_arn=f"arn:aws:ecs:us-west-2:{ACCOUNT}:container/abb51bdd-11b4-467f",
        log_driver="awslogs",
        log_options={"awslogs-group": "/ecs/metadata", "awslogs-region": "us-west-2"},
        networks=(ENI,),
    )
    return replace(base, **kw)


def in_order(keys: list[str], expected: list[str]) -> bool:
    """Every expected key is present, and they come in the expected order."""
    positions = [keys.index(k) for k in expected]
    return positions == sorted(positions)


# -- timestamps --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("t", "text"),
    [
        (1601597708.0, "2020-10-02T00:15:08Z"),
        (1601597708.5, "2020-10-02T00:15:08.5Z"),
        (1601599386.312884, "2020-10-02T00:43:06.312884Z"),
        (1601597707.620912, "2020-10-02T00:15:07.620912Z"),
        (1601597707.9999996, "2020-10-02T00:15:08Z"),  # rounds into the next second
    ],
)
def test_timestamps_print_as_go_rfc3339_nano(t: float, text: str) -> None:
    assert rfc3339_nano(t) == text


# -- documents ---------------------------------------------------------------------------


def test_container_document_has_every_key_of_the_documented_example_in_order() -> None:
    doc = container_document(make_task(), make_container())
    assert in_order(list(doc), DOC_CONTAINER_KEYS)
    (network,) = doc["Networks"]
    assert list(network) == DOC_AWSVPC_NETWORK_KEYS
    assert network == {
        "NetworkMode": "awsvpc",
        "IPv4Addresses": ["10.0.2.61"],
        "AttachmentIndex": 0,
        "MACAddress": "0e:10:e2:01:bd:91",
        "IPv4SubnetCIDRBlock": "10.0.2.0/24",
        "PrivateDNSName": "ip-10-0-2-61.us-west-2.compute.internal",
        "SubnetGatewayIpv4Address": "10.0.2.1/24",
    }


def test_container_document_types() -> None:
    doc = container_document(make_task(), make_container())
    for key in ("DockerId", "Name", "DockerName", "Image", "ImageID", "Type", "LogDriver"):
        assert isinstance(doc[key], str), key
    assert doc["Type"] == "NORMAL"
    assert doc["Labels"] == LABELS
    assert doc["Limits"] == {"CPU": 10, "Memory": 128}
    assert isinstance(doc["Limits"]["CPU"], int)  # Go prints a whole float64 as 10
    assert all(TIMESTAMP.match(doc[k]) for k in ("CreatedAt", "StartedAt"))
    assert doc["CreatedAt"] == "2020-10-02T00:43:06.322352Z"


def test_task_document_has_every_key_of_the_documented_example_in_order() -> None:
    containers = [make_container()]
    doc = task_document(make_task(), containers, with_tags=False)
    assert in_order(list(doc), DOC_TASK_KEYS)
    assert "TaskTags" not in doc and "ContainerInstanceTags" not in doc
    assert doc["Cluster"] == "default"
    assert doc["Revision"] == "26"
    assert doc["LaunchType"] == "EC2"
    assert doc["FaultInjectionEnabled"] is False
    assert doc["Containers"] == [container_document(make_task(), containers[0])]
    assert TIMESTAMP.match(doc["PullStartedAt"])


def test_task_with_tags_document() -> None:
    doc = task_document(make_task(), [make_container()], with_tags=True)
    assert in_order(list(doc), DOC_TASK_WITH_TAGS_KEYS)
    assert doc["TaskTags"] == {"tag-use": "task-metadata-endpoint-test"}
    assert doc["ContainerInstanceTags"] == {"tag_key": "tag_value"}


def test_bridge_container_ports_and_networks() -> None:
    task = make_task(network_mode="bridge", availability_zone="")
    c = make_container(
        networks=(NetworkMeta("bridge", ipv4_addresses=("172.17.0.2",)),),
        ports=(PortMeta(80, "tcp", 32768, "0.0.0.0"), PortMeta(80, "tcp", 32769, "::")),
    )
    doc = container_document(task, c)
    assert doc["Networks"] == [{"NetworkMode": "bridge", "IPv4Addresses": ["172.17.0.2"]}]
    assert list(doc["Networks"][0]) == DOC_BRIDGE_NETWORK_KEYS
    assert [list(p) for p in doc["Ports"]] == [DOC_PORT_KEYS, DOC_PORT_KEYS]
    assert doc["Ports"][1] == {
        "ContainerPort": 80,
        "Protocol": "tcp",
        "HostPort": 32769,
        "HostIp": "::",
    }
    assert list(doc).index("Ports") == list(doc).index("ImageID") + 1
    assert "AvailabilityZone" not in task_document(task, [c], with_tags=False)


def test_host_network_has_no_addresses() -> None:
    doc = container_document(
        make_task(network_mode="host"), make_container(networks=(NetworkMeta("host"),))
    )
    assert doc["Networks"] == [{"NetworkMode": "host"}]


def test_awsvpc_ports_map_to_themselves() -> None:
    c = make_container(ports=(PortMeta(8080, "tcp", 0),))
    assert container_document(make_task(), c)["Ports"] == [
        {"ContainerPort": 8080, "Protocol": "tcp", "HostPort": 8080}
    ]


def test_exit_code_finished_at_and_empty_fields() -> None:
    running = container_document(make_task(), make_container(labels={}, log_options={}))
    for key in ("ExitCode", "FinishedAt", "Labels", "LogOptions", "Health", "Ports", "Volumes"):
        assert key not in running, key
    exited = container_document(
        make_task(),
        make_container(known_status="STOPPED", exit_code=0, finished_at=T0 + 9),
    )
    assert exited["ExitCode"] == 0
    assert exited["FinishedAt"] == "2020-10-02T00:43:14.602352Z"
    assert list(exited).index("ExitCode") < list(exited).index("Limits")


def test_container_not_yet_created() -> None:
    c = make_container(
        runtime_id="",
        docker_name="",
        known_status="PULLED",
        created_at=None,
        started_at=None,
    )
    doc = container_document(make_task(), c)
    assert doc["DockerId"] == "" and doc["DockerName"] == ""
    for key in ("CreatedAt", "StartedAt", "Networks"):
        assert key not in doc


def test_limits() -> None:
    task = make_task(cpu_units=256, memory_mib=512)
    assert task_document(task, [], with_tags=False)["Limits"] == {"CPU": 0.25, "Memory": 512}
    assert task_document(make_task(cpu_units=2048), [], with_tags=False)["Limits"] == {"CPU": 2}
    assert "Limits" not in task_document(make_task(), [], with_tags=False)
    # ECS reports container CPU below two units as two; an unset hard limit as 0.
    c = make_container(cpu_units=0, memory_mib=None)
    assert container_document(make_task(), c)["Limits"] == {"CPU": 2, "Memory": 0}


def test_health() -> None:
    unknown = make_container(health=HealthMeta())
    assert container_document(make_task(), unknown)["Health"] == {}
    failing = make_container(
        health=HealthMeta("UNHEALTHY", since=T0, exit_code=1, output="curl: (7)")
    )
    assert container_document(make_task(), failing)["Health"] == {
        "status": "UNHEALTHY",
        "statusSince": "2020-10-02T00:43:05.602352Z",
        "exitCode": 1,
        "output": "curl: (7)",
    }
    healthy = make_container(health=HealthMeta("HEALTHY", since=T0))
    assert list(container_document(make_task(), healthy)["Health"]) == ["status", "statusSince"]


def test_volumes_and_restart_count() -> None:
    c = make_container(
        volumes=(VolumeMeta(source="/data", destination="/mnt"), VolumeMeta("v1", "/s", "/d")),
        restart_count=3,
    )
    doc = container_document(make_task(), c)
    assert doc["Volumes"] == [
        {"Source": "/data", "Destination": "/mnt"},
        {"DockerName": "v1", "Source": "/s", "Destination": "/d"},
    ]
    assert doc["RestartCount"] == 3
    assert list(doc)[-1] == "RestartCount"


def test_fargate_reports_the_cluster_arn_and_no_instance_tags() -> None:
    task = make_task(launch_type="FARGATE", instance_tags=None, service_name="MyService")
    doc = task_document(task, [], with_tags=True)
    assert doc["Cluster"] == task.cluster_arn
    assert "ContainerInstanceTags" not in doc
    assert doc["ServiceName"] == "MyService"
    assert "VPCID" not in doc


def test_version_3_leaves_out_what_only_v4_reports() -> None:
    task = make_task(vpc_id="vpc-1", service_name="svc")
    c = make_container(ports=(PortMeta(80, "tcp", 0, "0.0.0.0"),), restart_count=1)
    doc = container_document(task, c, version=3)
    for key in ("LogDriver", "LogOptions", "ContainerARN", "RestartCount"):
        assert key not in doc
    assert doc["Networks"] == [{"NetworkMode": "awsvpc", "IPv4Addresses": ["10.0.2.61"]}]
    assert doc["Ports"] == [{"ContainerPort": 80, "Protocol": "tcp", "HostPort": 80}]
    tdoc = task_document(task, [c], with_tags=False, version=3)
    for key in ("LaunchType", "VPCID", "ServiceName", "FaultInjectionEnabled"):
        assert key not in tdoc
    # v3 skips a not-yet-created container outside awsvpc; v4 lists it.
    bridge = make_task(network_mode="bridge")
    pending = make_container(name="later", runtime_id="", networks=())
    listed = task_document(bridge, [c, pending], with_tags=False, version=3)["Containers"]
    assert [x["Name"] for x in listed] == ["curl"]
    listed = task_document(bridge, [c, pending], with_tags=False)["Containers"]
    assert [x["Name"] for x in listed] == ["curl", "later"]


def test_gateway_keeps_a_given_prefix() -> None:
    eni = replace(ENI, ipv4_gateway="10.0.2.1/24")
    doc = container_document(make_task(), make_container(networks=(eni,)))
    assert doc["Networks"][0]["SubnetGatewayIpv4Address"] == "10.0.2.1/24"


# -- the server --------------------------------------------------------------------------

SIDECAR_ID = "598cba581fe3f939459eaba1e071d5c93bb2c49b7d1ba7db6bb19deeb70d8e38"


def stats_sample(runtime_id: str) -> dict[str, Any]:
    return {
        "read": "2020-10-02T00:51:13.410254284Z",
        "preread": "2020-10-02T00:51:12.406202398Z",
        "pids_stats": {"current": 3},
        "cpu_stats": {"cpu_usage": {"total_usage": 360968065}, "online_cpus": 2},
        "memory_stats": {"usage": 1806336, "limit": 134217728},
        "name": "/ecs-curltest-26-curl",
        "id": runtime_id,
        "networks": {"eth0": {"rx_bytes": 84, "tx_bytes": 84}},
    }


@dataclass
class FakeSource:
    containers: dict[str, tuple[TaskMeta, ContainerMeta]] = field(default_factory=dict)
    tasks: dict[str, list[ContainerMeta]] = field(default_factory=dict)
    broken: set[str] = field(default_factory=set)  # runtime ids whose stats fail

    def add(self, token: str, task: TaskMeta, container: ContainerMeta) -> None:
        self.containers[token] = (task, container)
        self.tasks.setdefault(task.task_arn, []).append(container)

    def lookup(self, token: str) -> tuple[TaskMeta, ContainerMeta] | None:
        return self.containers.get(token)

    def task_containers(self, task_arn: str) -> list[ContainerMeta]:
        return list(self.tasks.get(task_arn, []))

    def stats(self, runtime_id: str) -> dict[str, Any]:
        if runtime_id in self.broken:
            raise RuntimeError("no such container")
        return stats_sample(runtime_id)


@pytest.fixture(scope="module")
def running() -> Iterator[MetadataServer]:
    """One endpoint for the module, served from its own loop thread like the agent's."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    srv = MetadataServer(FakeSource(), "127.0.0.1", 0)
    asyncio.run_coroutine_threadsafe(srv.start(), loop).result(10)
    try:
        yield srv
    finally:
        asyncio.run_coroutine_threadsafe(srv.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture
def source(running: MetadataServer) -> FakeSource:
    src = FakeSource()
    task = make_task()
    src.add("tok-curl", task, make_container())
    src.add("tok-sidecar", task, make_container(name="sidecar", runtime_id=SIDECAR_ID))
    src.add("tok-pending", task, make_container(name="pending", runtime_id="", docker_name=""))
    running.source = src
    return src


@pytest.fixture
def server(running: MetadataServer, source: FakeSource) -> MetadataServer:
    return running


@pytest.fixture
def http(server: MetadataServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as client:
        yield client


def test_default_port_and_uri() -> None:
    srv = MetadataServer(FakeSource(), "0.0.0.0")
    assert srv.port == DEFAULT_PORT == 51680
    assert srv.uri_for("172.17.0.1", "abc") == "http://172.17.0.1:51680/v4/abc"
    assert srv.uri_for("fd00::1", "abc") == "http://[fd00::1]:51680/v4/abc"


def test_uri_for_reaches_the_container_route(server: MetadataServer) -> None:
    response = httpx.get(server.uri_for("127.0.0.1", "tok-curl"), timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["Name"] == "curl"


@pytest.mark.parametrize("version", [3, 4])
def test_container_route(http: httpx.Client, source: FakeSource, version: int) -> None:
    body = http.get(f"/v{version}/tok-curl").json()
    task, container = source.containers["tok-curl"]
    assert body == container_document(task, container, version=version)
    if version == 4:
        assert in_order(list(body), DOC_CONTAINER_KEYS)


@pytest.mark.parametrize("version", [3, 4])
@pytest.mark.parametrize("with_tags", [False, True])
def test_task_routes(http: httpx.Client, source: FakeSource, version: int, with_tags: bool) -> None:
    path = "taskWithTags" if with_tags else "task"
    body = http.get(f"/v{version}/tok-sidecar/{path}").json()
    task = make_task()
    expected = task_document(
        task, source.tasks[task.task_arn], with_tags=with_tags, version=version
    )
    assert body == expected
    assert [c["Name"] for c in body["Containers"]] == ["curl", "sidecar", "pending"]
    assert ("TaskTags" in body) is with_tags
    if version == 4:
        assert in_order(list(body), DOC_TASK_WITH_TAGS_KEYS if with_tags else DOC_TASK_KEYS)


def test_pending_container_route(http: httpx.Client) -> None:
    body = http.get("/v4/tok-pending").json()
    assert body["DockerId"] == "" and "Networks" not in body


@pytest.mark.parametrize("version", [3, 4])
def test_container_stats_pass_through(http: httpx.Client, version: int) -> None:
    response = http.get(f"/v{version}/tok-sidecar/stats")
    assert response.status_code == 200
    assert response.json() == stats_sample(SIDECAR_ID)


@pytest.mark.parametrize("version", [3, 4])
def test_task_stats_map_every_started_container(
    http: httpx.Client, source: FakeSource, version: int
) -> None:
    curl_id = source.containers["tok-curl"][1].runtime_id
    source.broken.add(curl_id)
    body = http.get(f"/v{version}/tok-pending/task/stats").json()
    # ECS maps a container whose stats it cannot read to an empty object.
    assert body == {curl_id: {}, SIDECAR_ID: stats_sample(SIDECAR_ID)}


def test_container_stats_failures(http: httpx.Client, source: FakeSource) -> None:
    source.broken.add(SIDECAR_ID)
    response = http.get("/v4/tok-sidecar/stats")
    assert response.status_code == 500
    assert response.json() == f"Unable to get container stats for: {SIDECAR_ID}"
    assert http.get("/v3/tok-sidecar/stats").status_code == 400
    response = http.get("/v4/tok-pending/stats")
    assert response.status_code == 404
    assert response.json() == (
        "V4 container stats handler: unable to get container ID from request: "
        "unable to get docker ID from v3 endpoint ID: tok-pending"
    )


NO_CONTAINER = (
    "unable to get container ID from request: unable to get docker ID from v3 endpoint ID: nope"
)
NO_TASK = "unable to get task arn from request: unable to get task Arn from v3 endpoint ID: nope"


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/v4/nope", 404, f"V4 container metadata handler: {NO_CONTAINER}"),
        ("/v4/nope/task", 404, f"V4 task metadata handler: {NO_TASK}"),
        ("/v4/nope/taskWithTags", 404, f"V4 task metadata handler: {NO_TASK}"),
        ("/v4/nope/stats", 404, f"V4 container stats handler: {NO_TASK}"),
        ("/v4/nope/task/stats", 404, f"V4 task stats handler: {NO_TASK}"),
        ("/v3/nope", 400, f"V3 container metadata handler: {NO_CONTAINER}"),
        ("/v3/nope/task", 500, f"V3 task metadata handler: {NO_TASK}"),
        ("/v3/nope/taskWithTags", 500, f"V3 task metadata handler: {NO_TASK}"),
        ("/v3/nope/stats", 400, f"V3 container stats handler: {NO_TASK}"),
        ("/v3/nope/task/stats", 400, f"V3 task stats handler: {NO_TASK}"),
    ],
)
def test_unknown_token(http: httpx.Client, path: str, status: int, message: str) -> None:
    response = http.get(path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json() == message


def test_unknown_path(http: httpx.Client) -> None:
    for path in ("/v4/tok-curl/nothing", "/v2/metadata", "/v4/tok-curl/"):
        response = http.get(path)
        assert response.status_code == 404
        assert response.text == "404 page not found\n"


def test_a_failing_source_answers_like_ecs(http: httpx.Client, source: FakeSource) -> None:
    def boom(token: str) -> None:
        raise RuntimeError("state is gone")

    source.lookup = boom  # type: ignore[method-assign]
    response = http.get("/v4/tok-curl")
    assert (response.status_code, response.json()) == (500, "failed to get container metadata")
    assert http.get("/v4/tok-curl/task").json() == "failed to get task metadata"


def test_start_and_stop_leave_the_process_signals_alone() -> None:
    def handlers() -> tuple[Any, Any]:
        return signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)

    async def run() -> None:
        before = handlers()  # asyncio.run's own SIGINT handler included
        srv = MetadataServer(FakeSource(), "127.0.0.1", 0)
        await srv.start()
        assert handlers() == before
        async with httpx.AsyncClient() as client:
            response = await client.get(srv.uri_for("127.0.0.1", "x"))
        assert response.status_code == 404
        await srv.stop()
        await srv.stop()  # idempotent
        assert handlers() == before

    asyncio.run(run())


def test_it_serves_where_tasks_reach_it_and_nowhere_else() -> None:
    """Issue 12: loopback to start with, then each address it is told of (a task network's
    gateway); never another interface of the host."""
    other = other_host_address()
    if other is None:
        pytest.skip("this host has no address besides loopback")

    async def run() -> None:
        srv = MetadataServer(FakeSource(), port=0)
        await srv.start()
        try:
            assert await asyncio.to_thread(connects, "127.0.0.1", srv.port)
            assert not await asyncio.to_thread(connects, other, srv.port)
            await srv.listen(other)  # as the agent does for a task network's gateway
            assert srv.addresses == {"127.0.0.1", other}
            async with httpx.AsyncClient() as client:
                response = await client.get(srv.uri_for(other, "x"))
            assert response.status_code == 404  # served there now, by the same endpoint
        finally:
            await srv.stop()
        assert not await asyncio.to_thread(connects, other, srv.port)

    asyncio.run(run())
