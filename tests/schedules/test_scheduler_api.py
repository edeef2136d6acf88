"""The EventBridge Scheduler API through boto3 and the AWS CLI v1: CRUD, defaults, AWS's
errors and statuses, idempotency, listing, schedule groups, signing."""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess

ROLE = "arn:aws:iam::000000000000:role/scheduler"
CLUSTER = "arn:aws:ecs:us-east-1:000000000000:cluster/default"


def target(**ecs: Any) -> dict[str, Any]:
    return {
        "Arn": CLUSTER,
        "RoleArn": ROLE,
        "EcsParameters": {"TaskDefinitionArn": "web", **ecs},
    }


def create(scheduler: Any, name: str, expression: str = "rate(1 day)", **kw: Any) -> str:
    kw.setdefault("FlexibleTimeWindow", {"Mode": "OFF"})
    kw.setdefault("Target", target())
    kw.setdefault("State", "DISABLED")  # these tests look at the API, not at runs
    out = scheduler.create_schedule(Name=name, ScheduleExpression=expression, **kw)
    return str(out["ScheduleArn"])


def error(call: Any, **kw: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as err:
        call(**kw)
    response = err.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def test_create_get_update_delete(scheduler: Any, name: str) -> None:
    arn = create(scheduler, name, "cron(0 9 ? * MON-FRI *)", Description="weekday report")
    assert arn == f"arn:aws:scheduler:{REGION}:000000000000:schedule/default/{name}"
    got = scheduler.get_schedule(Name=name)
    assert got["Arn"] == arn and got["Name"] == name and got["GroupName"] == "default"
    assert got["ScheduleExpression"] == "cron(0 9 ? * MON-FRI *)"
    assert got["Description"] == "weekday report"
    # The Scheduler's defaults (recorded against AWS).
    assert got["ScheduleExpressionTimezone"] == "UTC"
    assert got["ActionAfterCompletion"] == "NONE"
    assert got["Target"]["RetryPolicy"] == {
        "MaximumEventAgeInSeconds": 86400,
        "MaximumRetryAttempts": 185,
    }
    assert got["Target"]["EcsParameters"] == {"TaskDefinitionArn": "web"}
    assert got["CreationDate"] == got["LastModificationDate"]

    time.sleep(0.01)
    scheduler.update_schedule(
        Name=name,
        ScheduleExpression="rate(2 hours)",
        ScheduleExpressionTimezone="Europe/Paris",
        FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15},
        Target=target(TaskCount=3),
        State="DISABLED",
    )
    got = scheduler.get_schedule(Name=name, GroupName="default")
    assert got["ScheduleExpression"] == "rate(2 hours)"
    assert got["ScheduleExpressionTimezone"] == "Europe/Paris"
    assert got["FlexibleTimeWindow"] == {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15}
    assert got["Target"]["EcsParameters"]["TaskCount"] == 3
    assert "Description" not in got  # an update replaces the whole schedule, as on AWS
    assert got["LastModificationDate"] > got["CreationDate"]

    scheduler.delete_schedule(Name=name)
    code, message, status = error(scheduler.get_schedule, Name=name)
    assert (code, message, status) == (
        "ResourceNotFoundException",
        f"Schedule {name} does not exist.",
        404,
    )


def test_invalid_expression_is_aws_validation_exception(scheduler: Any, name: str) -> None:
    for expression in ("cron(0 1 * * * *)", "rate(10 seconds)", "at(2021-12-31)"):
        code, message, status = error(
            scheduler.create_schedule,
            Name=name,
            ScheduleExpression=expression,
            FlexibleTimeWindow={"Mode": "OFF"},
            Target=target(),
        )
        assert (code, message, status) == (
            "ValidationException",
            f"Invalid Schedule Expression {expression}.",
            400,
        )
    assert error(scheduler.get_schedule, Name=name)[0] == "ResourceNotFoundException"


