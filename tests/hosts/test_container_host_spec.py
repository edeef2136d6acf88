"""Container hosts without Docker: the host container Docker is asked for, the agent's and the
Engine's command lines, the image's root filesystem, the states read from `docker inspect`,
the endpoint hosts are given, and what the host's first process prepares (on a fake cgroup
tree and state directory)."""

from __future__ import annotations

import io
import socket
import tarfile
from pathlib import Path

import orjson
import pytest

from portside.hosts.container import spec as hostspec
from portside.hosts.container.agent import SizedDockerDriver, parse
from portside.hosts.container.entry import nest_cgroup_v2, seed_identity
from portside.hosts.container.image import machine_layout, rootfs
from portside.hosts.container.relay import Relay, agent_endpoint, loopback_ports
from portside.hosts.container.state import container_state
from portside.hosts.provider import CONTAINER_HOST, HostSpec, HostState

SPEC = HostSpec(
    instance_id="i-0abc1234def567890",
    account="000000000000",
    region="eu-west-1",
    zone="eu-west-1b",
    instance_type="m5.large",
    image_id=CONTAINER_HOST,
    cluster="web",
    attributes={"team": "blue", "ecs.ami-id": "ami-custom"},
)
LAYOUT = hostspec.Layout(
    python="/opt/venv/bin/python",
    binds=("/opt/venv", "/usr"),
    symlinks={"bin": "usr/bin", "lib": "usr/lib"},
)
NAMES = hostspec.Names("portside-hosts-1234abcd")


def config(**kwargs: object) -> dict[str, object]:
    return hostspec.container_config(
        SPEC,
        names=NAMES,
        image="portside-container-host:0123",
        run_dir=Path("/data/container-hosts/i-0abc1234def567890"),
        reach=hostspec.Reach("http://172.30.0.1:8080", "172.30.0.1", (8080, 8081)),
        layout=LAYOUT,
        machine_cpus=kwargs.pop("machine_cpus", 8),  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )


def test_the_host_container_is_named_labelled_and_on_the_providers_network() -> None:
    c = config()
    assert c["name"] == "portside-hosts-1234abcd-i-0abc1234def567890"
    assert c["hostname"] == SPEC.instance_id
    assert c["network"] == "portside-hosts-1234abcd"
    assert c["labels"] == {
        "portside.host": SPEC.instance_id,
        "portside.host.provider": "portside-hosts-1234abcd",
        "portside.host.cluster": "web",
        "portside.host.instance-type": "m5.large",
    }
    volume = hostspec.volume_config(SPEC, NAMES)
    assert volume["name"] == "portside-hosts-1234abcd-i-0abc1234def567890-data"
    assert volume["labels"]["portside.host"] == SPEC.instance_id


def test_it_can_do_what_an_engine_does_without_privileged() -> None:
    c = config(caps_missing=["SYS_RESOURCE"])
    assert "privileged" not in c
    assert c["cap_add"] == ["ALL"] and c["cap_drop"] == ["SYS_RESOURCE"]
    assert c["security_opt"] == ["seccomp=unconfined", "apparmor=unconfined"]
    assert c["device_cgroup_rules"] == ["a *:* rwm"]
    assert c["cgroupns"] == "private"


def test_the_machine_is_mounted_read_only_and_the_host_writes_its_volume_and_directory() -> None:
    volumes = config()["volumes"]
    assert volumes == {
        "portside-hosts-1234abcd-i-0abc1234def567890-data": {
            "bind": "/var/lib/docker",
            "mode": "rw",
        },
        "/data/container-hosts/i-0abc1234def567890": {"bind": "/run/portside-host", "mode": "rw"},
        "/opt/venv": {"bind": "/opt/venv", "mode": "ro"},
        "/usr": {"bind": "/usr", "mode": "ro"},
    }


