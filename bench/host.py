"""The machine a benchmark runs on, as its results record it: CPU and platform, load, how
busy it is, the CPU its processes spent; and a free port on 127.0.0.1 for a server."""

from __future__ import annotations

import contextlib
import os
import platform
import socket
import time
from typing import Any


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def busy_percent(seconds: float = 1.0) -> float:
    """How busy the machine is right now: % of one core over `seconds` (/proc/stat), all
    processes."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:9]]
        return sum(ticks), ticks[3] + ticks[4]  # all, idle + iowait

    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    cores = os.cpu_count() or 1
    spent = (total1 - total0) - (idle1 - idle0)
    return 100.0 * cores * spent / max(1, total1 - total0)


def process_cpu() -> dict[int, tuple[str, int, float]]:
    """pid -> (command name, process group, CPU seconds so far) of every process."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, tuple[str, int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.find("(") + 1 : stat.rfind(")")]
        fields = stat[stat.rfind(")") + 2 :].split()
        # fields[2]: process group; [11], [12]: utime, stime (ticks)
        out[int(entry)] = (name, int(fields[2]), (int(fields[11]) + int(fields[12])) / tick)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
