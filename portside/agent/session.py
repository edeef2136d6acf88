"""The agent: registers this host (registration.py), keeps a session with the control plane,
and runs the tasks it is given through a worker per instance. Everything it says to the
gateway and hears back is a typed message of gateway/protocol/.

Threads: a poller (long-poll sync: desired state in), a reporter (state reports out, as soon
as they change), a ticker (health, exits, cleanup) and the driver's event stream."""

from __future__ import annotations

import errno
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from portside.agent import reports
from portside.agent import secrets as task_secrets
from portside.agent.client import ApiError, ControlPlaneClient
from portside.agent.credentials.task_roles import for_agent
from portside.agent.driver import Driver
from portside.agent.endpoints import websocket_base
from portside.agent.exec import ExecSessions
from portside.agent.logs import make_shipper
from portside.agent.registration import AgentConfig, register
from portside.agent.runner import ContainerRun, TaskRun
from portside.agent.self_update import SelfUpdate
from portside.agent.state import AgentState
from portside.agent.worker import Worker, shared_pools
from portside.gateway import protocol
from portside.gateway.protocol import (
    SessionOpen,
    SessionOpened,
    SyncAnswer,
    SyncRequest,
    TaskReport,
    TaskSecrets,
)

if TYPE_CHECKING:
    from portside.agent.dns_relay import DnsRelay
    from portside.agent.metadata.source import MetadataThread
    from portside.agent.network_view import NetworkViewLoop

log = logging.getLogger("portside.agent")


