"""Options shared by the commands that run a control plane, and running one."""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from portside.config import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    ServerConfig,
    default_account,
    default_data_dir,
)

F = Callable[..., Any]
_CONFIG_MEMBERS = frozenset(member.name for member in dataclasses.fields(ServerConfig))


def data_dir_option(fn: F) -> F:
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=default_data_dir,
        show_default="~/.portside or $PORTSIDE_DATA_DIR",
        help="Where state and credentials live.",
    )(fn)


def server_options(fn: F) -> F:
    """The options of a control plane, each named for the `ServerConfig` member it sets; `fn`
    takes them as one `config: ServerConfig`, with `log_level` and its own options beside it."""

    @functools.wraps(fn)
    def command(**options: Any) -> Any:
        given = {name: options.pop(name) for name in _CONFIG_MEMBERS & options.keys()}
        return fn(config=ServerConfig(**given), **options)

    decorated: F = command
    for opt in reversed(
        [
            click.option("--host", default=DEFAULT_HOST, show_default=True),
            click.option("--port", type=int, default=DEFAULT_PORT, show_default=True),
            click.option(
                "--account-id",
                "account",
                default=default_account,
                show_default="000000000000 or $PORTSIDE_ACCOUNT_ID",
            ),
            click.option(
                "--lost-instance-grace",
                type=float,
                default=300.0,
                show_default=True,
                help="Seconds an instance's agent may be silent before its service tasks "
                "are replaced elsewhere.",
            ),
            click.option(
                "--allow-link-local-destinations",
                is_flag=True,
                help="Let EventBridge API destinations call link-local addresses "
                "(169.254.0.0/16, fd00:ec2::/64, fe80::/10: the instance metadata service).",
            ),
            click.option(
                "--load-balancer-host",
                default="127.0.0.1",
                show_default=True,
                help="The address load balancer listeners bind on this host, each on its "
                "own port (0.0.0.0: every address).",
            ),
            click.option(
                "--registry-port",
                type=click.IntRange(0, 65535),
                default=0,
                help="The loopback port of ECR's registry (images are pushed to "
                "127.0.0.1:PORT/REPOSITORY). Default: the one used before, else --port + 1.",
            ),
            click.option(
                "--dns-host",
                default="127.0.0.1",
                show_default=True,
                help="The address the DNS server answers on (UDP and TCP); for task "
                "containers to use it, an address they reach, e.g. docker0's 172.17.0.1.",
            ),
            click.option(
                "--dns-port",
                type=click.IntRange(0, 65535),
                default=0,
                help="The DNS server's port. Default: the one used before, else 4853 when "
                "free, else any free one (53 needs root). `portside dns` shows it.",
            ),
            click.option(
                "--metric-period",
                type=int,
                default=60,
                envvar="PORTSIDE_METRIC_PERIOD",
                show_default="60 (AWS's) or $PORTSIDE_METRIC_PERIOD",
                callback=_metric_period,
                help="Seconds between ECS's CloudWatch datapoints (CPUUtilization...) and the "
                "period of target tracking alarms. Shorter is for tests and demos: 1, 5, 10 or "
                "30 (high resolution) or a multiple of 60.",
            ),
            click.option(
                "--database",
                default="",
                envvar="PORTSIDE_DATABASE_URL",
                callback=_database,
                show_default="SQLite in the data directory, or $PORTSIDE_DATABASE_URL",
                help="A PostgreSQL URL (postgresql://user:password@host:5432/db) to keep the "
                "state in, shared by every replica given the same one.",
            ),
            click.option(
                "--advertise-url",
                default="",
                envvar="PORTSIDE_ADVERTISE_URL",
                callback=_advertise_url,
                show_default="http://HOST:PORT, or $PORTSIDE_ADVERTISE_URL",
                help="The URL agents, exec sessions and the other replicas reach this server "
                "at, e.g. http://10.0.0.5:4810 for a server on --host 0.0.0.0.",
            ),
            click.option(
                "--log-level",
                type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
                default="info",
                show_default=True,
            ),
        ]
    ):
        decorated = opt(decorated)
    return data_dir_option(decorated)


def _database(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not value or value.startswith(("postgresql://", "postgres://")):
        return value
    raise click.BadParameter("must be a PostgreSQL URL: postgresql://user:password@host/db")


def _advertise_url(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not value:
        return value
    parsed = urlsplit(value)
    if parsed.scheme in ("http", "https") and parsed.hostname and not parsed.query:
        return value
    raise click.BadParameter("must be an http:// or https:// URL with a host: http://HOST:PORT")


def _metric_period(ctx: click.Context, param: click.Parameter, value: int) -> int:
    if value in (1, 5, 10, 30) or (value > 0 and value % 60 == 0):
        return value
    raise click.BadParameter("must be 1, 5, 10, 30 or a multiple of 60 (CloudWatch's periods)")


def serve(config: ServerConfig, log_level: str, **hooks: Any) -> None:
    """Run the control plane until stopped (`hooks`: those `portside.server.run` takes); a
    failed start is the command's error."""
    from portside import server as runner
    from portside.startup import StartupError

    try:
        runner.run(config, log_level=log_level, **hooks)
    except StartupError as exc:
        raise click.ClickException(str(exc)) from None


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    # One line per agent poll is noise; keep the client libraries to warnings.
    for noisy in ("httpx", "httpcore", "docker", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