def test_limits_are_the_instance_types_cpus_capped_at_the_machines() -> None:
    assert config()["mem_limit"] == 8192 * 1024 * 1024
    assert config()["nano_cpus"] == 2 * 10**9
    assert config(machine_cpus=1)["nano_cpus"] == 10**9
    assert hostspec.limits("weird.type", 8) == {}


def test_the_command_runs_the_entry_then_the_agent_with_the_specs_settings() -> None:
    command = config()["command"]
    assert isinstance(command, list)
    assert command[:4] == ["/opt/venv/bin/python", "-m", "portside.hosts.container.entry", "--"]
    agent = command[4:]
    assert agent[:3] == ["/opt/venv/bin/python", "-m", "portside.hosts.container.agent"]
    args = parse(agent[3:])
    assert args.endpoint == "http://172.30.0.1:8080"
    assert (args.cluster, args.zone, args.instance_type) == ("web", "eu-west-1b", "m5.large")
    assert args.state_dir == Path("/run/portside-host/agent")
    # The user data's attributes win over the AMI id Portside adds.
    assert args.attribute == ["ecs.ami-id=ami-custom", "team=blue"]
    env = config()["environment"]
    assert isinstance(env, dict)
    assert env["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert env["PORTSIDE_HOST_INSTANCE_ID"] == SPEC.instance_id
    assert env["PORTSIDE_HOST_GATEWAY"] == "172.30.0.1"
    assert env["PORTSIDE_HOST_LOOPBACK"] == "8080,8081"
    assert not any("SECRET" in k for k in env)  # the key is a file of the host's, not env


def test_the_engine_listens_in_the_run_directory_with_its_data_on_the_volume() -> None:
    argv = hostspec.dockerd_command()
    assert argv[0] == "dockerd"
    assert argv[argv.index("--host") + 1] == "unix:///run/portside-host/docker.sock"
    assert argv[argv.index("--data-root") + 1] == "/var/lib/docker"


def test_missing_capabilities_are_named_as_docker_names_them() -> None:
    everything = (1 << 41) - 1
    assert hostspec.missing_caps(everything) == []
    assert hostspec.missing_caps(everything & ~(1 << 24)) == ["SYS_RESOURCE"]
    assert hostspec.missing_caps(everything & ~(1 << 21) & ~1) == ["CHOWN", "SYS_ADMIN"]


def test_nested_directories_are_mounted_once() -> None:
    assert hostspec.nested_dirs(["/work/main/.venv", "/usr", "/work/main", "/usr/lib", "/w"]) == (
        "/usr",
        "/w",
        "/work/main",
    )


def test_the_image_is_an_empty_root_with_the_machines_symlinks() -> None:
    data = rootfs(LAYOUT)
    assert rootfs(LAYOUT) == data  # the same layout, the same image tag
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["bin"].issym() and members["bin"].linkname == "usr/bin"
    assert members["var/run"].linkname == "../run"
    assert all(members[d].isdir() for d in ("proc", "sys", "dev", "etc", "var/lib", "tmp"))
    assert not any(m.isfile() for m in members.values())


def test_the_layout_mounts_this_machines_usr_python_and_portside(tmp_path: Path) -> None:
    (tmp_path / "usr" / "bin").mkdir(parents=True)
    (tmp_path / "lib64").mkdir()
    (tmp_path / "bin").symlink_to("usr/bin")
    (tmp_path / "etc" / "alternatives").mkdir(parents=True)
    layout = machine_layout(tmp_path)
    assert layout.symlinks == {"bin": "usr/bin"}
    assert "/lib64" in layout.binds and "/etc/alternatives" in layout.binds
    assert "/etc/passwd" not in layout.binds  # only what this root has
    import portside

    source = str(Path(portside.__file__).resolve().parents[1])
    assert any(source == b or source.startswith(b + "/") for b in layout.binds)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({"Status": "running"}, (HostState.RUNNING, "")),
        (
            {"Status": "exited", "ExitCode": 137},
            (HostState.STOPPED, "Host container exited with code 137 (killed)"),
        ),
        (
            {"Status": "exited", "ExitCode": 1, "Error": "boom"},
            (HostState.STOPPED, "Host container exited with code 1: boom"),
        ),
        (
            {"Status": "exited", "ExitCode": 137, "OOMKilled": True},
            (HostState.STOPPED, "Host container ran out of memory (exit code 137)"),
        ),
        (
            {"Status": "created"},
            (HostState.STOPPED, "Host container was created but never started"),
        ),
    ],
)
def test_container_states(state: dict[str, object], expected: tuple[HostState, str]) -> None:
    assert container_state(state) == expected


