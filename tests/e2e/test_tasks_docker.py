"""Tasks end to end: a real server, `portside agent --driver docker` as a subprocess, a real
Docker Engine, and the clients a user has (boto3, the AWS CLI v1, the docker CLI). Each test
checks what a user would look at: DescribeTasks, `docker ps`, `docker inspect`, the cgroup
files, the task metadata endpoint from inside a container.

Containers that run until stopped trap TERM or have a short stopTimeout: a shell or sleep as
PID 1 ignores SIGTERM, and Docker would wait the 30 s default before killing it.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from e2e.images import INDEX_HTML, busybox_image, docker_available
from e2e.signals import wait_for_trap
from harness import ServerProcess

from portside.agent.docker.state import parse_time
from portside.testing.net import connects, other_host_address

if TYPE_CHECKING:
    from e2e.conftest import AgentProcess, UpProcess

_unavailable = docker_available()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(_unavailable is not None, reason=f"no Docker for e2e: {_unavailable}"),
]

# Runs until SIGTERM, then exits 0 at once.
SERVE = ["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"]
HTTPD = ["httpd", "-f", "-p", "8080", "-h", "/www"]
AWSVPC = {"awsvpcConfiguration": {"subnets": ["subnet-0e2e"], "securityGroups": ["sg-0e2e"]}}
OOM_REASON = "OutOfMemoryError: Container killed due to memory usage"


def container(name: str, command: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "image": busybox_image(),
        "memory": 32,
        "command": command,
        "stopTimeout": 2,
        **extra,
    }


def register(ecs: Any, containers: list[dict[str, Any]], **extra: Any) -> str:
    family = "e2e-" + uuid.uuid4().hex[:8]
    out = ecs.register_task_definition(family=family, containerDefinitions=containers, **extra)
    return str(out["taskDefinition"]["taskDefinitionArn"])


def run(ecs: Any, agent: AgentProcess, td: str, **extra: Any) -> str:
    out = ecs.run_task(cluster=agent.cluster, taskDefinition=td, **extra)
    assert out["failures"] == [], out["failures"]
    return str(out["tasks"][0]["taskArn"])


def describe(ecs: Any, agent: AgentProcess, arn: str) -> dict[str, Any]:
    return dict(ecs.describe_tasks(cluster=agent.cluster, tasks=[arn])["tasks"][0])


def wait_task(
    ecs: Any,
    agent: AgentProcess,
    arn: str,
    until: str | Callable[[dict[str, Any]], bool],
    timeout: float = 30,
) -> dict[str, Any]:
    """Poll DescribeTasks until the task reaches a status (or the predicate holds)."""
    check = until if callable(until) else (lambda t: t["lastStatus"] == until)
    deadline = time.monotonic() + timeout
    while True:
        task = describe(ecs, agent, arn)
        if check(task):
            return task
        if time.monotonic() > deadline:
            raise AssertionError(
                f"task never reached {until}: {json.dumps(task, default=str, indent=1)}\n"
                f"agent log:\n{agent.log()[-4000:]}"
            )
        time.sleep(0.1)


def by_name(task: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in task["containers"]}


def docker(*args: str) -> str:
    """The docker CLI, as a user runs it."""
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, f"docker {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def inspect(runtime_id: str) -> dict[str, Any]:
    return dict(json.loads(docker("inspect", runtime_id))[0])


def ps(task_arn: str, all_: bool = False) -> list[str]:
    """Container ids `docker ps` lists for a task."""
    flags = ["-a"] if all_ else []
    out = docker(
        "ps", *flags, "-q", "--no-trunc", "--filter", f"label=com.amazonaws.ecs.task-arn={task_arn}"
    )
    return out.split()


def get(url: str, timeout: float = 10) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def eni_details(task: dict[str, Any]) -> dict[str, str]:
    eni = next(a for a in task["attachments"] if a["type"] == "ElasticNetworkInterface")
    return {d["name"]: d["value"] for d in eni["details"]}


# -- 1, 2: networking ----------------------------------------------------------------------


def test_bridge_task_answers_on_its_dynamic_host_port(ecs: Any, agent: AgentProcess) -> None:
    td = register(ecs, [container("web", HTTPD, portMappings=[{"containerPort": 8080}])])
    arn = run(ecs, agent, td)
    task = wait_task(ecs, agent, arn, "RUNNING")
    web = task["containers"][0]
    bindings = [b for b in web["networkBindings"] if b["bindIP"] == "0.0.0.0"]
    assert len(bindings) == 1, web["networkBindings"]
    assert bindings[0]["containerPort"] == 8080 and bindings[0]["protocol"] == "tcp"
    port = bindings[0]["hostPort"]
    assert port != 8080 and port > 0  # a dynamic port, chosen by Docker
    response = get(f"http://127.0.0.1:{port}/")
    assert response.status_code == 200 and response.content == INDEX_HTML
    attrs = inspect(web["runtimeId"])
    assert attrs["HostConfig"]["NetworkMode"] == "bridge"
    assert attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"] == str(port)


def test_awsvpc_task_containers_share_localhost(ecs: Any, agent: AgentProcess) -> None:
    client_cmd = (
        "for i in $(seq 50); do wget -qO- http://localhost:8080/ && exit 0; sleep 0.1; done; exit 1"
    )
    td = register(
        ecs,
        [
            container("web", HTTPD),
            container("client", ["sh", "-c", client_cmd], essential=False),
        ],
        networkMode="awsvpc",
    )
    arn = run(ecs, agent, td, networkConfiguration=AWSVPC)
    task = wait_task(
        ecs, agent, arn, lambda t: by_name(t)["client"]["lastStatus"] == "STOPPED", timeout=30
    )
    client = by_name(task)["client"]
    assert client["exitCode"] == 0, docker("logs", client["runtimeId"])
    assert docker("logs", client["runtimeId"]) == INDEX_HTML.decode()
    assert task["lastStatus"] == "RUNNING"  # a non-essential container's exit changes nothing

    eni = next(a for a in task["attachments"] if a["type"] == "ElasticNetworkInterface")
    assert eni["status"] == "ATTACHED"
    details = eni_details(task)
    assert details["subnetId"] == "subnet-0e2e"
    assert details["networkInterfaceId"].startswith("eni-")
    ip, mac = details["privateIPv4Address"], details["macAddress"]
    assert details["privateDnsName"] == "ip-" + ip.replace(".", "-") + ".ec2.internal"
    for c in task["containers"]:
        assert c["networkInterfaces"] == [{"attachmentId": eni["id"], "privateIpv4Address": ip}]
        assert c.get("networkBindings", []) == []
    # The address is the task's own: the pause container holds it, the containers join it.
    web = inspect(by_name(task)["web"]["runtimeId"])
    pause_id = web["HostConfig"]["NetworkMode"].removeprefix("container:")
    networks = inspect(pause_id)["NetworkSettings"]["Networks"]
    assert [(n["IPAddress"], n["MacAddress"]) for n in networks.values()] == [(ip, mac)]
    (network,) = networks
    assert get(f"http://{ip}:8080/").content == INDEX_HTML  # routable from the host

    ecs.stop_task(cluster=agent.cluster, task=arn)
    task = wait_task(ecs, agent, arn, "STOPPED")
    assert task["attachments"][0]["status"] == "DELETED"
    assert docker("network", "ls", "-q", "--filter", f"name=^{network}$").strip() == ""
    assert ps(arn) == []


# -- 3: essential and non-essential exits ----------------------------------------------


def test_essential_exit_stops_the_task_non_essential_does_not(
    ecs: Any, agent: AgentProcess
) -> None:
    wait_for_go = "while [ ! -e /tmp/go ]; do sleep 0.1; done; exit 3"
    td = register(
        ecs,
        [
            container("main", ["sh", "-c", wait_for_go]),
            container("side", ["sh", "-c", "exit 5"], essential=False),
        ],
    )
    arn = run(ecs, agent, td)
    task = wait_task(
        ecs,
        agent,
        arn,
        lambda t: t["lastStatus"] == "RUNNING" and by_name(t)["side"]["lastStatus"] == "STOPPED",
    )
    time.sleep(1)  # give the agent every chance to (wrongly) stop the task
    task = describe(ecs, agent, arn)
    assert task["lastStatus"] == "RUNNING" and task["desiredStatus"] == "RUNNING"
    assert by_name(task)["side"]["exitCode"] == 5
    assert by_name(task)["main"]["lastStatus"] == "RUNNING"

    docker("exec", by_name(task)["main"]["runtimeId"], "touch", "/tmp/go")
    task = wait_task(ecs, agent, arn, "STOPPED")
    assert task["stopCode"] == "EssentialContainerExited"
    assert task["stoppedReason"] == "Essential container in task exited"
    assert by_name(task)["main"]["exitCode"] == 3
    assert by_name(task)["side"]["exitCode"] == 5
    assert task["desiredStatus"] == "STOPPED"


# -- 4, 5: health -------------------------------------------------------------------------


def test_depends_on_healthy_waits_for_the_health_check(ecs: Any, agent: AgentProcess) -> None:
    check = {
        "command": ["CMD-SHELL", "test -e /tmp/ready"],
        "interval": 5,
        "timeout": 2,
        "retries": 3,
        "startPeriod": 60,
    }
    td = register(
        ecs,
        [
            container("db", SERVE, healthCheck=check),
            container("app", SERVE, dependsOn=[{"containerName": "db", "condition": "HEALTHY"}]),
        ],
    )
    arn = run(ecs, agent, td)
    task = wait_task(ecs, agent, arn, lambda t: by_name(t)["db"]["lastStatus"] == "RUNNING")
    db_id = by_name(task)["db"]["runtimeId"]
    docker("exec", db_id, "touch", "/tmp/ready")
    seen: list[tuple[str, str, str]] = []

    def record(t: dict[str, Any]) -> bool:
        c = by_name(t)
        seen.append((c["db"].get("healthStatus", "-"), c["app"]["lastStatus"], t["lastStatus"]))
        return bool(t["lastStatus"] == "RUNNING")

    task = wait_task(ecs, agent, arn, record, timeout=20)
    waiting = [s for s in seen if s[0] != "HEALTHY"]
    assert len(waiting) >= 5, seen  # the first check runs `interval` seconds after the start
    assert all(app == "PENDING" and status == "PENDING" for _, app, status in waiting), seen
    assert by_name(task)["db"]["healthStatus"] == "HEALTHY"

    health = inspect(db_id)["State"]["Health"]
    healthy_at = min(parse_time(p["End"]) or 0 for p in health["Log"] if p["ExitCode"] == 0)
    app = inspect(by_name(task)["app"]["runtimeId"])
    app_started = parse_time(app["State"]["StartedAt"]) or 0
    assert app_started > healthy_at, (app["State"]["StartedAt"], health["Log"])


def test_health_check_turns_unhealthy(ecs: Any, agent: AgentProcess) -> None:
    timing = {"interval": 5, "timeout": 2, "retries": 1}
    well = container("well", SERVE, healthCheck={"command": ["CMD-SHELL", "true"], **timing})
    sick = container("sick", SERVE, healthCheck={"command": ["CMD-SHELL", "exit 1"], **timing})
    mixed = run(ecs, agent, register(ecs, [well, sick]))
    fine = run(ecs, agent, register(ecs, [well]))
    task = wait_task(ecs, agent, mixed, "RUNNING")
    assert {c["healthStatus"] for c in task["containers"]} == {"UNKNOWN"}
    assert task["healthStatus"] == "UNKNOWN"
    task = wait_task(
        ecs, agent, mixed, lambda t: all(c["healthStatus"] != "UNKNOWN" for c in t["containers"])
    )
    assert by_name(task)["sick"]["healthStatus"] == "UNHEALTHY"
    assert by_name(task)["well"]["healthStatus"] == "HEALTHY"
    assert task["healthStatus"] == "UNHEALTHY"
    assert task["lastStatus"] == "RUNNING"  # ECS does not stop a standalone unhealthy task
    task = wait_task(ecs, agent, fine, lambda t: t["healthStatus"] != "UNKNOWN")
    assert task["healthStatus"] == "HEALTHY"


# -- 6, 7: resource limits -----------------------------------------------------------------


def test_memory_limit_oom_kill(ecs: Any, agent: AgentProcess) -> None:
    hog = container("hog", ["sh", "-c", "head -c 64m /dev/zero | tail"], memory=8)
    arn = run(ecs, agent, register(ecs, [hog]))
    task = wait_task(ecs, agent, arn, "STOPPED")
    c = task["containers"][0]
    assert c["exitCode"] == 137
    assert c["reason"] == OOM_REASON
    assert task["stopCode"] == "EssentialContainerExited"
    attrs = inspect(c["runtimeId"])
    assert attrs["State"]["OOMKilled"] is True
    assert attrs["HostConfig"]["Memory"] == 8 * 1024 * 1024


def test_task_cpu_is_a_cfs_quota_on_the_task_cgroup(ecs: Any, agent: AgentProcess) -> None:
    from portside.agent.docker.driver import DockerDriver

    reason = DockerDriver()._cgroups_unusable()
    if reason:
        pytest.skip(f"task cgroups are not usable on this host: {reason}")
    td = register(ecs, [container("app", SERVE)], cpu="512", memory="128")
    arn = run(ecs, agent, td)
    task = wait_task(ecs, agent, arn, "RUNNING")
    assert (task["cpu"], task["memory"]) == ("512", "128")
    attrs = inspect(task["containers"][0]["runtimeId"])
    parent = attrs["HostConfig"]["CgroupParent"]
    assert parent == "/portside/" + arn.rsplit("/", 1)[1]
    root = Path("/sys/fs/cgroup")
    if (root / "cgroup.controllers").exists():
        group = root / parent.lstrip("/")
        assert (group / "cpu.max").read_text().split() == ["50000", "100000"]
        assert (group / "memory.max").read_text().strip() == str(128 * 1024 * 1024)
    else:
        cpu = root / "cpu" / parent.lstrip("/")
        assert (cpu / "cpu.cfs_quota_us").read_text().strip() == "50000"
        assert (cpu / "cpu.cfs_period_us").read_text().strip() == "100000"
        memory = root / "memory" / parent.lstrip("/")
        assert (memory / "memory.limit_in_bytes").read_text().strip() == str(128 * 1024 * 1024)
        assert (cpu / attrs["Id"]).is_dir()  # the container's cgroup sits under the task's


def test_task_memory_is_enforced_by_the_task_cgroup_alone(ecs: Any, agent: AgentProcess) -> None:
    """Not only written down: a container with no hard limit of its own is killed when its
    task's 32 MiB are used up (README, "Task limits: what is enforced where")."""
    from portside.agent.docker.driver import DockerDriver

    reason = DockerDriver()._cgroups_unusable()
    if reason:
        pytest.skip(f"task cgroups are not usable on this host: {reason}")
    hog = container("hog", ["sh", "-c", "head -c 96m /dev/zero | tail"], memoryReservation=8)
    del hog["memory"]
    arn = run(ecs, agent, register(ecs, [hog], memory="32"))
    task = wait_task(ecs, agent, arn, "STOPPED", timeout=60)
    c = task["containers"][0]
    assert c["exitCode"] == 137, task  # SIGKILL: the kernel's OOM killer
    attrs = inspect(c["runtimeId"])
    assert attrs["HostConfig"]["Memory"] == 0  # no limit of the container's own
    assert arn.rsplit("/", 1)[1] in attrs["HostConfig"]["CgroupParent"]  # the task's


