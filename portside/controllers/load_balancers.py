"""The load balancers' data plane on this host: a loop that keeps HAProxy at what the store
says, and writes back what HAProxy's health checks see.

Each pass:
1. removes the targets whose deregistration delay has ended (`elb.targets.sweep`);
2. reads every load balancer (`elb.view`), turns it into the proxy's spec (`elb.proxy`) and
   applies it (`dataplane.haproxy`: targets through the runtime API, anything else by a
   seamless reload; HAProxy is started on the first load balancer, never before, so a host
   with none needs no HAProxy). An `instance` target is reached at its container instance's
   address as the agent registered it (`instance_address`), loopback when it gave none;
3. records each target's health as HAProxy last checked it in `elb_target_health` (only
   when it changed, or when the target was registered again since), which
   DescribeTargetHealth and the service scheduler read.

A pass follows at once when the load balancers' configuration changes (a registration,
a deregistration, a listener), else a second after the last.

HAProxy outlives the server: stopping Portside leaves it serving, and the next server adopts
it (its files are in `<data dir>/haproxy`). A pass that fails (no haproxy binary, a
configuration HAProxy refuses) shows in the loop's status like any other loop's.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import ipaddress
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import orjson

from portside.acm.records import CERTIFICATES
from portside.controllers.loop import Loops
from portside.dataplane.haproxy.health import INITIAL, TargetHealth
from portside.dataplane.haproxy.process import HAProxy
from portside.dataplane.haproxy.spec import Backend
from portside.elb import view
from portside.elb.proxy import Translation, translate
from portside.elb.records import HEALTH, LBS, LISTENERS, RULES, TARGETS, TGS
from portside.elb.targets import sweep
from portside.model.container_instance import INACTIVE
from portside.ops import instances as inst_ops
from portside.store.base import Store

log = logging.getLogger("portside.load-balancers")

LOCAL_ADDRESS = "127.0.0.1"
# Where an instance's host ports are reached, as its agent registered it: an address it was
# told to give (`portside agent --attribute ecs.private-ip=10.0.0.7`), else the one its
# registration gives (the EC2 identity document's privateIp, kept on the instance).
ADDRESS_ATTRIBUTE = "ecs.private-ip"
ADDRESS_FIELD = "privateIpAddress"
INSTANCES_PAGE = 5000  # instances changed since the last pass read from the feed, at most
PASS_EVERY = 1.0  # seconds between passes when nothing changes (health is read each pass)
# What the proxy's configuration is made of (not the health this loop writes itself).
CONFIG_TABLES = (LBS, TGS, LISTENERS, RULES, TARGETS, CERTIFICATES)


class LoadBalancerPlane:
    def __init__(
        self,
        store: Store,
        directory: Path,
        *,
        bind_host: str = LOCAL_ADDRESS,
        clock: Callable[[], float],
        proxy_factory: Callable[[Path], HAProxy] = HAProxy,
    ) -> None:
        self.store = store
        self.directory = directory
        self.bind_host = bind_host
        self.clock = clock
        self.proxy_factory = proxy_factory
        self.proxy: HAProxy | None = None
        self._problems: tuple[str, ...] = ()
        # key -> (state, reason, when) of the observations in `elb_target_health`
        self._written: dict[str, tuple[str, str | None, float]] | None = None
        # The container instances as of change-feed seq `_instances_seq`: key -> (its EC2
        # instance id, its address, whether it is INACTIVE); and the id -> address map.
        self._instances: dict[str, tuple[str, Address, bool]] = {}
        self._instances_seq: int | None = None
        self._addresses: dict[str, Address] = {}

    def register(self, loops: Loops) -> None:
        loops.add("load-balancers", self.step, interval=1.0, retry_after=5.0, log=log)

    def step(self) -> float | None:
        now = self.clock()
        after = self.store.last_seq()
        sweep(self.store, now)
        balancers = view.load_balancer_config(self.store)
        if not balancers and self.proxy is None:
            return None
        addresses = self._instance_addresses()
        unreachable: dict[str, str] = {}

        def reach(instance_id: str) -> str | None:
            found = addresses.get(instance_id)
            if found is not None and found.problem:
                unreachable[instance_id] = f"instance {instance_id}: {found.problem}"
            return None if found is None else found.ip

        translation = translate(
            balancers, bind_host=self.bind_host, instance_address=reach, cert_file=self._cert_file
        )
        if self.proxy is None:
            self.proxy = self.proxy_factory(self.directory)
        bound = self.proxy.bound()
        frontends, blocked = [], []
        for front in translation.spec.frontends:
            free = [b for b in front.binds if b in bound or _bindable(*b)]
            blocked += [
                f"listener {front.id}: {host}:{port} is in use by another program on this "
                "host; the listener is not bound there until it is free"
                for host, port in front.binds
                if (host, port) not in free
            ]
            if free:
                first, *more = free
                frontends.append(
                    dataclasses.replace(
                        front, bind_host=first[0], also_bind=tuple(h for h, _ in more)
                    )
                )
        reasons = (*translation.problems, *(unreachable[i] for i in sorted(unreachable)))
        self._report((*reasons, *blocked))
        self.proxy.apply(dataclasses.replace(translation.spec, frontends=tuple(frontends)))
        self._record(translation, self.proxy.health(), now)
        self._wait_for_change(after, PASS_EVERY)
        return 0.0

    def _wait_for_change(self, after: int, timeout: float) -> None:
        """Return when a load balancer, listener, rule, target group or target changes
        (committed after `after`), or after `timeout`: a registration takes effect at once,
        and health is read at least every `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if not self.store.wait(after, left, tables=CONFIG_TABLES):
                return
            last = self.store.last_seq()
            if self.store.changes_raw(after, 1, tables=CONFIG_TABLES, upto=last):
                return
            after = last

    def detach(self) -> None:
        """Stop supervising HAProxy and leave it serving (the next server adopts it)."""
        if self.proxy is not None:
            self.proxy.detach()

    # -- the parts -----------------------------------------------------------------------------

    def _instance_addresses(self) -> dict[str, Address]:
        """EC2 instance id -> where its tasks' host ports are reached. Read in full once (and
        when the change feed no longer reaches back far enough), then from the feed: a pass
        parses only the instances that changed since the last."""
        store, seen = self.store, self._instances_seq
        upto = store.last_seq()
        if seen is not None and seen == upto:
            return self._addresses
        changes = []
        if seen is not None:
            changes = store.changes_raw(seen, INSTANCES_PAGE, tables=(inst_ops.TABLE,), upto=upto)
        if seen is None or len(changes) == INSTANCES_PAGE or not 0 < store.oldest_seq() <= seen + 1:
            with store.read() as tx:
                self._instances = {key: _instance(raw) for key, raw in tx.scan_raw(inst_ops.TABLE)}
        elif not changes:
            self._instances_seq = upto
            return self._addresses
        else:
            for change in changes:
                if change.doc is None:
                    self._instances.pop(change.key, None)
                else:
                    self._instances[change.key] = _instance(change.doc)
        self._instances_seq = upto
        # An EC2 id registered again (a new container instance) is reached as the live one.
        found: dict[str, tuple[Address, bool]] = {}
        for ec2_id, address, inactive in self._instances.values():
            if ec2_id not in found or found[ec2_id][1]:
                found[ec2_id] = (address, inactive)
        self._addresses = {ec2_id: address for ec2_id, (address, _) in found.items()}
        return self._addresses

    def _cert_file(self, cert: view.Certificate) -> str:
        pem = cert.certificate_pem.strip() + "\n"
        if cert.chain_pem:
            pem += cert.chain_pem.strip() + "\n"
        pem += cert.private_key_pem.strip() + "\n"
        folder = self.directory / "certs"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / (hashlib.sha256(pem.encode()).hexdigest()[:32] + ".pem")
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(pem)
            tmp.replace(path)
        return str(path)

    def _report(self, problems: tuple[str, ...]) -> None:
        for problem in problems:
            if problem not in self._problems:
                log.warning("load balancer: %s", problem)
        self._problems = problems

    def _record(
        self, translation: Translation, health: dict[tuple[str, str], TargetHealth], now: float
    ) -> None:
        """Write the observations that changed: healthy or unhealthy with ELB's reason; a
        target HAProxy has not judged yet has no observation (ELB's initial state), nor
        one whose first checks fail but that has not yet failed as many as ELB waits for."""
        if self._written is None:
            with self.store.read() as tx:
                self._written = {
                    k: (d["state"], d.get("reason"), float(d.get("at") or 0.0))
                    for k, d in tx.scan(HEALTH)
                }
        written = self._written
        puts: dict[str, dict[str, object]] = {}
        drops: list[str] = []
        for (group, _target, _port), key in translation.servers.items():
            seen = health.get((group, key))
            backend = translation.spec.backend(group)
            if seen is None or backend is None:
                continue
            registered_at = translation.registered.get(key)
            last = written.get(key)
            # An observation from before the target was registered again (DeregisterTargets
            # then RegisterTargets, a replacement task on the same instance and port) is not
            # this registration's: it starts afresh, and is written again even unchanged.
            before = (
                None
                if last is None or (registered_at is not None and last[2] < registered_at)
                else last[:2]
            )
            seen = judged(seen, before, registered_at, backend, now)
            if seen.state == "unknown":
                if key in written:
                    drops.append(key)
                continue
            if before != (seen.state, seen.reason):
                puts[key] = {
                    "state": seen.state,
                    "reason": seen.reason,
                    "description": seen.description,
                    "at": now,
                }
        if not puts and not drops:
            return
        with self.store.transaction() as tx:
            for key, doc in puts.items():
                tx.put(HEALTH, key, doc)
            for key in drops:
                tx.delete(HEALTH, key)
        for key, doc in puts.items():
            written[key] = (str(doc["state"]), doc["reason"], now)  # type: ignore[assignment]
        for key in drops:
            written.pop(key, None)


def _instance(raw: str) -> tuple[str, Address, bool]:
    doc = orjson.loads(raw)
    return str(doc.get("ec2InstanceId")), instance_address(doc), doc.get("status") == INACTIVE


@dataclasses.dataclass(frozen=True, slots=True)
class Address:
    """Where an instance is reached, or why it cannot be (`problem`)."""

    ip: str | None
    problem: str | None = None


def instance_address(doc: Mapping[str, Any]) -> Address:
    """Where a container instance's host ports are reached, from its stored document: the
    address its agent registered it with (ADDRESS_ATTRIBUTE, else ADDRESS_FIELD); an agent
    that gave none is on this host, at loopback. An address that is no IP address is not
    guessed at. Pure."""
    attributes = doc.get("attributes") or ()
    given = next((a.get("value") for a in attributes if a.get("name") == ADDRESS_ATTRIBUTE), None)
    source = ADDRESS_ATTRIBUTE
    if not given:
        given, source = doc.get(ADDRESS_FIELD), ADDRESS_FIELD
    if not given:
        return Address(LOCAL_ADDRESS)
    try:
        return Address(str(ipaddress.ip_address(str(given).strip())))
    except ValueError:
        return Address(
            None, f"its {source} {given!r} is not an IP address; its targets are left out"
        )


def _bindable(host: str, port: int) -> bool:
    """Whether a listener could bind `host:port` now: free, or held by our HAProxy (which
    binds with SO_REUSEPORT, as the probe does; another program's socket refuses it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
                return False
            raise
    return True


def judged(
    seen: TargetHealth,
    before: tuple[str, str | None] | None,
    registered_at: float | None,
    backend: Backend,
    now: float,
) -> TargetHealth:
    """HAProxy's verdict as ELB gives it. A new target HAProxy holds down after one failed
    check is, for ELB, initial until it has failed UnhealthyThresholdCount checks in a row:
    until that many intervals (and a timeout) have passed since it was registered with no
    verdict yet. Pure."""
    if seen.state != "unhealthy" or before is not None or registered_at is None:
        return seen
    check = backend.health
    if now - registered_at < check.unhealthy_threshold * check.interval + check.timeout:
        return INITIAL
    return seen
