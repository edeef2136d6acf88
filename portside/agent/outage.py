"""Whether the container runtime answers, as a driver's calls find it. While it does not (the
Docker Engine stopped, its socket gone), every task's refresh, every log follower and the
event stream fail, over and over: the outage is logged once as it starts (a WARNING naming
the call that failed and saying the agent retries), as a one-line reminder every
`remind_every` seconds while it lasts, and once more (INFO) when the runtime answers again.
What fails in between is for its caller to log at debug level, if at all."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("portside.agent")

REMIND_EVERY = 300.0


class Outage:
    def __init__(
        self,
        runtime: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        remind_every: float = REMIND_EVERY,
    ) -> None:
        self.runtime = runtime  # as the log names it: "the Docker Engine"
        self.clock = clock
        self.remind_every = remind_every
        self._lock = threading.Lock()
        self._since: float | None = None  # when the outage began; None: the runtime answers
        self._reminded = 0.0

    @property
    def down(self) -> bool:
        return self._since is not None

    def failed(self, what: str, exc: BaseException) -> None:
        """A call (`what`) found the runtime not answering."""
        now = self.clock()
        with self._lock:
            since = self._since
            if since is None:
                self._since = self._reminded = now
            elif now - self._reminded >= self.remind_every:
                self._reminded = now
            else:
                return
        if since is None:
            log.warning(
                "%s does not answer (%s: %s); retrying until it does",
                self.runtime,
                what,
                _one_line(exc),
            )
        else:
            log.warning(
                "%s still does not answer after %s; retrying", self.runtime, _took(now - since)
            )

    def answered(self) -> None:
        """A call went through: if the runtime was down, it is back."""
        if self._since is None:  # the common case, on every call: no lock
            return
        with self._lock:
            since, self._since = self._since, None
        if since is not None:
            log.info("%s answers again after %s", self.runtime, _took(self.clock() - since))


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _took(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"
