"""Each task's role session, as the endpoint serves it: asked of the control plane when the
task's first container is made (so a role the task cannot assume stops it before it runs)
and asked again when a container asks for it with less than `margin` of its life left.

`margin` is half the session's life, at most 30 minutes: the SDKs refresh their credentials
within 15 minutes of expiry (botocore's advisory window), and each such ask then gets a
session with longer to live than that. A failed refresh keeps serving the session it has
until that expires. Pure but for the `ask` it is given and the lock; the clock is injected.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from portside.gateway.protocol.credentials import TaskCredentials

log = logging.getLogger("portside.agent.credentials")

Ask = Callable[[str], TaskCredentials]  # task ARN -> the control plane's answer
MAX_MARGIN = 1800.0


class Refused(Exception):
    """The control plane will not give this task credentials (`reason`)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class _Held:
    creds: TaskCredentials
    issued: float


def margin(lifetime: float) -> float:
    return min(lifetime / 2, MAX_MARGIN)


class CredentialsCache:
    """Task ARN -> its current session, asked through `ask`."""

    def __init__(self, ask: Ask, clock: Callable[[], float] = time.time) -> None:
        self._ask = ask
        self._clock = clock
        self._held: dict[str, _Held] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, task_arn: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(task_arn, threading.Lock())

    def fresh(self, task_arn: str) -> bool:
        """Whether the held session needs no refresh yet."""
        held = self._held.get(task_arn)
        if held is None:
            return False
        life = held.creds.expiration - held.issued
        return held.creds.expiration - self._clock() > margin(life)

    def peek(self, task_arn: str) -> TaskCredentials | None:
        """The held session when it needs no refresh; None otherwise (never asks)."""
        held = self._held.get(task_arn)
        return held.creds if held is not None and self.fresh(task_arn) else None

    def get(self, task_arn: str) -> TaskCredentials:
        """The task's session, refreshed when due; Refused when the control plane refuses,
        any other error of `ask` when there is no unexpired session to fall back on."""
        if self.fresh(task_arn):
            return self._held[task_arn].creds
        with self._lock(task_arn):
            if self.fresh(task_arn):
                return self._held[task_arn].creds
            now = self._clock()
            try:
                got = self._ask(task_arn)
            except Exception as exc:
                held = self._held.get(task_arn)
                if held is not None and held.creds.expiration > now:
                    log.warning("task %s: credentials not refreshed: %s", task_arn, exc)
                    return held.creds
                raise
            if got.failure is not None:
                self._held.pop(task_arn, None)
                raise Refused(got.failure)
            self._held[task_arn] = _Held(got, now)
            return got

    def forget(self, task_arn: str) -> None:
        self._held.pop(task_arn, None)
        with self._guard:
            self._locks.pop(task_arn, None)

    def held(self) -> list[str]:
        return list(self._held)
