"""`portside logs`: print a task's awslogs output from the CloudWatch Logs API.

The task's containers are found with DescribeTasks, their log streams named from the task
definition's awslogs options as ECS names them: `prefix/container-name/task-id` with
awslogs-stream-prefix, otherwise the container's Docker id (its runtimeId). Events are read
with GetLogEvents, following each stream's forward token; `--follow` keeps polling (every
half second) until the task has stopped and its last lines are printed.

The endpoint and credentials are found as the AWS CLI finds them ($AWS_ENDPOINT_URL,
$AWS_ACCESS_KEY_ID...), falling back to the local data directory's server.json and admin key.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from botocore.exceptions import ClientError, EndpointConnectionError

from portside.cli import connection
from portside.cli.options import data_dir_option
from portside.config import DEFAULT_REGION

POLL_SECONDS = 0.5
API_FAILED = 254  # the AWS CLI's exit code for a service error


@dataclass
class Source:
    """One container's log stream and how far it has been read."""

    container: str
    group: str
    stream: str
    token: str | None = None
    missing_reported: bool = field(default=False)


def _clients(endpoint: str | None, region: str, data_dir: Path) -> tuple[Any, Any]:
    url, creds = connection.endpoint(endpoint, data_dir), connection.keys(data_dir)
    return (
        connection.aws_client("ecs", url, creds, region),
        connection.aws_client("logs", url, creds, region),
    )


def sources_of(
    task: dict[str, Any], definition: dict[str, Any], container: str | None
) -> tuple[list[Source], list[str]]:
    """The log streams of a task's containers (only `container`'s when given), and a note for
    each container whose logs cannot be read here. Pure."""
    task_id = task["taskArn"].rsplit("/", 1)[-1]
    runtime_ids = {c["name"]: c.get("runtimeId") for c in task.get("containers", [])}
    found: list[Source] = []
    notes: list[str] = []
    for spec in definition.get("containerDefinitions", []):
        name = spec["name"]
        if container is not None and name != container:
            continue
        config = spec.get("logConfiguration") or {}
        options = config.get("options") or {}
        if config.get("logDriver") != "awslogs" or "awslogs-group" not in options:
            notes.append(f"container {name} does not use the awslogs log driver")
            continue
        prefix = options.get("awslogs-stream-prefix")
        if prefix:
            stream = f"{prefix}/{name}/{task_id}"
        elif runtime_ids.get(name):
            stream = str(runtime_ids[name])
        else:
            notes.append(f"container {name} has not started yet (no Docker id to name its stream)")
            continue
        found.append(Source(name, options["awslogs-group"], stream))
    if container is not None and not found and not notes:
        raise click.ClickException(f"The task has no container named {container}.")
    return found, notes


def _read_new(logs: Any, source: Source) -> list[dict[str, Any]]:
    """Every event past the source's token; advances it."""
    out: list[dict[str, Any]] = []
    while True:
        params: dict[str, Any] = {
            "logGroupName": source.group,
            "logStreamName": source.stream,
            "startFromHead": True,
        }
        if source.token:
            params["nextToken"] = source.token
        try:
            page = logs.get_log_events(**params)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                return out  # not created yet: the container has not logged
            raise
        out += page["events"]
        token = page["nextForwardToken"]
        if token == source.token:
            return out
        source.token = token


def _format(event: dict[str, Any], container: str | None, timestamps: bool) -> str:
    line = event["message"]
    if timestamps:
        when = datetime.fromtimestamp(event["timestamp"] / 1000, UTC)
        line = f"{when.isoformat(timespec='milliseconds').replace('+00:00', 'Z')} {line}"
    return f"[{container}] {line}" if container else line


def print_logs(
    logs: Any,
    sources: list[Source],
    *,
    follow: bool,
    timestamps: bool,
    stopped: Callable[[], bool],
    echo: Callable[[str], None] = click.echo,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    label = len(sources) > 1
    while True:
        # Checked before reading, so the lines written before the stop are still printed.
        done = not follow or stopped()
        batch = [(e, s.container) for s in sources for e in _read_new(logs, s)]
        batch.sort(key=lambda item: item[0]["timestamp"])
        for event, name in batch:
            echo(_format(event, name if label else None, timestamps))
        if done:
            return
        sleep(POLL_SECONDS)


@click.command()
@click.option("--cluster", default=None, help="The task's cluster (default: default).")
@click.option("--container", default=None, help="Only this container's logs.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until the task stops.")
@click.option("--timestamps", "-t", is_flag=True, help="Prefix each line with its time (UTC).")
@click.option("--endpoint-url", envvar="AWS_ENDPOINT_URL", default=None)
@click.option("--region", envvar=["AWS_REGION", "AWS_DEFAULT_REGION"], default=DEFAULT_REGION)
@data_dir_option
@click.argument("task")
def logs(
    cluster: str | None,
    container: str | None,
    follow: bool,
    timestamps: bool,
    endpoint_url: str | None,
    region: str,
    data_dir: Path,
    task: str,
) -> None:
    """Print the awslogs output of TASK (its ARN or ID)."""
    ecs, logs_client = _clients(endpoint_url, region, data_dir)
    where = {"cluster": cluster} if cluster else {}
    try:
        described = ecs.describe_tasks(tasks=[task], **where)
        if not described["tasks"]:
            reason = (described.get("failures") or [{}])[0].get("reason", "MISSING")
            raise click.ClickException(f"Task {task} not found ({reason}).")
        found = described["tasks"][0]
        definition = ecs.describe_task_definition(taskDefinition=found["taskDefinitionArn"])
        sources, notes = sources_of(found, definition["taskDefinition"], container)
        for note in notes:
            click.echo(f"portside logs: {note}", err=True)
        if not sources:
            sys.exit(1)

        def stopped() -> bool:
            tasks = ecs.describe_tasks(tasks=[found["taskArn"]], **where)["tasks"]
            return not tasks or tasks[0]["lastStatus"] == "STOPPED"

        print_logs(logs_client, sources, follow=follow, timestamps=timestamps, stopped=stopped)
    except ClientError as exc:
        error = exc.response["Error"]
        click.echo(
            f"An error occurred ({error['Code']}) when calling the "
            f"{exc.operation_name} operation: {error['Message']}",
            err=True,
        )
        sys.exit(API_FAILED)
    except EndpointConnectionError as exc:
        raise click.ClickException(f"Cannot reach Portside: {exc}") from None
    except KeyboardInterrupt:
        sys.exit(130)
