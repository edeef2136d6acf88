"""How the CLI's client commands (logs, exec, events, schedule) reach a Portside server.

The endpoint: `--endpoint-url` (or AWS_ENDPOINT_URL, which click maps onto it), else the one
the server in the data directory wrote to `server.json`, else 127.0.0.1:4810. The keys: the
AWS_* variables when both are set, else the admin key in the data directory. As the AWS CLI
would, given `eval "$(portside env)"`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import botocore.session
import orjson
from botocore.config import Config
from botocore.credentials import Credentials

from portside import credentials
from portside.config import DEFAULT_HOST, DEFAULT_PORT


def endpoint(explicit: str | None, data_dir: Path) -> str:
    if explicit:
        return explicit.rstrip("/")
    found = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
    state = data_dir / "server.json"
    if state.exists():
        found = orjson.loads(state.read_bytes()).get("endpoint", found)
    return str(found).rstrip("/")


def keys(data_dir: Path) -> Credentials:
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not (key and secret):
        creds = credentials.load_or_create(data_dir)
        key, secret = creds.access_key_id, creds.secret_access_key
    return Credentials(key, secret, os.environ.get("AWS_SESSION_TOKEN"))


def aws_client(service: str, url: str, creds: Credentials, region: str) -> Any:
    """A botocore client of `service` on Portside."""
    return botocore.session.get_session().create_client(
        service,
        region_name=region,
        endpoint_url=url,
        aws_access_key_id=creds.access_key,
        aws_secret_access_key=creds.secret_key,
        aws_session_token=creds.token,
        config=Config(retries={"max_attempts": 3, "mode": "standard"}),
    )
