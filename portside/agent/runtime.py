"""Running an agent in the foreground or beside the control plane (portside up)."""

from __future__ import annotations

import logging
import threading
import time

from portside.agent.driver import RuntimeUnavailable
from portside.agent.session import Agent

log = logging.getLogger("portside.agent")


def start_with_retry(agent: Agent, done: threading.Event) -> bool:
    """Register and start; retry while the control plane or the container runtime is not
    answering yet."""
    delay = 0.2
    while not done.is_set():
        try:
            agent.start()
            return True
        except Exception as exc:
            # A runtime that does not answer is logged by its driver, once for the outage.
            level = logging.DEBUG if isinstance(exc, RuntimeUnavailable) else logging.WARNING
            log.log(level, "agent could not start yet: %s", exc)
            done.wait(delay)
            delay = min(delay * 2, 5.0)
    return False


def run_agent(agent: Agent, done: threading.Event) -> None:
    if start_with_retry(agent, done):
        log.info("agent running (driver: %s)", agent.driver.name)
        while not done.wait(0.5):
            pass
    agent.stop()
    time.sleep(0.1)
