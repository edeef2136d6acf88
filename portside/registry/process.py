"""The registry process, run and supervised: started once asked for, restarted when it dies,
stopped with the control plane.

One supervisor thread launches `docker-registry serve <config>` and waits on it; when it
exits without being asked to, the thread logs it and launches it again (backing off while it
keeps dying). The child is started under `setpriv --pdeathsig TERM` where setpriv exists, so
the kernel stops it if the thread that launched it (and so the server) is gone, even after a
kill -9 of the server: a registry never outlives its control plane. Its pid is written to
`registry.pid`, and a registry a crashed server left on this directory is stopped before a
new one starts.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx

from portside import processes as pids

log = logging.getLogger("portside.registry")

BINARY = "docker-registry"
PID_FILE = "registry.pid"
LOG_FILE = "registry.log"


class RegistryUnavailable(Exception):
    """The registry cannot run here (no binary), or did not answer in time."""


def find_binary(name: str = BINARY) -> str | None:
    return shutil.which(name) or next(
        (p for p in (f"/usr/bin/{name}", f"/usr/local/bin/{name}") if Path(p).exists()), None
    )


class RegistryProcess:
    def __init__(
        self,
        directory: Path,
        config_file: Path,
        url: str,
        *,
        binary: str | None = None,
        poll: float = 0.05,
    ) -> None:
        self.directory = directory
        self.config_file = config_file
        self.url = url  # where it answers: http://127.0.0.1:PORT
        self.binary = binary
        self.poll = poll
        self.restarts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self._problem: str | None = None

    def start(self) -> None:
        """Start supervising (idempotent); the registry comes up in the background."""
        with self._lock:
            if self._thread is not None or self._halt.is_set():
                return
            binary = self.binary or find_binary()
            if binary is None:
                raise RegistryUnavailable(
                    f"no `{BINARY}` on this host: ECR needs the distribution registry "
                    "(Debian: apt-get install docker-registry; scripts/ensure-registry.sh)"
                )
            self.binary = binary
            self._thread = threading.Thread(target=self._supervise, name="registry", daemon=True)
            self._thread.start()

    def ready(self, timeout: float = 15.0) -> None:
        """Start if needed and wait until the registry answers."""
        self.start()
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self._halt.is_set():
                raise RegistryUnavailable("the registry is stopping")
            if time.monotonic() > deadline:
                raise RegistryUnavailable(
                    f"the registry did not answer at {self.url} within {timeout:.0f}s"
                    + (f": {self._problem}" if self._problem else "")
                )
            time.sleep(self.poll)

    def answers(self) -> bool:
        try:
            return httpx.get(self.url + "/v2/", timeout=1.0).status_code in (200, 401)
        except httpx.HTTPError:
            return False

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def stop(self) -> None:
        """Stop the registry and its supervision; a stopped process is not started again."""
        self._halt.set()
        with self._lock:
            proc = self._proc
        if proc is not None:
            _terminate(proc)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=15)
        (self.directory / PID_FILE).unlink(missing_ok=True)

    # -- supervision ---------------------------------------------------------------------

    def _supervise(self) -> None:
        backoff = 0.5
        while not self._halt.is_set():
            started = time.monotonic()
            try:
                proc = self._launch()
            except OSError as exc:
                self._problem = str(exc)
                log.warning("registry: could not start %s: %s", self.binary, exc)
            else:
                code = proc.wait()
                if self._halt.is_set():
                    return
                self._problem = f"exited with {code}: {self._log_tail()}"
                log.warning("registry: the process exited (%s); restarting", self._problem)
                self.restarts += 1
            backoff = 0.5 if time.monotonic() - started > 30 else min(backoff * 2, 10.0)
            self._halt.wait(backoff)

    def _launch(self) -> subprocess.Popen[bytes]:
        self._stop_leftover()
        assert self.binary is not None
        command = [self.binary, "serve", str(self.config_file)]
        setpriv = shutil.which("setpriv")
        if setpriv is not None:
            command = [setpriv, "--pdeathsig", "TERM", "--", *command]
        with self._lock:
            if self._halt.is_set():
                raise OSError("stopping")
            with open(self.directory / LOG_FILE, "ab") as out:
                # A session of its own: a Ctrl-C to the server's process group does not reach
                # it; the server stops it in order (and the kernel if the server is gone).
                self._proc = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=out,
                    start_new_session=True,
                )
            (self.directory / PID_FILE).write_text(f"{self._proc.pid}\n")
            return self._proc

    def _stop_leftover(self) -> None:
        """Stop a registry an earlier server left serving this directory's configuration."""
        try:
            pid = int((self.directory / PID_FILE).read_text().strip())
        except (OSError, ValueError):
            return
        if not pids.alive(pid) or not _runs(pid, str(self.config_file)):
            return
        log.warning("registry: stopping pid %d left by an earlier server", pid)
        pids.send(pid, signal.SIGTERM)
        if not pids.wait_until(lambda: not pids.alive(pid), 10.0, self.poll):
            pids.send(pid, signal.SIGKILL)
            pids.wait_until(lambda: not pids.alive(pid), 5.0, self.poll)

    def _log_tail(self, lines: int = 5) -> str:
        try:
            text = (self.directory / LOG_FILE).read_text(errors="replace")
        except OSError:
            return ""
        return " | ".join(text.strip().splitlines()[-lines:])


def _runs(pid: int, config: str) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return config.encode() in argv


def _terminate(proc: subprocess.Popen[bytes], wait: float = 10.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
