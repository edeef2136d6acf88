"""The EventBridge API subset through boto3 and the AWS CLI v1, on a real server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from harness import ServerProcess

PATTERN = json.dumps({"source": ["aws.ecs"], "detail-type": ["ECS Task State Change"]})


@pytest.fixture
def events(server: ServerProcess) -> Any:
    return server.client("events")


def error_of(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    err = caught.value.response["Error"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return err["Code"], err["Message"]


def destination(events: Any, name: str, url: str = "http://127.0.0.1:9/hook") -> str:
    conn = events.create_connection(
        Name=name,
        AuthorizationType="BASIC",
        AuthParameters={"BasicAuthParameters": {"Username": "u", "Password": "p"}},
    )
    dest = events.create_api_destination(
        Name=name,
        ConnectionArn=conn["ConnectionArn"],
        InvocationEndpoint=url,
        HttpMethod="POST",
        InvocationRateLimitPerSecond=20,
    )
    return str(dest["ApiDestinationArn"])


def test_rule_lifecycle(events: Any, name: str) -> None:
    arn = events.put_rule(Name=name, EventPattern=PATTERN, Description="task changes")["RuleArn"]
    assert arn == f"arn:aws:events:us-east-1:000000000000:rule/{name}"
    rule = events.describe_rule(Name=name)
    assert rule["State"] == "ENABLED"
    assert json.loads(rule["EventPattern"]) == json.loads(PATTERN)
    assert rule["Description"] == "task changes"
    assert rule["EventBusName"] == "default"
    events.disable_rule(Name=name)
    assert events.describe_rule(Name=name)["State"] == "DISABLED"
    events.enable_rule(Name=name)
    assert events.describe_rule(Name=name)["State"] == "ENABLED"
    # PutRule on an existing rule updates it.
    events.put_rule(Name=name, EventPattern=PATTERN, State="DISABLED")
    assert events.describe_rule(Name=name)["State"] == "DISABLED"
    assert [r["Name"] for r in events.list_rules(NamePrefix=name)["Rules"]] == [name]
    events.delete_rule(Name=name)
    code, message = error_of(events.describe_rule, Name=name)
    assert (code, message) == (
        "ResourceNotFoundException",
        f"Rule {name} does not exist on EventBus default.",
    )


def test_list_rules_pages(events: Any, name: str) -> None:
    for i in range(3):
        events.put_rule(Name=f"{name}-{i}", EventPattern=PATTERN)
    first = events.list_rules(NamePrefix=name, Limit=2)
    assert [r["Name"] for r in first["Rules"]] == [f"{name}-0", f"{name}-1"]
    rest = events.list_rules(NamePrefix=name, Limit=2, NextToken=first["NextToken"])
    assert [r["Name"] for r in rest["Rules"]] == [f"{name}-2"]
    assert "NextToken" not in rest


def test_invalid_patterns_and_schedules_are_refused(events: Any, name: str) -> None:
    code, message = error_of(events.put_rule, Name=name, EventPattern='{"source": "aws.ecs"}')
    assert code == "InvalidEventPatternException"
    assert message == 'Event pattern is not valid. Reason: "source" must be an object or an array'
    code, message = error_of(events.put_rule, Name=name, ScheduleExpression="rate(5 minutes)")
    assert code == "ValidationException" and "ScheduleExpression" in message
    code, message = error_of(events.put_rule, Name=name)
    assert (code, message) == (
        "ValidationException",
        "Parameter(s) EventPattern or ScheduleExpression must be specified.",
    )
    code, _ = error_of(events.put_rule, Name=name, EventPattern=PATTERN, EventBusName="custom")
    assert code == "ResourceNotFoundException"


def test_only_the_default_bus(events: Any, name: str) -> None:
    events.put_rule(Name=name, EventPattern=PATTERN, EventBusName="default")
    bus = "arn:aws:events:us-east-1:000000000000:event-bus/default"
    assert events.describe_rule(Name=name, EventBusName=bus)["Name"] == name
    code, message = error_of(events.list_rules, EventBusName="orders")
    assert (code, message) == ("ResourceNotFoundException", "Event bus orders does not exist.")


def test_targets(events: Any, name: str) -> None:
    events.put_rule(Name=name, EventPattern=PATTERN)
    dest = destination(events, name)
    result = events.put_targets(
        Rule=name,
        Targets=[
            {"Id": "hook", "Arn": dest, "RetryPolicy": {"MaximumRetryAttempts": 3}},
            {"Id": "queue", "Arn": "arn:aws:sqs:us-east-1:000000000000:q"},
            {"Id": "both", "Arn": dest, "Input": "{}", "InputPath": "$.detail"},
        ],
    )
    assert result["FailedEntryCount"] == 2
    assert {f["TargetId"] for f in result["FailedEntries"]} == {"queue", "both"}
    targets = events.list_targets_by_rule(Rule=name)["Targets"]
    assert targets == [{"Id": "hook", "Arn": dest, "RetryPolicy": {"MaximumRetryAttempts": 3}}]
    code, message = error_of(events.delete_rule, Name=name)
    assert (code, message) == ("ValidationException", "Rule can't be deleted since it has targets.")
    events.remove_targets(Rule=name, Ids=["hook"])
    assert events.list_targets_by_rule(Rule=name)["Targets"] == []
    events.delete_rule(Name=name)
    code, _ = error_of(events.list_targets_by_rule, Rule=name)
    assert code == "ResourceNotFoundException"


def test_at_most_five_targets(events: Any, name: str) -> None:
    events.put_rule(Name=name, EventPattern=PATTERN)
    dest = destination(events, name)
    targets = [{"Id": f"t{i}", "Arn": dest} for i in range(6)]
    code, _ = error_of(events.put_targets, Rule=name, Targets=targets)
    assert code == "LimitExceededException"


def test_connections_hide_their_secrets(events: Any, name: str) -> None:
    arn = events.create_connection(
        Name=name,
        AuthorizationType="API_KEY",
        AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "x-key", "ApiKeyValue": "secret!"}},
    )["ConnectionArn"]
    assert arn.startswith(f"arn:aws:events:us-east-1:000000000000:connection/{name}/")
    found = events.describe_connection(Name=name)
    assert found["ConnectionState"] == "AUTHORIZED"
    assert found["AuthParameters"] == {"ApiKeyAuthParameters": {"ApiKeyName": "x-key"}}
    assert "secret!" not in json.dumps(found, default=str)
    listed = events.list_connections(NamePrefix=name)["Connections"]
    assert [c["Name"] for c in listed] == [name]
    code, _ = error_of(
        events.create_connection,
        Name=name,
        AuthorizationType="API_KEY",
        AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "x", "ApiKeyValue": "y"}},
    )
    assert code == "ResourceAlreadyExistsException"
    code, message = error_of(
        events.create_connection,
        Name=name + "-oauth",
        AuthorizationType="OAUTH_CLIENT_CREDENTIALS",
        AuthParameters={
            "OAuthParameters": {
                "ClientParameters": {"ClientID": "a", "ClientSecret": "b"},
                "AuthorizationEndpoint": "https://auth.example.com/token",
                "HttpMethod": "POST",
            }
        },
    )
    assert code == "ValidationException" and "OAUTH" in message
    assert events.delete_connection(Name=name)["ConnectionState"] == "DELETING"
    code, _ = error_of(events.describe_connection, Name=name)
    assert code == "ResourceNotFoundException"


def test_api_destinations(events: Any, name: str) -> None:
    arn = destination(events, name)
    found = events.describe_api_destination(Name=name)
    assert found["ApiDestinationArn"] == arn
    assert found["ApiDestinationState"] == "ACTIVE"
    assert found["InvocationEndpoint"] == "http://127.0.0.1:9/hook"
    assert found["InvocationRateLimitPerSecond"] == 20
    listed = events.list_api_destinations(NamePrefix=name)["ApiDestinations"]
    assert [d["ApiDestinationArn"] for d in listed] == [arn]
    code, _ = error_of(
        events.create_api_destination,
        Name=name + "-x",
        ConnectionArn="arn:aws:events:us-east-1:000000000000:connection/nope/abc",
        InvocationEndpoint="https://example.com",
        HttpMethod="POST",
    )
    assert code == "ResourceNotFoundException"
    events.delete_api_destination(Name=name)
    code, _ = error_of(events.describe_api_destination, Name=name)
    assert code == "ResourceNotFoundException"


def test_test_event_pattern(events: Any) -> None:
    event = {
        "id": "1",
        "account": "000000000000",
        "source": "aws.ecs",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "detail-type": "ECS Task State Change",
        "resources": [],
        "detail": {"lastStatus": "STOPPED", "containers": [{"exitCode": 137}]},
    }
    pattern = {"detail": {"containers": {"exitCode": [{"numeric": [">", 0]}]}}}
    assert events.test_event_pattern(EventPattern=json.dumps(pattern), Event=json.dumps(event))[
        "Result"
    ]
    pattern = {"detail": {"lastStatus": [{"anything-but": "STOPPED"}]}}
    assert not events.test_event_pattern(EventPattern=json.dumps(pattern), Event=json.dumps(event))[
        "Result"
    ]
    code, message = error_of(
        events.test_event_pattern, EventPattern=PATTERN, Event=json.dumps({"source": "aws.ecs"})
    )
    assert (code, message) == ("ValidationException", "Parameter Event is not valid.")
    code, _ = error_of(events.test_event_pattern, EventPattern="{", Event=json.dumps(event))
    assert code == "InvalidEventPatternException"


def test_aws_cli(server: ServerProcess, name: str) -> None:
    out = server.aws("events", "put-rule", "--name", name, "--event-pattern", PATTERN)
    assert out["RuleArn"].endswith(f":rule/{name}")
    conn = server.aws(
        "events",
        "create-connection",
        "--name",
        name,
        "--authorization-type",
        "API_KEY",
        "--auth-parameters",
        json.dumps({"ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"}}),
    )
    # (The CLI v1 would fetch a URL given as a parameter's value: hand it over as JSON.)
    spec = {
        "Name": name,
        "ConnectionArn": conn["ConnectionArn"],
        "InvocationEndpoint": "https://hooks.example.com/ecs",
        "HttpMethod": "POST",
    }
    dest = server.aws("events", "create-api-destination", "--cli-input-json", json.dumps(spec))
    out = server.aws(
        "events",
        "put-targets",
        "--rule",
        name,
        "--targets",
        json.dumps([{"Id": "1", "Arn": dest["ApiDestinationArn"]}]),
    )
    assert out["FailedEntryCount"] == 0
    out = server.aws(
        "events",
        "test-event-pattern",
        "--event-pattern",
        PATTERN,
        "--event",
        json.dumps(
            {
                "id": "1",
                "account": "000000000000",
                "source": "aws.ecs",
                "time": "2026-01-01T00:00:00Z",
                "region": "us-east-1",
                "detail-type": "ECS Task State Change",
                "detail": {},
            }
        ),
    )
    assert out == {"Result": True}
    listed = server.aws("events", "list-targets-by-rule", "--rule", name)
    assert [t["Id"] for t in listed["Targets"]] == ["1"]
