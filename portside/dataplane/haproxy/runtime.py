"""HAProxy's runtime API over its UNIX sockets: the worker's stats socket and the master CLI.

One connection per command (the non-interactive mode): send the line, close our side, read
to the end. A command that succeeds answers nothing or one of a few known sentences; any
other text is HAProxy refusing it, raised as `RuntimeApiError`.
"""

from __future__ import annotations

import socket
from typing import Literal

from portside.dataplane.haproxy.parsing import (
    ProcList,
    ServerState,
    StatRow,
    parse_info,
    parse_proc,
    parse_servers_state,
    parse_stat,
)

AdminState = Literal["ready", "drain", "maint"]
HealthState = Literal["up", "stopping", "down"]
_SUCCESS = {"", "New server registered.", "Server deleted."}


class RuntimeApiError(Exception):
    """HAProxy refused a command, or its socket did not answer."""


def call(path: str, line: str, timeout: float = 5.0) -> str:
    """Send one command line to the socket at `path` and return the whole answer."""
    if "\n" in line:
        raise ValueError("one command line at a time")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(line.encode() + b"\n")
            sock.shutdown(socket.SHUT_WR)  # the master CLI answers only then
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    except OSError as exc:
        raise RuntimeApiError(f"{path}: {line.split()[0]}: {exc}") from exc
    return b"".join(chunks).decode(errors="replace")


def _word(name: str) -> str:
    if not name or any(c.isspace() or c in ";#\\'\"" for c in name):
        raise ValueError(f"not a runtime API word: {name!r}")
    return name


class RuntimeApi:
    """The worker's stats socket (`stats socket ... level admin`)."""

    def __init__(self, path: str, timeout: float = 5.0) -> None:
        self.path = path
        self.timeout = timeout

    def command(self, line: str) -> str:
        """Run a command whose answer is data (show ...)."""
        return call(self.path, line, self.timeout)

    def action(self, line: str) -> None:
        """Run a command that changes something; its refusal raises."""
        answer = self.command(line).strip()
        if answer not in _SUCCESS:
            raise RuntimeApiError(f"{line}: {answer}")

    def show_stat(self) -> list[StatRow]:
        return parse_stat(self.command("show stat"))

    def show_servers_state(self, backend: str | None = None) -> list[ServerState]:
        line = "show servers state" if backend is None else f"show servers state {_word(backend)}"
        answer = self.command(line)
        if backend is not None and answer.startswith("Can't find backend"):
            raise RuntimeApiError(f"{line}: {answer.strip()}")
        return parse_servers_state(answer)

    def show_info(self) -> dict[str, str]:
        return parse_info(self.command("show info"))

    def set_state(self, backend: str, server: str, state: AdminState) -> None:
        self.action(f"set server {_word(backend)}/{_word(server)} state {state}")

    def set_weight(self, backend: str, server: str, weight: int) -> None:
        self.action(f"set server {_word(backend)}/{_word(server)} weight {int(weight)}")

    def set_health(self, backend: str, server: str, health: HealthState) -> None:
        self.action(f"set server {_word(backend)}/{_word(server)} health {health}")

    def add_server(self, backend: str, server: str, address: str, args: str) -> None:
        """`add server`: the server starts in maintenance, its checks disabled."""
        self.action(f"add server {_word(backend)}/{_word(server)} {_word(address)} {args}")

    def enable_health(self, backend: str, server: str) -> None:
        self.action(f"enable health {_word(backend)}/{_word(server)}")

    def shutdown_sessions(self, backend: str, server: str) -> None:
        self.action(f"shutdown sessions server {_word(backend)}/{_word(server)}")

    def del_server(self, backend: str, server: str) -> None:
        """Delete a server; HAProxy refuses unless it is in maintenance with no connection."""
        self.action(f"del server {_word(backend)}/{_word(server)}")

    def set_dynamic_cookie_key(self, backend: str, key: str) -> None:
        """Set the key again, which recomputes every server's cookie (new ones too)."""
        self.action(f"set dynamic-cookie-key backend {_word(backend)} {_word(key)}")


class MasterApi:
    """The master CLI (`haproxy -W -S <path>`)."""

    def __init__(self, path: str, timeout: float = 5.0) -> None:
        self.path = path
        self.timeout = timeout

    def show_proc(self) -> ProcList:
        return parse_proc(call(self.path, "show proc", self.timeout))

    def reload(self) -> None:
        """Ask for a reload; HAProxy 2.6 answers nothing, so `show proc` tells the outcome."""
        call(self.path, "reload", self.timeout)
