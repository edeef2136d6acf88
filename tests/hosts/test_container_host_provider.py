"""The container-host provider's states on a fake Docker Engine (a few dicts): PENDING until
the agent saved its ARN, RUNNING, STOPPING then TERMINATED with everything removed, STOPPED
with Docker's reason when the container died, hosts found again by label by a new provider,
a host stopped before its container was made never made."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from portside.hosts.container import ContainerHostProvider
from portside.hosts.provider import CONTAINER_HOST, ControlPlane, HostSpec, HostState


class NotFound(Exception):
    pass


class FakeContainer:
    def __init__(self, engine: FakeEngine, name: str, labels: dict[str, str]) -> None:
        self.engine, self.name, self.labels = engine, name, labels
        self.attrs: dict[str, Any] = {"State": {"Status": "running"}}

    def stop(self, timeout: int = 10) -> None:
        self.attrs["State"] = {"Status": "exited", "ExitCode": 0}

    def remove(self, force: bool = False, v: bool = False) -> None:
        self.engine.containers.items.pop(self.name, None)


class Named:
    def __init__(self, engine: FakeEngine, name: str) -> None:
        self.engine, self.name = engine, name
        self.attrs = {"IPAM": {"Config": [{"Gateway": "127.0.0.1"}]}}

    def remove(self, force: bool = False) -> None:
        self.engine.volumes.items.pop(self.name, None)


class Collection:
    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine
        self.items: dict[str, Any] = {}
        self.gate: Callable[[], None] = lambda: None  # runs before a container is made
        self.listed = 0  # how many times the provider listed them (monitor passes)

    def get(self, name: str) -> Any:
        if name not in self.items:
            raise NotFound(name)
        return self.items[name]

    def create(self, name: str, **kwargs: Any) -> Any:
        self.items[name] = Named(self.engine, name)
        return self.items[name]

    def run(self, **kwargs: Any) -> Any:
        self.gate()
        made = FakeContainer(self.engine, kwargs["name"], kwargs["labels"])
        self.items[made.name] = made
        return made

    def list(self, filters: dict[str, str], **kwargs: Any) -> list[Any]:
        self.listed += 1
        key, _, value = filters["label"].partition("=")
        return [c for c in self.items.values() if c.labels.get(key) == value]


class FakeEngine:
    def __init__(self) -> None:
        self.containers = Collection(self)
        self.volumes = Collection(self)
        self.networks = Collection(self)
        self.images = Collection(self)
        self.images.items["image"] = object()
        self.api = self

    def import_image_from_data(self, data: bytes, repository: str, tag: str, **_: Any) -> None:
        self.images.items[f"{repository}:{tag}"] = object()


@pytest.fixture(autouse=True)
def fake_docker_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    import docker.errors

    monkeypatch.setattr(docker.errors, "NotFound", NotFound)
    monkeypatch.setattr(docker.errors, "ImageNotFound", NotFound)


def spec(instance_id: str) -> HostSpec:
    return HostSpec(
        instance_id, "000000000000", "us-east-1", "us-east-1a", "m5.large", CONTAINER_HOST
    )


def until(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + 10
    while not (value := check()):
        assert time.monotonic() < deadline, what
        time.sleep(0.01)
    return value


def make(tmp_path: Path, engine: FakeEngine) -> ContainerHostProvider:
    # An endpoint not on loopback: no relay is needed.
    plane = ControlPlane("http://10.9.9.9:8080", "AK", "SK")
    return ContainerHostProvider(plane, tmp_path, client=engine, poll=0.01)


def register(provider: ContainerHostProvider, instance_id: str, arn: str) -> None:
    path = provider.run_dir(instance_id) / "agent" / "instance.json"
    path.write_bytes(orjson.dumps({"ec2InstanceId": instance_id, "containerInstanceArn": arn}))


def test_a_host_is_pending_until_its_agent_registers_then_running(tmp_path: Path) -> None:
    engine = FakeEngine()
    provider = make(tmp_path, engine)
    try:
        provider.start([spec("i-1")])
        assert provider.hosts()["i-1"].state == HostState.PENDING
        until(lambda: engine.containers.items, "the container made")
        keys = orjson.loads((provider.run_dir("i-1") / "credentials.json").read_bytes())
        assert keys == {"AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK"}
        assert (provider.run_dir("i-1") / "credentials.json").stat().st_mode & 0o077 == 0
        passes = engine.containers.listed
        until(lambda: engine.containers.listed > passes + 2, "monitor passes")  # no ARN yet
        assert provider.hosts()["i-1"].state == HostState.PENDING
        (provider.run_dir("i-1") / "agent.log").write_text(
            "14:00:00 WARNING portside.agent.runtime: agent could not start yet: "
            "ClusterNotFoundException: Cluster not found.\n"
        )
        until(lambda: provider.hosts()["i-1"].reason, "why it waits")
        assert provider.hosts()["i-1"].reason == (
            "ECS agent not registered: ClusterNotFoundException: Cluster not found."
        )
        register(provider, "i-1", "arn:ci/1")
        until(lambda: provider.hosts()["i-1"].state == HostState.RUNNING, "RUNNING")
        assert provider.hosts()["i-1"].container_instance_arn == "arn:ci/1"
        assert provider.hosts()["i-1"].reason == ""

        provider.stop(["i-1"])
        until(lambda: provider.hosts()["i-1"].state == HostState.TERMINATED, "TERMINATED")
        assert not engine.containers.items and not engine.volumes.items
        assert not provider.run_dir("i-1").exists()
        provider.forget(["i-1"])
        assert provider.hosts() == {}
    finally:
        provider.close()


def test_a_dead_container_shows_stopped_with_why_and_goes_when_forgotten(tmp_path: Path) -> None:
    engine = FakeEngine()
    provider = make(tmp_path, engine)
    try:
        provider.start([spec("i-1"), spec("i-2")])
        until(lambda: len(engine.containers.items) == 2, "both made")
        for instance_id in ("i-1", "i-2"):
            register(provider, instance_id, f"arn:{instance_id}")
        until(lambda: {h.state for h in provider.hosts().values()} == {HostState.RUNNING}, "up")
        killed = next(
            c for c in engine.containers.items.values() if c.labels["portside.host"] == "i-1"
        )
        killed.attrs["State"] = {"Status": "exited", "ExitCode": 137}
        gone = next(
            c for c in engine.containers.items.values() if c.labels["portside.host"] == "i-2"
        )
        gone.remove()
        until(lambda: provider.hosts()["i-2"].state == HostState.STOPPED, "STOPPED")
        assert provider.hosts()["i-1"].reason == "Host container exited with code 137 (killed)"
        assert provider.hosts()["i-2"].reason == "Host container removed"
        provider.stop(["i-1"])  # ended by itself: nothing to stop
        assert provider.hosts()["i-1"].state == HostState.STOPPED
        provider.forget(["i-1", "i-2"])
        until(lambda: not engine.containers.items, "the dead container removed")
    finally:
        provider.close()


def test_a_new_provider_finds_the_hosts_by_label(tmp_path: Path) -> None:
    engine = FakeEngine()
    first = make(tmp_path, engine)
    first.start([spec("i-1"), spec("i-2"), spec("i-3")])
    until(lambda: len(engine.containers.items) == 3, "made")
    register(first, "i-1", "arn:1")
    first.close()
    dead = next(c for c in engine.containers.items.values() if c.labels["portside.host"] == "i-3")
    dead.attrs["State"] = {"Status": "exited", "ExitCode": 1}
    again = make(tmp_path, engine)
    try:
        found = again.hosts()
        assert found["i-1"].state == HostState.RUNNING
        assert found["i-1"].container_instance_arn == "arn:1"
        assert found["i-2"].state == HostState.PENDING
        assert found["i-3"].state == HostState.STOPPED
        assert found["i-3"].reason == "Host container exited with code 1"
    finally:
        again.close()
    other = make(tmp_path / "other", engine)  # another server's data directory
    try:
        assert other.hosts() == {}
    finally:
        other.close()


def test_a_host_stopped_while_it_starts_is_never_left_running(tmp_path: Path) -> None:
    engine = FakeEngine()
    provider = make(tmp_path, engine)
    import threading

    entered, release = threading.Event(), threading.Event()

    def slow() -> None:
        entered.set()
        release.wait(5)

    engine.containers.gate = slow
    try:
        provider.start([spec("i-1")])
        entered.wait(5)
        provider.stop(["i-1"])  # while the container is being made
        assert provider.hosts()["i-1"].state == HostState.STOPPING
        release.set()
        until(lambda: provider.hosts()["i-1"].state == HostState.TERMINATED, "TERMINATED")
        assert not engine.containers.items and not engine.volumes.items
    finally:
        provider.close()
