"""The CloudWatch Logs subset through boto3: groups, streams, PutLogEvents, GetLogEvents."""

from __future__ import annotations

from typing import Any

from logs.logcalls import fails, now_ms

ACCOUNT = "000000000000"


def put(logs: Any, group: str, stream: str, messages: list[str], start: int) -> dict[str, Any]:
    events = [{"timestamp": start + i, "message": m} for i, m in enumerate(messages)]
    out: dict[str, Any] = logs.put_log_events(
        logGroupName=group, logStreamName=stream, logEvents=events
    )
    return out


def test_log_group_lifecycle(logs: Any, name: str) -> None:
    before = now_ms()
    logs.create_log_group(logGroupName=name, tags={"team": "a"})
    message = fails("ResourceAlreadyExistsException", logs.create_log_group, logGroupName=name)
    assert message == "The specified log group already exists"
    [found] = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    assert found["logGroupName"] == name
    assert found["creationTime"] >= before - 1000
    assert found["arn"] == f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{name}:*"
    assert found["logGroupArn"] == f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{name}"
    assert "retentionInDays" not in found
    assert logs.list_tags_for_resource(resourceArn=found["logGroupArn"])["tags"] == {"team": "a"}
    logs.put_retention_policy(logGroupName=name, retentionInDays=7)
    [found] = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    assert found["retentionInDays"] == 7
    logs.delete_retention_policy(logGroupName=name)
    [found] = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    assert "retentionInDays" not in found
    logs.delete_log_group(logGroupName=name)
    assert logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"] == []
    message = fails("ResourceNotFoundException", logs.delete_log_group, logGroupName=name)
    assert message == "The specified log group does not exist."


def test_log_group_class_and_refused_options(logs: Any, name: str) -> None:
    logs.create_log_group(logGroupName=name + "-ia", logGroupClass="INFREQUENT_ACCESS")
    logs.create_log_group(logGroupName=name + "-std")
    found = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    assert [g["logGroupClass"] for g in found] == ["INFREQUENT_ACCESS", "STANDARD"]
    found = logs.describe_log_groups(logGroupClass="ESSENTIALS", logGroupNamePrefix=name)
    assert [g["logGroupName"] for g in found["logGroups"]] == [name + "-ia"]
    fails("InvalidParameterException", logs.create_log_group, logGroupName=name, kmsKeyId="k")


def test_group_names_follow_the_model(logs: Any, server: Any) -> None:
    message = fails("InvalidParameterException", logs.create_log_group, logGroupName="bad name!")
    assert "logGroupName" in message and "regular expression pattern" in message


def test_retention_values(logs: Any, group: str) -> None:
    message = fails(
        "InvalidParameterException",
        logs.put_retention_policy,
        logGroupName=group,
        retentionInDays=2,
    )
    assert "Member must satisfy enum value set: [1, 3, 5, 7, 14, 30" in message
    fails(
        "ResourceNotFoundException",
        logs.put_retention_policy,
        logGroupName=group + "-missing",
        retentionInDays=1,
    )


def test_describe_log_groups_pages_and_pattern(logs: Any, name: str) -> None:
    names = [f"{name}/svc-{i}" for i in range(5)]
    for n in names:
        logs.create_log_group(logGroupName=n)
    first = logs.describe_log_groups(logGroupNamePrefix=name, limit=2)
    assert [g["logGroupName"] for g in first["logGroups"]] == names[:2]
    pages = logs.get_paginator("describe_log_groups").paginate(
        logGroupNamePrefix=name, PaginationConfig={"PageSize": 2}
    )
    assert [g["logGroupName"] for p in pages for g in p["logGroups"]] == names
    found = logs.describe_log_groups(logGroupNamePattern=f"{name[3:]}/svc-3")["logGroups"]
    assert [g["logGroupName"] for g in found] == [names[3]]
    assert set(found[0]) == {"logGroupName", "creationTime", "arn"}
    fails(
        "InvalidParameterException",
        logs.describe_log_groups,
        logGroupNamePrefix=name,
        logGroupNamePattern=name,
    )