class Agent:
    def __init__(
        self, client: ControlPlaneClient, driver: Driver, state: AgentState, config: AgentConfig
    ) -> None:
        self.client = client
        self.driver = driver
        self.state = state
        self.config = config
        self.workers: dict[str, Worker] = {}
        self.instance_arn = ""
        self.fargate_arn = ""
        self.more_arns: list[str] = []
        self._session = ""
        self._after = 0
        self._after_lock = threading.Lock()
        self._pending: dict[str, TaskReport] = {}
        self._sent: dict[str, TaskReport] = {}
        self._report_lock = threading.Lock()
        self._report_ready = threading.Event()
        self._threads: list[threading.Thread] = []
        self.stop_event = threading.Event()
        self.ready = threading.Event()
        self._metadata: MetadataThread | None = None
        self.dns_relay: DnsRelay | None = None  # the tasks' resolver (agent/dns_relay.py)
        self._dns_reported: str | None = None  # its state as last put on the instance
        self._pools = shared_pools(config.threads)
        self.logs = make_shipper(client, driver, state.root / "logs")  # awslogs shipping
        self.exec = ExecSessions(client.endpoint, driver, self._exec_container)
        self.network: NetworkViewLoop | None = None  # security groups, overlay (Docker)
        # UpdateContainerAgent (agent/self_update.py): the CLI's agent sets its restart.
        self.self_update = SelfUpdate(client.send, lambda: self._session, lambda: self.workers)
        self.task_roles = for_agent(  # task role credentials (agent/credentials/)
            client,
            driver,
            state.root,
            lambda: [r for w in list(self.workers.values()) for r in list(w.runs.values())],
            lambda: self._session,
            self._open_session,
        )

    # -- registration --------------------------------------------------------------------

    def register(self) -> None:
        done = register(self.client, self.driver, self.state, self.config)
        self.instance_arn = done.instance_arn
        self.fargate_arn = done.fargate_arn
        self.more_arns = list(done.more_arns)

    # -- running -------------------------------------------------------------------------

    def env_for(self, run: TaskRun, c: ContainerRun) -> dict[str, str]:
        address = self._metadata_address(run)
        base = f"http://{address}:{self.config.metadata_port}"
        fargate = run.task.launch_type == "FARGATE"
        env = {
            "ECS_CONTAINER_METADATA_URI_V4": f"{base}/v4/{c.token}",
            "ECS_CONTAINER_METADATA_URI": f"{base}/v3/{c.token}",
            "ECS_AGENT_URI": f"{base}/api/{c.token}",  # task-protection (metadata/protection.py)
            "AWS_EXECUTION_ENV": "AWS_ECS_FARGATE" if fargate else "AWS_ECS_EC2",
        }
        if fargate:
            env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = self.config.region
        env.update(self.task_roles.env_for(run, address, self.config.metadata_port))
        return env

    def _metadata_address(self, run: TaskRun) -> str:
        """Where the task's containers reach this agent's endpoints (its network's gateway);
        the metadata endpoint serves there from the first container on."""
        address = (run.resources.gateway if run.resources else None) or "127.0.0.1"
        if self._metadata is not None:
            self._metadata.listen(address)
        return address

    def _make_worker(self, instance_arn: str) -> Worker:
        return Worker(
            self.driver,
            instance_arn=instance_arn,
            cluster=self.config.cluster,
            report=self._queue_report,
            env_for=self.env_for,
            persist=self.state.save_run,
            forget=self.state.forget,
            cleanup_wait=self.config.cleanup_wait,
            pools=self._pools,
            logs=self.logs,
            secrets=self._secrets_for,
        )

    def _secrets_for(self, run: TaskRun) -> TaskSecrets:
        """A task's secrets from the control plane, asked when the task starts."""
        url = self.client.endpoint + protocol.SECRETS
        return task_secrets.fetch(self._ask_secrets, run.arn, run.definition, url=url)

    def _ask_secrets(self, task_arn: str) -> TaskSecrets:
        try:
            return self.client.secrets(self._session, task_arn)
        except ApiError as exc:
            if "UnknownSession" not in exc.message:
                raise
            self._open_session()  # the control plane restarted: a new session, then again
            return self.client.secrets(self._session, task_arn)

    def _start_metadata(self) -> None:
        from portside.agent.metadata.server import MetadataServer
        from portside.agent.metadata.source import MetadataThread, RunsSource

        source = RunsSource(
            lambda: [r for w in list(self.workers.values()) for r in list(w.runs.values())],
            self.driver,
        )
        port = self.config.metadata_port
        try:
            thread = MetadataThread(MetadataServer(source, port=port))
            bound = thread.start()
        except OSError as exc:
            # Another agent on this host (a second `portside up`) has the port. Containers
            # find the endpoint through ECS_CONTAINER_METADATA_URI_V4, so any port serves.
            if port == 0 or exc.errno != errno.EADDRINUSE:
                raise
            log.warning("task metadata port %d is in use; serving on a free port instead", port)
            thread = MetadataThread(MetadataServer(source, port=0))
            bound = thread.start()
        self._metadata = thread
        self.task_roles.mount(thread.server)  # /v2/credentials/<id> on the same listeners
        from portside.agent.metadata import protection

        ask = protection.gateway_ask(self.client, lambda: self._session, self._open_session)
        task_of = protection.task_of_runs(
            lambda: [r for w in list(self.workers.values()) for r in list(w.runs.values())]
        )
        protection.mount(thread.server, protection.ProtectionEndpoint(task_of, ask))
        # Port 0 picks a free port: the registered PORTS and the containers' URIs use it.
        self.config.metadata_port = bound

    def start(self) -> None:
        """Register, restore what this host was running, and start the loops."""
        if self._metadata is None:
            self._start_metadata()
        if self.dns_relay is None:
            self._start_dns_relay()
        self.register()
        for arn in filter(None, (self.instance_arn, self.fargate_arn, *self.more_arns)):
            self.workers[arn] = self._make_worker(arn)
        for run in self.state.runs():
            worker = self.workers.get(run.task.instance_arn)
            if worker is None:
                self.state.forget(run.arn)
                continue
            worker.adopt(run)
            if run.status != "STOPPED" and run.resources is not None:
                gateway = self._metadata_address(run)  # its containers still use the endpoint
                self.task_roles.adopt(run, gateway, self.config.metadata_port)
                for address in run.resources.extra.get("dns") or ():
                    if self.dns_relay is not None:
                        self.dns_relay.serve(address)  # and their resolver
        self._remove_orphans()
        self._open_session()
        from portside.agent.serviceconnect.plane import start_for as connect_for

        self.connect = connect_for(self)  # Service Connect's proxy and names (Docker)
        for name, target in (
            ("poll", self._poll_loop),
            ("report", self._report_loop),
            ("tick", self._tick_loop),
            ("events", self._event_loop),
        ):
            t = threading.Thread(target=target, name=f"agent-{name}", daemon=True)
            t.start()
            self._threads.append(t)
        from portside.agent.network_view import start_for

        self.network = start_for(self)
        from portside.agent.stats import start_sampler

        start_sampler(self)  # container usage for Prometheus and CloudWatch (agent/stats.py)

    def _remove_orphans(self) -> None:
        """Containers this host's agent made for tasks it no longer knows of (its state was
        lost): stop and remove them, as the ECS agent does with unrecognised containers."""
        from portside.agent.driver import LABEL_TASK_ARN, DriverError

        for arn, worker in self.workers.items():
            known = set(worker.runs)
            for st in self.driver.list_managed(arn):
                if st.labels.get(LABEL_TASK_ARN) in known:
                    continue
                log.warning(
                    "removing orphaned container %s (%s)",
                    st.runtime_id[:12],
                    st.labels.get(LABEL_TASK_ARN),
                )
                try:
                    self.driver.stop(st.runtime_id, 10)
                    self.driver.remove(st.runtime_id)
                except DriverError as exc:
                    log.warning("could not remove %s: %s", st.runtime_id[:12], exc.reason)

    def stop(self) -> None:
        self.stop_event.set()
        self._report_ready.set()
        for w in self.workers.values():
            w.shutdown()
        if self.logs is not None:
            self.logs.stop()
        if self._metadata is not None:
            self._metadata.stop()
        self.task_roles.stop()
        if self.network is not None:
            self.network.stop()
        if self.dns_relay is not None:
            self.dns_relay.stop()
        connect = getattr(self, "connect", None)  # set by start()
        if connect is not None:
            connect.stop()

    def _start_dns_relay(self) -> None:
        from portside.agent.dns_relay import DnsRelay, TakesTaskResolver

        if self.config.task_dns and isinstance(self.driver, TakesTaskResolver):
            self.dns_relay = DnsRelay()
            self.driver.use_task_resolver(self.dns_relay)

    def _open_session(self) -> None:
        out = self.client.send(protocol.SESSION, SessionOpen(tuple(self.workers)))
        opened = SessionOpened.from_wire(out)
        self._session = opened.session
        # The replica that opened it hands out this session's exec offers: dial it.
        self.exec.base = websocket_base(self.client.endpoint)
        if self.dns_relay is not None:
            self._relay_to(opened.dns)
        with self._after_lock:
            self._after = 0

    def _sync(self, reports_out: list[TaskReport], wait: float) -> tuple[SyncAnswer, str]:
        """The answer, and the session it answers (the feed position counts only for it)."""
        with self._after_lock:
            after = self._after
        ask = SyncRequest(self._session, after, tuple(reports_out), wait)
        try:
            return SyncAnswer.from_wire(self.client.send(protocol.SYNC, ask)), ask.session
        except ApiError as exc:
            if "UnknownSession" in exc.message:
                self._open_session()
                ask = SyncRequest(self._session, 0, tuple(reports_out), 0)
                return SyncAnswer.from_wire(self.client.send(protocol.SYNC, ask)), ask.session
            raise

    def _apply(self, synced: tuple[SyncAnswer, str]) -> None:
        answer, session = synced
        for task in answer.tasks:
            worker = self.workers.get(task.instance_arn)
            if worker is not None:
                worker.desired(task, lambda: secrets.token_hex(16))
        for offer in answer.exec:
            self.exec.start(offer)
        self.self_update.consider(answer.instances)
        if answer.full:
            listed = {t.arn for t in answer.tasks}
            for worker in self.workers.values():
                for arn, run in list(worker.runs.items()):
                    if arn not in listed and run.status != "STOPPED":
                        # The control plane no longer wants it running here.
                        run.task = replace(run.task, desired_status="STOPPED")
                        worker.schedule(arn)
            self.ready.set()
        with self._after_lock:
            # A long poll of a session since replaced (the fleet grew: a new session, read
            # from 0) must not move the new session's position past its first full answer.
            if session == self._session:
                self._after = max(self._after, answer.seq)

    def _exec_container(self, task_arn: str, name: str) -> str | None:
        """The runtime id of a running container of a task on this host (ECS Exec)."""
        for worker in list(self.workers.values()):
            run = worker.runs.get(task_arn)
            c = run.containers.get(name) if run is not None else None
            if c is not None and c.state == "running" and c.runtime_id:
                return c.runtime_id
        return None

    def _poll_loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                self._apply(self._sync([], self.config.poll_wait))
            except Exception as exc:
                log.warning("sync failed: %s", exc)
                self.stop_event.wait(1.0)

    def _queue_report(self, run: TaskRun) -> None:
        report = reports.build(run)
        with self._report_lock:
            if self._sent.get(run.arn) == report:
                return
            self._pending[run.arn] = report
        self._report_ready.set()

    def _report_loop(self) -> None:
        while not self.stop_event.is_set():
            self._report_ready.wait(1.0)
            self._report_ready.clear()
            with self._report_lock:
                batch = dict(self._pending)
                self._pending.clear()
            if not batch:
                continue
            try:
                self._apply(self._sync(list(batch.values()), 0))
                with self._report_lock:
                    self._sent.update(batch)
            except Exception as exc:
                log.warning("report failed: %s", exc)
                with self._report_lock:
                    for arn, rep in batch.items():
                        self._pending.setdefault(arn, rep)
                self.stop_event.wait(1.0)
                self._report_ready.set()

    def _relay_to(self, advertised: str | None) -> None:
        """Point the task resolver at the control plane's DNS server (dns_relay.upstream_for)."""
        from portside.agent.dns_relay import upstream_for

        assert self.dns_relay is not None
        try:
            upstream = upstream_for(self.config.dns_server, advertised, self.client.endpoint)
        except ValueError as exc:
            log.warning("task DNS has nowhere to relay to (SERVFAIL): %s", exc)
            self.dns_relay.upstream = None
            return
        if upstream != self.dns_relay.upstream:
            log.info("task DNS relays to %s", upstream)
        self.dns_relay.upstream = upstream

    def _report_dns(self) -> None:
        """Put the task resolver's state on this host's container instance when it changes:
        a task network whose resolver could not be served is seen there, not only logged."""
        from portside.agent.dns_relay import ATTRIBUTE, attribute_value

        if self.dns_relay is None or not self.instance_arn:
            return
        value = attribute_value(self.dns_relay.status())
        if value == self._dns_reported:
            return
        target = {"targetType": "container-instance", "targetId": self.instance_arn}
        attribute = {"name": ATTRIBUTE, "value": value, **target}
        self.client.ecs("PutAttributes", cluster=self.config.cluster, attributes=[attribute])
        self._dns_reported = value

    def _tick_loop(self) -> None:
        while not self.stop_event.wait(1.0):
            for w in self.workers.values():
                try:
                    w.tick()
                except Exception:
                    log.exception("tick failed")
            try:
                self._report_dns()
            except Exception as exc:  # the control plane away: the next tick tries again
                log.debug("task DNS state not reported: %s", exc)

    def _event_loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                for ev in self.driver.events(self.stop_event):
                    for w in self.workers.values():
                        w.event(ev.runtime_id)
            except Exception as exc:
                log.warning("driver events failed: %s", exc)
                self.stop_event.wait(2.0)


def wait_until(pred: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()
