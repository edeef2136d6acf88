"""Executes the runner's actions through the driver, one step at a time per task, on a
small thread pool. Wakes a task when the control plane changes it, when the driver reports an
event for one of its containers, and on a periodic sweep that catches what an event stream
missed (a Docker events stream that broke and reconnected). A driver whose events are exact
(`reliable_events`, the simulated one: its containers change only through its own methods,
each of which emits an event or is called by this worker) needs no sweep.

A runtime that does not answer (RuntimeUnavailable: the driver logs the outage once) puts a
step off quietly; the task's step is tried again every RETRY_EVERY seconds until it goes
through (a running task's sweep aside, nothing else would wake a task caught half-way)."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from portside.agent.driver import ContainerSpec, Driver, DriverError, RuntimeUnavailable
from portside.agent.logs import LogShipper
from portside.agent.runner import (
    Action,
    ContainerRun,
    TaskRun,
    apply_state,
    next_action,
    task_status,
)
from portside.agent.secrets import FAILED
from portside.agent.specs import labels, new_run, task_spec
from portside.gateway.protocol import AgentTask, ContainerSecrets, RegistryAuth, TaskSecrets
from portside.gateway.protocol.secrets import NO_SECRETS
from portside.model.states import TaskStatus

log = logging.getLogger("portside.agent")

SWEEP_EVERY = 10.0  # seconds between two driver refreshes of a quiet running task
RETRY_EVERY = 10.0  # seconds between two tries of a step the runtime's outage put off

Reporter = Callable[[TaskRun], None]
EnvFor = Callable[[TaskRun, ContainerRun], dict[str, str]]
SecretsFor = Callable[[TaskRun], TaskSecrets]  # a task's secrets, or why it cannot have them
NO_CONTROL_PLANE = FAILED + "this agent has no control plane to resolve them"


def shared_pools(threads: int = 8) -> tuple[ThreadPoolExecutor, ThreadPoolExecutor]:
    """The step pool and the stop pool (stops wait out stop timeouts, so they get their own)."""
    return (
        ThreadPoolExecutor(max_workers=threads, thread_name_prefix="task"),
        ThreadPoolExecutor(max_workers=64, thread_name_prefix="stop"),
    )


class Worker:
    def __init__(
        self,
        driver: Driver,
        *,
        instance_arn: str,
        cluster: str,
        report: Reporter,
        env_for: EnvFor,
        persist: Callable[[TaskRun], None] = lambda run: None,
        forget: Callable[[str], None] = lambda arn: None,
        clock: Callable[[], float] = time.time,
        threads: int = 8,
        cleanup_wait: float = 3 * 3600.0,
        pools: tuple[ThreadPoolExecutor, ThreadPoolExecutor] | None = None,
        sweep_every: float | None = SWEEP_EVERY,
        logs: LogShipper | None = None,
        secrets: SecretsFor | None = None,
    ) -> None:
        self.driver = driver
        self.instance_arn = instance_arn
        self.cluster = cluster
        self.report = report
        self.env_for = env_for
        # A driver whose containers die with this process (the simulated one) leaves a
        # restarted agent nothing to re-adopt: its runs are not written down at all.
        durable = getattr(driver, "containers_outlive_agent", True)
        self.persist = persist if durable else _no_persist
        self.forget = forget
        self.clock = clock
        self.cleanup_wait = cleanup_wait
        self.logs = logs  # awslogs shipping (agent/logs.py); None: no container logs shipped
        self.secrets = secrets  # None: a task that takes secrets cannot start
        self.sweep_every = None if getattr(driver, "reliable_events", False) else sweep_every
        self.runs: dict[str, TaskRun] = {}
        self._refreshed: dict[str, float] = {}  # ARN -> when the driver was last asked
        self._put_off: dict[str, float] = {}  # ARN -> when an outage last put its step off
        self._by_runtime: dict[str, str] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._queued: set[str] = set()
        # Runs whose next step must first ask the driver (an event, a stop that completed).
        # Kept apart from _queued: a step already queued for another reason takes it along.
        self._stale: set[str] = set()
        self._mutex = threading.Lock()
        # One agent may carry thousands of (simulated) instances: they share the pools.
        self._pool, self._stops = pools or shared_pools(threads)

    # -- inputs --------------------------------------------------------------------------

    def desired(self, task: AgentTask, new_token: Callable[[], str]) -> None:
        """The control plane's latest word on a task."""
        arn = task.arn
        with self._mutex:
            run = self.runs.get(arn)
            if run is None:
                if task.last_status == "STOPPED":
                    return
                self.runs[arn] = new_run(task, new_token)
                self._locks[arn] = threading.Lock()
            elif task.version >= run.task.version:
                run.task = task
        self.schedule(arn)

    def adopt(self, run: TaskRun) -> None:
        """A run restored from the agent's state directory after a restart."""
        with self._mutex:
            self.runs[run.arn] = run
            self._locks[run.arn] = threading.Lock()
            for c in run.containers.values():
                # A stop the previous process sent may not have happened: send it again.
                c.stop_sent = False
                if c.runtime_id:
                    self._by_runtime[c.runtime_id] = run.arn
        self._refresh(run)
        if self.logs is not None:
            self.logs.adopt(run)  # after the refresh: which containers did start
        self.schedule(run.arn)

    def event(self, runtime_id: str) -> None:
        arn = self._by_runtime.get(runtime_id)
        if arn:
            self.schedule(arn, refresh=True)

    def tick(self) -> None:
        """Clean up runs stopped long enough ago, refresh from the driver the live runs it
        has not been asked about for `sweep_every` seconds, and try again the steps an outage
        put off. Only those are touched: with thousands of tasks, refreshing every run every
        second was most of an agent's work."""
        now = self.clock()
        sweep = self.sweep_every
        for arn, run in list(self.runs.items()):
            if run.status == "STOPPED":
                if run.stopped_at is not None and now - run.stopped_at >= self.cleanup_wait:
                    self._submit(self._pool, self._cleanup, arn)
            elif (
                sweep is not None
                and now - self._refreshed.get(arn, 0.0) >= sweep
                and any(c.state in ("running", "created") for c in run.containers.values())
            ) or now - self._put_off.get(arn, now) >= RETRY_EVERY:
                self.schedule(arn, refresh=True)

    def schedule(self, arn: str, refresh: bool = False) -> None:
        with self._mutex:
            if refresh:
                self._stale.add(arn)
            if arn in self._queued:
                return
            self._queued.add(arn)
        self._submit(self._pool, self._step_all, arn)

    @staticmethod
    def _submit(pool: ThreadPoolExecutor, fn: Callable[..., None], *args: Any) -> None:
        # After shutdown the pools refuse work: the agent is stopping, nothing new starts.
        with contextlib.suppress(RuntimeError):
            pool.submit(fn, *args)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._stops.shutdown(wait=False, cancel_futures=True)

    # -- stepping ------------------------------------------------------------------------

    def _step_all(self, arn: str) -> None:
        with self._mutex:
            self._queued.discard(arn)
            refresh = arn in self._stale
            self._stale.discard(arn)
        run = self.runs.get(arn)
        lock = self._locks.get(arn)
        if run is None or lock is None:
            return
        with lock:
            try:
                if refresh:
                    self._refresh(run)
                for _ in range(100):
                    action = next_action(run)
                    if action is None:
                        break
                    self._execute(run, action)
                    self._advance(run)
                self._advance(run)
                self._put_off.pop(arn, None)
            except RuntimeUnavailable as exc:
                self._put_off[arn] = self.clock()
                log.debug("task %s: step put off: %s", arn, exc)
            except Exception:
                log.exception("task %s: step failed", arn)

    def _advance(self, run: TaskRun) -> None:
        status = task_status(run)
        if TaskStatus[status] > TaskStatus[run.status]:
            run.status = status
        self.persist(run)
        self.report(run)

    def _refresh(self, run: TaskRun) -> None:
        self._refreshed[run.arn] = self.clock()
        for c in run.containers.values():
            if c.runtime_id and c.state in ("created", "running"):
                apply_state(c, self.driver.inspect(c.runtime_id), self.clock)

    def _execute(self, run: TaskRun, action: Action) -> None:
        kind = action.kind
        if kind == "secrets":
            got = self.secrets(run) if self.secrets is not None else None
            if got is None:
                self._failed_before_anything(run, NO_CONTROL_PLANE)
            elif got.failure is not None:
                self._failed_before_anything(run, got.failure)
            else:
                run.secrets = got
        elif kind == "setup":
            try:
                run.resources = self.driver.setup_task(task_spec(run, self.instance_arn))
            except DriverError as exc:
                # Nothing was made (the driver rolls back), so there is nothing to tear down.
                self._failed_before_anything(run, exc.reason)
        elif kind == "pull":
            self._pull(run, run.containers[str(action.container)])
        elif kind == "launch":
            self._launch(run, run.containers[str(action.container)])
        elif kind == "start":
            self._start(run, run.containers[str(action.container)])
        elif kind == "stop":
            c = run.containers[str(action.container)]
            c.stop_sent = True
            if c.runtime_id:
                # In the background: a stop may wait its whole stopTimeout, and every container
                # of the task gets its SIGTERM at once, as with ECS.
                self._submit(self._stops, self._stop, run.arn, c.runtime_id, action.timeout)
            else:
                c.state = "exited"
        elif kind == "teardown":
            if run.resources is not None:
                self.driver.teardown_task(task_spec(run, self.instance_arn), run.resources)
            run.torn_down = True
        elif kind == "finish":
            now = self.clock()
            run.execution_stopped_at = run.execution_stopped_at or now
            run.stopped_at = now
            run.status = "STOPPED"
            run.secrets = None
        elif kind == "fail":
            run.stop_code = action.stop_code
            run.stopped_reason = action.reason

    @staticmethod
    def _failed_before_anything(run: TaskRun, reason: str) -> None:
        """The task stops before any container of it was made."""
        run.stop_code = "TaskFailedToStart"
        run.stopped_reason = reason
        for c in run.containers.values():
            if c.state == "none":
                c.state = "exited"

    def _pull(self, run: TaskRun, c: ContainerRun) -> None:
        run.pull_started_at = run.pull_started_at or self.clock()
        image = str(c.definition.get("image"))
        auth = self._secrets_of(run, c).registry_auth
        try:
            c.digest = self._pull_image(image, auth)
            c.state = "pulled"
        except DriverError as exc:
            c.state = "exited"
            c.reason = exc.reason
            run.stop_code = "TaskFailedToStart"
            run.stopped_reason = exc.reason
        if all(x.state != "none" for x in run.containers.values()):
            run.pull_stopped_at = self.clock()

    def _pull_image(self, image: str, auth: RegistryAuth | None) -> str | None:
        if auth is None:
            return self.driver.pull(image)
        return self.driver.pull(image, auth)

    @staticmethod
    def _secrets_of(run: TaskRun, c: ContainerRun) -> ContainerSecrets:
        return run.secrets.of(c.name) if run.secrets is not None else NO_SECRETS

    def _launch(self, run: TaskRun, c: ContainerRun) -> None:
        assert run.resources is not None
        spec = ContainerSpec(
            task=task_spec(run, self.instance_arn),
            name=c.name,
            definition=c.definition,
            resources=run.resources,
            environment=self.env_for(run, c),
            labels=labels(run, c, self.instance_arn),
            volumes_from={
                v["sourceContainer"]: str(run.containers[v["sourceContainer"]].runtime_id)
                for v in c.definition.get("volumesFrom") or ()
                if v.get("sourceContainer") in run.containers
            },
            secrets=self._secrets_of(run, c),
        )
        try:
            c.runtime_id = self.driver.create(spec)
            with self._mutex:
                self._by_runtime[c.runtime_id] = run.arn
            c.state = "created"
            c.created_at = self.clock()
            self.persist(run)
        except DriverError as exc:
            self._failed_to_start(run, c, exc)
            return
        finally:
            if not run.creating:
                run.secrets = None  # every container has its values: none kept longer
        self._start(run, c)

    def _start(self, run: TaskRun, c: ContainerRun) -> None:
        assert c.runtime_id is not None
        try:
            if self.logs is not None:
                self.logs.prepare(run, c)  # awslogs: the stream exists, or the start fails
            self.driver.start(c.runtime_id)
            if self.logs is not None:
                self.logs.follow(run, c)
            apply_state(c, self.driver.inspect(c.runtime_id), self.clock)
            self._refreshed[run.arn] = self.clock()
            c.started_at = c.started_at or self.clock()
        except DriverError as exc:
            self._failed_to_start(run, c, exc)

    def _failed_to_start(self, run: TaskRun, c: ContainerRun, exc: DriverError) -> None:
        c.state = "exited"
        c.reason = exc.reason
        if c.essential:
            run.stop_code = "TaskFailedToStart"
            run.stopped_reason = exc.reason

    def _stop(self, arn: str, runtime_id: str, timeout: float) -> None:
        try:
            self.driver.stop(runtime_id, timeout)
        except DriverError as exc:
            log.warning("task %s: could not stop %s: %s", arn, runtime_id[:12], exc.reason)
        except RuntimeUnavailable as exc:
            log.debug("task %s: stop of %s put off: %s", arn, runtime_id[:12], exc)
            self._send_stop_again(arn, runtime_id)
        self.schedule(arn, refresh=True)

    def _send_stop_again(self, arn: str, runtime_id: str) -> None:
        """A stop that never reached the runtime is sent again by the first step that finds
        the container still running (the refresh before it fails while the runtime is down)."""
        run, lock = self.runs.get(arn), self._locks.get(arn)
        if run is None or lock is None:
            return
        with lock:
            for c in run.containers.values():
                if c.runtime_id == runtime_id:
                    c.stop_sent = False

    def _cleanup(self, arn: str) -> None:
        run = self.runs.get(arn)
        if run is None:
            return
        for c in run.containers.values():
            if c.runtime_id:
                if self.logs is not None and not self.logs.drain(c.runtime_id):
                    log.warning("log of %s not fully shipped before removal", c.runtime_id[:12])
                try:
                    self.driver.remove(c.runtime_id)
                except DriverError:
                    log.warning("could not remove container %s", c.runtime_id)
                except RuntimeUnavailable:
                    return  # kept: the next tick tries again
                if self.logs is not None:
                    self.logs.forget(c.runtime_id)
                self._by_runtime.pop(c.runtime_id, None)
        with self._mutex:
            self.runs.pop(arn, None)
            self._locks.pop(arn, None)
            self._refreshed.pop(arn, None)
            self._put_off.pop(arn, None)
        self.forget(arn)


def _no_persist(run: TaskRun) -> None:
    return None
