"""`portside events`: print ECS events (EventBridge envelopes) as JSON lines.

Reads the server's event stream (Server-Sent Events at /_portside/events/v1/stream), signed
with SigV4 like any AWS call. Without --follow it prints the events the change feed still
holds (the last hour) and exits; with --follow it prints only new events, until interrupted.
--pattern takes an EventBridge event pattern; --after resumes past a feed position (each
event's position is printed with --positions, or is the SSE id).

The endpoint and credentials are found as the AWS CLI finds them ($AWS_ENDPOINT_URL,
$AWS_ACCESS_KEY_ID...), falling back to the local data directory's server.json and admin key.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import quote, urlencode

import click
import httpx
import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from portside.cli import connection
from portside.cli.options import data_dir_option
from portside.config import DEFAULT_REGION

PATH = "/_portside/events/v1/stream"
API_FAILED = 254  # the AWS CLI's exit code for a service error


def signed_get(url: str, keys: Credentials, region: str) -> dict[str, str]:
    """The headers of a SigV4-signed GET of `url` (service name `events`)."""
    request = AWSRequest(method="GET", url=url)
    SigV4Auth(keys, "events", region).add_auth(request)
    return dict(request.headers.items())


def sse_data(lines: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(id, data) of each Server-Sent Events message in `lines`. Pure."""
    ident, data = "", list[str]()
    for line in lines:
        if line == "":
            if data:
                yield ident, "\n".join(data)
            ident, data = "", list[str]()
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data.append(value)
            elif name == "id":
                ident = value
    if data:
        yield ident, "\n".join(data)


@click.command()
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events until interrupted.")
@click.option("--pattern", default=None, help="An EventBridge event pattern (JSON).")
@click.option("--after", type=int, default=None, help="Start past this feed position.")
@click.option("--positions", is_flag=True, help="Prefix each event with its feed position.")
@click.option("--endpoint-url", envvar="AWS_ENDPOINT_URL", default=None)
@click.option("--region", envvar=["AWS_REGION", "AWS_DEFAULT_REGION"], default=DEFAULT_REGION)
@data_dir_option
def events(
    follow: bool,
    pattern: str | None,
    after: int | None,
    positions: bool,
    endpoint_url: str | None,
    region: str,
    data_dir: Path,
) -> None:
    """Print ECS events (task, container instance, service action and deployment state
    changes) as JSON lines, one EventBridge event per line."""
    query: dict[str, str] = {}
    if pattern:
        query["pattern"] = pattern
    if after is not None:
        query["after"] = str(after)
    if follow:
        query["follow"] = "true"
    url = (
        connection.endpoint(endpoint_url, data_dir)
        + PATH
        + ("?" + urlencode(query, quote_via=quote, safe="-_.~") if query else "")
    )
    headers = signed_get(url, connection.keys(data_dir), region)
    try:
        with httpx.stream(
            "GET", url, headers=headers, timeout=httpx.Timeout(10.0, read=None)
        ) as reply:
            if reply.status_code != 200:
                reply.read()
                try:
                    body = orjson.loads(reply.content)
                    message = f"{body.get('__type')}: {body.get('message')}"
                except orjson.JSONDecodeError:
                    message = f"HTTP {reply.status_code}"
                click.echo(f"portside events: {message}", err=True)
                sys.exit(API_FAILED)
            for ident, data in sse_data(reply.iter_lines()):
                click.echo(f"{ident} {data}" if positions else data)
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cannot read events from {url}: {exc}") from None
    except KeyboardInterrupt:
        pass
