"""Container hosts (`portside-container-host`): EC2 instances that are privileged containers
on the machine's Docker Engine, each running its own Docker Engine and a Portside agent.

- `provider.py`: `ContainerHostProvider`, the instance provider (starts, stops, lists hosts).
- `spec.py`: a host's container, volume and command lines from a `HostSpec` (pure).
- `image.py`: the host image, an empty root imported locally; the machine's binaries mounted.
- `entry.py`: the host's first process (cgroups, dockerd, the agent, supervision).
- `agent.py`: the agent inside, registering its instance type's resources.
- `relay.py`: the control plane's address for hosts (a relay when the server is on loopback).
- `state.py`: a container's Docker state as a host state and reason (pure).
"""

from portside.hosts.container.provider import ContainerHostProvider

__all__ = ["ContainerHostProvider"]
