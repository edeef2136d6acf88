"""`portside schedule`: scheduled tasks through the EventBridge Scheduler API.

    portside schedule create NAME --cluster C --task-definition TD --expression 'rate(5 minutes)'
                             [--timezone Europe/Paris] [--count N] [--group G] ...
    portside schedule list [--group G] [--prefix P] [--state ENABLED|DISABLED]
    portside schedule get NAME [--group G]        the schedule and the tasks it started
    portside schedule delete NAME [--group G]

`create` makes what `aws scheduler create-schedule` would with the templated ECS target:
Target.Arn is the cluster's ARN, EcsParameters the task definition and count. The target's
RoleArn is required by the API but Portside evaluates no IAM: the command fills in
`arn:aws:iam::ACCOUNT:role/portside-scheduler`. The endpoint and credentials are found as
the AWS CLI finds them ($AWS_ENDPOINT_URL, $AWS_ACCESS_KEY_ID...), falling back to the local
data directory's server.json and admin key.
"""

from __future__ import annotations

import functools
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import httpx
import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError

from portside.cli import connection
from portside.cli.options import data_dir_option
from portside.config import DEFAULT_REGION

API_FAILED = 254  # the AWS CLI's exit code for a service error


class Clients:
    def __init__(self, endpoint: str | None, region: str | None, data_dir: Path) -> None:
        url, creds = connection.endpoint(endpoint, data_dir), connection.keys(data_dir)
        region = region or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
        self.scheduler = connection.aws_client("scheduler", url, creds, region)
        self.ecs = connection.aws_client("ecs", url, creds, region)
        self._endpoint, self._region = url, region
        self._credentials = creds

    def status(self, group: str, name: str) -> dict[str, Any] | None:
        """Where the schedule's firing stands (Portside's own route, signed like the API)."""
        url = f"{self._endpoint}/_portside/scheduler/v1/status/{group}/{name}"
        request = AWSRequest(method="GET", url=url)
        SigV4Auth(self._credentials, "scheduler", self._region).add_auth(request)
        response = httpx.get(url, headers=dict(request.headers.items()), timeout=30)
        if response.status_code != 200:
            return None
        return dict(orjson.loads(response.content))


def _fail(err: ClientError) -> None:
    error = err.response.get("Error", {})
    click.echo(f"{error.get('Code', 'Error')}: {error.get('Message', '')}", err=True)
    sys.exit(API_FAILED)


def _when(value: Any) -> str:
    if isinstance(value, int | float):
        try:
            value = datetime.fromtimestamp(value, UTC)
        except (OverflowError, ValueError, OSError):
            return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _connection(fn: Any) -> Any:
    """The options that find the control plane (--endpoint, --region, --data-dir); `fn`
    takes them as one `clients: Clients`."""

    @functools.wraps(fn)
    def command(*, endpoint: str | None, region: str | None, data_dir: Path, **rest: Any) -> Any:
        return fn(clients=Clients(endpoint, region, data_dir), **rest)

    decorated: Any = command
    for opt in reversed(
        [
            click.option(
                "--endpoint",
                envvar="AWS_ENDPOINT_URL",
                default=None,
                help="The control plane's URL (default: $AWS_ENDPOINT_URL, else the local one).",
            ),
            click.option(
                "--region", default=None, help="Default: $AWS_DEFAULT_REGION or us-east-1."
            ),
        ]
    ):
        decorated = opt(decorated)
    return data_dir_option(decorated)


def _one_schedule(fn: Any) -> Any:
    """A command on schedule NAME of --group (the default group unless given)."""
    return click.argument("name")(click.option("--group", default=None)(_connection(fn)))


def _call(method: Any, name: str, group: str | None) -> Any:
    """The Scheduler's `method` on schedule `name` of `group`; an error ends the command."""
    try:
        return method(Name=name, **({"GroupName": group} if group else {}))
    except ClientError as err:
        _fail(err)


@click.group()
def schedule() -> None:
    """Run task definitions on cron, rate or one-time schedules (EventBridge Scheduler)."""