# -- 8: StopTask ----------------------------------------------------------------------------


def test_stop_task_sigterm_then_sigkill_after_stop_timeout(ecs: Any, agent: AgentProcess) -> None:
    stubborn = container(
        "stubborn", ["sh", "-c", "trap '' TERM; while true; do sleep 1; done"], stopTimeout=2
    )
    # docker-init as PID 1 passes SIGTERM on to sleep, which dies of it: 128 + 15.
    polite = container(
        "polite", ["sleep", "600"], stopTimeout=20, linuxParameters={"initProcessEnabled": True}
    )
    arn = run(ecs, agent, register(ecs, [stubborn, polite]))
    task = wait_task(ecs, agent, arn, "RUNNING")
    wait_for_trap(by_name(task)["stubborn"]["runtimeId"])
    t0 = time.time()
    ecs.stop_task(cluster=agent.cluster, task=arn, reason="e2e stop")
    task = wait_task(ecs, agent, arn, "STOPPED", timeout=60)
    assert task["stopCode"] == "UserInitiated"
    assert task["stoppedReason"] == "e2e stop"
    c = by_name(task)
    assert c["stubborn"]["exitCode"] == 137
    assert c["polite"]["exitCode"] == 143
    finished = {
        name: parse_time(inspect(c[name]["runtimeId"])["State"]["FinishedAt"]) or 0 for name in c
    }
    # SIGKILL only once its stopTimeout (2 s) was over; SIGTERM went to both at once, so the
    # polite one did not wait for the stubborn one to be killed.
    assert finished["stubborn"] - t0 >= 1.9, finished
    assert finished["polite"] < finished["stubborn"], finished


