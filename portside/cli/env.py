"""`portside env`: export lines that point the AWS CLI and SDKs at Portside."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import click
import orjson

from portside import credentials
from portside.cli.options import data_dir_option
from portside.config import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_REGION


@click.command()
@data_dir_option
@click.option("--region", default=None, help="Region to sign for (default: us-east-1).")
def env(data_dir: Path, region: str | None) -> None:
    """Print `export` lines: eval "$(portside env)"."""
    creds = credentials.load_or_create(data_dir)
    state = data_dir / "server.json"
    endpoint = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
    if state.exists():
        endpoint = orjson.loads(state.read_bytes()).get("endpoint", endpoint)
    region = region or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
    for name, value in (
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", creds.access_key_id),
        ("AWS_SECRET_ACCESS_KEY", creds.secret_access_key),
        ("AWS_DEFAULT_REGION", region),
    ):
        click.echo(f"export {name}={shlex.quote(value)}")
