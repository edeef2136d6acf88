"""The Docker driver: runs ECS tasks on a Docker Engine through the Docker SDK for Python.

What a container definition becomes is decided in config.py (pure), Docker's answers are
read in state.py (pure); awsvpc networking lives in network.py, task volumes in volumes.py,
the task cgroup in cgroups.py and ECS Exec's processes in exec.py. This module talks to Docker
and words its errors as ECS does ("CannotPullContainerError: Error response from daemon:
...", the daemon's message as the ECS agent reports it).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import docker
import docker.errors
import requests

from portside.agent.docker import network as net
from portside.agent.docker.cgroups import CGROUP_ROOT, TaskCgroups, task_limits
from portside.agent.docker.config import (
    NAMESPACE_PAUSE_NAME,
    PAUSE_CONTAINER_NAME,
    create_kwargs,
    docker_name,
    env_file_path,
    network_mode,
    parse_env_file,
    task_network_sysctls,
)
from portside.agent.docker.exec import DockerExec
from portside.agent.docker.slices import SystemdSlices
from portside.agent.docker.state import EVENT_ACTIONS, container_state, driver_event, image_digest
from portside.agent.docker.volumes import ensure_volume, plan_volumes, remove_task_volumes
from portside.agent.driver import (
    LABEL_CLUSTER,
    LABEL_FAMILY,
    LABEL_INSTANCE,
    LABEL_MANAGED,
    LABEL_ROLE,
    LABEL_TASK_ARN,
    LABEL_VERSION,
    ContainerSpec,
    ContainerState,
    DriverError,
    DriverEvent,
    RuntimeUnavailable,
    TaskResources,
    TaskSpec,
)
from portside.agent.ecr_login import RegistryLogin
from portside.agent.outage import Outage
from portside.gateway.protocol import RegistryAuth

if TYPE_CHECKING:
    from portside.agent.dns_relay import TaskResolver

log = logging.getLogger("portside.agent.docker")

PULL_BEHAVIORS = ("default", "always", "once", "prefer-cached")
MIB = 1024 * 1024
# What a call raises when the Engine does not answer at all (socket gone, connection
# refused, no reply in time), as opposed to answering with an error.
UNREACHABLE = (requests.ConnectionError, requests.Timeout)
# How the daemon words a registry that refused a pull's credentials (token auth).
REFUSED = ("unauthorized", "authentication required", "denied", "no basic auth credentials")

P = ParamSpec("P")
R = TypeVar("R")


def _engine(
    method: Callable[Concatenate[DockerDriver, P], R],
) -> Callable[Concatenate[DockerDriver, P], R]:
    """A driver method that calls the Engine: an Engine that does not answer makes it raise
    RuntimeUnavailable and is logged once for the whole outage (`DockerDriver.outage`); a
    call that goes through ends the outage."""
    what = method.__name__

    @functools.wraps(method)
    def call(self: DockerDriver, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            result = method(self, *args, **kwargs)
        except UNREACHABLE as exc:
            self.outage.failed(what, exc)
            raise RuntimeUnavailable(f"the Docker Engine does not answer: {exc}") from exc
        self.outage.answered()
        return result

    return call


class DockerDriver:
    """`pull_behavior` is ECS_IMAGE_PULL_BEHAVIOR: prefer-cached (use a local image, pull only
    when missing), default (pull; on failure fall back to a local image), always (pull; a
    failure fails), once (pull the first time this driver sees the image). `task_cgroups`:
    None enforces task-level cpu/memory when this host's cgroups can be written (else warns
    and runs without), True requires it, False never does. `reserved_memory` (MiB) is
    ECS_RESERVED_MEMORY (default 0). `registry_login` logs pulls into the control plane's
    ECR (agent/ecr_login.py); a container's repositoryCredentials win over it."""

    name = "docker"

    def __init__(
        self,
        client: Any = None,
        *,
        pull_behavior: str = "prefer-cached",
        pause_image: str = net.PAUSE_IMAGE,
        busybox: str | None = None,
        task_cgroups: bool | None = None,
        cgroup_root: Path = CGROUP_ROOT,
        reserved_memory: int = 0,
        registry_login: RegistryLogin | None = None,
    ) -> None:
        if pull_behavior not in PULL_BEHAVIORS:
            raise ValueError(f"pull_behavior must be one of {', '.join(PULL_BEHAVIORS)}")
        self.client = client if client is not None else docker.from_env(max_pool_size=32)
        self.pull_behavior = pull_behavior
        self.reserved_memory = reserved_memory
        self._pause = net.PauseImage(self.client, pause_image, busybox)
        self._cgroups: TaskCgroups | SystemdSlices = TaskCgroups(cgroup_root)
        self._task_cgroups = task_cgroups
        self._cgroups_reason: str | None = None
        self._cgroups_checked = False
        self._pulled: set[str] = set()
        self._digests: dict[str, str | None] = {}
        self._bridge_gateway: str | None = None
        self._lock = threading.Lock()
        self.outage = Outage("the Docker Engine")
        self.registry_login = registry_login
        self._resolver: TaskResolver | None = None
        # Service Connect (agent/serviceconnect/): (task ARN, gateway) -> /etc/hosts entries
        self._connect_hosts: Callable[[str, str], dict[str, str]] | None = None

    def unreachable(self, what: str, exc: BaseException) -> bool:
        """Whether `exc`, raised by a call to the Engine outside this driver (`what`), says
        the Engine does not answer; the outage is then logged as the driver's own are."""
        if isinstance(exc, UNREACHABLE):
            self.outage.failed(what, exc)
            return True
        return False

    # -- images ---------------------------------------------------------------------------

    @_engine
    def pull(self, image: str, auth: RegistryAuth | None = None) -> str | None:
        local = self._local_image(image)
        cached_ok = self.pull_behavior == "prefer-cached" or (
            self.pull_behavior == "once" and image in self._pulled
        )
        if local is not None and cached_ok:
            return image_digest(local)
        try:
            self._pull(image, auth)
        except DriverError:
            if self.pull_behavior == "default" and local is not None:
                log.warning("pull of %s failed; using the cached image", image)
                return image_digest(local)
            raise
        self._pulled.add(image)
        local = self._local_image(image)
        return image_digest(local) if local is not None else None

    def use_registry_login(self, login: RegistryLogin) -> None:
        """Pull images of the login's registry with it (the control plane's ECR)."""
        self.registry_login = login

    def use_task_resolver(self, resolver: TaskResolver) -> None:
        """Give awsvpc and bridge tasks the agent's DNS relay on their network's gateway as
        their resolver (agent/dns_relay.py); without one they keep Docker's."""
        self._resolver = resolver

    def use_service_connect(self, hosts: Callable[[str, str], dict[str, str]]) -> None:
        """Give awsvpc and bridge tasks the /etc/hosts entries of their Service Connect
        names, `hosts(task ARN, gateway)` (awsvpc: on the pause container, which its
        containers share; bridge: on each container)."""
        self._connect_hosts = hosts

    def _hosts_of(self, task_arn: str) -> Callable[[str], dict[str, str]] | None:
        hosts = self._connect_hosts
        return None if hosts is None else lambda gateway: hosts(task_arn, gateway)

    def _task_dns(self, gateway: str | None) -> list[str]:
        """A task's `dns` on the network whose gateway is `gateway`: the relay there, when it
        serves there; else none (Docker's resolver, the relay has said why)."""
        resolver = self._resolver
        if resolver is None or not gateway:
            return []
        return [gateway] if resolver.serve(gateway) else []

    def _pull(self, image: str, auth: RegistryAuth | None) -> None:
        # repositoryCredentials win; else the registry login's, for an image of its
        # registry; else the Engine's client config may hold some (docker login). What is
        # sent is never written down anywhere.
        if auth is not None:
            self._pull_with(image, {"username": auth.username, "password": auth.password})
            return
        login = self.registry_login
        credentials = login.auth_for(image) if login is not None else None
        try:
            self._pull_with(image, credentials)
        except DriverError as exc:
            if login is None or credentials is None or not _refused(exc.reason):
                raise
            # The kept token may have been revoked (a new signing key, a restored data
            # directory): ask for a new one, once.
            fresh = login.auth_for(image, fresh=True)
            if fresh is None:
                raise
            log.info("pull of %s refused (%s); trying again with a new login", image, exc.reason)
            self._pull_with(image, fresh)

    def _pull_with(self, image: str, credentials: dict[str, str] | None) -> None:
        try:
            for chunk in self.client.api.pull(
                image, stream=True, decode=True, auth_config=credentials
            ):
                if isinstance(chunk, dict) and chunk.get("error"):
                    raise DriverError(f"CannotPullContainerError: {chunk['error']}")
        except docker.errors.APIError as exc:
            raise DriverError(f"CannotPullContainerError: {_daemon(exc)}") from exc

    def _local_image(self, image: str) -> dict[str, Any] | None:
        try:
            return dict(self.client.api.inspect_image(image))
        except docker.errors.APIError:
            return None

    def _image_digest(self, image_id: str) -> str | None:
        if image_id not in self._digests:
            local = self._local_image(image_id)
            self._digests[image_id] = image_digest(local) if local else None
        return self._digests[image_id]

    # -- tasks ----------------------------------------------------------------------------

    @_engine
    def setup_task(self, task: TaskSpec) -> TaskResources:
        res = TaskResources(network_mode=network_mode(task.definition))
        try:
            self._setup(task, res)
        except BaseException:
            with contextlib.suppress(Exception):
                self.teardown_task(task, res)
            raise
        return res

    def _setup(self, task: TaskSpec, res: TaskResources) -> None:
        labels = _task_labels(task)
        for plan in plan_volumes(task, labels):
            if plan.kind == "docker":
                ensure_volume(self.client, plan)
            res.volume_paths[plan.name] = plan.source
        limits = task_limits(task)
        if limits is not None and self._cgroups_enabled():
            res.cgroup_parent = self._cgroups.create(task.task_id, limits)
        mode = res.network_mode
        if mode == "awsvpc":
            info = net.create_awsvpc(
                self.client,
                task_id=task.task_id,
                pause_name=docker_name(task, "internalecspause"),
                pause_image=self._pause.ensure(),
                labels=net.pause_labels(labels, PAUSE_CONTAINER_NAME),
                sysctls=task_network_sysctls(task.definition),
                attachment=task.attachment,
                dns_for=self._task_dns,
                hosts_for=self._hosts_of(task.task_arn),
            )
            res.network_name = info["network_name"]
            res.pause_id = info["pause_id"]
            res.ip_address = info["ip_address"]
            res.mac_address = info["mac_address"]
            res.gateway = info["gateway"]
            if info["dns"]:
                res.extra["dns"] = info["dns"]  # what a restarted agent serves again
        elif mode == "bridge":
            res.gateway = self._bridge()
            dns = self._task_dns(res.gateway)
            if dns:
                res.extra["dns"] = dns  # each container's resolver (config.network_kwargs)
            hosts = self._hosts_of(task.task_arn)
            names = hosts(res.gateway) if hosts is not None and res.gateway else {}
            if names:
                res.extra["hosts"] = names  # Service Connect's, in each container's /etc/hosts
        elif mode == "host":
            res.gateway = "127.0.0.1"
        if "task" in (task.definition.get("pidMode"), task.definition.get("ipcMode")):
            res.extra["namespace_pause_id"] = res.pause_id or net.create_namespace_pause(
                self.client,
                pause_name=docker_name(task, "internalecspausenamespace"),
                pause_image=self._pause.ensure(),
                labels=net.pause_labels(labels, NAMESPACE_PAUSE_NAME),
            )

    @_engine
    def teardown_task(self, task: TaskSpec, resources: TaskResources) -> None:
        # By name as well as by the ids recorded: a setup that failed half-way (or an agent
        # that died before recording it) leaves things no TaskResources knows about.
        pauses = {resources.pause_id, resources.extra.get("namespace_pause_id")}
        pauses |= {docker_name(task, n) for n in ("internalecspause", "internalecspausenamespace")}
        for pause in filter(None, pauses):
            net.remove_container(self.client, str(pause))
        if resources.network_mode == "awsvpc":
            try:
                net.remove_network(self.client, net.network_name(task.task_id))
            except docker.errors.APIError as exc:
                log.warning("could not remove the network of %s: %s", task.task_arn, exc)
        if resources.cgroup_parent and not self._cgroups.remove(task.task_id):
            log.info("task cgroup of %s still busy; removed with its last container", task.task_id)
        # Task volumes still mounted by stopped containers go when those are removed.
        remove_task_volumes(self.client, task.task_arn)
        if self._resolver is not None and resources.network_mode == "awsvpc":
            self._resolver.sweep()  # a network gone with the task takes its listener along

    def _cgroups_enabled(self) -> bool:
        with self._lock:
            if not self._cgroups_checked:
                self._cgroups_reason = self._cgroups_unusable()
                self._cgroups_checked = True
                if self._cgroups_reason and self._task_cgroups is None:
                    log.warning(
                        "task-level cpu/memory limits are not enforced: %s", self._cgroups_reason
                    )
        if self._task_cgroups is False:
            return False
        if self._cgroups_reason and self._task_cgroups:
            raise DriverError(
                f"ResourceInitializationError: task cgroups unavailable: {self._cgroups_reason}"
            )
        return self._cgroups_reason is None

    def _cgroups_unusable(self) -> str | None:
        info = self.client.info()
        if self.client.api.base_url != "http+docker://localhost":
            return "the Docker Engine is not on this host's local socket"
        if info.get("Name") != socket.gethostname():
            return f"the Docker Engine runs on {info.get('Name')!r}, not on this host"
        driver = info.get("CgroupDriver")
        if driver == "systemd":
            # systemd owns the tree: the task's cgroup is a slice it makes (slices.py).
            self._cgroups = SystemdSlices()
        elif driver != "cgroupfs":
            return f"Docker's cgroup driver is {driver}, neither cgroupfs nor systemd"
        if any("rootless" in str(o) for o in info.get("SecurityOptions") or ()):
            return "Docker runs rootless"
        return self._cgroups.unusable()

    def _bridge(self) -> str | None:
        if self._bridge_gateway is None:
            self._bridge_gateway = net.bridge_gateway(self.client)
        return self._bridge_gateway

    # -- containers -----------------------------------------------------------------------

    @_engine
    def create(self, spec: ContainerSpec) -> str:
        kwargs = create_kwargs(spec, [_read_env_file(e) for e in _env_files(spec)])
        try:
            return str(self.client.containers.create(**kwargs).id)
        except docker.errors.APIError as exc:
            if exc.status_code == 409:
                adopted = self._created_before(kwargs["name"], spec.task.task_arn)
                if adopted:
                    return adopted
            raise DriverError(f"CannotCreateContainerError: {_daemon(exc)}") from exc

    def _created_before(self, name: str, task_arn: str) -> str | None:
        """A create retried after a crash finds its first attempt (same name, same task)."""
        try:
            attrs = self.client.api.inspect_container(name)
        except docker.errors.APIError:
            return None
        labels = (attrs.get("Config") or {}).get("Labels") or {}
        if labels.get(LABEL_TASK_ARN) == task_arn and attrs["State"]["Status"] == "created":
            return str(attrs["Id"])
        return None

    @_engine
    def start(self, runtime_id: str) -> None:
        try:
            self.client.api.start(runtime_id)
        except docker.errors.APIError as exc:
            raise DriverError(f"CannotStartContainerError: {_daemon(exc)}") from exc

    @_engine
    def stop(self, runtime_id: str, timeout: float) -> None:
        # Docker sends the container's stop signal (the image's STOPSIGNAL, else SIGTERM),
        # then SIGKILL after the timeout (whole seconds).
        try:
            self.client.api.stop(runtime_id, timeout=max(0, math.ceil(timeout)))
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:
            raise DriverError(f"CannotStopContainerError: {_daemon(exc)}") from exc

    @_engine
    def inspect(self, runtime_id: str) -> ContainerState:
        try:
            attrs = self.client.api.inspect_container(runtime_id)
        except docker.errors.NotFound:
            return ContainerState(runtime_id=runtime_id, status="missing")
        return container_state(attrs, self._image_digest(str(attrs.get("Image") or "")))

    @_engine
    def remove(self, runtime_id: str) -> None:
        try:
            attrs = self.client.api.inspect_container(runtime_id)
        except docker.errors.NotFound:
            return
        try:
            # ECS agent: RemoveVolumes, so anonymous volumes go with the container.
            self.client.api.remove_container(runtime_id, force=True, v=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            raise DriverError(f"CannotRemoveContainerError: {_daemon(exc)}") from exc
        labels = (attrs.get("Config") or {}).get("Labels") or {}
        task_arn = labels.get(LABEL_TASK_ARN)
        if task_arn and not self._task_containers(task_arn):
            # The task's last container: what teardown could not remove while it was mounted.
            remove_task_volumes(self.client, task_arn)
            task_id = task_arn.rsplit("/", 1)[-1]
            if (attrs.get("HostConfig") or {}).get("CgroupParent") == self._cgroups.parent(task_id):
                self._cgroups.remove(task_id)

    def _task_containers(self, task_arn: str) -> list[Any]:
        filters = {"label": f"{LABEL_TASK_ARN}={task_arn}"}
        return list(self.client.api.containers(all=True, filters=filters))

    @_engine
    def list_managed(self, instance_arn: str) -> list[ContainerState]:
        found = self.client.containers.list(
            all=True, filters={"label": f"{LABEL_INSTANCE}={instance_arn}"}, ignore_removed=True
        )
        return [
            container_state(c.attrs, self._image_digest(str(c.attrs.get("Image") or "")))
            for c in found
        ]

    def events(self, stop: threading.Event) -> Iterator[DriverEvent]:
        filters = {"type": "container", "label": f"{LABEL_MANAGED}=true", "event": EVENT_ACTIONS}
        since: str | None = None
        while not stop.is_set():
            since = since or str(int(time.time()) - 1)
            try:
                stream = self.client.api.events(since=since, filters=filters, decode=True)
            except UNREACHABLE as exc:
                self.outage.failed("events", exc)
                stop.wait(1.0)
                continue
            except (docker.errors.DockerException, requests.RequestException) as exc:
                log.warning("docker events: %s", exc)
                stop.wait(1.0)
                continue
            self.outage.answered()
            done = threading.Event()
            threading.Thread(target=_close_when, args=(stream, stop, done), daemon=True).start()
            try:
                for raw in stream:
                    if raw.get("timeNano"):
                        nanos = int(raw["timeNano"])
                        since = f"{nanos // 1_000_000_000}.{nanos % 1_000_000_000:09d}"
                    event = driver_event(raw)
                    if event is not None:
                        yield event
            except Exception as exc:
                if stop.is_set():
                    return
                log.warning("docker events stream broke: %s", exc)
                stop.wait(1.0)
            finally:
                done.set()
                with contextlib.suppress(Exception):
                    stream.close()

    @_engine
    def stats(self, runtime_id: str) -> dict[str, Any]:
        try:
            return dict(self.client.api.stats(runtime_id, stream=False))
        except docker.errors.APIError as exc:
            raise DriverError(f"CannotInspectContainerError: {_daemon(exc)}") from exc

    @_engine
    def host_resources(self) -> tuple[int, int]:
        """The Engine's host, as the ECS agent registers it: 1024 units per CPU and
        /proc/meminfo's MemTotal in MiB, less ECS_RESERVED_MEMORY (default 0)."""
        info = self.client.info()
        return int(info["NCPU"]) * 1024, int(info["MemTotal"]) // MIB - self.reserved_memory

    @_engine
    def exec(
        self, runtime_id: str, command: list[str], tty: bool, size: tuple[int, int] | None
    ) -> DockerExec:
        return DockerExec.start(self.client.api, runtime_id, command, tty, size)


def _task_labels(task: TaskSpec) -> dict[str, str]:
    """Ownership labels for what setup_task makes (pause containers, networks, volumes)."""
    return {
        LABEL_MANAGED: "true",
        LABEL_INSTANCE: task.instance_arn,
        LABEL_TASK_ARN: task.task_arn,
        LABEL_CLUSTER: task.cluster,
        LABEL_FAMILY: task.family,
        LABEL_VERSION: str(task.revision),
        LABEL_ROLE: "task",
    }


def _env_files(spec: ContainerSpec) -> list[Any]:
    return list(spec.definition.get("environmentFiles") or ())


def _read_env_file(entry: Any) -> dict[str, str]:
    path = env_file_path(entry)
    try:
        return parse_env_file(Path(path).read_text())
    except OSError as exc:
        raise DriverError(
            f"ResourceInitializationError: failed to download env files: {path}: {exc.strerror}"
        ) from exc


def _close_when(stream: Any, stop: threading.Event, done: threading.Event) -> None:
    """Close the events stream from outside once `stop` is set, which wakes its reader."""
    while not done.is_set():
        if stop.wait(0.2):
            with contextlib.suppress(Exception):
                stream.close()
            return


def _refused(reason: str) -> bool:
    """Whether a pull failed because the registry would not take its credentials."""
    words = reason.lower()
    return any(w in words for w in REFUSED)


def _daemon(exc: docker.errors.APIError) -> str:
    """The daemon's message the way Docker's Go client words it, which is what ECS shows."""
    return f"Error response from daemon: {exc.explanation or exc}"