# -- 9: the task metadata endpoint ----------------------------------------------------------


def test_metadata_endpoint_from_inside_the_containers(ecs: Any, agent: AgentProcess) -> None:
    pair = [container("a", SERVE), container("b", SERVE)]
    bridge = run(ecs, agent, register(ecs, pair))
    awsvpc = run(ecs, agent, register(ecs, pair, networkMode="awsvpc"), networkConfiguration=AWSVPC)
    for arn in (bridge, awsvpc):
        task = wait_task(ecs, agent, arn, "RUNNING")
        ids = {c["name"]: c["runtimeId"] for c in task["containers"]}
        fetch = 'wget -qO- "$ECS_CONTAINER_METADATA_URI_V4$0"'
        meta = json.loads(docker("exec", ids["a"], "sh", "-c", fetch, "/task"))
        assert meta["TaskARN"] == arn
        assert meta["Cluster"] == agent.cluster
        assert meta["KnownStatus"] == "RUNNING"
        assert {c["Name"]: c["DockerId"] for c in meta["Containers"]} == ids
        me = json.loads(docker("exec", ids["b"], "sh", "-c", fetch, ""))
        assert me["DockerId"] == ids["b"] and me["Name"] == "b"
        if arn == awsvpc:
            ip = eni_details(task)["privateIPv4Address"]
            assert me["Networks"][0]["NetworkMode"] == "awsvpc"
            assert me["Networks"][0]["IPv4Addresses"] == [ip]
        else:
            assert me["Networks"][0]["NetworkMode"] == "bridge"


