"""Task networking on Docker: awsvpc as its EC2 subnet's network (subnets.py) or, for a task
whose ENI names no subnet record, a dedicated bridge network per task, plus a pause
container that holds the network namespace every container of the task joins (ECS agent: the
`~internal~ecs~pause` container, CNI-configured there, a Docker network here); and the pause
image itself, built locally from a static busybox because no registry may be reachable.

A network of its own takes its block from the daemon's address pools: with the default pools
about 30 networks (15 /16s in 172.17-31 and 16 /20s in 192.168) a host. Subnet networks take
no pool: any number of a subnet's tasks share one.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import json
import logging
import shutil
import struct
import tarfile
import threading
from collections.abc import Callable, Mapping
from typing import Any

import docker
import docker.errors

from portside.agent.docker import subnets
from portside.agent.driver import LABEL_CONTAINER, LABEL_ROLE, DriverError

log = logging.getLogger(__name__)

PAUSE_IMAGE = "portside/pause:1"
# PID 1 ignores signals it has no handler for, so the pause process traps TERM itself.
_PAUSE_ENTRYPOINT = [
    "/bin/busybox",
    "sh",
    "-c",
    "trap 'exit 0' TERM INT; /bin/busybox sleep 2147483647 & wait",
]
_BUSYBOX_PATHS = ("/bin/busybox", "/usr/bin/busybox")


class PauseImage:
    """Makes sure the pause image exists: present locally, else built from the host's static
    busybox (Debian: busybox-static), else pulled (for a configured image such as
    registry.k8s.io/pause)."""

    def __init__(self, client: Any, image: str = PAUSE_IMAGE, busybox: str | None = None):
        self.client = client
        self.image = image
        self.busybox = busybox
        self._lock = threading.Lock()
        self._ready = False

    def ensure(self) -> str:
        with self._lock:
            if self._ready and self._exists():
                return self.image
            if not self._exists():
                busybox = self.busybox or _find_busybox()
                if self.image == PAUSE_IMAGE and busybox:
                    self._build(busybox)
                else:
                    self._pull()
            self._ready = True
            return self.image

    def _exists(self) -> bool:
        try:
            self.client.images.get(self.image)
            return True
        except docker.errors.ImageNotFound:
            return False

    def _build(self, busybox: str) -> None:
        dockerfile = (
            "FROM scratch\n"
            "COPY busybox /bin/busybox\n"
            'LABEL io.portside.managed="true"\n'
            f"ENTRYPOINT {json.dumps(_PAUSE_ENTRYPOINT)}\n"
        ).encode()
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            _add_bytes(tar, "Dockerfile", dockerfile, 0o644)
            tar.add(busybox, arcname="busybox")
        buf.seek(0)
        try:
            self.client.images.build(fileobj=buf, custom_context=True, tag=self.image, rm=True)
        except (docker.errors.BuildError, docker.errors.APIError) as exc:
            raise DriverError(
                f"ResourceInitializationError: cannot build the pause image {self.image}: {exc}"
            ) from exc

    def _pull(self) -> None:
        try:
            self.client.images.pull(self.image)
        except docker.errors.APIError as exc:
            raise DriverError(
                f"ResourceInitializationError: no pause image {self.image}: install "
                "busybox-static so Portside can build it, or make the image available: "
                f"{_explain(exc)}"
            ) from exc


def bridge_gateway(client: Any) -> str | None:
    """docker0's gateway address (typically 172.17.0.1): where bridge-mode containers reach
    the agent's endpoints on the host."""
    try:
        net = client.api.inspect_network("bridge")
    except docker.errors.APIError:
        return None
    for cfg in (net.get("IPAM") or {}).get("Config") or ():
        if cfg.get("Gateway"):
            return str(cfg["Gateway"])
        # The default bridge often records only its subnet: docker0 then holds the first
        # address of it (the daemon's default when no --bip is given).
        with contextlib.suppress(ValueError, IndexError):
            subnet = ipaddress.ip_network(str(cfg.get("Subnet")), strict=False)
            if subnet.version == 4:
                return str(subnet[1])
    return None