def test_model_constraints_are_coral_validation_errors(scheduler: Any) -> None:
    code, message, status = error(
        scheduler.create_schedule,
        Name="bad!name",
        ScheduleExpression="rate(1 day)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=target(),
    )
    assert code == "ValidationException" and status == 400
    assert message == (
        "1 validation error detected: Value 'bad!name' at 'name' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: [0-9a-zA-Z-_.]+"
    )


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"ScheduleExpressionTimezone": "Mars/Olympus"}, "time zone"),
        ({"FlexibleTimeWindow": {"Mode": "FLEXIBLE"}}, "MaximumWindowInMinutes"),
        ({"FlexibleTimeWindow": {"Mode": "OFF", "MaximumWindowInMinutes": 5}}, "FLEXIBLE"),
        ({"StartDate": 2_000_000_000, "EndDate": 1_900_000_000}, "EndDate"),
        (
            {"Target": {"Arn": "arn:aws:sqs:us-east-1:000000000000:q", "RoleArn": ROLE}},
            "ECS targets only",
        ),
        ({"Target": {"Arn": CLUSTER, "RoleArn": ROLE}}, "EcsParameters"),
        ({"Target": {**target(), "Input": "not json"}}, "JSON object"),
        (
            {
                "Target": {
                    "Arn": "arn:aws:scheduler:::aws-sdk:ecs:runTask",
                    "RoleArn": ROLE,
                    "Input": '{"taskDefinition": 5}',
                }
            },
            "valid RunTask",
        ),
        (
            {
                "Target": {
                    "Arn": "arn:aws:scheduler:::aws-sdk:ecs:runTask",
                    "RoleArn": ROLE,
                    "Input": '{"taskDefinition": "web", "count": 11}',
                }
            },
            "count must be between 1 and 10",
        ),
    ],
)
def test_bad_parameters_are_validation_exceptions(
    scheduler: Any, name: str, change: dict[str, Any], words: str
) -> None:
    params = {
        "Name": name,
        "ScheduleExpression": "rate(1 day)",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": target(),
        **change,
    }
    code, message, status = error(scheduler.create_schedule, **params)
    assert (code, status) == ("ValidationException", 400)
    assert words in message


def test_create_twice_is_a_conflict_unless_the_same_client_token(scheduler: Any, name: str) -> None:
    arn = create(scheduler, name, ClientToken="token-1")
    assert create(scheduler, name, ClientToken="token-1") == arn  # a retried request
    code, message, status = error(
        scheduler.create_schedule,
        Name=name,
        ScheduleExpression="rate(1 day)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=target(),
        ClientToken="token-2",
    )
    assert (code, message, status) == ("ConflictException", f"Schedule {name} already exists.", 409)


def test_update_and_delete_of_a_missing_schedule(scheduler: Any, name: str) -> None:
    code, _, status = error(
        scheduler.update_schedule,
        Name=name,
        ScheduleExpression="rate(1 day)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=target(),
    )
    assert (code, status) == ("ResourceNotFoundException", 404)
    code, message, status = error(scheduler.delete_schedule, Name=name)
    assert (code, message, status) == (
        "ResourceNotFoundException",
        f"Schedule {name} does not exist.",
        404,
    )


def test_list_filters_and_pages(scheduler: Any, name: str) -> None:
    for n in range(5):
        create(scheduler, f"{name}-{n}", State="ENABLED" if n % 2 else "DISABLED")
    listed = scheduler.list_schedules(NamePrefix=name)["Schedules"]
    assert [s["Name"] for s in listed] == [f"{name}-{n}" for n in range(5)]
    assert listed[0]["Target"] == {"Arn": CLUSTER}
    enabled = scheduler.list_schedules(NamePrefix=name, State="ENABLED")["Schedules"]
    assert [s["Name"] for s in enabled] == [f"{name}-1", f"{name}-3"]
    seen: list[str] = []
    page = scheduler.list_schedules(NamePrefix=name, MaxResults=2)
    while True:
        seen += [s["Name"] for s in page["Schedules"]]
        if "NextToken" not in page:
            break
        page = scheduler.list_schedules(NamePrefix=name, MaxResults=2, NextToken=page["NextToken"])
    assert seen == [f"{name}-{n}" for n in range(5)]
    paginator = scheduler.get_paginator("list_schedules")
    names = [s["Name"] for p in paginator.paginate(NamePrefix=name) for s in p["Schedules"]]
    assert names == seen
    code, _, status = error(scheduler.list_schedules, GroupName=f"{name}-nogroup")
    assert (code, status) == ("ResourceNotFoundException", 404)


def test_schedule_groups(scheduler: Any, name: str) -> None:
    group_arn = scheduler.create_schedule_group(Name=name)["ScheduleGroupArn"]
    assert group_arn == f"arn:aws:scheduler:{REGION}:000000000000:schedule-group/{name}"
    got = scheduler.get_schedule_group(Name=name)
    assert (got["Name"], got["State"], got["Arn"]) == (name, "ACTIVE", group_arn)
    assert scheduler.get_schedule_group(Name="default")["State"] == "ACTIVE"
    groups = [g["Name"] for g in scheduler.list_schedule_groups()["ScheduleGroups"]]
    assert "default" in groups and name in groups
    assert error(scheduler.create_schedule_group, Name=name)[::2] == ("ConflictException", 409)
    assert error(scheduler.create_schedule_group, Name="default")[::2] == (
        "ValidationException",
        400,
    )

    arn = create(scheduler, "s1", GroupName=name)
    assert arn.endswith(f":schedule/{name}/s1")
    assert error(scheduler.get_schedule, Name="s1")[0] == "ResourceNotFoundException"
    assert scheduler.get_schedule(Name="s1", GroupName=name)["GroupName"] == name
    listed = scheduler.list_schedules(GroupName=name)["Schedules"]
    assert [s["Arn"] for s in listed] == [arn]

    # Deleting a group deletes its schedules.
    scheduler.delete_schedule_group(Name=name)
    code, message, status = error(scheduler.get_schedule_group, Name=name)
    assert (code, message, status) == (
        "ResourceNotFoundException",
        f"Schedule group {name} does not exist.",
        404,
    )
    assert error(scheduler.create_schedule, **_params("s1", GroupName=name))[::2] == (
        "ResourceNotFoundException",
        404,
    )