def test_metadata_endpoint_listens_only_where_tasks_reach_it(ecs: Any, agent: AgentProcess) -> None:
    """Issue 12: loopback and the task networks' gateways (docker0 for bridge tasks), not
    every interface of the host."""
    other = other_host_address()
    if other is None:
        pytest.skip("this host has no address besides loopback")
    arn = run(ecs, agent, register(ecs, [container("a", SERVE)]))
    task = wait_task(ecs, agent, arn, "RUNNING")
    runtime_id = task["containers"][0]["runtimeId"]
    uri = docker("exec", runtime_id, "sh", "-c", "echo $ECS_CONTAINER_METADATA_URI_V4").strip()
    gateway = uri.split("//", 1)[1].split(":", 1)[0]
    assert gateway != other
    assert connects(gateway, agent.metadata_port)
    assert connects("127.0.0.1", agent.metadata_port)
    assert not connects(other, agent.metadata_port)


# -- 10: agent restart ----------------------------------------------------------------------


def test_agent_kill_9_and_restart_readopts_its_containers(
    ecs: Any, start_agent: Callable[..., AgentProcess]
) -> None:
    agent = start_agent()
    td = register(ecs, [container("app", SERVE)])
    keep, drop = run(ecs, agent, td), run(ecs, agent, td)
    before = {arn: wait_task(ecs, agent, arn, "RUNNING") for arn in (keep, drop)}
    keep_id = before[keep]["containers"][0]["runtimeId"]
    started = inspect(keep_id)["State"]["StartedAt"]
    instance = agent.instance_arn

    agent.kill()
    ecs.stop_task(cluster=agent.cluster, task=drop, reason="while the agent was down")
    time.sleep(1)
    assert describe(ecs, agent, drop)["lastStatus"] == "RUNNING"  # nobody to stop it yet
    agent.start()
    assert agent.instance_arn == instance

    task = wait_task(ecs, agent, drop, "STOPPED")
    assert task["stopCode"] == "UserInitiated"
    assert task["stoppedReason"] == "while the agent was down"
    assert task["containers"][0]["exitCode"] == 0
    assert ps(drop) == []

    task = describe(ecs, agent, keep)
    assert task["lastStatus"] == "RUNNING"
    assert task["containers"][0]["runtimeId"] == keep_id
    state = inspect(keep_id)["State"]
    assert state["Running"] is True and state["StartedAt"] == started  # never restarted
    assert ps(keep, all_=True) == [keep_id]  # and no second copy
    # The restarted agent still controls the container it adopted.
    ecs.stop_task(cluster=agent.cluster, task=keep)
    task = wait_task(ecs, agent, keep, "STOPPED")
    assert task["containers"][0]["exitCode"] == 0
    assert ps(keep) == []


