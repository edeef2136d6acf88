"""What the commands that run an agent share (`agent`, `sim`): the control plane's options,
the keys and region from the environment as any AWS client reads them, and running the agent
until SIGTERM or SIGINT."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from portside.config import DEFAULT_REGION
from portside.credentials import Credentials

if TYPE_CHECKING:
    from portside.agent.driver import Driver
    from portside.agent.session import AgentConfig

F = Callable[..., Any]


def control_plane(fn: F) -> F:
    """--endpoint, the control plane's URL, and --cluster, the one the agent joins."""
    fn = click.option("--cluster", default="default", show_default=True)(fn)
    return click.option(
        "--endpoint",
        envvar="AWS_ENDPOINT_URL",
        required=True,
        help="The control plane's URL (default: $AWS_ENDPOINT_URL).",
    )(fn)


def attributes(values: tuple[str, ...]) -> dict[str, str]:
    """--attribute NAME=VALUE options as custom attributes."""
    out: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint="--attribute")
        out[name] = value
    return out


def signing_keys() -> Credentials:
    """The key the agent signs its calls with."""
    key = os.environ.get("AWS_ACCESS_KEY_ID")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not key or not secret:
        raise click.UsageError("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (portside env)")
    return Credentials(key, secret)


def region() -> str:
    return os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or DEFAULT_REGION


def run_until_signalled(
    endpoint: str, keys: Credentials, state_dir: Path, driver: Driver, config: AgentConfig
) -> None:
    """Run an agent against `endpoint` until SIGTERM or SIGINT."""
    from portside.agent.factory import make_agent
    from portside.agent.runtime import run_agent

    agent = make_agent(
        endpoint=endpoint, credentials=keys, state_dir=state_dir, driver=driver, config=config
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    run_agent(agent, done)
