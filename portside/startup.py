"""What a control plane checks before it touches its data directory: the listening socket
is bound first, so a start that cannot serve leaves no trace; the databases are sound, so a
damaged one is never opened (or replaced by an empty one) without the operator knowing."""

from __future__ import annotations

import socket
from pathlib import Path


class StartupError(Exception):
    """A process must not start; the message says why and what to do."""


def listen(host: str, port: int, backlog: int = 2048) -> list[socket.socket]:
    """Listening TCP sockets on host:port (every address the host resolves to, as asyncio's
    create_server binds them), or StartupError saying why not."""
    try:
        infos = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    socks: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            socks.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(backlog)
    except OSError as exc:
        for sock in socks:
            sock.close()
        raise StartupError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}. Is another server using "
            "the port? Choose another with --port."
        ) from None
    return socks


def check_databases(data_dir: Path, names: tuple[str, ...] = ("portside.db", "logs.db")) -> None:
    """StartupError naming the first database of `data_dir` that fails SQLite's quick_check.
    A database not there yet is fine: it is a first start."""
    from portside.store.sqlite import quick_check

    for name in names:
        path = data_dir / name
        if not path.exists():
            continue
        problem = quick_check(path)
        if problem is not None:
            raise StartupError(
                f"the database {path} is damaged ({problem}); Portside will not start on it. "
                "Copy the data directory aside, then restore the file from a backup, or recover "
                f"what is readable with the sqlite3 shell (`sqlite3 {path} .recover | sqlite3 "
                f"{path}.recovered`) and put the result in its place. Moving the file away "
                "makes Portside start that store empty: everything in it would be lost."
            )
