"""The `ec2-instances` loop: EC2's instances kept in step with their hosts.

Each pass reads the live instances' indexed state (no documents) and every provider's hosts
(memory), and acts where the pair (EC2 state, host state) changed since it last looked:

    pending, not handed over         -> provider.start(HostSpec)
    pending, host RUNNING            -> running (the container instance ARN kept)
    pending/running, host STOPPED    -> stopped, with the host's reason (its agent is gone;
      or the host unknown              an Auto Scaling group counts it unhealthy)
    shutting-down, host up           -> provider.stop
    shutting-down, host gone         -> terminated: its container instance deregistered,
                                        its primary ENI deleted, the host forgotten
    terminated for an hour           -> forgotten (DescribeInstances no longer shows it)

`plan` is pure; the loop reads, plans and applies.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from portside.controllers.loop import Loop, Loops
from portside.ec2.instance_records import (
    INSTANCES,
    KEEP_TERMINATED,
    put,
    set_state,
    state_of,
    tag_map,
    user_data_text,
)
from portside.ec2.records import ENIS
from portside.errors import RequestError
from portside.hosts import registry
from portside.hosts.provider import Host, HostSpec, HostState
from portside.ops.context import Caller, Op, World, root_principal
from portside.store.base import Document, Tx

log = logging.getLogger("portside.ec2-instances")

INTERVAL = 0.5
WATCHED = ("pending", "running", "shutting-down")


class Act(StrEnum):
    START = "start"
    RUN = "run"
    LOST = "lost"
    STOP = "stop"
    END = "end"


@dataclass(frozen=True, slots=True)
class Seen:
    """What a pass saw of one instance: its EC2 state and its host's, if any."""

    state: str
    host: HostState | None
    registered: str  # the host's container instance ARN, once its agent registered


def plan(state: str, handed: bool, host: Host | None) -> Act | None:
    """What to do for an instance in EC2 state `state`, handed to its provider or not, whose
    host is `host` (None: the provider has none)."""
    if state == "pending" and not handed:
        return Act.START
    if state in ("pending", "running"):
        if host is None or host.state in (HostState.STOPPED, HostState.TERMINATED):
            return Act.LOST
        if state == "pending" and host.state == HostState.RUNNING:
            return Act.RUN
        if state == "running" and host.container_instance_arn:
            return Act.RUN  # registered after it was running: the ARN is kept
        return None
    if state == "shutting-down":
        if host is None or host.state in (HostState.STOPPED, HostState.TERMINATED):
            return Act.END
        if host.state in (HostState.PENDING, HostState.RUNNING):
            return Act.STOP
    return None


def spec_of(doc: Document, account: str, region: str) -> HostSpec:
    return HostSpec(
        instance_id=doc["InstanceId"],
        account=account,
        region=region,
        zone=doc["Placement"]["AvailabilityZone"],
        instance_type=doc["InstanceType"],
        image_id=doc["ImageId"],
        cluster=doc.get("_Cluster") or "default",
        attributes=dict(doc.get("_Attributes") or {}),
        user_data=user_data_text(doc),
        subnet_id=doc.get("SubnetId") or "",
        private_ip=doc.get("PrivateIpAddress") or "",
        tags=tag_map(doc),
    )


