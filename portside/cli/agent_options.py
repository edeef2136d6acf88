"""What the commands that run an agent share (`agent`, `sim`): the control plane's options,
the keys and region from the environment as any AWS client reads them, and running the agent
until SIGTERM or SIGINT."""

from __future__ import annotations

import os
import signal
import sys
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
    """--endpoint, the control plane's URL (or several: its replicas), and --cluster, the one
    the agent joins."""
    fn = click.option("--cluster", default="default", show_default=True)(fn)
    return click.option(
        "--endpoint",
        envvar="AWS_ENDPOINT_URL",
        required=True,
        multiple=True,
        callback=_endpoints,
        help="The control plane's URL (default: $AWS_ENDPOINT_URL). Several replicas: repeat "
        "it or separate URLs with commas (or give one name that resolves to several "
        "addresses); the agent fails over between them.",
    )(fn)


def _endpoints(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> str:
    """The endpoints as one comma-separated value, in the order given: the first is the one
    the agent starts on (agent/endpoints.py reads the list)."""
    from portside.agent.endpoints import split

    urls = split(values)
    for url in urls:
        if not url.startswith(("http://", "https://")):
            hint = "--endpoint"
            raise click.BadParameter(f"expected an http(s) URL, got {url!r}", param_hint=hint)
    if not urls:
        raise click.BadParameter("no URL given", param_hint="--endpoint")
    return ",".join(urls)


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
    # UpdateContainerAgent: stop as for a restart (tasks keep running), then run again on
    # the Portside installed now (agent/self_update.py).
    updating = threading.Event()

    def restart() -> None:
        updating.set()
        done.set()

    agent.self_update.restart = restart
    run_agent(agent, done)
    if updating.is_set():
        os.execv(sys.executable, [sys.executable, *sys.argv])
