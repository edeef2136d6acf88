"""The agent's network view loop: long-polls this host's NetworkView from the gateway
(gateway/protocol/network.py) and hands each new one to the appliers registered at start:
the security-group firewall (agent/firewall/) and, when that module exists, the cross-host
subnet overlay (`portside.agent.docker.overlay.apply(view)`).

One thread. A view is asked with the version last received, so the gateway answers as soon
as anything in it changes (a rule authorized, a task of a group started anywhere in the
region) and otherwise after `wait` seconds. An applier that fails is logged, counted in the
loop's status (`LoopStatus`, the control plane loops' shape: last success, last error,
errors in a row and in all) and retried with back-off (1 s doubling to 30 s). Each applier
keeps its own place: one that fails does not hold the others back (a firewall change still
takes effect at once while the overlay is failing), and it is given the newest view when
its back-off is up or a newer view comes. Where the loop stands is also put on the host's
container instance as the attribute `portside.security-groups` ("on", or "failing: <why>"),
so a host whose rules are not applied is seen with DescribeContainerInstances, not only in
its log.

Started for the Docker driver only (the firewall writes this host's iptables); the
simulated driver's hosts are not real, and their fleets (10,000 instances in one session)
would make the view large for nothing: `appliers_for` gives them a no-op firewall.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from portside.agent.client import ApiError
from portside.agent.firewall.apply import Firewall, NoFirewall
from portside.agent.firewall.compile import owner_id
from portside.controllers.loop import Loop, LoopStatus
from portside.gateway.protocol.network import NETWORK, NetworkView, NetworkViewRequest

if TYPE_CHECKING:
    from portside.agent.session import Agent

log = logging.getLogger("portside.agent.network")

Fetch = Callable[[str, float], NetworkView]  # (version held, wait) -> the view
Applier = Callable[[NetworkView], Any]
WAIT = 20.0
ATTRIBUTE = "portside.security-groups"
RETRY_FIRST, RETRY_MOST = 1.0, 30.0


class ApplyError(RuntimeError):
    """One or more appliers failed to take a view (the others took it)."""


class NetworkViewLoop:
    def __init__(
        self,
        fetch: Fetch,
        appliers: list[tuple[str, Applier]],
        *,
        wait: float = WAIT,
        clock: Callable[[], float] = time.time,
        report: Callable[[str], None] | None = None,
    ) -> None:
        self.fetch = fetch
        self.appliers = appliers
        self.wait = wait
        self.report = report  # told attribute_value() when it changes
        self._reported: str | None = None
        self.view: NetworkView | None = None  # the last view every applier took
        self.latest: NetworkView | None = None  # the last view the gateway gave
        self._taken: dict[str, str] = {}  # applier -> the version it last took
        self.applied_at: float | None = None  # monotonic time of that apply
        self._bookkeeping = Loop("network-view", lambda: None, interval=wait, clock=clock, log=log)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._applied = threading.Condition()

    def status(self) -> LoopStatus:
        return self._bookkeeping.snapshot()

    def start(self) -> None:
        self._bookkeeping.started()
        self._thread = threading.Thread(target=self._run, name="agent-network", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def wait_for(self, predicate: Callable[[NetworkView], bool], timeout: float) -> bool:
        """Until a view satisfying `predicate` is applied (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        with self._applied:
            while self.view is None or not predicate(self.view):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._applied.wait(left)
        return True

    def step(self, wait: float) -> None:
        """Ask for the view (a long poll of at most `wait` s) and give it to each applier
        that has not taken it; ApplyError names those that failed."""
        held = self.latest.version if self.latest is not None else ""
        view = self.fetch(held, wait)
        self.latest = view
        failed = []
        for name, apply in self.appliers:
            if self._taken.get(name) == view.version:
                continue
            began = time.perf_counter()
            try:
                done = apply(view)
            except Exception as exc:
                failed.append(f"{name}: {exc}")
                continue
            self._taken[name] = view.version
            took = time.perf_counter() - began
            log.debug("%s took view %s in %.3f s: %s", name, view.version, took, done)
        if failed:
            raise ApplyError("; ".join(failed))
        if self.view is None or self.view.version != view.version:
            with self._applied:
                self.view, self.applied_at = view, time.monotonic()
                self._applied.notify_all()
            log.debug("network view %s applied (%d ENIs)", view.version, len(view.enis))

    def _run(self) -> None:
        retry, pending = RETRY_FIRST, False
        while not self._stop.is_set():
            try:
                # While an applier is behind, the poll is cut to the back-off: it is tried
                # again then, or as soon as a newer view comes (the others take it at once).
                self.step(min(retry, self.wait) if pending else self.wait)
            except Exception as exc:
                self._bookkeeping.failed(exc, retry)
                log.warning("network view: %s (again within %.0f s)", exc, retry)
                self._say(attribute_value(exc))
                pending = isinstance(exc, ApplyError)
                if not pending:
                    self._stop.wait(retry)  # the gateway did not answer
                retry = min(retry * 2, RETRY_MOST)
                continue
            self._bookkeeping.succeeded(0.0)
            self._say(attribute_value(None))
            retry, pending = RETRY_FIRST, False

    def _say(self, value: str) -> None:
        if self.report is None or value == self._reported:
            return
        try:
            self.report(value)
        except Exception as exc:  # the control plane away: said again after the next pass
            log.debug("%s not reported: %s", ATTRIBUTE, exc)
            return
        self._reported = value


def attribute_value(error: BaseException | None) -> str:
    """`portside.security-groups` for the last pass: "on", or "failing: <why>", kept to the
    characters and length ECS allows in an attribute value (pure)."""
    if error is None:
        return "on"
    text = re.sub(r"[^A-Za-z0-9_.@\-/\\: ]+", " ", f"failing: {error}")
    return re.sub(r" +", " ", text).strip()[:128].rstrip()


def _overlay() -> Applier | None:
    """The cross-host subnet overlay's apply, when that module is there."""
    try:
        from portside.agent.docker import overlay  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return None
    apply = getattr(overlay, "apply", None)
    return apply if callable(apply) else None


def is_docker(driver: Any) -> bool:
    return type(driver).__module__.startswith("portside.agent.docker")


def local_engine() -> bool:
    """Whether the Docker Engine is this host's (its iptables are the ones here)."""
    host = os.environ.get("DOCKER_HOST", "")
    return not host or host.startswith("unix://")


def appliers_for(driver: Any, instance_arn: str) -> list[tuple[str, Applier]]:
    """The firewall for a Docker driver on this host (a no-op otherwise), and the overlay."""
    real = is_docker(driver) and local_engine()
    firewall = Firewall(owner_id(instance_arn)) if real else NoFirewall()
    found: list[tuple[str, Applier]] = [("firewall", firewall.apply)]
    overlay = _overlay() if real else None
    if overlay is not None:
        found.append(("overlay", overlay))
    return found


def agent_fetch(agent: Agent) -> Fetch:
    """A view through the agent's client and current session."""

    def fetch(version: str, wait: float) -> NetworkView:
        ask = NetworkViewRequest(agent._session, version, wait)
        try:
            return NetworkView.from_wire(agent.client.send(NETWORK, ask))
        except ApiError as exc:
            if "UnknownSession" in exc.message:
                # The sync loop opens the new session; ask again with it.
                raise RuntimeError("the session is being reopened") from exc
            raise

    return fetch


def start_for(agent: Agent) -> NetworkViewLoop | None:
    """The loop for an agent on the Docker driver (None for the simulated one)."""
    if not is_docker(agent.driver):
        return None
    if not local_engine():
        log.warning("security groups not enforced: the Docker Engine is not on this host")
        return None

    def report(value: str) -> None:
        attribute = {
            "name": ATTRIBUTE,
            "value": value,
            "targetType": "container-instance",
            "targetId": agent.instance_arn,
        }
        agent.client.ecs("PutAttributes", cluster=agent.config.cluster, attributes=[attribute])

    appliers = appliers_for(agent.driver, agent.instance_arn)
    loop = NetworkViewLoop(agent_fetch(agent), appliers, report=report)
    loop.start()
    return loop
