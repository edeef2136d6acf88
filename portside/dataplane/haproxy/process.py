"""HAProxy run and supervised in master-worker mode; `apply(spec)` is the one call to make.

- A fresh process is built from the spec: config checked (`haproxy -c`), written, started.
- Only targets changed (added, removed, weights, drain): the runtime API, no reload.
- Anything else changed: the new configuration is checked, the servers' state saved
  (`load-server-state-from-file` carries health and drain over), and the master reloads
  (`reload` on the master CLI: it re-executes and hands the listening sockets to the new
  worker over its socketpair, so no connection is refused; old workers finish theirs).
- A watcher restarts HAProxy from the last applied spec if it dies.

One directory holds a process's files; a HAProxy already serving from it (Portside
restarted) is adopted, and the first apply reloads it to the spec.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Literal, TypeVar

from portside import processes as pids
from portside.dataplane.haproxy.changes import needs_reload, server_changes, state_lines_to_keep
from portside.dataplane.haproxy.health import UNAVAILABLE, TargetHealth, target_health
from portside.dataplane.haproxy.layout import Layout, binds_of, write_atomic
from portside.dataplane.haproxy.names import backend_name, server_name
from portside.dataplane.haproxy.parsing import StatRow
from portside.dataplane.haproxy.render import render
from portside.dataplane.haproxy.runtime import MasterApi, RuntimeApi, RuntimeApiError
from portside.dataplane.haproxy.spec import ProxySpec
from portside.dataplane.haproxy.targets import apply_change, remove, sync

log = logging.getLogger(__name__)

Applied = Literal["started", "reloaded", "runtime", "unchanged"]
T = TypeVar("T")


class DataPlaneError(Exception):
    """HAProxy could not be brought to a spec."""


class ConfigError(DataPlaneError):
    """`haproxy -c` refused the rendered configuration (a bug in the spec or renderer)."""


class StartError(DataPlaneError):
    """HAProxy did not start, or did not answer in time."""


class ReloadError(DataPlaneError):
    """The reload failed; the previous configuration keeps serving."""


class HAProxy:
    def __init__(
        self,
        directory: Path | str,
        *,
        binary: str = "haproxy",
        ready_timeout: float = 15.0,
        poll: float = 0.1,
    ) -> None:
        self.layout = Layout(Path(directory))
        self.binary = binary
        self.ready_timeout = ready_timeout
        self.poll = poll
        self.api = RuntimeApi(str(self.layout.admin_socket))
        self.master = MasterApi(str(self.layout.master_socket))
        self.restarts = 0
        self._spec: ProxySpec | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._pid: int | None = None  # the master's
        self._pending_removals: set[tuple[str, str]] = set()
        self._lock = threading.RLock()
        self._check_codes: dict[tuple[str, str], int] = {}
        self._halt = threading.Event()
        self._watcher: threading.Thread | None = None

    # The interface -----------------------------------------------------------------------

    def apply(self, spec: ProxySpec) -> Applied:
        """Bring HAProxy to `spec`, starting it if needed; say how."""
        with self._lock:
            self._watch_in_background()
            if not self._alive() and not self._adopt():
                self._launch(spec)
                return "started"
            if self._spec is None or needs_reload(self._spec, spec):
                self._reload(spec)
                return "reloaded"
            changes = server_changes(self._spec, spec)
            if not changes:
                return "unchanged"
            try:
                for change in changes:
                    if not apply_change(self.api, change):
                        self._pending_removals.add((change.backend.id, change.server.key))
            except RuntimeApiError as exc:
                log.warning("haproxy: runtime change failed (%s); reloading instead", exc)
                self._reload(spec)
                return "reloaded"
            self.layout.write_config(render(spec, self.layout.runtime()))
            self._spec = spec
            return "runtime"

    def health(self) -> dict[tuple[str, str], TargetHealth]:
        """Every target of the applied spec: (backend id, server key) -> its health."""
        with self._lock:
            spec = self._spec
        if spec is None:
            return {}
        pairs = [(b, s) for b in spec.backends for s in b.servers]
        try:
            stats = {(r.proxy, r.server): r for r in self.api.show_stat()}
            states = {(s.backend, s.server): s for s in self.api.show_servers_state()}
        except (RuntimeApiError, ValueError):
            return {(b.id, s.key): UNAVAILABLE for b, s in pairs}
        out = {}
        for backend, server in pairs:
            name = (backend_name(backend.id), server_name(server.key))
            out[(backend.id, server.key)] = target_health(
                states.get(name),
                self._with_last_code(name, stats.get(name)),
                backend.health.enabled,
            )
        return out

    def _with_last_code(self, name: tuple[str, str], stat: StatRow | None) -> StatRow | None:
        """`stat`, its HTTP check code kept from the last finished check: while a check runs
        HAProxy shows the last status with the code already reset to 0."""
        if stat is None or stat.check_status != "L7STS":
            return stat
        if stat.check_code:
            self._check_codes[name] = stat.check_code
            return stat
        last = self._check_codes.get(name)
        return replace(stat, check_code=last) if last else stat

    @property
    def spec(self) -> ProxySpec | None:
        return self._spec

    def bound(self) -> set[tuple[str, int]]:
        """The (host, port) pairs HAProxy listens on: the applied spec's, or after adopting a
        running HAProxy (spec unknown until the first apply) those of its configuration."""
        with self._lock:
            if self._spec is not None:
                return {b for f in self._spec.frontends for b in f.binds}
            try:
                text = self.layout.config.read_text()
            except OSError:
                return set()
        return binds_of(text)

    @property
    def pid(self) -> int | None:
        """The master process's pid, while one runs."""
        with self._lock:
            return self._master_pid() if self._alive() else None

    def stop(self) -> None:
        """Stop supervising and stop HAProxy (its workers with it), the one this object
        started or one already serving from its directory."""
        self.detach()
        with self._lock:
            if not self._alive():
                self._adopt()
            pid = self._master_pid()
            if pid is not None and self._alive():
                pids.send(pid, signal.SIGTERM)
                if not pids.wait_until(lambda: not self._alive(), 10.0, self.poll):
                    pids.send(pid, signal.SIGKILL)
                    pids.wait_until(lambda: not self._alive(), 5.0, self.poll)
            if self._proc is not None:
                self._proc.wait(timeout=5)
            self._proc, self._pid = None, None

    def stop_adopted(self) -> None:
        """Stop a HAProxy serving from this directory that another object started."""
        self.stop()

    def detach(self) -> None:
        """Stop supervising and leave HAProxy serving (a restarting Portside adopts it)."""
        self._halt.set()
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(timeout=10)

    # Processes ---------------------------------------------------------------------------

    def _master_pid(self) -> int | None:
        if self._proc is not None:
            return self._proc.pid
        return self._pid

    def _alive(self) -> bool:
        if self._proc is not None:
            return self._proc.poll() is None
        return self._pid is not None and pids.alive(self._pid)

    def _adopt(self) -> bool:
        """Take over a HAProxy already serving from this directory."""
        if not self.layout.master_socket.exists():
            return False
        try:
            procs = self.master.show_proc()
        except (RuntimeApiError, ValueError):
            return False
        if not procs.workers:
            return False
        self._proc, self._pid = None, procs.master.pid
        self._spec = None  # unknown: the next apply reloads
        log.info("haproxy: adopted master %d in %s", procs.master.pid, self.layout.directory)
        return True

    def _launch(self, spec: ProxySpec) -> None:
        text = render(spec, self.layout.runtime())
        self.layout.ensure_directories()
        self._check(text)
        self.layout.write_config(text)
        self.layout.state_file.write_text("1\n")  # a fresh start: no saved state
        command = [
            self.binary,
            "-W",
            "-S",
            f"{self.layout.master_socket},mode,600",
            "-f",
            str(self.layout.config),
        ]
        with open(self.layout.log, "ab") as out:
            # A session of its own: a signal to Portside's process group leaves it serving.
            self._proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
            )
        self._pid = None
        self._pending_removals.clear()
        self._wait_worker(lambda procs: bool(procs.workers), "start")
        sync(self.api, spec, self.api.show_servers_state())
        self._spec = spec

    def _reload(self, spec: ProxySpec) -> None:
        text = render(spec, self.layout.runtime())
        self._check(text)
        try:
            saved = state_lines_to_keep(self.api.command("show servers state"), spec)
        except RuntimeApiError:
            saved = "1\n"
        write_atomic(self.layout.state_file, saved)
        before = self._call(self.master.show_proc)
        previous = self.layout.config.read_text() if self.layout.config.exists() else None
        self.layout.write_config(text)
        with contextlib.suppress(RuntimeApiError):  # the master closes it as it re-executes
            self.master.reload()
        try:
            self._wait_worker(
                lambda p: (
                    p.master.reloads > before.master.reloads
                    or p.failed_reloads > before.failed_reloads
                ),
                "reload",
            )
            procs = self._call(self.master.show_proc)
            if procs.failed_reloads > before.failed_reloads:
                raise ReloadError(
                    f"haproxy refused the new configuration:\n{self.layout.log_tail()}"
                )
        except DataPlaneError:
            if previous is not None:
                self.layout.write_config(previous)
            raise
        self._pending_removals.clear()
        sync(self.api, spec, self.api.show_servers_state())
        self._spec = spec

    def _wait_worker(self, done: Callable[..., bool], what: str) -> None:
        """Wait for `done(show proc)`, then for the current worker's stats socket."""
        deadline = time.monotonic() + self.ready_timeout
        while True:
            if not self._alive():
                raise StartError(f"haproxy exited during {what}:\n{self.layout.log_tail()}")
            try:
                procs = self.master.show_proc()
                if done(procs) and procs.workers:
                    worker = procs.workers[0].pid
                    if self.api.show_info().get("Pid") == str(worker):
                        return
            except (RuntimeApiError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise StartError(f"haproxy did not answer within {self.ready_timeout}s ({what})")
            time.sleep(self.poll)

    def _check(self, text: str) -> None:
        problem = self.layout.check(self.binary, text)
        if problem is not None:
            raise ConfigError(problem)

    def _call(self, fn: Callable[[], T]) -> T:
        """A master CLI call, retried while the socket is briefly away (a re-exec)."""
        deadline = time.monotonic() + self.ready_timeout
        while True:
            try:
                return fn()
            except (RuntimeApiError, ValueError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(self.poll)

    # Supervision -------------------------------------------------------------------------

    def _watch_in_background(self) -> None:
        if self._watcher is None or not self._watcher.is_alive():
            self._halt.clear()
            self._watcher = threading.Thread(target=self._watch, name="haproxy-watch", daemon=True)
            self._watcher.start()

    def _watch(self) -> None:
        backoff = self.poll
        while not self._halt.wait(backoff):
            with self._lock:
                if self._halt.is_set():
                    return
                if self._alive():
                    backoff = max(self.poll, 0.2)
                    self._retry_removals()
                    continue
                if self._spec is None:
                    continue
                log.warning("haproxy: the process in %s died; restarting", self.layout.directory)
                try:
                    self._launch(self._spec)
                    self.restarts += 1
                    backoff = max(self.poll, 0.2)
                except (DataPlaneError, RuntimeApiError, OSError) as exc:
                    log.warning("haproxy: restart failed (retrying): %s", exc)
                    backoff = min(backoff * 2, 5.0)

    def _retry_removals(self) -> None:
        for backend_id, key in list(self._pending_removals):
            try:
                if remove(self.api, backend_id, key):
                    self._pending_removals.discard((backend_id, key))
            except RuntimeApiError as exc:
                log.warning("haproxy: removing %s from %s: %s", key, backend_id, exc)
