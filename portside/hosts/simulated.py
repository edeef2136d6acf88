"""The simulated instance provider (`portside-simulated`): each instance is a container
instance of an in-process simulated fleet, running its tasks with the simulated driver.

One fleet per (region, cluster): one agent session (agent/session.py's `Agent`, on its own
`SimulatedDriver`) that grows and shrinks as instances come and go, so a thousand instances
cost a thousand workers and registrations, not a thousand sessions, metadata servers and
pollers. Each instance registers through the ECS API as the ECS agent does, with the CPU and
memory of its instance type (ops/instance_types.py; 2 vCPU and 4 GiB for a type the table
lacks), its zone, its ImageId as `ecs.ami-id`, its user data's ECS_INSTANCE_ATTRIBUTES, and an
identity document naming its EC2 instance id (so the container instance shows
`ec2InstanceId`).

A host is RUNNING once it is up, whether or not its agent could register (the cluster may not
exist yet: the registration is retried every few seconds, as the ECS agent retries, and the
host's `reason` says why it is not registered). `stop` drops the instance from its fleet's
session (TERMINATED); `kill` does the same but the host shows STOPPED: to its control plane
the agent just went silent, as when a machine dies.

Fleets live in the server's memory: after a restart none are listed, and EC2's side records
their instances as lost (stopped), which an Auto Scaling group replaces.
"""

from __future__ import annotations

import logging
import queue
import secrets
import shutil
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from portside import __version__
from portside.agent.attributes import default_attributes
from portside.agent.client import ApiError, ControlPlaneClient
from portside.hosts.provider import SIMULATED, ControlPlane, Host, HostSpec, HostState
from portside.ops.instance_types import RESERVED_PORTS, size_of

if TYPE_CHECKING:
    from portside.hosts.fleet import Fleet

log = logging.getLogger("portside.hosts")

DEFAULT_SIZE = (2, 4096)  # vCPUs, MiB: for an instance type the table lacks
REGISTER_RETRY = 3.0  # seconds between registration attempts of an unregistered host


def _identity(spec: HostSpec) -> str:
    return orjson.dumps(
        {
            "instanceId": spec.instance_id,
            "availabilityZone": spec.zone,
            "instanceType": spec.instance_type,
            "region": spec.region,
            "imageId": spec.image_id,
            "accountId": spec.account,
            "privateIp": spec.private_ip,
        }
    ).decode()


