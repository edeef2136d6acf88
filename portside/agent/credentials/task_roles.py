"""The agent's task roles: what a task's containers find in their environment, the answers
of the credentials endpoint, and the host's route to it.

`env_for(run, address, port)` gives every container of a task with a `taskRoleArn`
`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/<id>` (ECS's variable: the SDKs'
container credential provider reads it and asks http://169.254.170.2 + it), routes
169.254.170.2:80 from the task's network to this agent's listener there, and asks the
control plane for the role's session before the container is made (a role the task may not
have stops it, from the control plane, with ECS's reason). Such a task (in a network mode but
`none`) also gets `AWS_ENDPOINT_URL=http://169.254.170.2`, through which its SDK reaches
Portside's API with those credentials (endpoint.py passes the calls on), unless the agent
runs with `PORTSIDE_TASK_ENDPOINT_URL` set: to `off` (or empty) for none, to a URL for that
one. A task without a role gets none of these, and its host's nat table is left alone.

The task's role is the one its task message carries (`AgentTask.task_role_arn`: RunTask's
`overrides.taskRoleArn`, else the definition's), the role the control plane assumes for it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from portside.agent.client import ApiError, ControlPlaneClient
from portside.agent.credentials.cache import Ask, CredentialsCache, Refused
from portside.agent.credentials.endpoint import LINK_LOCAL, V2, CredentialsEndpoint
from portside.agent.credentials.ids import credentials_id, load_key
from portside.agent.credentials.routing import CredentialsRouting, owner_of
from portside.gateway.protocol.credentials import (
    CREDENTIALS,
    CredentialsRequest,
    TaskCredentials,
)

if TYPE_CHECKING:
    from portside.agent.metadata.server import MetadataServer
    from portside.agent.runner import TaskRun

log = logging.getLogger("portside.agent.credentials")

RELATIVE_URI = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"
ENDPOINT_URL = "AWS_ENDPOINT_URL"
ENDPOINT_ENV = "PORTSIDE_TASK_ENDPOINT_URL"  # the agent's: off, or the URL tasks get
DEFAULT_ENDPOINT = f"http://{LINK_LOCAL}"


def task_endpoint_url(environ: dict[str, str] | None = None) -> str | None:
    """The AWS_ENDPOINT_URL tasks get (None: not set), from the agent's environment."""
    value = (environ if environ is not None else os.environ).get(ENDPOINT_ENV)
    if value is None:
        return DEFAULT_ENDPOINT
    value = value.strip()
    return None if value.lower() in ("", "off", "none", "false") else value


def role_of(run: TaskRun) -> str | None:
    """The role the task runs as (its override applied), None for none."""
    return run.task.task_role_arn


def gateway_ask(
    client: ControlPlaneClient, session: Callable[[], str], reopen: Callable[[], None]
) -> Ask:
    """Asks the gateway for a task's session (a new session when the control plane
    restarted); a refusal is `Refused`."""

    def send(task_arn: str) -> TaskCredentials:
        out = client.send(CREDENTIALS, CredentialsRequest(session(), task_arn))
        return TaskCredentials.from_wire(out)

    def ask(task_arn: str) -> TaskCredentials:
        try:
            try:
                return send(task_arn)
            except ApiError as exc:
                if "UnknownSession" not in exc.message:
                    raise
                reopen()
                return send(task_arn)
        except ApiError as exc:
            if exc.status < 500:
                raise Refused(f"{exc.code}: {exc.message}") from None
            raise

    return ask


class NoRouting:
    """For agents whose tasks are not containers on this host (the simulated driver)."""

    problem: str | None = None

    def serve(self, address: str, port: int) -> bool:
        return True

    def remove(self) -> None:
        pass


