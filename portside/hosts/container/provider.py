"""The container-host provider (`portside-container-host`): each EC2 instance is a container
with every capability (spec.py) on the machine's Docker Engine, running its own Engine and a
Portside agent (the way kind and k3d make nodes), so several instances on one machine behave
as separate hosts: own Engine, own network namespace and address, own published ports, own
failures.

One provider per server data directory, named from it (`portside-hosts-<digest>`): its
Docker network (a bridge of Docker's choosing), its containers `<name>-<instance id>`, their
data-root volumes `<name>-<instance id>-data`, all labelled `portside.host` (the instance id,
or `network`/`image`) and `portside.host.provider` (the name). Each host's directory,
`<data dir>/container-hosts/<instance id>`, holds its Engine's socket (for `engine()`), the
agent's state and key, and the logs.

States, from one container listing per pass of the monitor thread (every `poll` seconds):
PENDING while the container starts and until its agent has saved its container instance ARN
(the reason: the agent's last complaint, e.g. its cluster missing; it keeps retrying);
RUNNING then; STOPPING from `stop` until the container, its volume and directory are gone
(TERMINATED); STOPPED with Docker's exit status as the reason when the container exited or
vanished by itself. A new provider lists the containers it finds by label from the start, so
hosts outlive a server restart. A STOPPED host's remains go when it is forgotten; the network
goes when the provider closes with no host left on it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from portside.hosts.container import spec as hostspec
from portside.hosts.container.image import ensure_image, machine_layout
from portside.hosts.container.relay import Relay, agent_endpoint, loopback_ports, open_all
from portside.hosts.container.state import container_state
from portside.hosts.provider import CONTAINER_HOST, ControlPlane, Host, HostSpec, HostState

log = logging.getLogger("portside.hosts")

FINAL = (HostState.TERMINATED, HostState.STOPPED)


def _bounding_set() -> int:
    """This process's capability bounding set: the Engine on this machine has no more."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapBnd:"):
                return int(line.split()[1], 16)
    return (1 << len(hostspec.CAPABILITIES)) - 1


def provider_name(data_dir: Path) -> str:
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:8]
    return f"portside-hosts-{digest}"