# -- 11: failures to start ------------------------------------------------------------------


def test_tasks_that_cannot_start_stop_with_the_reason(ecs: Any, agent: AgentProcess) -> None:
    missing = run(
        ecs, agent, register(ecs, [container("app", SERVE, image="portside-test/does-not-exist:1")])
    )
    no_cmd = run(ecs, agent, register(ecs, [container("app", ["/no/such/binary"])]))
    helper = container("helper", ["/no/such/binary"], essential=False)
    no_helper = run(ecs, agent, register(ecs, [container("app", SERVE), helper]))
    task = wait_task(ecs, agent, missing, "STOPPED", timeout=60)
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"].startswith("CannotPullContainerError"), task["stoppedReason"]
    assert task["containers"][0]["reason"].startswith("CannotPullContainerError")
    assert task["containers"][0]["lastStatus"] == "STOPPED"
    task = wait_task(ecs, agent, no_cmd, "STOPPED", timeout=30)
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"].startswith("CannotStartContainerError"), task["stoppedReason"]
    assert "/no/such/binary" in task["stoppedReason"]
    assert task["containers"][0]["reason"] == task["stoppedReason"]
    assert task["containers"][0]["lastStatus"] == "STOPPED"
    # A non-essential container that cannot start does not keep its task from running.
    task = wait_task(ecs, agent, no_helper, "RUNNING", timeout=30)
    c = by_name(task)
    assert c["helper"]["lastStatus"] == "STOPPED"
    assert c["helper"]["reason"].startswith("CannotStartContainerError")
    assert c["app"]["lastStatus"] == "RUNNING"