def test_streams(logs: Any, group: str) -> None:
    logs.create_log_stream(logGroupName=group, logStreamName="b")
    logs.create_log_stream(logGroupName=group, logStreamName="a")
    message = fails(
        "ResourceAlreadyExistsException",
        logs.create_log_stream,
        logGroupName=group,
        logStreamName="a",
    )
    assert message == "The specified log stream already exists"
    message = fails(
        "ResourceNotFoundException",
        logs.create_log_stream,
        logGroupName=group + "-missing",
        logStreamName="a",
    )
    assert message == "The specified log group does not exist."
    fails(
        "InvalidParameterException",
        logs.create_log_stream,
        logGroupName=group,
        logStreamName="has:colon",
    )
    start = now_ms() - 10_000
    put(logs, group, "a", ["x", "y"], start + 5000)
    put(logs, group, "b", ["z"], start)
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["a", "b"]
    a = streams[0]
    assert a["firstEventTimestamp"] == start + 5000
    assert a["lastEventTimestamp"] == start + 5001
    assert a["lastIngestionTime"] >= start
    assert a["arn"].endswith(f":log-group:{group}:log-stream:a")
    by_time = logs.describe_log_streams(
        logGroupName=group, orderBy="LastEventTime", descending=True
    )["logStreams"]
    assert [s["logStreamName"] for s in by_time] == ["a", "b"]
    by_time = logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime")["logStreams"]
    assert [s["logStreamName"] for s in by_time] == ["b", "a"]
    assert [
        s["logStreamName"]
        for s in logs.describe_log_streams(logGroupName=group, logStreamNamePrefix="b")[
            "logStreams"
        ]
    ] == ["b"]
    message = fails(
        "InvalidParameterException",
        logs.describe_log_streams,
        logGroupName=group,
        orderBy="LastEventTime",
        logStreamNamePrefix="a",
    )
    assert "LastEventTime" in message
    page = logs.describe_log_streams(logGroupName=group, limit=1)
    assert [s["logStreamName"] for s in page["logStreams"]] == ["a"]
    page = logs.describe_log_streams(logGroupName=group, limit=1, nextToken=page["nextToken"])
    assert [s["logStreamName"] for s in page["logStreams"]] == ["b"]
    assert "nextToken" not in page
    logs.delete_log_stream(logGroupName=group, logStreamName="a")
    fails(
        "ResourceNotFoundException",
        logs.get_log_events,
        logGroupName=group,
        logStreamName="a",
    )


def test_put_log_events_rules(logs: Any, group: str) -> None:
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = now_ms()
    message = fails(
        "ResourceNotFoundException",
        logs.put_log_events,
        logGroupName=group,
        logStreamName="nope",
        logEvents=[{"timestamp": now, "message": "m"}],
    )
    assert message == "The specified log stream does not exist."
    message = fails(
        "InvalidParameterException",
        logs.put_log_events,
        logGroupName=group,
        logStreamName="s",
        logEvents=[{"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}],
    )
    assert "chronological order" in message
    fails(
        "InvalidParameterException",
        logs.put_log_events,
        logGroupName=group,
        logStreamName="s",
        logEvents=[
            {"timestamp": now - 25 * 3600_000, "message": "a"},
            {"timestamp": now, "message": "b"},
        ],
    )
    fails(
        "InvalidParameterException",
        logs.put_log_events,
        logGroupName=group,
        logStreamName="s",
        logEvents=[{"timestamp": now, "message": "x" * 1000}] * 1100,
    )
    out = logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        sequenceToken="ignored-as-aws-does",
        logEvents=[
            {"timestamp": now - 15 * 86400_000, "message": "too old"},
            {"timestamp": now, "message": "kept"},
            {"timestamp": now + 3 * 3600_000, "message": "too new"},
        ],
    )
    assert out["rejectedLogEventsInfo"] == {
        "tooOldLogEventEndIndex": 1,
        "tooNewLogEventStartIndex": 2,
    }
    assert out["nextSequenceToken"]
    events = logs.get_log_events(logGroupName=group, logStreamName="s")["events"]
    assert [e["message"] for e in events] == ["kept"]


def test_put_rejects_events_past_retention(logs: Any, group: str) -> None:
    logs.put_retention_policy(logGroupName=group, retentionInDays=1)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = now_ms()
    out = logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[
            {"timestamp": now - 2 * 86400_000, "message": "expired"},
            {"timestamp": now - 1000, "message": "kept"},
        ],
    )
    assert out["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 1}


def test_get_log_events_reads_both_ways_with_tokens(logs: Any, group: str) -> None:
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    start = now_ms() - 60_000
    messages = [f"line {i}" for i in range(25)]
    put(logs, group, "s", messages, start)

    def get(**kw: Any) -> dict[str, Any]:
        out: dict[str, Any] = logs.get_log_events(logGroupName=group, logStreamName="s", **kw)
        return out

    tail = get(limit=10)  # startFromHead defaults to false: the latest events
    assert [e["message"] for e in tail["events"]] == messages[15:]
    assert tail["nextForwardToken"].startswith("f/")
    assert tail["nextBackwardToken"].startswith("b/")
    back = get(limit=10, nextToken=tail["nextBackwardToken"])
    assert [e["message"] for e in back["events"]] == messages[5:15]
    back = get(limit=10, nextToken=back["nextBackwardToken"])
    assert [e["message"] for e in back["events"]] == messages[:5]
    end = get(limit=10, nextToken=back["nextBackwardToken"])
    assert end["events"] == [] and end["nextBackwardToken"] == back["nextBackwardToken"]

    seen: list[str] = []
    out = get(startFromHead=True, limit=7)
    token = None
    while out["nextForwardToken"] != token:
        seen += [e["message"] for e in out["events"]]
        token = out["nextForwardToken"]
        out = get(startFromHead=True, limit=7, nextToken=token)
    assert seen == messages
    # At the end the same forward token comes back; new events show up behind it.
    put(logs, group, "s", ["late"], start + 100)
    assert [e["message"] for e in get(nextToken=token)["events"]] == ["late"]

    window = get(startFromHead=True, startTime=start + 3, endTime=start + 6)
    assert [e["message"] for e in window["events"]] == messages[3:6]
    event = window["events"][0]
    assert event["timestamp"] == start + 3 and event["ingestionTime"] >= start
    fails(
        "InvalidParameterException",
        logs.get_log_events,
        logGroupName=group,
        logStreamName="s",
        nextToken="f/garbage",
    )


def test_get_log_events_by_group_arn(logs: Any, group: str) -> None:
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    put(logs, group, "s", ["hello"], now_ms())
    arn = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["logGroupArn"]
    out = logs.get_log_events(logGroupIdentifier=arn, logStreamName="s")
    assert [e["message"] for e in out["events"]] == ["hello"]
    fails("InvalidParameterException", logs.get_log_events, logStreamName="s")


def test_empty_stream_tokens(logs: Any, group: str) -> None:
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    out = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True)
    assert out["events"] == []
    put(logs, group, "s", ["first"], now_ms())
    again = logs.get_log_events(
        logGroupName=group, logStreamName="s", nextToken=out["nextForwardToken"]
    )
    assert [e["message"] for e in again["events"]] == ["first"]