class InstanceHosts:
    """The loop's state: what it last saw of each instance."""

    def __init__(self, world: World, interval: float = INTERVAL) -> None:
        self.world = world
        self.interval = interval
        self._seen: dict[str, Seen] = {}
        self._expired_at = 0.0

    def register(self, loops: Loops) -> Loop:
        return loops.add("ec2-instances", self.step, interval=self.interval, log=log)

    def _hosts(self) -> dict[str, Host]:
        out: dict[str, Host] = {}
        for provider in registry.for_store(self.world.store).all():
            out.update(provider.hosts())
        return out

    def step(self) -> float | None:
        store = self.world.store
        hosts = self._hosts()
        with store.read() as tx:
            rows = [
                (row[0], state)
                for state in WATCHED
                for row in tx.index(INSTANCES, where={"state": state})
            ]
        todo = []
        seen: dict[str, Seen] = {}
        for key, state in rows:
            instance_id = key.rsplit("|", 1)[1]
            host = hosts.get(instance_id)
            now = Seen(
                state, host.state if host else None, host.container_instance_arn if host else ""
            )
            seen[key] = now
            if self._seen.get(key) != now:
                todo.append(key)
        self._seen = seen
        if todo:
            self._apply(todo, hosts)
        self._expire()
        return None

    def _apply(self, keys: list[str], hosts: Mapping[str, Host]) -> None:
        providers = registry.for_store(self.world.store)
        starts: dict[str, list[HostSpec]] = {}
        stops: dict[str, list[str]] = {}
        forget: dict[str, list[str]] = {}
        ended: list[Document] = []
        with self.world.store.transaction() as tx:
            for key in keys:
                doc = tx.get(INSTANCES, key)
                if doc is None:
                    continue
                account, region, instance_id = key.split("|")
                host = hosts.get(instance_id)
                act = plan(state_of(doc), bool(doc.get("_Host")), host)
                if act is None:
                    continue
                image = doc["ImageId"]
                if act == Act.START:
                    if providers.for_image(image) is None:  # its provider went away
                        why = f"no instance provider serves image {image}"
                        set_state(doc, "stopped", f"Server.InternalError: {why}",
                                  f"Server.InternalError: {why}")  # fmt: skip
                        doc["_Host"] = HostState.STOPPED.value
                        put(tx, doc)
                        continue
                    starts.setdefault(image, []).append(spec_of(doc, account, region))
                    doc["_Host"] = HostState.PENDING.value
                elif act == Act.RUN:
                    assert host is not None
                    if (
                        state_of(doc) == "running"
                        and doc.get("_ContainerInstanceArn") == host.container_instance_arn
                    ):
                        continue
                    set_state(doc, "running")
                    doc["_Host"] = host.state.value
                    if host.container_instance_arn:
                        doc["_ContainerInstanceArn"] = host.container_instance_arn
                elif act == Act.LOST:
                    why = host.reason if host is not None and host.reason else "host lost"
                    set_state(
                        doc,
                        "stopped",
                        f"Server.InternalError: {why}",
                        f"Server.InternalError: {why}",
                    )
                    doc["_Host"] = HostState.STOPPED.value
                    forget.setdefault(image, []).append(instance_id)
                elif act == Act.STOP:
                    stops.setdefault(image, []).append(instance_id)
                    doc["_Host"] = HostState.STOPPING.value
                    continue  # EC2's state changes when the host is gone
                elif act == Act.END:
                    self._terminated(tx, doc)
                    ended.append(doc)
                    forget.setdefault(image, []).append(instance_id)
                put(tx, doc)
        for image, specs in starts.items():
            if (found := providers.for_image(image)) is not None:
                found.start(specs)
        for image, ids in stops.items():
            if (found := providers.for_image(image)) is not None:
                found.stop(ids)
        for image, ids in forget.items():
            if (found := providers.for_image(image)) is not None:
                found.forget(ids)
        for doc in ended:
            self._deregister(doc)

    def _terminated(self, tx: Tx, doc: Document) -> None:
        set_state(doc, "terminated")
        doc["_EndedAt"] = self.world.clock()
        doc["_Host"] = HostState.TERMINATED.value
        account, region, _ = doc["_Key"].split("|")
        eni = doc.get("_Eni")
        if eni:
            tx.delete(ENIS, f"{account}|{region}|{eni}")
        doc["NetworkInterfaces"] = []
        doc.pop("PrivateIpAddress", None)
        doc["PrivateDnsName"] = ""

    def _deregister(self, doc: Document) -> None:
        """The container instance of a terminated instance leaves its cluster (ECS
        deregisters an instance whose EC2 instance terminated)."""
        from portside.ops import instances as inst_ops

        arn = doc.get("_ContainerInstanceArn")
        if not arn:
            return
        account, region, _ = doc["_Key"].split("|")
        cluster = arn.split(":container-instance/", 1)[1].split("/", 1)[0]
        caller = Caller(account, region, "", root_principal(account))
        try:
            inst_ops.deregister(Op(self.world, caller), cluster, arn, force=True)
        except RequestError as exc:
            log.info("container instance %s of %s: %s", arn, doc["InstanceId"], exc)

    def _expire(self) -> None:
        now = self.world.clock()
        if now - self._expired_at < 60:
            return
        self._expired_at = now
        cutoff = now - KEEP_TERMINATED
        with self.world.store.read() as tx:
            old = [
                key
                for key, doc in tx.scan(INSTANCES, where={"state": "terminated"})
                if float(doc.get("_EndedAt") or 0) < cutoff
            ]
        if old:
            with self.world.store.transaction() as tx:
                for key in old:
                    tx.delete(INSTANCES, key)