# -- 12: the AWS CLI's waiters ---------------------------------------------------------------


def test_aws_cli_waiters_and_docker_ps(server: ServerProcess, agent: AgentProcess) -> None:
    family = "e2e-cli-" + uuid.uuid4().hex[:8]
    server.aws(
        "ecs",
        "register-task-definition",
        "--family",
        family,
        "--container-definitions",
        json.dumps([container("app", SERVE)]),
    )
    out = server.aws("ecs", "run-task", "--cluster", agent.cluster, "--task-definition", family)
    arn = out["tasks"][0]["taskArn"]
    server.aws("ecs", "wait", "tasks-running", "--cluster", agent.cluster, "--tasks", arn)
    (running,) = ps(arn)
    task = server.aws("ecs", "describe-tasks", "--cluster", agent.cluster, "--tasks", arn)
    assert task["tasks"][0]["containers"][0]["runtimeId"] == running

    server.aws("ecs", "stop-task", "--cluster", agent.cluster, "--task", arn)
    server.aws("ecs", "wait", "tasks-stopped", "--cluster", agent.cluster, "--tasks", arn)
    task = server.aws("ecs", "describe-tasks", "--cluster", agent.cluster, "--tasks", arn)
    assert task["tasks"][0]["lastStatus"] == "STOPPED"
    assert task["tasks"][0]["stopCode"] == "UserInitiated"
    assert ps(arn) == []
    assert ps(arn, all_=True) == [running]  # kept until the cleanup wait is over