def _params(name: str, **kw: Any) -> dict[str, Any]:
    return {
        "Name": name,
        "ScheduleExpression": "rate(1 day)",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": target(),
        **kw,
    }


def _signed(server: ServerProcess, method: str, path: str, service: str, body: bytes) -> Any:
    request = AWSRequest(
        method=method,
        url=server.endpoint + path,
        data=body,
        headers={"Content-Type": "application/json"},
    )
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), service, REGION).add_auth(request)
    return httpx.request(
        method, server.endpoint + path, content=body, headers=dict(request.headers.items())
    )


def test_requests_must_be_signed_for_the_scheduler(server: ServerProcess, name: str) -> None:
    response = _signed(server, "GET", "/schedules", "ecs", b"")
    assert response.status_code == 403
    assert response.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert "scheduler" in orjson.loads(response.content)["Message"]
    unsigned = httpx.get(server.endpoint + "/schedules")
    assert unsigned.status_code == 403
    assert unsigned.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    ok = _signed(server, "GET", "/schedules", "scheduler", b"")
    assert ok.status_code == 200 and "Schedules" in orjson.loads(ok.content)


def test_a_body_that_is_not_json_is_a_client_error(server: ServerProcess, name: str) -> None:
    response = _signed(server, "POST", f"/schedules/{name}", "scheduler", b"{not json")
    assert response.status_code == 400
    assert response.headers["x-amzn-ErrorType"] == "SerializationException"
    wrong = orjson.dumps({**_params(name), "Target": "a string"})
    response = _signed(server, "POST", f"/schedules/{name}", "scheduler", wrong)
    assert response.status_code == 400
    assert response.headers["x-amzn-ErrorType"] == "SerializationException"


def test_the_aws_cli_v1_drives_it(server: ServerProcess, name: str) -> None:
    out = server.aws(
        "scheduler",
        "create-schedule",
        "--name",
        name,
        "--schedule-expression",
        "cron(15 4 L * ? *)",
        "--schedule-expression-timezone",
        "America/New_York",
        "--flexible-time-window",
        '{"Mode": "OFF"}',
        "--state",
        "DISABLED",
        "--target",
        orjson.dumps(target(TaskCount=2)).decode(),
    )
    assert out["ScheduleArn"].endswith(f"/default/{name}")
    got = server.aws("scheduler", "get-schedule", "--name", name)
    assert got["ScheduleExpressionTimezone"] == "America/New_York"
    assert got["Target"]["EcsParameters"]["TaskCount"] == 2
    listed = server.aws("scheduler", "list-schedules", "--name-prefix", name)
    assert [s["Name"] for s in listed["Schedules"]] == [name]
    bad = server.aws(
        "scheduler",
        "create-schedule",
        "--name",
        name + "x",
        "--schedule-expression",
        "rate(5 fortnights)",
        "--flexible-time-window",
        '{"Mode": "OFF"}',
        "--target",
        orjson.dumps(target()).decode(),
        check=False,
    )
    assert bad.returncode != 0
    assert "ValidationException" in bad.stderr
    assert "Invalid Schedule Expression rate(5 fortnights)." in bad.stderr
    server.aws("scheduler", "delete-schedule", "--name", name)
    gone = server.aws("scheduler", "get-schedule", "--name", name, check=False)
    assert "ResourceNotFoundException" in gone.stderr


def test_schedule_group_tags(scheduler: Any, name: str) -> None:
    arn = scheduler.create_schedule_group(Name=name, Tags=[{"Key": "team", "Value": "data"}])[
        "ScheduleGroupArn"
    ]
    assert scheduler.list_tags_for_resource(ResourceArn=arn)["Tags"] == [
        {"Key": "team", "Value": "data"}
    ]
    scheduler.tag_resource(
        ResourceArn=arn,
        Tags=[{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "ops"}],
    )
    tags = scheduler.list_tags_for_resource(ResourceArn=arn)["Tags"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("env", "prod"), ("team", "ops")]
    scheduler.untag_resource(ResourceArn=arn, TagKeys=["team", "nothing"])
    assert scheduler.list_tags_for_resource(ResourceArn=arn)["Tags"] == [
        {"Key": "env", "Value": "prod"}
    ]
    schedule_arn = create(scheduler, name, GroupName=name)
    code, _, status = error(scheduler.list_tags_for_resource, ResourceArn=schedule_arn)
    assert (code, status) == ("ValidationException", 400)
    scheduler.delete_schedule_group(Name=name)
    code, _, status = error(scheduler.list_tags_for_resource, ResourceArn=arn)
    assert (code, status) == ("ResourceNotFoundException", 404)