@schedule.command()
@click.argument("name")
@click.option("--cluster", default="default", show_default=True)
@click.option("--task-definition", required=True, help="family, family:revision or ARN.")
@click.option(
    "--expression",
    required=True,
    help="'rate(5 minutes)', 'cron(0 9 ? * MON-FRI *)' or 'at(2030-01-01T09:00:00)'.",
)
@click.option("--timezone", default="UTC", show_default=True, help="An IANA time zone.")
@click.option("--count", type=click.IntRange(1, 10), default=1, show_default=True)
@click.option("--group", default=None, help="Schedule group (default: default).")
@click.option("--launch-type", type=click.Choice(["EC2", "FARGATE", "EXTERNAL"]), default=None)
@click.option("--flexible-window", type=click.IntRange(1, 1440), default=None, metavar="MINUTES")
@click.option("--disabled", is_flag=True, help="Create it DISABLED.")
@click.option("--delete-after-completion", is_flag=True, help="ActionAfterCompletion DELETE.")
@click.option("--description", default=None)
@_connection
def create(
    name: str,
    cluster: str,
    task_definition: str,
    expression: str,
    timezone: str,
    count: int,
    group: str | None,
    launch_type: str | None,
    flexible_window: int | None,
    disabled: bool,
    delete_after_completion: bool,
    description: str | None,
    clients: Clients,
) -> None:
    """Create schedule NAME that runs a task definition."""
    try:
        found = clients.ecs.describe_clusters(clusters=[cluster])
        if not found["clusters"]:
            click.echo(f"ClusterNotFoundException: cluster {cluster} does not exist", err=True)
            sys.exit(API_FAILED)
        cluster_arn = found["clusters"][0]["clusterArn"]
        account = cluster_arn.split(":")[4]
        ecs: dict[str, Any] = {"TaskDefinitionArn": task_definition, "TaskCount": count}
        if launch_type:
            ecs["LaunchType"] = launch_type
        params: dict[str, Any] = {
            "Name": name,
            "ScheduleExpression": expression,
            "ScheduleExpressionTimezone": timezone,
            "FlexibleTimeWindow": (
                {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": flexible_window}
                if flexible_window
                else {"Mode": "OFF"}
            ),
            "State": "DISABLED" if disabled else "ENABLED",
            "ActionAfterCompletion": "DELETE" if delete_after_completion else "NONE",
            "Target": {
                "Arn": cluster_arn,
                "RoleArn": f"arn:aws:iam::{account}:role/portside-scheduler",
                "EcsParameters": ecs,
            },
        }
        if group:
            params["GroupName"] = group
        if description:
            params["Description"] = description
        out = clients.scheduler.create_schedule(**params)
    except ClientError as err:
        _fail(err)
    click.echo(out["ScheduleArn"])


@schedule.command(name="list")
@click.option("--group", default=None)
@click.option("--prefix", default=None, help="Only names starting with this.")
@click.option("--state", type=click.Choice(["ENABLED", "DISABLED"]), default=None)
@_connection
def list_(group: str | None, prefix: str | None, state: str | None, clients: Clients) -> None:
    """List schedules: name, group, state, target."""
    query: dict[str, Any] = {}
    if group:
        query["GroupName"] = group
    if prefix:
        query["NamePrefix"] = prefix
    if state:
        query["State"] = state
    rows = []
    try:
        for page in clients.scheduler.get_paginator("list_schedules").paginate(**query):
            rows += page["Schedules"]
    except ClientError as err:
        _fail(err)
    width = max([len(r["Name"]) for r in rows] + [4])
    click.echo(f"{'NAME':<{width}}  {'GROUP':<12}  {'STATE':<8}  TARGET")
    for r in rows:
        click.echo(
            f"{r['Name']:<{width}}  {r['GroupName']:<12}  {r['State']:<8}  {r['Target']['Arn']}"
        )


@schedule.command()
@_one_schedule
def get(name: str, group: str | None, clients: Clients) -> None:
    """Show schedule NAME and the tasks it started."""
    got = _call(clients.scheduler.get_schedule, name, group)
    target = got["Target"]
    ecs = target.get("EcsParameters") or {}
    window = got["FlexibleTimeWindow"]
    for label, value in (
        ("Name", got["Name"]),
        ("Arn", got["Arn"]),
        ("Expression", got["ScheduleExpression"]),
        ("Timezone", got.get("ScheduleExpressionTimezone", "UTC")),
        ("State", got["State"]),
        ("Target", target["Arn"]),
        ("Task definition", ecs.get("TaskDefinitionArn", "(in the target's input)")),
        ("Count", ecs.get("TaskCount", 1)),
        (
            "Flexible window",
            f"{window['MaximumWindowInMinutes']} min" if window["Mode"] == "FLEXIBLE" else "off",
        ),
        ("After completion", got.get("ActionAfterCompletion", "NONE")),
        ("Created", _when(got["CreationDate"])),
    ):
        click.echo(f"{label + ':':<18}{value}")
    status = clients.status(got["GroupName"], got["Name"]) or {}
    next_fire = status.get("nextFire")
    click.echo(f"{'Next run:':<18}{_when(next_fire) if next_fire is not None else 'none'}")
    last = status.get("lastRun")
    if last:
        line = f"{last['outcome']} at {_when(last['at'])} (occurrence {_when(last['nominal'])}"
        line += f", attempt {last['attempts']})" if last.get("attempts") else ")"
        click.echo(f"{'Last run:':<18}{line}")
        if last.get("reason"):
            click.echo(f"{'':<18}{last['reason']}")
    pending = status.get("pending")
    if pending:
        click.echo(f"{'Retry at:':<18}{_when(pending['retryAt'])} ({pending['count']} task(s))")
    if not target["Arn"].startswith("arn:aws:ecs:"):
        return
    # The tasks it started: ECS's own record of the runs (startedBy chronos-schedule/NAME).
    started_by = f"chronos-schedule/{got['Name']}"[:36]
    arns: list[str] = []
    try:
        for desired in ("RUNNING", "STOPPED"):
            arns += clients.ecs.list_tasks(
                cluster=target["Arn"], startedBy=started_by, desiredStatus=desired
            )["taskArns"]
        tasks = (
            clients.ecs.describe_tasks(cluster=target["Arn"], tasks=arns[:100])["tasks"]
            if arns
            else []
        )
    except ClientError as err:
        _fail(err)
    tasks.sort(key=lambda t: t.get("createdAt") or 0, reverse=True)
    click.echo(f"Tasks started:    {len(tasks) or 'none yet'}")
    for t in tasks[:10]:
        click.echo(f"  {t['taskArn']}  {t['lastStatus']:<8}  created {_when(t.get('createdAt'))}")


@schedule.command()
@_one_schedule
def delete(name: str, group: str | None, clients: Clients) -> None:
    """Delete schedule NAME."""
    _call(clients.scheduler.delete_schedule, name, group)
    click.echo(f"deleted {name}")
