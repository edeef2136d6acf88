"""`portside exec`: ECS Exec without the Session Manager plugin.

Calls ExecuteCommand (SigV4-signed, like the AWS CLI), then opens the session's stream (the
returned streamUrl, authenticated by its single-use tokenValue; frames in
portside/exec/frames.py) and relays stdin, stdout and stderr. With --interactive the command
gets a TTY: the local terminal goes to raw mode (Ctrl-C reaches the remote side as a
keystroke), its size is sent at start and on every SIGWINCH. Without it, stdout and stderr stay
apart, piped stdin is relayed, and `portside exec` exits with the command's exit code.
"""

from __future__ import annotations

import contextlib
import os
import select
import shlex
import signal
import sys
import termios
import threading
import tty
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import click
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from portside.agent.client import ApiError, ControlPlaneClient
from portside.cli import connection
from portside.cli.options import data_dir_option
from portside.config import DEFAULT_REGION
from portside.exec import frames

SESSION_FAILED = 255  # the session could not run the command (as the AWS CLI's plugin exits)
API_FAILED = 254  # the API refused (the AWS CLI's exit code for a service error)


@click.command("exec", context_settings={"ignore_unknown_options": True})
@click.option("--cluster", default=None, help="The task's cluster (default: default).")
@click.option("--task", required=True, help="The task's ARN or ID.")
@click.option("--container", default=None, help="Needed when the task has several containers.")
@click.option("--interactive", "-i", is_flag=True, help="Run with a TTY, as a shell.")
@click.option("--endpoint-url", envvar="AWS_ENDPOINT_URL", default=None)
@click.option("--region", envvar=["AWS_REGION", "AWS_DEFAULT_REGION"], default=DEFAULT_REGION)
@data_dir_option
@click.argument("command", nargs=-1, required=True)
def exec_(
    cluster: str | None,
    task: str,
    container: str | None,
    interactive: bool,
    endpoint_url: str | None,
    region: str,
    data_dir: Path,
    command: tuple[str, ...],
) -> None:
    """Run COMMAND in a task's container: portside exec --task T -- sh -c 'echo hi'."""
    client = _client(endpoint_url, region, data_dir)
    params: dict[str, Any] = {
        "task": task,
        "command": command[0] if len(command) == 1 else shlex.join(command),
        "interactive": True,  # the only mode ECS supports; the TTY is chosen at open
    }
    if cluster:
        params["cluster"] = cluster
    if container:
        params["container"] = container
    try:
        out = client.ecs("ExecuteCommand", **params)
    except ApiError as exc:
        click.echo(
            f"An error occurred ({exc.code}) when calling the ExecuteCommand operation: "
            f"{exc.message}",
            err=True,
        )
        sys.exit(API_FAILED)
    finally:
        client.close()
    session = out["session"]
    url = stream_url(session["streamUrl"], client.endpoint)
    sys.exit(run_session(url, session["tokenValue"], tty_mode=interactive))


def stream_url(returned: str, endpoint: str) -> str:
    """The session's stream on the endpoint this CLI reached: the server builds streamUrl from
    the address it serves on, which a client behind a proxy or NAT may know by another name."""
    path = urlsplit(returned).path
    parts = urlsplit(endpoint)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def _client(endpoint: str | None, region: str, data_dir: Path) -> ControlPlaneClient:
    creds = connection.keys(data_dir)
    url = connection.endpoint(endpoint, data_dir)
    return ControlPlaneClient(url, creds.access_key, creds.secret_key, region)


def _terminal_size() -> tuple[int, int]:
    for fd in (sys.stdout.fileno(), sys.stdin.fileno()):
        with contextlib.suppress(OSError):
            size = os.get_terminal_size(fd)
            return size.lines, size.columns
    return 24, 80