def test_tags(logs: Any, group: str) -> None:
    arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{group}"
    logs.tag_resource(resourceArn=arn, tags={"a": "1", "b": "2"})
    logs.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"b": "2"}
    assert logs.list_tags_log_group(logGroupName=group)["tags"] == {"b": "2"}
    fails(
        "ResourceNotFoundException",
        logs.list_tags_for_resource,
        resourceArn=arn + "-missing",
    )
    fails(
        "TooManyTagsException",
        logs.tag_resource,
        resourceArn=arn,
        tags={f"k{i}": "v" for i in range(50)},
    )


def test_get_log_events_answers_at_most_one_megabyte(logs: Any, group: str) -> None:
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    start = now_ms() - 10_000
    big = "x" * 600_000
    for i in range(2):
        put(logs, group, "s", [f"{i}{big}"], start + i)
    first = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True)
    assert [e["message"][0] for e in first["events"]] == ["0"]
    put(logs, group, "s", ["small"], start + 5)  # seen by the next read on the same thread
    rest = logs.get_log_events(
        logGroupName=group, logStreamName="s", nextToken=first["nextForwardToken"]
    )
    assert [e["message"][0] for e in rest["events"]] == ["1", "s"]
    tail = logs.get_log_events(logGroupName=group, logStreamName="s")
    assert [e["message"][0] for e in tail["events"]] == ["1", "s"]


def test_describe_log_groups_by_identifiers(logs: Any, name: str) -> None:
    for suffix in ("a", "b", "c"):
        logs.create_log_group(logGroupName=f"{name}-{suffix}")
    arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{name}-c"
    found = logs.describe_log_groups(logGroupIdentifiers=[f"{name}-a", arn, f"{name}-missing"])[
        "logGroups"
    ]
    assert [g["logGroupName"] for g in found] == [f"{name}-a", f"{name}-c"]
    fails(
        "InvalidParameterException",
        logs.describe_log_groups,
        logGroupIdentifiers=[f"{name}-a"],
        logGroupNamePrefix=name,
    )


def test_deleting_a_group_deletes_its_events(logs: Any, name: str) -> None:
    logs.create_log_group(logGroupName=name)
    logs.create_log_stream(logGroupName=name, logStreamName="s")
    put(logs, name, "s", ["gone"], now_ms())
    logs.delete_log_group(logGroupName=name)
    logs.create_log_group(logGroupName=name)
    assert logs.describe_log_streams(logGroupName=name)["logStreams"] == []
    logs.create_log_stream(logGroupName=name, logStreamName="s")
    assert logs.get_log_events(logGroupName=name, logStreamName="s")["events"] == []
    [group] = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    assert group["storedBytes"] == 0
