"""Hosts Portside can start: the instance provider interface, and the registry that picks a
provider by the AMI a launch template (or RunInstances) names.

An EC2 instance in Portside is a host running a Portside agent registered in an ECS cluster.
EC2's side (portside/ec2/instances.py) keeps the instance's record and its EC2 state; the
`ec2-instances` loop hands pending instances to their provider and reads back what each
host has become. A provider owns only hosts: it never reads or writes the store, and it is
told everything it needs in a `HostSpec`.

    provider = providers.for_image("portside-simulated")
    provider.start([HostSpec(instance_id="i-0abc...", cluster="web", zone="us-east-1a",
                             instance_type="m5.large", ...)])
    provider.hosts()["i-0abc..."].state      # HostState.PENDING, then RUNNING
    provider.stop(["i-0abc..."])               # -> TERMINATED

The contract:

- `start` and `stop` return at once (they may queue work on the provider's own threads);
  both are idempotent by instance id: starting a host the provider already has, or stopping
  one it has stopped or never had, does nothing.
- `hosts()` is cheap (the loop calls it every pass, for fleets of thousands): every host the
  provider has started and not yet forgotten, with its state. A host `stop` ended is shown
  TERMINATED until `forget` is called for it; a host that ended by itself (its process or
  container killed, its machine gone) is shown STOPPED with a reason: the instance then shows
  `stopped` in EC2, and an Auto Scaling group counts it unhealthy and replaces it.
- A host's agent registers in `spec.cluster` with `spec.attributes`, the CPU and memory of
  `spec.instance_type` (portside/ops/instance_types.py; a type the table lacks registers
  what the host has), `ecs.availability-zone` = `spec.zone` and an instance identity
  document whose `instanceId` is `spec.instance_id`, so the container instance shows that
  `ec2InstanceId`. RUNNING means the host is up (EC2 shows the instance running); its
  `container_instance_arn` is set once the agent registered (a cluster that does not exist
  yet keeps it unregistered, retried, with `reason` saying why, as the ECS agent retries).
- A provider started after a server restart lists the hosts it can still find (a container
  host's containers, by label) from its first `hosts()` call on (find them in the
  constructor): an instance whose host is not listed is lost, and EC2's side shows it
  stopped at once.
- Deregistering the container instance when its instance terminates is EC2's side's job, not
  the provider's.

Another provider (a cloud API, a bare-metal pool) implements `InstanceProvider` and is added
to the `Providers` the server builds (`Providers.add`), under the image id that names it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

SIMULATED = "portside-simulated"
CONTAINER_HOST = "portside-container-host"


class HostState(StrEnum):
    """A host's life as its provider sees it; EC2's instance states follow it."""

    PENDING = "pending"  # being started
    RUNNING = "running"  # up, its agent running (`Host.container_instance_arn` once registered)
    STOPPING = "stopping"  # `stop` was called; it is going
    TERMINATED = "terminated"  # `stop` ended it
    STOPPED = "stopped"  # it ended by itself (killed, crashed, lost): `Host.reason` says why


@dataclass(frozen=True, slots=True)
class HostSpec:
    """Everything a provider needs to start one host."""

    instance_id: str  # the EC2 instance id; the agent registers with it as ec2InstanceId
    account: str
    region: str
    zone: str  # e.g. us-east-1a: the agent's ecs.availability-zone
    instance_type: str  # e.g. m5.large: what the agent registers (ops/instance_types.py)
    image_id: str  # the AMI that chose the provider (portside-simulated...)
    cluster: str = "default"  # ECS_CLUSTER from the user data
    attributes: Mapping[str, str] = field(default_factory=dict)  # ECS_INSTANCE_ATTRIBUTES
    user_data: str = ""  # the instance's user data, decoded (the whole ecs.config text)
    subnet_id: str = ""
    private_ip: str = ""  # the address EC2 gave it in its subnet ("" when none)
    tags: Mapping[str, str] = field(default_factory=dict)  # the instance's tags


@dataclass(frozen=True, slots=True)
class Host:
    """One host as its provider reports it."""

    instance_id: str
    state: HostState
    reason: str = ""  # why it is STOPPED (or why its agent is not registered yet)
    container_instance_arn: str = ""  # once its agent registered


@runtime_checkable
class InstanceProvider(Protocol):
    """Starts and stops hosts that run a Portside agent. See the module docstring for the
    contract every method keeps."""

    image_id: str  # the AMI id that names this provider

    def start(self, specs: Sequence[HostSpec]) -> None:
        """Start a host per spec (at once, or queued on the provider's threads); each shows
        PENDING in `hosts()` from this call on."""
        ...

    def stop(self, instance_ids: Iterable[str]) -> None:
        """Stop these hosts: STOPPING, then TERMINATED once gone (their tasks die with them)."""
        ...

    def hosts(self) -> Mapping[str, Host]:
        """Every host this provider holds, by instance id (cheap: read every loop pass)."""
        ...

    def forget(self, instance_ids: Iterable[str]) -> None:
        """Drop TERMINATED or STOPPED hosts from `hosts()` (EC2 has recorded their end)."""
        ...

    def close(self) -> None:
        """The server is shutting down: release threads and sessions. Hosts that outlive the
        server (containers) may stay, to be listed again by the next server's provider."""
        ...


class Providers:
    """The server's providers by image id (the composition root adds them)."""

    def __init__(self, providers: Iterable[InstanceProvider] = ()) -> None:
        self._by_image: dict[str, InstanceProvider] = {}
        self._lock = threading.Lock()
        for provider in providers:
            self.add(provider)

    def add(self, provider: InstanceProvider) -> None:
        with self._lock:
            self._by_image[provider.image_id] = provider

    def for_image(self, image_id: str) -> InstanceProvider | None:
        """The provider an AMI id names; None for one no provider serves."""
        return self._by_image.get(image_id)

    def image_ids(self) -> list[str]:
        return sorted(self._by_image)

    def all(self) -> list[InstanceProvider]:
        return list(self._by_image.values())

    def close(self) -> None:
        for provider in self.all():
            provider.close()


@dataclass(frozen=True, slots=True)
class ControlPlane:
    """Where a provider's agents connect and the key they sign with (the server's admin key,
    so in-process agents register in any cluster of the account)."""

    endpoint: str
    access_key: str
    secret_key: str
