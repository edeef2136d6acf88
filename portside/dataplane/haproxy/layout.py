"""The files of one HAProxy process, all in one directory, and checking a configuration."""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from pathlib import Path

from portside.dataplane.haproxy.render import Runtime

# HAProxy refuses a UNIX socket path longer than this (its sun_path less its own suffixes).
SOCKET_PATH_MAX = 97


def socket_directory(directory: Path) -> Path:
    """Where the sockets of the HAProxy of `directory` live: there, unless their paths would
    be too long for HAProxy (a deep data directory), then in a short directory named by a
    digest of it, the same for every server that adopts that HAProxy."""
    if len(str(directory / "master.sock")) <= SOCKET_PATH_MAX:
        return directory
    digest = hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"portside-haproxy-{digest}"


class Layout:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.config = directory / "haproxy.cfg"
        sockets = socket_directory(directory)
        self.socket_directory = sockets
        self.master_socket = sockets / "master.sock"
        self.admin_socket = sockets / "admin.sock"
        self.state_file = directory / "servers.state"
        self.log = directory / "haproxy.log"

    def ensure_directories(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.socket_directory != self.directory:
            self.socket_directory.mkdir(mode=0o700, exist_ok=True)

    def runtime(self) -> Runtime:
        return Runtime(
            admin_socket=str(self.admin_socket),
            state_file=str(self.state_file),
            threads=proxy_threads(usable_cores()),
        )

    def check(self, binary: str, text: str) -> str | None:
        """What `haproxy -c` says is wrong with configuration `text` (None: nothing)."""
        self.ensure_directories()
        candidate = self.directory / "haproxy.cfg.new"
        candidate.write_text(text)
        result = subprocess.run(
            [binary, "-c", "-f", str(candidate)], capture_output=True, text=True, check=False
        )
        if result.returncode == 0:
            return None
        errors = [ln for ln in (result.stdout + result.stderr).splitlines() if "ALERT" in ln]
        return "\n".join(errors) or result.stderr or result.stdout or "haproxy -c failed"

    def write_config(self, text: str) -> None:
        self.ensure_directories()
        if self.config.exists() and self.config.read_text() == text:
            return
        write_atomic(self.config, text)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def usable_cores() -> int:
    """The cores this process may run on (its affinity; every core when unknown)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def proxy_threads(cores: int) -> int:
    """HAProxy's threads on a host of `cores`: half of them, at least one.

    HAProxy's default is a thread per core, as for a host of its own; here it shares the host
    with the server, the agent and the very tasks it balances, and on a busy host a second
    thread adds cross-thread wake-ups more than it adds capacity. On 2 cores, one thread took
    7-13% less CPU a request than two and served 6% more requests/s (median of 4 runs of
    bench/load_balancer.py --ab-threads; bench/results/load-balancer-6312996.json).
    """
    return max(1, cores // 2)


def binds_of(config: str) -> set[tuple[str, int]]:
    """The `bind` addresses of a configuration the renderer wrote."""
    out = set()
    for line in config.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "bind":
            host, _, port = words[1].rpartition(":")
            if port.isdigit():
                out.add((host.strip("[]"), int(port)))
    return out


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
