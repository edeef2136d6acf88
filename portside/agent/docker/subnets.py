"""awsvpc tasks on their EC2 subnet: one Docker bridge network per subnet on a host, shared by
every task of that subnet there, and each task's pause container at the address the control
plane allocated for its ENI (issue 14).

The network is named for the subnet (`portside-subnet-...`), made with the subnet's CIDR and
the first address after the network one as its gateway (AWS's VPC router address, the bridge's
address on the host). It goes when its last pause container does, and an agent starting
removes any left without containers (an agent killed between the two), so none leaks.

The task learns its subnet from its ENI attachment: `subnetId`, `privateIPv4Address` and the
subnet's block, as the ECS agent's ACS payload gives it (`subnetGatewayIpv4Address`, e.g.
`10.0.1.1/24`). A task without these (an id EC2 could not parse) keeps a network of its own.

Docker refuses two networks whose blocks overlap: two VPCs with the same CIDR cannot both
have subnets on one host, nor can a subnet overlap a network Docker made from its pools.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors

from portside.agent.driver import LABEL_INSTANCE, LABEL_MANAGED, LABEL_ROLE

ROLE = "subnet"
LABEL_SUBNET = "io.portside.subnet-id"
PREFIX = "portside-"


class HostLock:
    """This process's threads, then every process on this host (an flock on a file in the
    temporary directory), in turn. Reentrant within a thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._threads = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    def __enter__(self) -> HostLock:
        self._threads.acquire()
        try:
            if self._depth == 0:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                except BaseException:
                    os.close(fd)
                    raise
                self._fd = fd
            self._depth += 1
        except BaseException:
            self._threads.release()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
        self._threads.release()


# Creating a subnet's network and its pause, and removing an empty one, must not interleave
# on one host: a network removed between the two makes the create fail. Agents of several
# servers may share one Docker Engine (the test suite's workers do; so may a user's
# installations), so the lock is the host's, not only this process's.
_lock = HostLock(Path(tempfile.gettempdir()) / "portside-docker-subnets.lock")


@dataclass(frozen=True, slots=True)
class SubnetEndpoint:
    """Where an awsvpc task's pause goes: its subnet's network and its ENI's address."""

    subnet_id: str
    cidr: str  # the subnet's block, e.g. 10.0.1.0/24
    gateway: str  # the subnet's first address after the network one
    address: str  # the ENI's private address
    mac: str | None = None  # the ENI's MAC address, when it has one

    @property
    def network_name(self) -> str:
        return network_name(self.subnet_id)


def network_name(subnet_id: str) -> str:
    return PREFIX + subnet_id


def endpoint(attachment: Mapping[str, Any] | None) -> SubnetEndpoint | None:
    """The subnet endpoint an ENI attachment (ECS's document shape) names, or None when it
    lacks the subnet, its block or the address (pure)."""
    if not attachment:
        return None
    details = {d.get("name"): d.get("value") for d in attachment.get("details") or ()}
    subnet_id = details.get("subnetId")
    address = details.get("privateIPv4Address")
    block = details.get("subnetGatewayIpv4Address") or details.get("subnetCidrBlock")
    if not (subnet_id and address and block):
        return None
    try:
        iface = ipaddress.IPv4Interface(str(block))
        ip = ipaddress.IPv4Address(str(address))
    except ValueError:
        return None
    net = iface.network
    if ip not in net or net.num_addresses < 4:
        return None
    mac = details.get("macAddress")
    return SubnetEndpoint(
        str(subnet_id), str(net), str(net.network_address + 1), str(ip), str(mac) if mac else None
    )


def ensure_network(client: Any, ep: SubnetEndpoint, labels: Mapping[str, str]) -> Any:
    """The subnet's network on this host, made when missing (the caller holds `lock()`)."""
    name = ep.network_name
    for found in client.networks.list(names=[name]):
        if found.name == name:
            return found
    from portside.agent.docker import overlay  # it imports this module

    pool = docker.types.IPAMPool(subnet=ep.cidr, gateway=ep.gateway)
    own = {k: v for k, v in labels.items() if k in (LABEL_MANAGED, LABEL_INSTANCE)}
    made = client.networks.create(
        name,
        driver="bridge",
        ipam=docker.types.IPAMConfig(pool_configs=[pool]),
        # Small enough for a frame to cross hosts whole in VXLAN (overlay.py).
        options={overlay.MTU_OPTION: str(overlay.task_mtu())},
        labels={**own, LABEL_MANAGED: "true", LABEL_ROLE: ROLE, LABEL_SUBNET: ep.subnet_id},
    )
    overlay.network_changed(client)  # joined to the subnet on other hosts at once
    return made


def networking_config(client: Any, ep: SubnetEndpoint) -> dict[str, Any]:
    """The pause container's endpoint on the subnet network, at the ENI's address."""
    return {ep.network_name: client.api.create_endpoint_config(ipv4_address=ep.address)}


def lock() -> HostLock:
    return _lock


def networks_of(client: Any, container_id: str) -> list[str]:
    """The subnet networks a container is on (before it is removed)."""
    try:
        attrs = client.api.inspect_container(container_id)
    except docker.errors.NotFound:
        return []
    names = ((attrs.get("NetworkSettings") or {}).get("Networks") or {}).keys()
    return [n for n in names if n.startswith(PREFIX + "subnet-")]


def remove_if_unused(client: Any, name: str) -> bool:
    """Remove a subnet network no container is on; True when it is gone."""
    with _lock:
        try:
            network = client.networks.get(name)
        except docker.errors.NotFound:
            return True
        network.reload()
        if network.attrs.get("Containers"):
            return False
        with contextlib.suppress(docker.errors.NotFound):
            network.remove()
        from portside.agent.docker import overlay

        overlay.network_changed(client)  # its VXLAN device goes with it
        return True


def prune(client: Any) -> list[str]:
    """Remove every subnet network left without containers (on agent start); their names."""
    gone = []
    for network in client.networks.list(filters={"label": f"{LABEL_ROLE}={ROLE}"}):
        try:
            if remove_if_unused(client, network.name):
                gone.append(network.name)
        except docker.errors.APIError:
            continue
    return gone
