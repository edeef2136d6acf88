"""Service Connect on this host: the view's long poll, the proxy, the tasks' names.

- A thread long-polls the host's view (`serviceconnect/protocol.py`, answered by
  `gateway/serviceconnect.py`) and applies it to HAProxy (`dataplane/haproxy`, the
  supervisor the load balancers use: servers changed through the runtime API, frontends by
  a seamless reload). Failures are counted in its `LoopStatus` and retried with back-off.
- The Docker driver asks `hosts(task ARN, gateway)` as it sets up a task's network: the
  task's names, each at its network's gateway, go in /etc/hosts (awsvpc: the pause
  container's, which the task's containers share; bridge: each container's, at docker0's
  address). A task the last view does not name is asked about
  once more at once (a poll that does not wait); a client's frontends are bound before its
  containers start.
- HAProxy binds each client's gateway address, on the ports of its namespace's names: a
  host's address, so traffic from the task to it is never filtered by its security groups.
  It runs from `<state dir>/service-connect` and stops with the agent.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from portside.agent.client import ApiError
from portside.agent.serviceconnect import proxy, stats
from portside.controllers.loop import Loop, LoopStatus
from portside.dataplane.haproxy.process import HAProxy
from portside.dataplane.haproxy.runtime import RuntimeApiError
from portside.serviceconnect.protocol import ROUTE, ConnectRequest, ConnectView

if TYPE_CHECKING:
    from portside.agent.session import Agent

log = logging.getLogger("portside.agent.service-connect")

Fetch = Callable[[str, float], ConnectView]  # (version held, wait) -> the view
WAIT = 20.0
RETRY_FIRST, RETRY_MOST = 1.0, 30.0


def bindable(host: str, port: int) -> bool:
    """Whether HAProxy could bind `host:port` now (free, or held with SO_REUSEPORT as
    HAProxy holds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
                return False
            raise
    return True


class ConnectPlane:
    def __init__(
        self,
        fetch: Fetch,
        directory: Path,
        *,
        wait: float = WAIT,
        proxy_factory: Callable[[Path], HAProxy] = HAProxy,
    ) -> None:
        self.fetch = fetch
        self.directory = directory
        self.wait = wait
        self.proxy_factory = proxy_factory
        self.proxy: HAProxy | None = None
        self.view: ConnectView | None = None
        self.gateways: dict[str, str] = {}  # client task ARN -> its network's gateway
        self.problems: list[str] = []
        self._lock = threading.RLock()
        self._applied = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._status = Loop("service-connect", lambda: None, interval=wait, log=log)

    def status(self) -> LoopStatus:
        return self._status.snapshot()

    # The driver's hook ---------------------------------------------------------------------

    def hosts(self, task_arn: str, gateway: str) -> dict[str, str]:
        """The /etc/hosts entries of an awsvpc task about to start on `gateway`'s network
        (none for a task that is no Service Connect client); its frontends bound first."""
        with self._lock:
            view = self.view
        if view is None or task_arn not in view.clients:
            try:
                view = self.fetch("", 0.0)
            except Exception as exc:  # the gateway away: the task starts without names
                log.warning("service connect: no view for %s: %s", task_arn, exc)
                return {}
        if task_arn not in view.clients:
            return {}
        with self._lock:
            self.gateways[task_arn] = gateway
            if self.view is None or self.view.version != view.version:
                self.view = view
            try:
                self._apply()
            except Exception as exc:
                log.warning("service connect: proxy not applied for %s: %s", task_arn, exc)
            return proxy.hosts(view, task_arn, gateway)

    def adopt(self, task_arn: str, gateway: str) -> None:
        """A client task this agent ran before a restart: its gateway, known again."""
        with self._lock:
            self.gateways[task_arn] = gateway

    # The loop ----------------------------------------------------------------------------

    def start(self) -> None:
        self._status.started()
        self._thread = threading.Thread(target=self._run, name="agent-connect", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            if self.proxy is not None:
                self.proxy.stop()
                self.proxy = None

    def step(self, wait: float) -> None:
        held = self.view.version if self.view is not None else ""
        view = self.fetch(held, wait)
        with self._applied:
            self.view = view
            # Clients gone from the view (stopped, moved) leave the proxy with their binds.
            self.gateways = {t: g for t, g in self.gateways.items() if t in view.clients}
            self._apply()
            self._applied.notify_all()

    def _apply(self) -> None:
        assert self.view is not None
        bound = self.proxy.bound() if self.proxy is not None else set()
        spec, problems = proxy.spec_of(
            self.view, self.gateways, lambda h, p: (h, p) in bound or bindable(h, p)
        )
        if problems != self.problems:
            for problem in problems:
                log.warning("service connect: %s", problem)
        self.problems = problems
        if not spec.frontends and self.proxy is None:
            return
        if self.proxy is None:
            self.proxy = self.proxy_factory(self.directory)
        self.proxy.apply(spec)

    def wait_for(self, predicate: Callable[[ConnectView], bool], timeout: float) -> bool:
        """Until a view satisfying `predicate` is applied (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        with self._applied:
            while self.view is None or not predicate(self.view):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._applied.wait(left)
        return True

    def counts(self) -> dict[str, stats.TargetCounts]:
        """The proxy's traffic counts per target (none while no proxy runs)."""
        with self._lock:
            running, spec = self.proxy, self.proxy.spec if self.proxy else None
        if running is None or spec is None:
            return {}
        try:
            text = running.api.command("show stat")
        except RuntimeApiError:
            return {}
        return stats.parse(text, [b.id for b in spec.backends])

    def _run(self) -> None:
        retry = RETRY_FIRST
        while not self._stop.is_set():
            try:
                self.step(self.wait)
            except Exception as exc:
                if self._stop.is_set():
                    return
                self._status.failed(exc, retry)
                log.warning("service connect: %s (again within %.0f s)", exc, retry)
                self._stop.wait(retry)
                retry = min(retry * 2, RETRY_MOST)
                continue
            self._status.succeeded(0.0)
            retry = RETRY_FIRST


def agent_fetch(agent: Agent) -> Fetch:
    def fetch(version: str, wait: float) -> ConnectView:
        ask = ConnectRequest(agent._session, version, wait)
        try:
            return ConnectView.from_wire(agent.client.send(ROUTE, ask))
        except ApiError as exc:
            if "UnknownSession" in exc.message:
                raise RuntimeError("the session is being reopened") from exc
            raise

    return fetch


def start_for(agent: Agent) -> ConnectPlane | None:
    """The plane for an agent whose driver takes Service Connect names (Docker)."""
    use: Any = getattr(agent.driver, "use_service_connect", None)
    if use is None:
        return None
    plane = ConnectPlane(agent_fetch(agent), agent.state.root / "service-connect")
    for worker in agent.workers.values():
        for run in list(worker.runs.values()):
            res = run.resources
            if res is not None and res.network_mode in ("awsvpc", "bridge") and res.gateway:
                plane.adopt(run.arn, res.gateway)
    use(plane.hosts)
    plane.start()
    return plane