def run_session(url: str, token: str, *, tty_mode: bool) -> int:
    """Relay one session; return the exit code to leave with."""
    stdin_fd = sys.stdin.fileno()
    stdin_tty = os.isatty(stdin_fd)
    rows, cols = _terminal_size()
    try:
        ws = connect(url, max_size=None, open_timeout=10)
    except Exception as exc:
        click.echo(f"Could not open the session: {exc}", err=True)
        return SESSION_FAILED
    with ws:
        ws.send(
            frames.encode_json(
                frames.OPEN, {"token": token, "tty": tty_mode, "rows": rows, "cols": cols}
            )
        )
        return _Relay(ws, stdin_fd, tty_mode, stdin_tty).run()


class _Relay:
    def __init__(self, ws: ClientConnection, stdin_fd: int, tty_mode: bool, stdin_tty: bool):
        self.ws = ws
        self.stdin_fd = stdin_fd
        self.tty_mode = tty_mode
        self.stdin_tty = stdin_tty
        self.result: int | None = None
        self.wake_r, self.wake_w = os.pipe()
        self.resized = False

    def run(self) -> int:
        reader = threading.Thread(target=self._receive, daemon=True)
        saved = None
        if self.tty_mode and self.stdin_tty:
            saved = termios.tcgetattr(self.stdin_fd)
            tty.setraw(self.stdin_fd)
        previous = signal.signal(signal.SIGWINCH, self._on_winch) if self.tty_mode else None
        reader.start()
        try:
            self._send_input()
        except KeyboardInterrupt:
            self.result = 130
        finally:
            if saved is not None:
                termios.tcsetattr(self.stdin_fd, termios.TCSADRAIN, saved)
            if previous is not None:
                signal.signal(signal.SIGWINCH, previous)
            with contextlib.suppress(Exception):
                self.ws.close()
            reader.join(timeout=2)
            os.close(self.wake_r)
            os.close(self.wake_w)
        return SESSION_FAILED if self.result is None else self.result

    def _on_winch(self, signum: int, frame: FrameType | None) -> None:
        self.resized = True
        with contextlib.suppress(OSError):
            os.write(self.wake_w, b"w")

    def _send_input(self) -> None:
        # Without a TTY, a terminal's stdin is not relayed (like `docker exec` without -i).
        reading = self.tty_mode or not self.stdin_tty
        if not reading:
            self.ws.send(frames.encode(frames.STDIN_EOF))
        while True:
            fds = [self.wake_r, self.stdin_fd] if reading else [self.wake_r]
            with contextlib.suppress(InterruptedError):
                ready, _, _ = select.select(fds, [], [])
            if self.result is not None:
                return
            if self.resized:
                self.resized = False
                rows, cols = _terminal_size()
                self._send(frames.resize(rows, cols))
            if self.wake_r in ready:
                os.read(self.wake_r, 1024)
            if reading and self.stdin_fd in ready:
                data = os.read(self.stdin_fd, frames.MAX_PAYLOAD)
                if data:
                    self._send(frames.encode(frames.STDIN, data))
                else:
                    reading = False
                    self._send(frames.encode(frames.STDIN_EOF))

    def _send(self, data: bytes) -> None:
        with contextlib.suppress(ConnectionClosed):
            self.ws.send(data)

    def _receive(self) -> None:
        out, err = sys.stdout.buffer, sys.stderr.buffer
        try:
            for message in self.ws:
                frame = frames.decode(message)
                if frame.channel in (frames.STDOUT, frames.STDERR):
                    stream = err if frame.channel == frames.STDERR else out
                    stream.write(frame.payload)
                    stream.flush()
                elif frame.channel == frames.EXIT:
                    body = frame.json()
                    if isinstance(body.get("exitCode"), int):
                        self.result = int(body["exitCode"])
                    else:
                        self._error(str(body.get("error") or "The session failed."))
                    break
        except (ConnectionClosed, frames.FrameError, OSError):
            pass
        if self.result is None:
            self._error("The session ended without the command's exit code.")
        with contextlib.suppress(OSError):
            os.write(self.wake_w, b"x")

    def _error(self, message: str) -> None:
        self.result = SESSION_FAILED
        end = "\r\n" if self.tty_mode and self.stdin_tty else "\n"
        sys.stderr.write(f"{end}{message}{end}" if self.tty_mode else f"{message}\n")
        sys.stderr.flush()
