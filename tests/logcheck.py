"""The logs of the processes tests start (servers, agents), read after every test: a Python
traceback or an ERROR line that the test did not say it expects fails the test. Agents run
inside the test process (tests/fleet.py, portside/testing/agent.py) are held to the same:
`InProcessLog` writes what they log to a file of its own, checked as a process's log is.

A log is read from where the previous check stopped, up to its last complete line. An entry
is a header line (our `HH:MM:SS LEVEL name: message`, uvicorn's `LEVEL:  message`, click's
`Error: ...`) with the lines that follow it (a traceback). A test allows an entry with
`@pytest.mark.allow_log(regex, ...)` or `server_logs.allow(regex)`; a pattern is searched
for in the whole entry. What a test allows is allowed for the next check too: a server
shared by the session may write a provoked error a moment after the test that provoked it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

HEADER = re.compile(
    r"^(?:\d\d:\d\d:\d\d (?P<ours>[A-Z]+) +\S+: |(?P<uvicorn>[A-Z]+): +|(?P<click>Error): )"
)
BAD_LEVELS = {"ERROR", "CRITICAL"}
TRACEBACK = "Traceback (most recent call last):"

# Known bugs, allowed everywhere until fixed; each names where it is and why it shows.
KNOWN: list[str] = []  # patterns every test may log (none: fix the log line instead)


@dataclass(slots=True)
class Entry:
    level: str | None  # None: lines before any header
    text: str

    @property
    def bad(self) -> bool:
        return self.level in BAD_LEVELS or TRACEBACK in self.text


def entries(text: str) -> list[Entry]:
    out: list[Entry] = []
    for line in text.splitlines(keepends=True):
        m = HEADER.match(line)
        if m:
            level = m.group("ours") or m.group("uvicorn") or "ERROR"
            out.append(Entry(level, line))
        elif out:
            out[-1].text += line
        else:
            out.append(Entry(None, line))
    return out


@dataclass(slots=True)
class _Log:
    path: Path
    offset: int
    last_bad: bool = False  # the last entry read was bad (its rest is not reported again)


@dataclass
class LogWatch:
    logs: dict[Path, _Log] = field(default_factory=dict)
    carried: list[re.Pattern[str]] = field(default_factory=list)

    def watch(self, path: Path) -> None:
        """Check `path` from its current end on (a restarted process appends to its log)."""
        if path not in self.logs:
            self.logs[path] = _Log(path, path.stat().st_size if path.exists() else 0)

    def check(self, allow: Iterable[str]) -> list[str]:
        """The bad entries written since the last check that no pattern allows."""
        patterns = [re.compile(p, re.S | re.M) for p in allow]
        both = patterns + self.carried + [re.compile(p, re.S | re.M) for p in KNOWN]
        self.carried = patterns
        found: list[str] = []
        for log in self.logs.values():
            for entry in self._read(log):
                if entry.bad and not any(p.search(entry.text) for p in both):
                    found.append(f"{log.path}:\n{entry.text[:4000]}")
        return found

    def _read(self, log: _Log) -> list[Entry]:
        try:
            with log.path.open("rb") as f:
                f.seek(log.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1
        if end == 0:
            return []
        log.offset += end
        read = entries(data[:end].decode(errors="replace"))
        if read and read[0].level is None and log.last_bad:
            read = read[1:]  # the rest of an entry already reported
        if read:
            log.last_bad = read[-1].bad
        return read


LOGS = LogWatch()

# The threads an agent runs on (portside/agent/): session.py's loops and metadata/source.py
# ("agent-poll", "agent-metadata"...), worker.py's step and stop pools ("task_0", "stop_3"),
# exec.py's sessions and logs.py's followers.
AGENT_THREADS = re.compile(r"agent-|exec-|logs-|(task|stop)_\d+$")
FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"  # as portside's commands log


def from_agent_thread(record: logging.LogRecord) -> bool:
    return bool(AGENT_THREADS.match(record.threadName or ""))


class InProcessLog(logging.FileHandler):
    """The log of the agents running in the test process: attached to the `portside.agent`
    logger, it writes what an agent's threads log there at WARNING and above, in the
    commands' own format (tracebacks included), to `path`. What unit tests log by calling
    agent code themselves stays theirs (they provoke errors and read them back)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, mode="a", encoding="utf-8")
        self.path = path
        self.setLevel(logging.WARNING)
        self.setFormatter(logging.Formatter(FORMAT, datefmt="%H:%M:%S"))
        self.addFilter(from_agent_thread)