def test_hosts_reach_a_loopback_server_on_the_networks_gateway() -> None:
    assert agent_endpoint("http://127.0.0.1:8080", "172.30.0.1") == "http://172.30.0.1:8080"
    assert agent_endpoint("http://localhost:80", "172.30.0.1") == "http://172.30.0.1:80"
    assert agent_endpoint("http://10.1.2.3:8080", "172.30.0.1") == "http://10.1.2.3:8080"
    assert loopback_ports("http://127.0.0.1:8080", 8081) == (8080, 8081)
    assert loopback_ports("http://localhost", None) == (80,)
    assert loopback_ports("http://10.1.2.3:8080", 8081) == (8081,)  # the registry's alone


def test_the_relay_passes_bytes_both_ways() -> None:
    upstream = socket.create_server(("127.0.0.1", 0))
    port = upstream.getsockname()[1]
    relay = Relay.on("127.0.0.2", port)
    assert relay is not None
    assert Relay.on("127.0.0.2", port) is None  # already answered there
    try:
        with socket.create_connection(("127.0.0.2", port), timeout=5) as client:
            conn, _ = upstream.accept()
            with conn:
                client.sendall(b"ping")
                assert conn.recv(4) == b"ping"
                conn.sendall(b"pong")
                assert client.recv(4) == b"pong"
    finally:
        relay.close()
        upstream.close()


def test_the_entry_moves_itself_out_of_a_v2_root_and_delegates_controllers(
    tmp_path: Path,
) -> None:
    assert nest_cgroup_v2(tmp_path) is False  # v1: no cgroup.controllers
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
    (tmp_path / "cgroup.procs").write_text("1\n")
    (tmp_path / "cgroup.subtree_control").write_text("")
    assert nest_cgroup_v2(tmp_path) is True
    assert (tmp_path / "init" / "cgroup.procs").read_text() == "1"
    assert (tmp_path / "cgroup.subtree_control").read_text() == "+cpu +memory +pids"


def test_the_agent_registers_as_the_ec2_instance(tmp_path: Path) -> None:
    seed_identity(tmp_path / "agent", "i-0abc1234def567890")
    path = tmp_path / "agent" / "instance.json"
    assert orjson.loads(path.read_bytes()) == {"ec2InstanceId": "i-0abc1234def567890"}
    saved = {"ec2InstanceId": "i-0abc1234def567890", "containerInstanceArn": "arn:x"}
    path.write_bytes(orjson.dumps(saved))
    seed_identity(tmp_path / "agent", "i-0abc1234def567890")  # a restart keeps its ARN
    assert orjson.loads(path.read_bytes()) == saved
    seed_identity(tmp_path / "agent", "i-0ffff")  # another instance's state: afresh
    assert orjson.loads(path.read_bytes()) == {"ec2InstanceId": "i-0ffff"}


def test_the_agent_registers_its_instance_types_resources() -> None:
    class Client:
        def info(self) -> dict[str, int]:
            return {"NCPU": 64, "MemTotal": 256 * 1024**3}

    sized = SizedDockerDriver("c5.xlarge", client=Client())
    assert sized.host_resources() == (4096, 8192)
    unknown = SizedDockerDriver("portside.local", client=Client())
    assert unknown.host_resources() == (64 * 1024, 256 * 1024)
