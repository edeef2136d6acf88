"""What one container host is, as Docker is asked for it: the host container's name, labels,
mounts, limits and command line, and the command line of the agent inside it, from a
`HostSpec` and the machine's layout. Pure: the provider (provider.py) creates what this says.

A host container has every capability (its Engine makes networks, iptables rules, mounts and
cgroups), no seccomp or AppArmor profile and every device allowed: what `--privileged`
gives, asked for piece by piece, because `--privileged` fails ("unable to apply caps") where
the Engine itself lacks a capability (CAP_SYS_RESOURCE on a sandboxed machine); the
capabilities the machine's bounding set lacks are dropped. /sys, /proc/sys and the cgroup
mounts are read-only then: entry.py remounts them read-write. It has a cgroup namespace of
its own, so the cgroups its Engine and its tasks make sit under the host's and go with it.

Its root filesystem is the tiny image of image.py; the machine's programs and libraries,
Python and Portside are bind-mounted read-only at the paths they have on the machine, so the
same `dockerd` and the same Portside run inside. Writable: a Docker volume of its own for
the inner Engine's data root (a directory of the machine's Engine, where overlay2 works,
unlike on the container's own overlay root), and a directory of the provider's (`RUN`) for
the Engine's socket, the agent's state and key, and the logs, which the provider reads from
the machine.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from portside.hosts.provider import HostSpec
from portside.ops.instance_types import size_of

LABEL = "portside.host"  # the instance id on a host's container and volume; else its role
LABEL_PROVIDER = "portside.host.provider"  # the provider (one per server data directory)
LABEL_CLUSTER = "portside.host.cluster"
LABEL_TYPE = "portside.host.instance-type"

RUN = "/run/portside-host"  # in the host: the provider's directory for it
DATA_ROOT = "/var/lib/docker"  # in the host: the inner Engine's data root (the volume)
SOCKET = "docker.sock"  # the inner Engine's socket, in RUN
AGENT_STATE = "agent"  # the agent's state directory, in RUN
CREDENTIALS = "credentials.json"  # the agent's signing key, in RUN (0600), not in the env
ENTRY = "portside.hosts.container.entry"
AGENT = "portside.hosts.container.agent"

MIB = 1024 * 1024

# Linux capabilities by number (linux/capability.h), as Docker names them.
CAPABILITIES = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
]


def missing_caps(bounding: int) -> list[str]:
    """The capabilities a bounding set (/proc/self/status CapBnd, as a number) lacks."""
    return [name for bit, name in enumerate(CAPABILITIES) if not bounding >> bit & 1]


@dataclass(frozen=True, slots=True)
class Layout:
    """What a host borrows from the machine: read-only bind mounts (the same path inside)
    and the root's symlinks (bin -> usr/bin on a merged-/usr system) the image carries."""

    python: str = sys.executable
    binds: tuple[str, ...] = ("/usr",)
    symlinks: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Reach:
    """How hosts reach the control plane (relay.py): the agent's endpoint, the gateway of the
    provider's network, and the machine's loopback ports a host relays to the gateway."""

    endpoint: str
    gateway: str
    loopback: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Names:
    """The provider's own names for a host's Docker objects."""

    provider: str  # e.g. portside-hosts-3fa9c2d1

    def container(self, instance_id: str) -> str:
        return f"{self.provider}-{instance_id}"

    def volume(self, instance_id: str) -> str:
        return f"{self.provider}-{instance_id}-data"

    @property
    def network(self) -> str:
        return self.provider


def limits(instance_type: str, machine_cpus: int) -> dict[str, int]:
    """The host container's memory and CPU limits: its instance type's, the CPUs no more
    than the machine has (Docker refuses more); none for a type the table lacks."""
    size = size_of(instance_type)
    if size is None:
        return {}
    cpus, memory = size
    return {"mem_limit": memory * MIB, "nano_cpus": min(cpus, max(machine_cpus, 1)) * 10**9}


def agent_command(spec: HostSpec, endpoint: str, layout: Layout) -> list[str]:
    """The agent's command line inside the host (agent.py)."""
    attributes = {"ecs.ami-id": spec.image_id, **dict(spec.attributes)}
    argv = [
        layout.python,
        "-m",
        AGENT,
        "--endpoint",
        endpoint,
        "--cluster",
        spec.cluster,
        "--zone",
        spec.zone,
        "--instance-type",
        spec.instance_type,
        "--state-dir",
        f"{RUN}/{AGENT_STATE}",
    ]
    for name, value in sorted(attributes.items()):
        argv += ["--attribute", f"{name}={value}"]
    return argv


def container_config(
    spec: HostSpec,
    *,
    names: Names,
    image: str,
    run_dir: Path,
    reach: Reach,
    layout: Layout,
    machine_cpus: int,
    caps_missing: Sequence[str] = (),
) -> dict[str, Any]:
    """docker-py's `containers.create` keywords for the host of `spec`."""
    labels = {
        LABEL: spec.instance_id,
        LABEL_PROVIDER: names.provider,
        LABEL_CLUSTER: spec.cluster,
        LABEL_TYPE: spec.instance_type,
    }
    volumes: dict[str, dict[str, str]] = {
        names.volume(spec.instance_id): {"bind": DATA_ROOT, "mode": "rw"},
        str(run_dir): {"bind": RUN, "mode": "rw"},
    }
    for path in layout.binds:
        volumes[path] = {"bind": path, "mode": "ro"}
    return {
        "image": image,
        "name": names.container(spec.instance_id),
        "hostname": spec.instance_id,
        "command": [
            layout.python,
            "-m",
            ENTRY,
            "--",
            *agent_command(spec, reach.endpoint, layout),
        ],
        "environment": {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": "/root",
            "AWS_DEFAULT_REGION": spec.region,
            "PORTSIDE_HOST_INSTANCE_ID": spec.instance_id,
            "PORTSIDE_HOST_GATEWAY": reach.gateway,
            "PORTSIDE_HOST_LOOPBACK": ",".join(str(p) for p in reach.loopback),
        },
        "labels": labels,
        "cap_add": ["ALL"],
        "cap_drop": list(caps_missing),
        "security_opt": ["seccomp=unconfined", "apparmor=unconfined"],
        "device_cgroup_rules": ["a *:* rwm"],
        "cgroupns": "private",
        "volumes": volumes,
        "tmpfs": {"/tmp": "", "/run": ""},
        "network": names.network,
        "detach": True,
        **limits(spec.instance_type, machine_cpus),
    }


def volume_config(spec: HostSpec, names: Names) -> dict[str, Any]:
    """docker-py's `volumes.create` keywords for the host's data root."""
    return {
        "name": names.volume(spec.instance_id),
        "labels": {LABEL: spec.instance_id, LABEL_PROVIDER: names.provider},
    }


def dockerd_command() -> list[str]:
    """The inner Engine: its socket in RUN (the provider reaches it from the machine), its
    data on the volume, no configuration file of the machine's (/etc/docker is not mounted)."""
    return [
        "dockerd",
        "--host",
        f"unix://{RUN}/{SOCKET}",
        "--data-root",
        DATA_ROOT,
        "--storage-driver",
        "overlay2",
        "--shutdown-timeout",
        "5",
    ]


def nested_dirs(paths: Sequence[str]) -> tuple[str, ...]:
    """`paths` without those inside another of them (one bind mount covers them)."""
    out: list[str] = []
    for path in sorted({str(Path(p)) for p in paths}, key=len):
        if not any(path == o or path.startswith(o.rstrip("/") + "/") for o in out):
            out.append(path)
    return tuple(sorted(out))