def network_name(task_id: str) -> str:
    return f"portside-{task_id[:12]}"


def create_awsvpc(
    client: Any,
    *,
    task_id: str,
    pause_name: str,
    pause_image: str,
    labels: Mapping[str, str],
    sysctls: Mapping[str, str],
    attachment: Mapping[str, Any] | None = None,
    dns_for: Callable[[str], list[str]] | None = None,
    hosts_for: Callable[[str], dict[str, str]] | None = None,
) -> dict[str, Any]:
    """The task's network and its running pause container (both reused when they exist, so a
    retried setup is harmless): its subnet's network at its ENI's address when `attachment`
    (the task's ENI attachment) names them (subnets.py), else a network of its own.
    `dns_for(gateway)`, asked once the network exists, gives the pause's `dns` (the agent's
    relay on that gateway: agent/dns_relay.py); the task's containers share its resolv.conf.
    Returns network_name, pause_id, ip_address, mac_address, gateway, dns."""
    ep = subnets.endpoint(attachment)
    name = ep.network_name if ep is not None else network_name(task_id)

    def resolver(gateway: str | None) -> list[str]:
        return dns_for(gateway) if dns_for is not None and gateway else []

    def hosts(gateway: str | None) -> dict[str, str]:
        # Service Connect's names (`hosts_for`, agent/serviceconnect/), in /etc/hosts
        return hosts_for(gateway) if hosts_for is not None and gateway else {}

    try:
        if ep is not None:
            pause = _subnet_pause(
                client, ep, pause_name, pause_image, labels, sysctls, resolver, hosts
            )
        else:
            found = [n for n in client.networks.list(names=[name]) if n.name == name]
            network = found[0] if found else None
            if network is None:
                network = client.networks.create(name, driver="bridge", labels=dict(labels))
            pause = _pause_container(
                client,
                pause_name,
                pause_image,
                name,
                labels,
                sysctls,
                dns=resolver(_gateway_of(network.attrs)),
                extra_hosts=hosts(_gateway_of(network.attrs)),
            )
            if pause.status != "running":
                pause.start()
        pause.reload()
    except docker.errors.APIError as exc:
        raise DriverError(
            f"ResourceInitializationError: failed to set up the task network: {_explain(exc)}"
        ) from exc
    endpoint = pause.attrs["NetworkSettings"]["Networks"].get(name) or {}
    return {
        "network_name": name,
        "pause_id": pause.id,
        "ip_address": endpoint.get("IPAddress") or None,
        "mac_address": endpoint.get("MacAddress") or None,
        "gateway": endpoint.get("Gateway") or None,
        "dns": list((pause.attrs.get("HostConfig") or {}).get("Dns") or ()),
    }


def _gateway_of(attrs: Mapping[str, Any]) -> str | None:
    """A network's IPv4 gateway (its bridge's address on the host), from its inspect data."""
    for cfg in (attrs.get("IPAM") or {}).get("Config") or ():
        gateway = str(cfg.get("Gateway") or "")
        if gateway and ":" not in gateway:
            return gateway.split("/", 1)[0]
    return None


def _subnet_pause(
    client: Any,
    ep: subnets.SubnetEndpoint,
    pause_name: str,
    pause_image: str,
    labels: Mapping[str, str],
    sysctls: Mapping[str, str],
    resolver: Callable[[str | None], list[str]],
    hosts: Callable[[str | None], dict[str, str]] = lambda gateway: {},
) -> Any:
    """The running pause on its subnet's network. Under the host's lock until it runs: a
    network lists only running containers, so an empty-looking one may be removed before.
    An agent on another host that shares this Docker Engine may still remove it: then once
    more."""
    tries = 3
    while True:
        tries -= 1
        with subnets.lock():
            subnets.ensure_network(client, ep, labels)
            networking = subnets.networking_config(client, ep)
            pause = _pause_container(
                client,
                pause_name,
                pause_image,
                ep.network_name,
                labels,
                sysctls,
                networking,
                ep.mac,
                dns=resolver(ep.gateway),
                extra_hosts=hosts(ep.gateway),
            )
            try:
                if pause.status != "running":
                    pause.start()
                return pause
            except docker.errors.NotFound:
                if not tries:
                    raise
                remove_container(client, pause.id)


