"""The Docker driver's pure parts, without Docker: container definition -> create arguments
(docker_config), inspect -> state (docker_state), task cgroup limits (cgroups)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from portside.agent.docker import cgroups
from portside.agent.docker.config import (
    MIB,
    create_kwargs,
    env_file_path,
    parse_env_file,
    task_network_sysctls,
)
from portside.agent.docker.state import (
    container_state,
    driver_event,
    image_digest,
    network_bindings,
    parse_time,
)
from portside.agent.docker.volumes import plan_volumes
from portside.agent.driver import ContainerSpec, DriverError, TaskResources, TaskSpec

TASK_ID = "0123456789abcdef0123456789abcdef"


def task(
    td: dict[str, Any] | None = None, cpu: str | None = None, mem: str | None = None
) -> TaskSpec:
    return TaskSpec(
        task_arn=f"arn:aws:ecs:us-east-1:000000000000:task/c1/{TASK_ID}",
        task_id=TASK_ID,
        cluster="c1",
        instance_arn="arn:aws:ecs:us-east-1:000000000000:container-instance/c1/i1",
        family="web",
        revision=3,
        definition=td or {},
        cpu=cpu,
        memory=mem,
    )


def kwargs(
    container: dict[str, Any],
    td: dict[str, Any] | None = None,
    resources: TaskResources | None = None,
    env: dict[str, str] | None = None,
    env_files: list[dict[str, str]] | None = None,
    volumes_from: dict[str, str] | None = None,
) -> dict[str, Any]:
    container = {"name": "app", "image": "busybox", **container}
    td = td or {"containerDefinitions": [container]}
    spec = ContainerSpec(
        task=task(td),
        name=container["name"],
        definition=container,
        resources=resources or TaskResources(network_mode=td.get("networkMode", "bridge")),
        environment=env or {},
        labels={"io.portside.managed": "true", "com.amazonaws.ecs.container-name": "app"},
        volumes_from=volumes_from or {},
    )
    return create_kwargs(spec, env_files or [])


# -- basics and resources ---------------------------------------------------------------


def test_minimal_container() -> None:
    kw = kwargs({})
    assert kw["image"] == "busybox"
    assert kw["name"] == f"ecs-web-3-app-{TASK_ID}"
    assert kw["network_mode"] == "bridge"
    assert kw["cpu_shares"] == 2  # ECS agent: an absent cpu becomes 2 shares, not 1024
    for absent in ("command", "entrypoint", "mem_limit", "ports", "log_config", "healthcheck"):
        assert absent not in kw


@pytest.mark.parametrize(("cpu", "shares"), [(0, 2), (1, 2), (2, 2), (128, 128), (1024, 1024)])
def test_cpu_shares(cpu: int, shares: int) -> None:
    assert kwargs({"cpu": cpu})["cpu_shares"] == shares


def test_memory_limits() -> None:
    kw = kwargs({"memory": 256, "memoryReservation": 128})
    assert kw["mem_limit"] == 256 * MIB
    assert kw["mem_reservation"] == 128 * MIB
    assert "memswap_limit" not in kw and "mem_swappiness" not in kw
    assert kwargs({"memory": 4})["mem_limit"] == 6 * MIB  # Docker's floor
    assert "mem_limit" not in kwargs({"memoryReservation": 64})


def test_swap() -> None:
    no_swap = kwargs({"memory": 100, "linuxParameters": {"maxSwap": 0}})
    assert no_swap["memswap_limit"] == 100 * MIB
    assert no_swap["mem_swappiness"] == 60  # ECS's default once maxSwap is set
    swap = kwargs({"memory": 100, "linuxParameters": {"maxSwap": 50, "swappiness": 10}})
    assert swap["memswap_limit"] == 150 * MIB
    assert swap["mem_swappiness"] == 10
    assert "mem_swappiness" not in kwargs({"linuxParameters": {"swappiness": 10}})


def test_process_settings() -> None:
    kw = kwargs(
        {
            "command": ["sh", "-c", "echo hi"],
            "entryPoint": ["/bin/tini", "--"],
            "workingDirectory": "/srv",
            "user": "1000:1000",
            "privileged": True,
            "readonlyRootFilesystem": True,
            "interactive": True,
            "pseudoTerminal": True,
            "dockerSecurityOptions": ["no-new-privileges"],
            "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 4096}],
            "systemControls": [{"namespace": "kernel.shmmax", "value": "1000"}],
        }
    )
    assert kw["command"] == ["sh", "-c", "echo hi"]
    assert kw["entrypoint"] == ["/bin/tini", "--"]
    assert kw["working_dir"] == "/srv" and kw["user"] == "1000:1000"
    assert kw["privileged"] and kw["read_only"] and kw["stdin_open"] and kw["tty"]
    assert kw["security_opt"] == ["no-new-privileges"]
    assert kw["ulimits"] == [{"name": "nofile", "soft": 1024, "hard": 4096}]
    assert kw["sysctls"] == {"kernel.shmmax": "1000"}


def test_linux_parameters() -> None:
    kw = kwargs(
        {
            "linuxParameters": {
                "initProcessEnabled": True,
                "capabilities": {"add": ["NET_ADMIN"], "drop": ["MKNOD"]},
                "tmpfs": [{"containerPath": "/run", "size": 64, "mountOptions": ["noexec"]}],
                "sharedMemorySize": 128,
                "devices": [
                    {"hostPath": "/dev/fuse"},
                    {"hostPath": "/dev/sda", "containerPath": "/dev/xvda", "permissions": ["read"]},
                ],
            }
        }
    )
    assert kw["init"] is True
    assert kw["cap_add"] == ["NET_ADMIN"] and kw["cap_drop"] == ["MKNOD"]
    assert kw["tmpfs"] == {"/run": "noexec,size=64m"}
    assert kw["shm_size"] == 128 * MIB
    assert kw["devices"] == ["/dev/fuse:/dev/fuse:rwm", "/dev/sda:/dev/xvda:r"]


def test_labels_ours_win() -> None:
    kw = kwargs({"dockerLabels": {"team": "a", "io.portside.managed": "false"}})
    assert kw["labels"]["team"] == "a"
    assert kw["labels"]["io.portside.managed"] == "true"


# -- environment ------------------------------------------------------------------------


def test_environment_precedence() -> None:
    kw = kwargs(
        {"environment": [{"name": "A", "value": "def"}, {"name": "B", "value": "def"}]},
        env={"B": "agent", "ECS_CONTAINER_METADATA_URI_V4": "http://x"},
        env_files=[{"A": "file1", "C": "file1"}, {"C": "file2", "D": "file2"}],
    )
    # definition over files, the agent's over all, an earlier file over a later one
    assert kw["environment"] == {
        "A": "def",
        "B": "agent",
        "C": "file1",
        "D": "file2",
        "ECS_CONTAINER_METADATA_URI_V4": "http://x",
    }


def test_env_file_format() -> None:
    text = "# comment\n\nA=1\nB = two words \nnot a var\nC=x=y\nA=again\n"
    assert parse_env_file(text) == {"A": "1", "B": " two words ", "C": "x=y"}


def test_env_file_sources() -> None:
    assert env_file_path({"value": "file:///etc/app.env", "type": "s3"}) == "/etc/app.env"
    assert env_file_path({"value": "/etc/app.env"}) == "/etc/app.env"
    with pytest.raises(DriverError, match=r"^ResourceInitializationError: .*S3"):
        env_file_path({"value": "arn:aws:s3:::bucket/app.env", "type": "s3"})


def test_secrets_must_arrive_resolved() -> None:
    secret = {"secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:ssm:x"}]}
    with pytest.raises(DriverError, match=r"^ResourceInitializationError: .*DB_PASSWORD"):
        kwargs(secret)
    assert kwargs(secret, env={"DB_PASSWORD": "s"})["environment"]["DB_PASSWORD"] == "s"


# -- logging and health -----------------------------------------------------------------


def test_log_configuration() -> None:
    awslogs = {"logDriver": "awslogs", "options": {"awslogs-group": "g"}}
    assert kwargs({"logConfiguration": awslogs})["log_config"] == {
        "type": "json-file",
        "config": {},
    }
    syslog = {"logDriver": "syslog", "options": {"tag": "x"}}
    assert kwargs({"logConfiguration": syslog})["log_config"] == {
        "type": "syslog",
        "config": {"tag": "x"},
    }
    with pytest.raises(DriverError, match=r"^CannotCreateContainerError: .*awsfirelens"):
        kwargs({"logConfiguration": {"logDriver": "awsfirelens"}})


def test_health_check() -> None:
    kw = kwargs({"healthCheck": {"command": ["CMD-SHELL", "curl -f localhost || exit 1"]}})
    assert kw["healthcheck"] == {
        "test": ["CMD-SHELL", "curl -f localhost || exit 1"],
        "interval": 30 * 10**9,
        "timeout": 5 * 10**9,
        "retries": 3,
    }
    hc = {"command": ["/bin/check"], "interval": 5, "timeout": 2, "retries": 1, "startPeriod": 9}
    assert kwargs({"healthCheck": hc})["healthcheck"] == {
        "test": ["CMD", "/bin/check"],
        "interval": 5 * 10**9,
        "timeout": 2 * 10**9,
        "retries": 1,
        "start_period": 9 * 10**9,
    }


# -- networking -------------------------------------------------------------------------


def test_bridge_ports_and_dns() -> None:
    kw = kwargs(
        {
            "portMappings": [
                {"containerPort": 80},
                {"containerPort": 443, "hostPort": 8443},
                {"containerPort": 53, "hostPort": 0, "protocol": "udp"},
                {"containerPort": 80, "hostPort": 8080},
                {"containerPortRange": "9000-9002"},
            ],
            "hostname": "web1",
            "dnsServers": ["10.0.0.2"],
            "dnsSearchDomains": ["corp"],
            "extraHosts": [{"hostname": "db", "ipAddress": "10.0.0.9"}],
            "links": ["db:database"],
        }
    )
    assert kw["ports"] == {
        "80/tcp": [None, 8080],
        "443/tcp": 8443,
        "53/udp": None,
        "9000/tcp": None,
        "9001/tcp": None,
        "9002/tcp": None,
    }
    assert kw["hostname"] == "web1"
    assert kw["dns"] == ["10.0.0.2"] and kw["dns_search"] == ["corp"]
    assert kw["extra_hosts"] == ["db:10.0.0.9"]
    assert kw["links"] == {f"ecs-web-3-db-{TASK_ID}": "database"}


def test_host_mode_publishes_nothing() -> None:
    td = {"networkMode": "host", "containerDefinitions": []}
    kw = kwargs({"portMappings": [{"containerPort": 80, "hostPort": 80}], "hostname": "h"}, td)
    assert kw["network_mode"] == "host"
    assert "ports" not in kw
    assert kw["hostname"] == "h"


def test_awsvpc_joins_the_pause_container() -> None:
    container = {
        "name": "app",
        "image": "busybox",
        "portMappings": [{"containerPort": 80, "hostPort": 80}],
        "systemControls": [
            {"namespace": "net.core.somaxconn", "value": "1024"},
            {"namespace": "kernel.msgmax", "value": "65536"},
        ],
    }
    td = {"networkMode": "awsvpc", "containerDefinitions": [container]}
    res = TaskResources(network_mode="awsvpc", pause_id="p123")
    kw = kwargs(container, td, res)
    assert kw["network_mode"] == "container:p123"
    assert "ports" not in kw
    assert kw["sysctls"] == {"kernel.msgmax": "65536"}
    assert task_network_sysctls(td) == {"net.core.somaxconn": "1024"}
    with pytest.raises(DriverError, match="no pause container"):
        kwargs(container, td, TaskResources(network_mode="awsvpc"))


def test_pid_and_ipc_modes() -> None:
    td = {"pidMode": "task", "ipcMode": "host", "containerDefinitions": []}
    res = TaskResources(network_mode="bridge", extra={"namespace_pause_id": "ns1"})
    kw = kwargs({}, td, res)
    assert kw["pid_mode"] == "container:ns1"
    assert kw["ipc_mode"] == "host"


# -- volumes ----------------------------------------------------------------------------


def test_mount_points_and_volumes_from() -> None:
    res = TaskResources(
        network_mode="bridge", volume_paths={"data": "/srv/data", "cache": "ecs-web-3-cache-x"}
    )
    kw = kwargs(
        {
            "mountPoints": [
                {"sourceVolume": "data", "containerPath": "/data", "readOnly": True},
                {"sourceVolume": "cache", "containerPath": "/cache"},
            ],
            "volumesFrom": [{"sourceContainer": "seed", "readOnly": True}],
        },
        resources=res,
        volumes_from={"seed": "abc123"},
    )
    assert kw["volumes"] == ["/srv/data:/data:ro", "ecs-web-3-cache-x:/cache:rw"]
    assert kw["volumes_from"] == ["abc123:ro"]
    with pytest.raises(DriverError, match="invalid volume nope"):
        kwargs({"mountPoints": [{"sourceVolume": "nope", "containerPath": "/x"}]})
    with pytest.raises(DriverError, match="seed"):
        kwargs({"volumesFrom": [{"sourceContainer": "seed"}]})


def test_plan_volumes() -> None:
    td = {
        "volumes": [
            {"name": "host", "host": {"sourcePath": "/srv"}},
            {"name": "empty"},
            {"name": "empty2", "host": {}},
            {
                "name": "scratch",
                "dockerVolumeConfiguration": {
                    "scope": "task",
                    "driver": "local",
                    "driverOpts": {"type": "tmpfs", "device": "tmpfs"},
                    "labels": {"a": "b"},
                },
            },
            {
                "name": "shared",
                "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": True},
            },
        ]
    }
    owner = {"io.portside.managed": "true"}
    plans = {p.name: p for p in plan_volumes(task(td), owner)}
    assert (plans["host"].kind, plans["host"].source) == ("bind", "/srv")
    assert plans["empty"].kind == "docker" and plans["empty"].scope == "task"
    assert plans["empty"].source == f"ecs-web-3-empty-{TASK_ID}"
    assert plans["empty"].labels == owner
    assert plans["empty2"].source == f"ecs-web-3-empty2-{TASK_ID}"
    assert plans["scratch"].driver_opts == {"type": "tmpfs", "device": "tmpfs"}
    assert plans["scratch"].labels == {"a": "b", **owner}
    assert plans["shared"].source == "shared" and plans["shared"].scope == "shared"
    assert plans["shared"].autoprovision and plans["shared"].labels == {}
    efs = {"volumes": [{"name": "e", "efsVolumeConfiguration": {"fileSystemId": "fs-1"}}]}
    with pytest.raises(DriverError, match="efsVolumeConfiguration is not supported"):
        plan_volumes(task(efs), owner)


# -- docker inspect -> state --------------------------------------------------------------


def inspect_doc(**state: Any) -> dict[str, Any]:
    return {
        "Id": "c1",
        "Image": "sha256:aaa",
        "State": {
            "Status": "running",
            "ExitCode": 0,
            "OOMKilled": False,
            "Error": "",
            "StartedAt": "2024-05-01T12:00:00.123456789Z",
            "FinishedAt": "0001-01-01T00:00:00Z",
            **state,
        },
        "Config": {"Labels": {"io.portside.role": "container"}},
        "NetworkSettings": {
            "Ports": {
                "80/tcp": [
                    {"HostIp": "0.0.0.0", "HostPort": "49153"},
                    {"HostIp": "::", "HostPort": "49153"},
                ],
                "53/udp": [{"HostIp": "0.0.0.0", "HostPort": "5353"}],
                "9000/tcp": None,
            }
        },
    }


def test_running_state() -> None:
    st = container_state(inspect_doc(Health={"Status": "starting"}), "sha256:d")
    assert st.status == "running" and st.exit_code is None
    assert st.health == "UNKNOWN"
    assert st.started_at == pytest.approx(1714564800.123456789)
    assert st.finished_at is None
    assert st.image_digest == "sha256:d"
    assert st.labels == {"io.portside.role": "container"}
    assert st.network_bindings == [
        {"bindIP": "0.0.0.0", "containerPort": 53, "hostPort": 5353, "protocol": "udp"},
        {"bindIP": "0.0.0.0", "containerPort": 80, "hostPort": 49153, "protocol": "tcp"},
        {"bindIP": "::", "containerPort": 80, "hostPort": 49153, "protocol": "tcp"},
    ]


def test_exited_states() -> None:
    oom = container_state(
        inspect_doc(
            Status="exited",
            ExitCode=137,
            OOMKilled=True,
            FinishedAt="2024-05-01T12:00:05Z",
            Health={"Status": "unhealthy"},
        )
    )
    assert (oom.status, oom.exit_code, oom.oom_killed) == ("exited", 137, True)
    assert oom.finished_at == 1714564805.0
    assert oom.health == "UNHEALTHY"
    failed = container_state(inspect_doc(Status="created", Error="exec: not found"))
    assert failed.status == "created" and failed.exit_code is None
    assert failed.error == "exec: not found"
    assert container_state(inspect_doc(Health={"Status": "healthy"})).health == "HEALTHY"
    assert container_state(inspect_doc()).health is None


def test_no_bindings_without_ports() -> None:
    assert network_bindings({"NetworkSettings": {"Ports": {}}}) == []
    assert network_bindings({}) == []


def test_parse_time() -> None:
    assert parse_time("0001-01-01T00:00:00Z") is None
    assert parse_time("") is None
    assert parse_time("2024-05-01T14:00:00.5+02:00") == 1714564800.5


def test_image_digest() -> None:
    assert image_digest({"Id": "sha256:id", "RepoDigests": ["nginx@sha256:abc"]}) == "sha256:abc"
    assert image_digest({"Id": "sha256:id", "RepoDigests": []}) == "sha256:id"


def test_events() -> None:
    ev = driver_event({"Type": "container", "Action": "health_status: unhealthy", "id": "c1"})
    assert ev is not None and (ev.runtime_id, ev.kind) == ("c1", "health")
    die = driver_event({"Type": "container", "Action": "die", "Actor": {"ID": "c2"}})
    assert die is not None and die.kind == "die"
    assert driver_event({"Type": "container", "Action": "attach", "id": "c1"}) is None
    assert driver_event({"Type": "network", "Action": "die", "id": "n"}) is None


# -- task cgroup ------------------------------------------------------------------------


def test_task_limits() -> None:
    td = {"containerDefinitions": [{"name": "a", "cpu": 100, "memory": 128}, {"name": "b"}]}
    assert cgroups.task_limits(task(td)) is None
    both = cgroups.task_limits(task(td, cpu="512", mem="256"))
    assert both == cgroups.TaskLimits(50_000, 100_000, None, 256 * MIB)
    vcpu = cgroups.task_limits(task(td, cpu="2 vCPU"))
    assert vcpu is not None and vcpu.cpu_quota_us == 200_000
    # without task cpu the agent sums the containers' shares (each at least 2)
    mem_only = cgroups.task_limits(task(td, mem="1 GB"))
    assert mem_only == cgroups.TaskLimits(None, 100_000, 102, 1024 * MIB)
    with pytest.raises(DriverError, match="greater than task memory"):
        cgroups.task_limits(task(td, mem="64"))


def test_cgroup_v1_files(tmp_path: Path) -> None:
    for controller in ("cpu", "memory", "pids"):
        (tmp_path / controller).mkdir()
    cg = cgroups.TaskCgroups(tmp_path)
    assert cg.version == 1 and cg.unusable() is None
    limits = cgroups.TaskLimits(50_000, 100_000, None, 256 * MIB)
    assert cg.create("t1", limits) == "/portside/t1"
    assert (tmp_path / "cpu/portside/t1/cpu.cfs_quota_us").read_text() == "50000"
    assert (tmp_path / "cpu/portside/t1/cpu.cfs_period_us").read_text() == "100000"
    assert (tmp_path / "memory/portside/t1/memory.limit_in_bytes").read_text() == str(256 * MIB)
    (tmp_path / "pids/portside/t1").mkdir(parents=True)  # as Docker makes it
    # a plain directory holding files cannot be rmdir'ed (a real cgroup's files can)
    for f in (tmp_path / "cpu/portside/t1").iterdir():
        f.unlink()
    (tmp_path / "memory/portside/t1/memory.limit_in_bytes").unlink()
    assert cg.remove("t1") is True
    assert not any((tmp_path / c / "portside/t1").exists() for c in ("cpu", "memory", "pids"))
    assert cg.remove("t1") is True  # idempotent


def test_cgroup_v2_files(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpu memory io pids\n")
    cg = cgroups.TaskCgroups(tmp_path)
    assert cg.version == 2
    cg.create("t1", cgroups.TaskLimits(25_000, 100_000, None, 64 * MIB))
    assert (tmp_path / "portside/t1/cpu.max").read_text() == "25000 100000"
    assert (tmp_path / "portside/t1/memory.max").read_text() == str(64 * MIB)
    cg.create("t2", cgroups.TaskLimits(None, 100_000, 1024, None))
    assert (tmp_path / "portside/t2/cpu.weight").read_text() == str(cgroups.v2_weight(1024))
    assert cgroups.v2_weight(2) == 1 and cgroups.v2_weight(262144) == 10000


def test_cgroups_unusable(tmp_path: Path) -> None:
    assert "does not exist" in str(cgroups.TaskCgroups(tmp_path / "nope").unusable())
    assert "cpu" in str(cgroups.TaskCgroups(tmp_path).unusable())