class TaskRoles:
    def __init__(
        self,
        ask: Ask,
        state_dir: Path,
        runs: Callable[[], Iterable[TaskRun]],
        upstream: str,
        *,
        routing: CredentialsRouting | NoRouting | None = None,
        endpoint_url: str | None = DEFAULT_ENDPOINT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = load_key(state_dir)
        self._runs = runs
        self.cache = CredentialsCache(ask, clock)
        self.routing: CredentialsRouting | NoRouting = (
            routing if routing is not None else CredentialsRouting(owner_of(state_dir))
        )
        self.endpoint_url = endpoint_url
        self.endpoint = CredentialsEndpoint(
            self.lookup, upstream if endpoint_url == DEFAULT_ENDPOINT else None, peek=self.peek
        )
        self._ids: dict[str, str] = {}  # credentials id -> task ARN
        self._lock = threading.Lock()

    def mount(self, server: MetadataServer) -> None:
        """Serve the credentials endpoint (and the API pass-through) on the metadata
        endpoint's listeners."""
        server.app.router.routes.extend(self.endpoint.routes())

    def id_for(self, task_arn: str) -> str:
        return credentials_id(self._key, task_arn)

    def env_for(self, run: TaskRun, address: str, port: int) -> dict[str, str]:
        """The variables a container of `run` gets, its network's gateway being `address`
        (where the metadata endpoint listens, on `port`)."""
        role = role_of(run)
        if role is None or run.network_mode == "none":
            return {}
        env: dict[str, str] = {}
        if self.endpoint_url is not None:
            env[ENDPOINT_URL] = self.endpoint_url
        self.routing.serve(address, port)
        found = self.id_for(run.arn)
        with self._lock:
            self._ids[found] = run.arn
        env[RELATIVE_URI] = f"{V2}/{found}"
        if not self.cache.fresh(run.arn):
            try:
                self.cache.get(run.arn)  # before the container runs: a refusal stops the task
            except Refused as refused:
                log.info("task %s: no credentials for role %s: %s", run.arn, role, refused)
            except Exception as exc:  # the container's first ask tries again
                log.warning("task %s: credentials not fetched yet: %s", run.arn, exc)
        return env

    def adopt(self, run: TaskRun, address: str, port: int) -> None:
        """A task still running from before an agent restart: its containers keep the id they
        were given; route their network again (the session is asked when they ask)."""
        if role_of(run) is not None and run.network_mode != "none":
            self.routing.serve(address, port)
            with self._lock:
                self._ids[self.id_for(run.arn)] = run.arn

    def peek(self, found: str) -> TaskCredentials | None:
        """The session of the running task whose id is `found` when it needs no refresh
        (no call, so the endpoint answers it on its event loop); None otherwise."""
        with self._lock:
            task_arn = self._ids.get(found)
        creds = self.cache.peek(task_arn) if task_arn is not None else None
        if creds is None or not any(
            r.arn == task_arn and r.status != "STOPPED" for r in self._runs()
        ):
            return None
        return creds

    def lookup(self, found: str) -> TaskCredentials:
        """The session of the running task whose id is `found`; KeyError for none."""
        with self._lock:
            task_arn = self._ids.get(found)
        live = {r.arn: r for r in self._runs() if r.status != "STOPPED" and role_of(r)}
        if task_arn is None:
            # After a restart: the ids are the same, the map is new.
            task_arn = next((a for a in live if self.id_for(a) == found), None)
            if task_arn is not None:
                with self._lock:
                    self._ids[found] = task_arn
        if task_arn is None or task_arn not in live:
            self._prune(set(live))
            raise KeyError(found)
        return self.cache.get(task_arn)

    def _prune(self, live: set[str]) -> None:
        with self._lock:
            for found, arn in list(self._ids.items()):
                if arn not in live:
                    del self._ids[found]
                    self.cache.forget(arn)

    def stop(self) -> None:
        self.routing.remove()


def for_agent(
    client: ControlPlaneClient,
    driver: object,
    state_dir: Path,
    runs: Callable[[], Iterable[TaskRun]],
    session: Callable[[], str],
    reopen: Callable[[], None],
) -> TaskRoles:
    """An agent's task roles: routed on the host unless its driver is the simulated one."""
    from portside.agent.simulated import SimulatedDriver

    routing = NoRouting() if isinstance(driver, SimulatedDriver) else None
    return TaskRoles(
        gateway_ask(client, session, reopen),
        state_dir,
        runs,
        client.endpoint,
        routing=routing,
        endpoint_url=task_endpoint_url(),
    )
