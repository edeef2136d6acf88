"""The record of an exec session, written to the log store as ECS writes session logs to
CloudWatch Logs: one stream per session (named for the session id) in the cluster's exec log
group (ops/exec.py says which).

Audit lines are JSON, so filter patterns find them ({ $.event = "start" }):
    {"event": "start", "sessionId", "accessKey", "clusterArn", "taskArn", "containerName",
     "command", "tty", "time"}
    {"event": "end", "sessionId", "exitCode" | "error", "time"}
Between them, for sessions without a TTY (and unless the cluster's logging is NONE), the
command's output, one event per line, stdout and stderr interleaved as they arrived.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import orjson

from portside.errors import PortsideError
from portside.exec.registry import ExecSession

log = logging.getLogger("portside.exec")

MAX_EVENT = 200_000  # characters; CloudWatch allows 256 KiB an event
FLUSH_EVENTS = 500


class Recorder:
    def __init__(self, logs: Any, session: ExecSession, clock: Callable[[], float]) -> None:
        self.logs = logs
        self.session = session
        self.clock = clock
        dest = session.target.log
        self.output = dest.record_output and not session.tty
        self._partial = ""
        self._events: list[tuple[int, str]] = []
        self._broken = logs is None
        if logs is None:
            log.warning("no log store: exec session %s is not recorded", session.id)

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _audit(self, **fields: Any) -> None:
        line = {**fields, "sessionId": self.session.id, "time": self.clock()}
        self._events.append((self._now_ms(), orjson.dumps(line).decode()))

    async def start(self) -> None:
        s, t = self.session, self.session.target
        if not self._broken:
            dest = t.log
            try:
                await asyncio.to_thread(
                    self.logs.ensure_stream,
                    dest.group,
                    s.id,
                    create_group=dest.create_group,
                    now_ms=self._now_ms(),
                )
            except PortsideError as exc:
                # AWS runs the session anyway when its log group is missing; so do we.
                log.warning("exec session %s not recorded in %s: %s", s.id, dest.group, exc)
                self._broken = True
        self._audit(
            event="start",
            accessKey=s.access_key,
            clusterArn=t.cluster_arn,
            taskArn=t.task_arn,
            containerName=t.container_name,
            command=t.command,
            tty=s.tty,
        )
        await self.flush()

    async def data(self, payload: bytes) -> None:
        """Output the command wrote (stdout or stderr)."""
        if not self.output:
            return
        text = self._partial + payload.decode("utf-8", errors="replace")
        *lines, self._partial = text.split("\n")
        if len(self._partial) > MAX_EVENT:
            lines.append(self._partial)
            self._partial = ""
        now = self._now_ms()
        for line in lines:
            for i in range(0, max(len(line), 1), MAX_EVENT):
                self._events.append((now, line[i : i + MAX_EVENT]))
        if len(self._events) >= FLUSH_EVENTS:
            await self.flush()

    async def finish(self, *, exit_code: int | None = None, error: str | None = None) -> None:
        if self._partial:
            self._events.append((self._now_ms(), self._partial))
            self._partial = ""
        if error is not None:
            self._audit(event="end", error=error)
        else:
            self._audit(event="end", exitCode=exit_code)
        await self.flush()

    async def flush(self) -> None:
        events, self._events = self._events, []
        if not events or self._broken:
            return
        dest = self.session.target.log
        try:
            await asyncio.to_thread(
                self.logs.append, dest.group, self.session.id, events, self._now_ms()
            )
        except Exception:
            log.exception("could not record exec session %s", self.session.id)
