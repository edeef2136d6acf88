"""ECS Exec on Docker: `docker exec` through the Engine API, with the hijacked connection
as the process's stdin and output (multiplexed stdout/stderr without a TTY, raw with one)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import docker.errors
from docker.utils.socket import frames_iter

from portside.agent.driver import DriverError

log = logging.getLogger("portside.agent")


class DockerExec:
    """One exec process (the ExecProcess interface of agent/driver.py)."""

    def __init__(self, api: Any, exec_id: str, sock: Any, tty: bool) -> None:
        self._api = api
        self._id = exec_id
        self._sock = sock  # docker-py's raw socket object (SocketIO over the Engine socket)
        self._raw: socket.socket = getattr(sock, "_sock", sock)
        # The API client's read timeout would end a quiet session: an exec waits forever.
        self._raw.settimeout(None)
        self._tty = tty
        self._write_lock = threading.Lock()
        self._killed = False

    @classmethod
    def start(
        cls, api: Any, runtime_id: str, command: list[str], tty: bool, size: tuple[int, int] | None
    ) -> DockerExec:
        try:
            created = api.exec_create(
                runtime_id, command, stdin=True, stdout=True, stderr=True, tty=tty
            )
            sock = api.exec_start(created["Id"], tty=tty, socket=True)
        except docker.errors.NotFound:
            raise DriverError("The container no longer exists.") from None
        except docker.errors.APIError as exc:
            raise DriverError(f"The command could not start: {exc.explanation or exc}") from None
        proc = cls(api, created["Id"], sock, tty)
        if tty and size is not None:
            proc.resize(*size)
        return proc

    def output(self) -> Iterator[tuple[int, bytes]]:
        try:
            for stream, data in frames_iter(self._sock, self._tty):
                if data:
                    yield (2 if stream == 2 else 1), bytes(data)
        except OSError:
            return

    def write(self, data: bytes) -> None:
        with self._write_lock:
            self._raw.sendall(data)

    def close_input(self) -> None:
        with self._write_lock, contextlib.suppress(OSError):
            self._raw.shutdown(socket.SHUT_WR)

    def resize(self, rows: int, cols: int) -> None:
        if not self._tty:
            return
        with contextlib.suppress(docker.errors.APIError):
            self._api.exec_resize(self._id, height=rows, width=cols)

    def wait(self) -> int:
        # The stream ends a moment before the Engine records the exit code.
        deadline = time.monotonic() + 5.0
        while True:
            info = self._api.exec_inspect(self._id)
            if not info.get("Running") and info.get("ExitCode") is not None:
                return int(info["ExitCode"])
            if time.monotonic() > deadline:
                return int(info.get("ExitCode") or (137 if self._killed else 255))
            time.sleep(0.02)

    def kill(self) -> None:
        self._killed = True
        # A TTY's shell gets SIGHUP when its terminal goes; without one, stdin closes. Then
        # the process itself (Docker has no exec kill: the Engine reports its host pid).
        with contextlib.suppress(OSError):
            self._raw.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._sock.close()
        try:
            info = self._api.exec_inspect(self._id)
        except docker.errors.APIError:
            return
        pid = int(info.get("Pid") or 0)
        if not info.get("Running") or pid <= 0:
            return
        for kill in (os.killpg, os.kill):
            with contextlib.suppress(OSError):
                kill(pid, signal.SIGKILL)