class SimulatedProvider:
    """Starts and stops simulated hosts (see the module docstring)."""

    image_id = SIMULATED

    def __init__(
        self,
        control_plane: ControlPlane,
        *,
        state_root: Path | None = None,
        poll_wait: float = 5.0,
        threads: int = 4,
    ) -> None:
        self.control_plane = control_plane
        self.poll_wait = poll_wait
        self.threads = threads
        self._root = state_root or Path(tempfile.mkdtemp(prefix="portside-hosts-"))
        self._own_root = state_root is None
        self._hosts: dict[str, Host] = {}
        self._specs: dict[str, HostSpec] = {}
        self._arns: dict[str, str] = {}  # instance id -> container instance ARN
        self._fleet_of: dict[str, tuple[str, str]] = {}  # instance id -> fleet key
        self._fleets: dict[tuple[str, str], Fleet] = {}
        self._lock = threading.Lock()
        self._work: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hosts-simulated", daemon=True)
        self._thread.start()

    # -- the interface -------------------------------------------------------------------

    def start(self, specs: Sequence[HostSpec]) -> None:
        fresh = []
        with self._lock:
            for spec in specs:
                if spec.instance_id in self._hosts:
                    continue
                self._hosts[spec.instance_id] = Host(spec.instance_id, HostState.PENDING)
                self._specs[spec.instance_id] = spec
                fresh.append(spec)
        if fresh:
            self._work.put(("start", fresh))

    def stop(self, instance_ids: Iterable[str]) -> None:
        self._end(instance_ids, HostState.TERMINATED, "")

    def kill(self, instance_ids: Iterable[str], reason: str = "host killed") -> list[str]:
        """End these hosts as a dead machine ends (STOPPED); the ids it knew."""
        return self._end(instance_ids, HostState.STOPPED, reason)

    def hosts(self) -> Mapping[str, Host]:
        with self._lock:
            return dict(self._hosts)

    def forget(self, instance_ids: Iterable[str]) -> None:
        with self._lock:
            for instance_id in instance_ids:
                host = self._hosts.get(instance_id)
                if host is not None and host.state in (HostState.TERMINATED, HostState.STOPPED):
                    del self._hosts[instance_id]
                    self._specs.pop(instance_id, None)

    def close(self) -> None:
        self._closed.set()
        self._work.put(("close", None))
        self._thread.join(timeout=10)
        for fleet in list(self._fleets.values()):
            fleet.stop()
        self._fleets.clear()
        if self._own_root:
            shutil.rmtree(self._root, ignore_errors=True)

    # -- the worker thread ---------------------------------------------------------------

    def _end(self, instance_ids: Iterable[str], final: HostState, reason: str) -> list[str]:
        known = []
        with self._lock:
            for instance_id in instance_ids:
                host = self._hosts.get(instance_id)
                if host is None or host.state in (
                    HostState.STOPPING,
                    HostState.TERMINATED,
                    HostState.STOPPED,
                ):
                    continue
                known.append(instance_id)
                self._hosts[instance_id] = replace(host, state=HostState.STOPPING)
        if known:
            self._work.put(("end", (known, final, reason)))
        return known

    def _run(self) -> None:
        while not self._closed.is_set():
            try:
                kind, payload = self._work.get(timeout=REGISTER_RETRY)
            except queue.Empty:
                kind, payload = "retry", None
            try:
                if kind == "start":
                    self._start(payload)
                elif kind == "end":
                    self._finish(*payload)
                elif kind == "retry":
                    self._retry()
                elif kind == "close":
                    return
            except (httpx.HTTPError, ApiError) as exc:  # the control plane away (stopping)
                log.warning("simulated hosts: %s failed: %s", kind, exc)
            except Exception:
                log.exception("simulated hosts: %s failed", kind)

    def _client(self, region: str) -> ControlPlaneClient:
        cp = self.control_plane
        return ControlPlaneClient(cp.endpoint, cp.access_key, cp.secret_key, region)

    def _register(self, client: ControlPlaneClient, spec: HostSpec) -> str:
        cpus, memory = size_of(spec.instance_type) or DEFAULT_SIZE
        if spec.cluster == "default":
            client.ecs("CreateCluster", clusterName="default")  # as the ECS agent does
        attrs = {"ecs.ami-id": spec.image_id, **dict(spec.attributes)}
        out = client.ecs(
            "RegisterContainerInstance",
            cluster=spec.cluster,
            totalResources=[
                {"name": "CPU", "type": "INTEGER", "integerValue": cpus * 1024},
                {"name": "MEMORY", "type": "INTEGER", "integerValue": memory},
                {"name": "PORTS", "type": "STRINGSET", "stringSetValue": list(RESERVED_PORTS)},
                {"name": "PORTS_UDP", "type": "STRINGSET", "stringSetValue": []},
            ],
            versionInfo={
                "agentVersion": __version__,
                "agentHash": "portside",
                "dockerVersion": "simulated",
            },
            attributes=default_attributes(spec.zone, spec.instance_type, attrs),
            instanceIdentityDocument=_identity(spec),
        )
        return str(out["containerInstance"]["containerInstanceArn"])

    def _start(self, specs: list[HostSpec]) -> None:
        with self._lock:
            for spec in specs:
                if self._hosts.get(spec.instance_id, Host("", HostState.PENDING)).state == (
                    HostState.PENDING
                ):
                    self._hosts[spec.instance_id] = Host(spec.instance_id, HostState.RUNNING)
        self._register_all([s for s in specs if self._alive(s.instance_id)])

    def _alive(self, instance_id: str) -> bool:
        host = self._hosts.get(instance_id)
        return host is not None and host.state == HostState.RUNNING

    def _retry(self) -> None:
        for fleet in list(self._fleets.values()):
            if fleet.stale:
                fleet.reopen()
        with self._lock:
            waiting = [
                self._specs[i]
                for i, h in self._hosts.items()
                if h.state == HostState.RUNNING and i not in self._arns and i in self._specs
            ]
        if waiting:
            self._register_all(waiting)

    def _register_all(self, specs: list[HostSpec]) -> None:
        """Register each host's container instance (a few at once) and add the registered
        ones to their fleets; the others keep their reason and are retried."""
        from concurrent.futures import ThreadPoolExecutor

        clients: dict[str, ControlPlaneClient] = {}

        def one(spec: HostSpec) -> tuple[HostSpec, str, str]:
            client = clients.setdefault(spec.region, self._client(spec.region))
            try:
                return spec, self._register(client, spec), ""
            except ApiError as exc:
                return spec, "", f"ECS agent not registered: {exc.code}: {exc.message}"
            except Exception as exc:  # the control plane unreachable: retried
                return spec, "", f"ECS agent not registered: {exc}"

        with ThreadPoolExecutor(max_workers=8) as pool:
            done = list(pool.map(one, specs))
        by_fleet: dict[tuple[str, str], list[tuple[str, str]]] = {}
        orphans: list[tuple[HostSpec, str]] = []
        with self._lock:
            for spec, arn, why in done:
                host = self._hosts.get(spec.instance_id)
                if host is None or host.state != HostState.RUNNING:
                    if arn:  # stopped while it registered: its container instance goes too
                        orphans.append((spec, arn))
                    continue
                if not arn:
                    if host.reason != why:
                        log.info("simulated host %s: %s", spec.instance_id, why)
                    self._hosts[spec.instance_id] = replace(host, reason=why)
                    continue
                self._arns[spec.instance_id] = arn
                self._hosts[spec.instance_id] = replace(host, reason="", container_instance_arn=arn)
                fleet_key = (spec.region, spec.cluster)
                self._fleet_of[spec.instance_id] = fleet_key
                by_fleet.setdefault(fleet_key, []).append((spec.instance_id, arn))
        for fleet_key, pairs in by_fleet.items():
            self._grow(fleet_key, [arn for _, arn in pairs])
        for spec, arn in orphans:
            client = clients.setdefault(spec.region, self._client(spec.region))
            client.ecs(
                "DeregisterContainerInstance",
                cluster=spec.cluster,
                containerInstance=arn,
                force=True,
            )

    def _grow(self, fleet_key: tuple[str, str], arns: list[str]) -> None:
        fleet = self._fleets.get(fleet_key)
        if fleet is not None:
            fleet.add(arns)
            return
        from portside.agent.registration import AgentConfig
        from portside.hosts.fleet import Fleet

        region, cluster = fleet_key
        state_dir = self._root / f"{region}-{cluster}-{secrets.token_hex(4)}"
        config = AgentConfig(
            cluster=cluster,
            region=region,
            metadata_port=0,
            poll_wait=self.poll_wait,
            threads=self.threads,
            cleanup_wait=60.0,
            task_dns=False,
        )
        fleet = Fleet(self._client(region), state_dir, config)
        fleet.first = list(arns)
        fleet.start()
        self._fleets[fleet_key] = fleet

    def _finish(self, instance_ids: list[str], final: HostState, reason: str) -> None:
        by_fleet: dict[tuple[str, str], list[str]] = {}
        with self._lock:
            for instance_id in instance_ids:
                fleet_key = self._fleet_of.pop(instance_id, None)
                arn = self._arns.pop(instance_id, None)
                if fleet_key is not None and arn is not None:
                    by_fleet.setdefault(fleet_key, []).append(arn)
        for fleet_key, arns in by_fleet.items():
            fleet = self._fleets.get(fleet_key)
            if fleet is None:
                continue
            fleet.remove(arns)
            if not fleet.workers:
                fleet.stop()
                del self._fleets[fleet_key]
        with self._lock:
            for instance_id in instance_ids:
                host = self._hosts.get(instance_id)
                if host is not None:
                    self._hosts[instance_id] = replace(host, state=final, reason=reason)