# -- 13: cleanup of stopped containers ------------------------------------------------------


def test_stopped_containers_removed_after_the_cleanup_wait(
    ecs: Any, start_agent: Callable[..., AgentProcess]
) -> None:
    agent = start_agent(cleanup_wait=2)
    arn = run(ecs, agent, register(ecs, [container("app", ["sh", "-c", "sleep 0.5"])]))
    task = wait_task(ecs, agent, arn, "STOPPED")
    runtime_id = task["containers"][0]["runtimeId"]
    assert ps(arn, all_=True) == [runtime_id]  # still there right after it stopped
    finished = parse_time(inspect(runtime_id)["State"]["FinishedAt"]) or 0
    deadline = time.monotonic() + 60
    while ps(arn, all_=True):
        assert time.monotonic() < deadline, "the stopped container was never removed"
        time.sleep(0.2)
    # Not before the wait: Docker's own times of the exit and of the removal, not the
    # moments this test happened to look.
    assert removed_at(runtime_id, since=finished) - finished >= 1.95

    task = describe(ecs, agent, arn)
    assert task["lastStatus"] == "STOPPED"
    assert task["containers"][0]["runtimeId"] == runtime_id


def removed_at(runtime_id: str, since: float) -> float:
    """When Docker destroyed the container (its `destroy` event)."""
    import docker as sdk

    events = sdk.from_env().api.events(
        since=int(since) - 1,
        until=int(time.time()) + 1,
        filters={"container": runtime_id, "event": "destroy"},
        decode=True,
    )
    times = [int(e["timeNano"]) / 1e9 for e in events]
    assert times, f"no destroy event for {runtime_id}"
    return times[0]


# -- 14: portside up -----------------------------------------------------------------------


def test_portside_up_runs_a_task(up: UpProcess) -> None:
    up.aws(
        "ecs",
        "register-task-definition",
        "--family",
        "hello",
        "--container-definitions",
        json.dumps([container("app", SERVE)]),
    )
    out = up.aws("ecs", "run-task", "--task-definition", "hello")
    arn = out["tasks"][0]["taskArn"]
    up.aws("ecs", "wait", "tasks-running", "--tasks", arn)
    (running,) = ps(arn)
    assert inspect(running)["Config"]["Labels"]["com.amazonaws.ecs.cluster"] == "default"
    fetch = 'wget -qO- "$ECS_CONTAINER_METADATA_URI_V4/task"'
    assert json.loads(docker("exec", running, "sh", "-c", fetch))["TaskARN"] == arn
    up.aws("ecs", "stop-task", "--task", arn)
    up.aws("ecs", "wait", "tasks-stopped", "--tasks", arn)
    task = up.aws("ecs", "describe-tasks", "--tasks", arn)["tasks"][0]
    assert (task["lastStatus"], task["stopCode"]) == ("STOPPED", "UserInitiated")
    assert ps(arn) == []
