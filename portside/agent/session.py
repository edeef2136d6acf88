"""The agent: registers this host, keeps a session with the control plane, and runs the tasks
it is given through a worker per instance.

Threads: a poller (long-poll sync: desired state in), a reporter (state reports out, as soon
as they change), a ticker (health, exits, cleanup) and the driver's event stream."""

from __future__ import annotations

import errno
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from portside import __version__
from portside.agent import reports
from portside.agent.attributes import default_attributes
from portside.agent.client import ApiError, ControlPlaneClient
from portside.agent.driver import Driver
from portside.agent.exec import ExecSessions
from portside.agent.logs import make_shipper
from portside.agent.runner import ContainerRun, TaskRun
from portside.agent.state import AgentState
from portside.agent.worker import Worker, shared_pools
from portside.gateway import protocol

log = logging.getLogger("portside.agent")

RESERVED_PORTS = [22, 2375, 2376, 51678, 51679]


@dataclass(slots=True)
class AgentConfig:
    cluster: str = "default"
    region: str = "us-east-1"
    zone: str = "local-1a"
    instance_type: str = "portside.local"
    attributes: dict[str, str] = field(default_factory=dict)
    fargate: bool = False  # also provide FARGATE capacity (portside up does)
    metadata_port: int = 51680
    cleanup_wait: float = 3 * 3600.0
    poll_wait: float = 20.0
    # A simulated fleet: this many instances in one session, zones taken in turn.
    instances: int = 1
    zones: list[str] = field(default_factory=list)
    threads: int = 8


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
        self._pending: dict[str, dict[str, Any]] = {}
        self._sent: dict[str, dict[str, Any]] = {}
        self._report_lock = threading.Lock()
        self._report_ready = threading.Event()
        self._threads: list[threading.Thread] = []
        self.stop_event = threading.Event()
        self.ready = threading.Event()
        self._metadata: Any = None
        self._pools = shared_pools(config.threads)
        self.logs = make_shipper(client, driver, state.root / "logs")  # awslogs shipping
        self.exec = ExecSessions(client.endpoint, driver, self._exec_container)

    # -- registration --------------------------------------------------------------------

    def _resources(self) -> list[dict[str, Any]]:
        cpu, memory = self.driver.host_resources()
        ports = sorted({*RESERVED_PORTS, self.config.metadata_port})
        return [
            {"name": "CPU", "type": "INTEGER", "integerValue": cpu},
            {"name": "MEMORY", "type": "INTEGER", "integerValue": memory},
            {"name": "PORTS", "type": "STRINGSET", "stringSetValue": [str(p) for p in ports]},
            {"name": "PORTS_UDP", "type": "STRINGSET", "stringSetValue": []},
        ]

    def register(self) -> None:
        cfg = self.config
        saved = self.state.instance()
        zone = (cfg.zones or [cfg.zone])[0]
        if cfg.cluster == "default":
            self.client.ecs("CreateCluster", clusterName="default")
        version = {
            "agentVersion": __version__,
            "agentHash": "portside",
            "dockerVersion": self.driver.name,
        }
        identity = {
            "instanceId": saved.get("ec2InstanceId") or "i-" + secrets.token_hex(9)[:17],
            "availabilityZone": zone,
            "instanceType": cfg.instance_type,
            "region": cfg.region,
        }
        params: dict[str, Any] = {
            "cluster": cfg.cluster,
            "totalResources": self._resources(),
            "versionInfo": version,
            "attributes": default_attributes(zone, cfg.instance_type, cfg.attributes),
            "instanceIdentityDocument": _json(identity),
        }
        if saved.get("cluster") == cfg.cluster and saved.get("containerInstanceArn"):
            params["containerInstanceArn"] = saved["containerInstanceArn"]
        try:
            out = self.client.ecs("RegisterContainerInstance", **params)
        except ApiError as exc:
            if "containerInstanceArn" not in params:
                raise
            log.warning(
                "could not re-register %s (%s); registering anew",
                params["containerInstanceArn"],
                exc.message,
            )
            del params["containerInstanceArn"]
            out = self.client.ecs("RegisterContainerInstance", **params)
        self.instance_arn = out["containerInstance"]["containerInstanceArn"]
        saved.update(
            cluster=cfg.cluster,
            containerInstanceArn=self.instance_arn,
            ec2InstanceId=identity["instanceId"],
        )
        if cfg.fargate:
            fg = self.client.agent(
                protocol.FARGATE,
                totalResources=self._resources(),
                versionInfo=version,
                attributes=default_attributes(cfg.zone, "fargate"),
                containerInstanceArn=saved.get("fargateArn"),
            )
            self.fargate_arn = fg["containerInstanceArn"]
            saved["fargateArn"] = self.fargate_arn
        if cfg.instances > 1:
            known = saved.get("more")
            saved["more"] = self._register_more(params, known if isinstance(known, list) else [])
            self.more_arns = list(saved["more"])
        self.state.save_instance(saved)
        log.info(
            "registered %s in cluster %s%s",
            self.instance_arn,
            cfg.cluster,
            f" (and {cfg.instances - 1} more)" if cfg.instances > 1 else "",
        )

    def _register_more(self, first: dict[str, Any], known: list[str]) -> list[str]:
        """Instances 2..N of a simulated fleet, registered from a few threads at once."""
        from concurrent.futures import ThreadPoolExecutor

        cfg = self.config
        zones = cfg.zones or [cfg.zone]

        def one(n: int) -> str:
            zone = zones[n % len(zones)]
            params = dict(first)
            params.pop("containerInstanceArn", None)
            params["attributes"] = default_attributes(zone, cfg.instance_type, cfg.attributes)
            params["instanceIdentityDocument"] = _json(
                {
                    "instanceId": "i-" + secrets.token_hex(9)[:17],
                    "availabilityZone": zone,
                    "instanceType": cfg.instance_type,
                    "region": cfg.region,
                }
            )
            if n - 1 < len(known):
                params["containerInstanceArn"] = known[n - 1]
            out = self.client.ecs("RegisterContainerInstance", **params)
            return str(out["containerInstance"]["containerInstanceArn"])

        with ThreadPoolExecutor(max_workers=8) as pool:
            return list(pool.map(one, range(1, cfg.instances)))

    # -- running -------------------------------------------------------------------------

    def env_for(self, run: TaskRun, c: ContainerRun) -> dict[str, str]:
        address = (run.resources.gateway if run.resources else None) or "127.0.0.1"
        base = f"http://{address}:{self.config.metadata_port}"
        fargate = run.doc.get("launchType") == "FARGATE"
        env = {
            "ECS_CONTAINER_METADATA_URI_V4": f"{base}/v4/{c.token}",
            "ECS_CONTAINER_METADATA_URI": f"{base}/v3/{c.token}",
            "AWS_EXECUTION_ENV": "AWS_ECS_FARGATE" if fargate else "AWS_ECS_EC2",
        }
        if fargate:
            env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = self.config.region
        return env

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
        )

    def _start_metadata(self) -> None:
        from portside.agent.metadata import MetadataServer
        from portside.agent.metadata_source import MetadataThread, RunsSource

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
        # Port 0 picks a free port: the registered PORTS and the containers' URIs use it.
        self.config.metadata_port = bound

    def start(self) -> None:
        """Register, restore what this host was running, and start the loops."""
        if self._metadata is None:
            self._start_metadata()
        self.register()
        for arn in filter(None, (self.instance_arn, self.fargate_arn, *self.more_arns)):
            self.workers[arn] = self._make_worker(arn)
        for run in self.state.runs():
            worker = self.workers.get(run.doc.get("instanceArn", ""))
            if worker is None:
                self.state.forget(run.arn)
                continue
            worker.adopt(run)
        self._remove_orphans()
        self._open_session()
        for name, target in (
            ("poll", self._poll_loop),
            ("report", self._report_loop),
            ("tick", self._tick_loop),
            ("events", self._event_loop),
        ):
            t = threading.Thread(target=target, name=f"agent-{name}", daemon=True)
            t.start()
            self._threads.append(t)

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

    def _open_session(self) -> None:
        out = self.client.agent(protocol.SESSION, instances=list(self.workers))
        self._session = out["session"]
        with self._after_lock:
            self._after = 0

    def _sync(self, reports_out: list[dict[str, Any]], wait: float) -> dict[str, Any]:
        with self._after_lock:
            after = self._after
        try:
            return self.client.agent(
                protocol.SYNC,
                session=self._session,
                after=after,
                reports=reports_out,
                wait=wait,
            )
        except ApiError as exc:
            if "UnknownSession" in exc.message:
                self._open_session()
                return self.client.agent(
                    protocol.SYNC,
                    session=self._session,
                    after=0,
                    reports=reports_out,
                    wait=0,
                )
            raise

    def _apply(self, response: dict[str, Any]) -> None:
        for doc in response.get("tasks") or ():
            definition = doc.pop("definition", {})
            worker = self.workers.get(doc.get("instanceArn", ""))
            if worker is not None:
                worker.desired(doc, definition, lambda: secrets.token_hex(16))
        for offer in response.get("exec") or ():
            self.exec.start(offer)
        if response.get("full"):
            listed = {d["arn"] for d in response.get("tasks") or ()}
            for worker in self.workers.values():
                for arn, run in list(worker.runs.items()):
                    if arn not in listed and run.status != "STOPPED":
                        # The control plane no longer wants it running here.
                        run.doc = {**run.doc, "desiredStatus": "STOPPED"}
                        worker.schedule(arn)
            self.ready.set()
        with self._after_lock:
            self._after = max(self._after, int(response.get("seq") or 0))

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

    def _tick_loop(self) -> None:
        while not self.stop_event.wait(1.0):
            for w in self.workers.values():
                try:
                    w.tick()
                except Exception:
                    log.exception("tick failed")

    def _event_loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                for ev in self.driver.events(self.stop_event):
                    for w in self.workers.values():
                        w.event(ev.runtime_id)
            except Exception as exc:
                log.warning("driver events failed: %s", exc)
                self.stop_event.wait(2.0)


def _json(data: dict[str, Any]) -> str:
    import orjson

    return orjson.dumps(data).decode()


def wait_until(pred: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()