def create_namespace_pause(
    client: Any, *, pause_name: str, pause_image: str, labels: Mapping[str, str]
) -> str:
    """A pause container for pidMode/ipcMode `task` when there is no awsvpc pause to share
    (ECS agent: `~internal~ecs~pause~namespace`)."""
    try:
        pause = _pause_container(client, pause_name, pause_image, "none", labels, {})
        if pause.status != "running":
            pause.start()
    except docker.errors.APIError as exc:
        raise DriverError(
            f"ResourceInitializationError: failed to start the namespace pause: {_explain(exc)}"
        ) from exc
    return str(pause.id)


def remove_network(client: Any, name: str) -> None:
    """Remove a task network (after its pause container). Idempotent."""
    with contextlib.suppress(docker.errors.NotFound):
        network = client.networks.get(name)
        # Anything still attached (nothing should be) would keep the network alive.
        for container_id in network.attrs.get("Containers") or {}:
            with contextlib.suppress(docker.errors.APIError):
                network.disconnect(container_id, force=True)
        network.remove()


def remove_container(client: Any, container_id: str) -> None:
    """Remove a container; a subnet network it was the last one on goes with it."""
    with subnets.lock():
        shared = subnets.networks_of(client, container_id)
        with contextlib.suppress(docker.errors.NotFound):
            client.api.remove_container(container_id, force=True, v=True)
        for name in shared:
            subnets.remove_if_unused(client, name)


def _pause_container(
    client: Any,
    name: str,
    image: str,
    network: str,
    labels: Mapping[str, str],
    sysctls: Mapping[str, str],
    networking: Mapping[str, Any] | None = None,
    mac_address: str | None = None,
    dns: list[str] | None = None,
    extra_hosts: dict[str, str] | None = None,
) -> Any:
    with contextlib.suppress(docker.errors.NotFound):
        return client.containers.get(name)
    kwargs: dict[str, Any] = {
        "name": name,
        "labels": dict(labels),
        # Other containers may join its IPC namespace (ipcMode task).
        "ipc_mode": "shareable",
        "mem_limit": 16 * 1024 * 1024,
        "cpu_shares": 2,
    }
    if network == "none":
        kwargs["network_mode"] = "none"
    else:
        kwargs["network"] = network
        if networking:
            kwargs["networking_config"] = dict(networking)
        if mac_address:
            kwargs["mac_address"] = mac_address
        if dns:
            kwargs["dns"] = list(dns)
        if extra_hosts:
            kwargs["extra_hosts"] = dict(extra_hosts)
    if sysctls:
        kwargs["sysctls"] = dict(sysctls)
    return client.containers.create(image, **kwargs)


def pause_labels(base: Mapping[str, str], container_name: str) -> dict[str, str]:
    return {**base, LABEL_CONTAINER: container_name, LABEL_ROLE: "pause"}


def _find_busybox() -> str | None:
    for path in (shutil.which("busybox"), *_BUSYBOX_PATHS):
        if path and _is_static(path):
            return path
    return None


def _is_static(path: str) -> bool:
    """A 64-bit little-endian ELF without a PT_INTERP program header: it needs no dynamic
    loader, so it runs in an image FROM scratch (a dynamically linked busybox would not)."""
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 16)
    except OSError:
        return False
    if head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
        return False
    (phoff,) = struct.unpack_from("<Q", head, 32)
    phentsize, phnum = struct.unpack_from("<HH", head, 54)
    for i in range(phnum):
        offset = phoff + i * phentsize
        if offset + 4 > len(head):
            return False
        if struct.unpack_from("<I", head, offset)[0] == 3:  # PT_INTERP
            return False
    return True


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))


def _explain(exc: docker.errors.APIError) -> str:
    return str(getattr(exc, "explanation", None) or exc)
