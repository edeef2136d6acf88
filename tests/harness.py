"""Processes the tests run (`portside server`, agents, a Docker Engine of their own), each
writing to a log file, and clients pointed at a server."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config
from logcheck import LOGS

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ACCESS_KEY = "PSAKTESTKEY000000001"
SECRET_KEY = "test-secret-key-for-portside-tests-0001"
REGION = "us-east-1"


# Below Linux's ephemeral range (32768-60999 by default): a port the kernel hands to an
# outgoing connection in the minutes between a test choosing a port and its process binding
# it (a server's registry binds the port after its own when ECR is first used) would make
# that bind fail.
_PORTS = (20000, 32000)


def free_port() -> int:
    """A loopback port nothing listens on, whose next port is free too (a server's registry
    takes the one after the server's)."""
    rng = random.SystemRandom()
    while True:
        port = rng.randrange(*_PORTS)
        if _bindable(port) and _bindable(port + 1):
            return port


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Process:
    """One command run in the background with its output appended to `log_path`, which the
    log check reads (tests/logcheck.py) unless `checked` is False. `stop` sends
    `stop_signal` and kills what has not exited `stop_wait` seconds later; `kill` is kill -9,
    the process given no chance to tidy anything. A process may be started again: it appends
    to its log, and `spawn` returns where the new start's lines begin."""

    def __init__(
        self,
        log_path: Path,
        *,
        name: str,
        stop_signal: signal.Signals = signal.SIGTERM,
        stop_wait: float = 15.0,
        kill_wait: float = 10.0,
        checked: bool = True,
    ) -> None:
        self.log_path = log_path
        self.name = name
        self.stop_signal = stop_signal
        self.stop_wait = stop_wait
        self.kill_wait = kill_wait
        self.checked = checked
        self.proc: subprocess.Popen[bytes] | None = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def spawn(
        self,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        *,
        new_session: bool = False,
    ) -> int:
        """Start `argv`; return where its lines begin in `log()`."""
        offset = len(self.log())
        if self.checked:
            LOGS.watch(self.log_path)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                list(argv),
                env=dict(env) if env is not None else None,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=new_session,
            )
        return offset

    def wait_until(
        self, ready: Callable[[], bool], timeout: float, offset: int = 0, every: float = 0.05
    ) -> None:
        """Poll `ready` until it holds; fail as soon as the process exits, or after `timeout`
        seconds, with the end of what it logged since `offset`."""
        assert self.proc is not None, "not started"
        deadline = time.monotonic() + timeout
        while not ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log()[offset:][-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start: {self.log()[offset:][-3000:]}")
            time.sleep(every)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """kill -9: the process gets no chance to tidy anything."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(self.kill_wait)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(self.stop_signal)
            try:
                self.proc.wait(self.stop_wait)
            except subprocess.TimeoutExpired:
                self.kill()


class AgentCommand(Process):
    """A `portside` agent command (`agent`, `sim`) run against `server`, restartable with the
    same arguments and state directory; `start` returns once its log says it runs."""

    def __init__(
        self,
        server: ServerProcess,
        log_path: Path,
        argv: list[str],
        env: dict[str, str] | None = None,
    ) -> None:
        super().__init__(log_path, name=f"portside {argv[0]}" if argv else "agent")
        self.server = server
        self.argv = argv
        self.env = {**server.env(), **(env or {})}

    def command(self) -> list[str]:
        return [str(BIN / "portside"), *self.argv]

    def start(self, timeout: float = 60) -> AgentCommand:
        """Start it and wait until it says it runs (registered, its session open)."""
        offset = self.spawn(self.command(), self.env)
        self.wait_until(lambda: "agent running" in self.log()[offset:], timeout, offset)
        return self


AWS_V2 = "/usr/bin/aws"  # Debian's awscli (2.9)


class ServerProcess(Process):
    """`portside server` as a user runs it, with preset credentials."""

    def __init__(
        self, data_dir: Path, port: int | None = None, *extra: str, log_path: Path | None = None
    ) -> None:
        super().__init__(
            log_path or data_dir / "server.log",
            name="server",
            stop_signal=signal.SIGINT,
            stop_wait=10.0,
        )
        self.data_dir = data_dir
        self.port = port or free_port()
        self.extra = extra

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            PORTSIDE_ACCESS_KEY_ID=ACCESS_KEY,
            PORTSIDE_SECRET_ACCESS_KEY=SECRET_KEY,
            AWS_ACCESS_KEY_ID=ACCESS_KEY,
            AWS_SECRET_ACCESS_KEY=SECRET_KEY,
            AWS_DEFAULT_REGION=REGION,
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_CONFIG_FILE="/dev/null",
            AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        )
        return env

    def command(self, name: str = "server") -> list[str]:
        return [
            str(BIN / "portside"),
            name,
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
            *self.extra,
        ]

    def healthy(self) -> bool:
        try:
            return httpx.get(self.endpoint + "/_portside/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def start(self, timeout: float = 60) -> ServerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        offset = self.spawn(self.command(), self.env())
        self.wait_until(self.healthy, timeout, offset)
        return self

    def stop_data_plane(self) -> None:
        """Stop the HAProxy this server's load balancers started: it outlives the server on
        purpose (a restarted server adopts it), so a test that is done with it stops it."""
        from portside.dataplane.haproxy.process import HAProxy

        if (self.data_dir / "haproxy").exists():
            HAProxy(self.data_dir / "haproxy").stop_adopted()

    def close(self) -> None:
        """Stop the server and what it leaves running (its HAProxy)."""
        self.stop()
        self.stop_data_plane()

    def client(self, service: str = "ecs", region: str = REGION, **kwargs: Any) -> Any:
        from contract import attach

        client = boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=kwargs.pop("access_key", ACCESS_KEY),
            aws_secret_access_key=kwargs.pop("secret_key", SECRET_KEY),
            config=Config(retries={"max_attempts": 1}),
            **kwargs,
        )
        attach(client)
        return client

    def aws(self, *args: str, check: bool = True, v2: bool = False) -> Any:
        """Run the AWS CLI and return its parsed JSON output: v1 from the venv (it honours
        AWS_ENDPOINT_URL), or with `v2` Debian's /usr/bin/aws 2.9 (which needs
        --endpoint-url)."""
        command = (
            [AWS_V2, *args, "--endpoint-url", self.endpoint] if v2 else [str(BIN / "aws"), *args]
        )
        proc = subprocess.run(
            [*command, "--output", "json"],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed: {proc.stderr}")
        if not check:
            return proc
        return json.loads(proc.stdout) if proc.stdout.strip() else None
