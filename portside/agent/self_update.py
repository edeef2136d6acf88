"""The agent's side of UpdateContainerAgent (the rules are ops/agent_update.py's).

When its sync shows one of its instances with agentUpdateStatus PENDING, the agent checks the
Portside package installed on its host against the version it runs and reports each step to
the gateway (gateway/agent_update.py): STAGING while it checks, STAGED when a newer version is
installed, UPDATING as it restarts on it, or FAILED with the reason. The restart is
`restart`: `portside agent` re-executes itself (cli/agent_options.py), keeping its tasks
running as any agent restart does; it then registers again with the new version, which the
control plane records as UPDATED. An agent run inside another process (`portside up`, tests)
has no restart of its own unless one is given, and says so with FAILED.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable
from importlib import metadata

from portside.agent import registration
from portside.gateway.protocol.agent_update import AGENT_UPDATE, AgentUpdateReport
from portside.gateway.protocol.sync import AgentInstance

log = logging.getLogger("portside.agent")

PENDING = "PENDING"


def installed_version() -> str:
    """The Portside installed on this host now (its package metadata, read afresh)."""
    try:
        return metadata.version("portside")
    except metadata.PackageNotFoundError:
        return registration.__version__


def running_version() -> str:
    """The version this agent registers with (registration's)."""
    return registration.__version__


def _key(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", text))


class SelfUpdate:
    def __init__(
        self,
        send: Callable[[str, AgentUpdateReport], object],
        session: Callable[[], str],
        mine: Callable[[], Iterable[str]],
    ) -> None:
        self.send = send
        self.session = session
        self.mine = mine
        # What restarts the agent on the installed version; None: it cannot restart itself.
        self.restart: Callable[[], None] | None = None
        self._busy = threading.Lock()

    def consider(self, instances: Iterable[AgentInstance]) -> None:
        """Called with each sync's instances: start an update for those asking, once."""
        mine = set(self.mine())
        asked = [i.arn for i in instances if i.agent_update_status == PENDING and i.arn in mine]
        if asked and self._busy.acquire(blocking=False):
            threading.Thread(
                target=self._run, args=(asked,), name="agent-update", daemon=True
            ).start()

    def _report(self, arns: list[str], status: str, reason: str | None = None) -> None:
        for arn in arns:
            self.send(AGENT_UPDATE, AgentUpdateReport(self.session(), arn, status, reason))

    def _run(self, arns: list[str]) -> None:
        try:
            self._report(arns, "STAGING")
            running, installed = running_version(), installed_version()
            if _key(installed) <= _key(running):
                self._report(
                    arns,
                    "FAILED",
                    f"No newer Portside is installed on this host: the agent runs {running}, "
                    f"{installed} is installed.",
                )
                return
            self._report(arns, "STAGED")
            if self.restart is None:
                self._report(
                    arns,
                    "FAILED",
                    f"Portside {installed} is installed, but this agent runs inside another "
                    "process (portside up): restart it to run the new version.",
                )
                return
            self._report(arns, "UPDATING")
            log.info("updating the agent: %s -> %s, restarting", running, installed)
            self.restart()
        except Exception as exc:  # the next PENDING sync tries again
            log.warning("agent update failed: %s", exc)
        finally:
            self._busy.release()