class ContainerHostProvider:
    """Starts and stops container hosts (see the module docstring)."""

    image_id = CONTAINER_HOST

    def __init__(
        self,
        control_plane: ControlPlane,
        data_dir: Path,
        *,
        client: Any = None,
        poll: float = 1.0,
        stop_timeout: int = 20,
    ) -> None:
        self.control_plane = control_plane
        self.names = hostspec.Names(provider_name(data_dir))
        self.root = data_dir / "container-hosts"
        self.poll = poll
        self.stop_timeout = stop_timeout
        self._docker = client
        self._layout = machine_layout()
        self._hosts: dict[str, Host] = {}
        self._starting: set[str] = set()  # their containers are being made
        self._busy: dict[str, threading.Lock] = {}  # one launch or end at a time per host
        self._lock = threading.Lock()
        self._setup_lock = threading.Lock()
        self._network: Any = None
        self.data_dir = data_dir
        self._reach = hostspec.Reach("", "", ())
        self._relays: list[Relay] = []
        self._pool = ThreadPoolExecutor(4, thread_name_prefix="hosts-container")
        self._closed = threading.Event()
        try:
            self._found()
        except Exception as exc:  # no Engine answers: hosts fail to start until one does
            log.info("container hosts: no Docker Engine answers (%s)", exc)
        self._thread = threading.Thread(target=self._monitor, name="hosts-monitor", daemon=True)
        self._thread.start()

    # -- the interface -------------------------------------------------------------------

    def start(self, specs: Sequence[HostSpec]) -> None:
        for spec in specs:
            with self._lock:
                if spec.instance_id in self._hosts:
                    continue
                self._hosts[spec.instance_id] = Host(spec.instance_id, HostState.PENDING)
                self._starting.add(spec.instance_id)
            self._pool.submit(self._launch, spec)

    def stop(self, instance_ids: Iterable[str]) -> None:
        for instance_id in instance_ids:
            with self._lock:
                host = self._hosts.get(instance_id)
                if host is None or host.state in (HostState.STOPPING, *FINAL):
                    continue
                self._hosts[instance_id] = replace(host, state=HostState.STOPPING)
            self._pool.submit(self._end, instance_id)

    def hosts(self) -> Mapping[str, Host]:
        with self._lock:
            return dict(self._hosts)

    def forget(self, instance_ids: Iterable[str]) -> None:
        for instance_id in instance_ids:
            with self._lock:
                host = self._hosts.get(instance_id)
                if host is None or host.state not in FINAL:
                    continue
                del self._hosts[instance_id]
            if host.state == HostState.STOPPED:  # its dead container is still there
                self._pool.submit(self._remove, instance_id)

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=10)
        self._pool.shutdown(wait=True, cancel_futures=True)
        for relay in self._relays:
            relay.close()
        if self._network is not None:
            with contextlib.suppress(Exception):  # the Engine away: the next server reuses it
                if not self._containers():  # no host outlives the server: nor its network
                    self._network.remove()

    # -- for operators and tests -----------------------------------------------------------

    def engine(self, instance_id: str) -> str:
        """The DOCKER_HOST of a host's inner Engine, from the machine."""
        return f"unix://{self.run_dir(instance_id) / hostspec.SOCKET}"

    def address(self, instance_id: str) -> str:
        """A host's address on the provider's network (where its published ports answer)."""
        container = self._client().containers.get(self.names.container(instance_id))
        networks = container.attrs["NetworkSettings"]["Networks"]
        return str(networks[self.names.network]["IPAddress"])

    def load_image(self, instance_id: str, image: str) -> None:
        """Copy an image of the machine's Engine into a host's (`docker save | docker load`)."""
        import docker

        inner = docker.DockerClient(base_url=self.engine(instance_id), timeout=300)
        try:
            inner.images.load(b"".join(self._client().images.get(image).save(named=True)))
        finally:
            inner.close()

    def run_dir(self, instance_id: str) -> Path:
        return self.root / instance_id

    # -- the work --------------------------------------------------------------------------

    def _client(self) -> Any:
        if self._docker is None:
            import docker

            self._docker = docker.from_env(timeout=120)
        return self._docker

    def _setup(self) -> tuple[str, hostspec.Reach]:
        """The image, and the network with how hosts reach the control plane, made once."""
        with self._setup_lock:
            image = ensure_image(self._client(), self._layout)
            if self._network is None:
                network = self._ensure_network()
                gateway = network.attrs["IPAM"]["Config"][0]["Gateway"]
                cp = self.control_plane.endpoint
                ports = loopback_ports(cp, self._registry_port())
                self._relays = open_all(gateway, ports)
                self._reach = hostspec.Reach(agent_endpoint(cp, gateway), gateway, ports)
                self._network = network
            return image, self._reach

    def _registry_port(self) -> int | None:
        """ECR's registry's loopback port, as the server keeps it (registry/plane.py)."""
        try:
            return int((self.data_dir / "registry" / "port").read_text().strip())
        except (OSError, ValueError):
            return None

    def _ensure_network(self) -> Any:
        import docker.errors

        labels = {hostspec.LABEL: "network", hostspec.LABEL_PROVIDER: self.names.provider}
        try:
            return self._client().networks.get(self.names.network)
        except docker.errors.NotFound:
            pass
        try:
            return self._client().networks.create(
                self.names.network, driver="bridge", labels=labels, check_duplicate=True
            )
        except docker.errors.APIError:  # another thread or server made it meanwhile
            return self._client().networks.get(self.names.network)

    def _one_at_a_time(self, instance_id: str) -> threading.Lock:
        with self._lock:
            return self._busy.setdefault(instance_id, threading.Lock())

    def _launch(self, spec: HostSpec) -> None:
        with self._one_at_a_time(spec.instance_id):
            self._create(spec)

    def _create(self, spec: HostSpec) -> None:
        with self._lock:
            host = self._hosts.get(spec.instance_id)
            if host is None or host.state != HostState.PENDING:
                self._starting.discard(spec.instance_id)
                return  # stopped before it started: nothing to make
        try:
            image, reach = self._setup()
            run = self.run_dir(spec.instance_id)
            (run / hostspec.AGENT_STATE).mkdir(parents=True, exist_ok=True)
            keys = run / hostspec.CREDENTIALS
            keys.touch(mode=0o600)
            keys.write_bytes(
                orjson.dumps(
                    {
                        "AWS_ACCESS_KEY_ID": self.control_plane.access_key,
                        "AWS_SECRET_ACCESS_KEY": self.control_plane.secret_key,
                    }
                )
            )
            self._client().volumes.create(**hostspec.volume_config(spec, self.names))
            config = hostspec.container_config(
                spec,
                names=self.names,
                image=image,
                run_dir=run,
                reach=reach,
                layout=self._layout,
                machine_cpus=os.cpu_count() or 1,
                caps_missing=hostspec.missing_caps(_bounding_set()),
            )
            self._client().containers.run(**config)
        except Exception as exc:
            log.warning("container host %s did not start: %s", spec.instance_id, exc)
            self._set(spec.instance_id, HostState.STOPPED, f"Host could not start: {exc}", None)
        finally:
            with self._lock:
                self._starting.discard(spec.instance_id)

    def _end(self, instance_id: str) -> None:
        with self._one_at_a_time(instance_id):
            self._stop(instance_id)
        with self._lock:
            self._busy.pop(instance_id, None)

    def _stop(self, instance_id: str) -> None:
        import docker.errors

        try:
            with contextlib.suppress(docker.errors.NotFound):
                container = self._client().containers.get(self.names.container(instance_id))
                container.stop(timeout=self.stop_timeout)
        except Exception as exc:
            log.warning("container host %s: stop failed: %s", instance_id, exc)
        self._remove(instance_id)
        self._set(instance_id, HostState.TERMINATED, "", {HostState.STOPPING})

    def _remove(self, instance_id: str) -> None:
        """The container, its volume and its directory (whatever is left of them)."""
        import docker.errors

        with contextlib.suppress(docker.errors.NotFound):
            self._client().containers.get(self.names.container(instance_id)).remove(
                force=True, v=True
            )
        with contextlib.suppress(docker.errors.NotFound):
            self._client().volumes.get(self.names.volume(instance_id)).remove(force=True)
        shutil.rmtree(self.run_dir(instance_id), ignore_errors=True)

    def _set(
        self, instance_id: str, state: HostState, reason: str, only_from: set[HostState] | None
    ) -> None:
        """Set a host's state, only from one of `only_from` when given (empty: any but a
        final or stopping state)."""
        with self._lock:
            host = self._hosts.get(instance_id)
            if host is None:
                return
            allowed = only_from or {HostState.PENDING, HostState.RUNNING}
            if host.state in allowed:
                self._hosts[instance_id] = replace(host, state=state, reason=reason)

    # -- what the containers say -----------------------------------------------------------

    def _containers(self) -> dict[str, Any]:
        found = self._client().containers.list(
            all=True,
            filters={"label": f"{hostspec.LABEL_PROVIDER}={self.names.provider}"},
            ignore_removed=True,
        )
        return {str(c.labels.get(hostspec.LABEL, "")): c for c in found}

    def _arn(self, instance_id: str) -> str:
        path = self.run_dir(instance_id) / hostspec.AGENT_STATE / "instance.json"
        try:
            return str(orjson.loads(path.read_bytes()).get("containerInstanceArn") or "")
        except (OSError, orjson.JSONDecodeError):
            return ""

    def _waiting(self, instance_id: str) -> str:
        """Why a started host's agent has not registered: its last complaint, if any."""
        try:
            with open(self.run_dir(instance_id) / "agent.log", "rb") as f:
                f.seek(max(0, f.seek(0, os.SEEK_END) - 4096))
                tail = f.read().decode(errors="replace")
        except OSError:
            return ""
        for line in reversed(tail.splitlines()):
            _, found, why = line.partition("agent could not start yet: ")
            if found:
                return f"ECS agent not registered: {why.strip()}"
        return ""

    def _found(self) -> None:
        """The hosts a provider before this one started (their containers are labelled)."""
        for instance_id, container in self._containers().items():
            state, reason = container_state(container.attrs.get("State") or {})
            arn = self._arn(instance_id)
            if state == HostState.RUNNING and not arn:
                state = HostState.PENDING
            self._hosts[instance_id] = Host(instance_id, state, reason, arn)
        if self._hosts:
            self._setup()  # the relay hosts reach the control plane through

    def _refresh(self) -> None:
        with self._lock:
            watched = {
                i: h
                for i, h in self._hosts.items()
                if h.state in (HostState.PENDING, HostState.RUNNING) and i not in self._starting
            }
        if not watched:
            return  # nothing to ask the Engine (a server with no container hosts)
        containers = self._containers()
        for instance_id, host in watched.items():
            container = containers.get(instance_id)
            if container is None:
                state, reason = HostState.STOPPED, "Host container removed"
            else:
                state, reason = container_state(container.attrs.get("State") or {})
            arn = host.container_instance_arn
            if state == HostState.RUNNING:
                arn = arn or self._arn(instance_id)
                if not arn:
                    state, reason = HostState.PENDING, self._waiting(instance_id)
            with self._lock:
                now = self._hosts.get(instance_id)
                if now is not None and now.state in (HostState.PENDING, HostState.RUNNING):
                    self._hosts[instance_id] = Host(instance_id, state, reason, arn)

    def _monitor(self) -> None:
        while not self._closed.wait(self.poll):
            try:
                self._refresh()
            except Exception as exc:  # the Engine away: hosts keep their last state
                log.warning("container hosts: listing failed: %s", exc)
