"""FilterLogEvents through boto3: patterns, streams, time range, pages."""

from __future__ import annotations

from typing import Any

from logs.logcalls import fails, now_ms


def seed(logs: Any, group: str) -> int:
    start = now_ms() - 60_000
    for stream, lines in {
        "web/1": ["GET /a 200", "ERROR timeout talking to db", "GET /b 500"],
        "web/2": ["ERROR Exception: boom", "WARN slow request", '{"level":"error","ms":250}'],
        "worker": ["job done", "ERROR disk full"],
    }.items():
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": start + 10 * i, "message": m} for i, m in enumerate(lines)],
        )
    return start


def messages(logs: Any, group: str, **kw: Any) -> list[str]:
    out = logs.filter_log_events(logGroupName=group, **kw)
    return [e["message"] for e in out["events"]]


def test_filter_patterns(logs: Any, group: str) -> None:
    seed(logs, group)
    assert len(messages(logs, group)) == 8
    # Interleaved across streams, by timestamp.
    assert messages(logs, group, filterPattern="ERROR") == [
        "ERROR Exception: boom",
        "ERROR timeout talking to db",
        "ERROR disk full",
    ]
    assert messages(logs, group, filterPattern="ERROR Exception") == ["ERROR Exception: boom"]
    assert messages(logs, group, filterPattern='"disk full"') == ["ERROR disk full"]
    assert messages(logs, group, filterPattern="ERROR -timeout -boom") == ["ERROR disk full"]
    assert messages(logs, group, filterPattern="?WARN ?500") == ["WARN slow request", "GET /b 500"]
    assert messages(logs, group, filterPattern="{ $.ms > 100 }") == ['{"level":"error","ms":250}']
    assert messages(logs, group, filterPattern="%GET /[ab] 2%") == ["GET /a 200"]
    fails(
        "InvalidParameterException",
        logs.filter_log_events,
        logGroupName=group,
        filterPattern="{ $.ms > }",
    )


def test_filter_streams_and_time(logs: Any, group: str) -> None:
    start = seed(logs, group)
    out = logs.filter_log_events(logGroupName=group, logStreamNames=["worker"])
    assert [e["message"] for e in out["events"]] == ["job done", "ERROR disk full"]
    event = out["events"][0]
    assert event["logStreamName"] == "worker"
    assert event["timestamp"] == start and event["ingestionTime"] >= start
    assert event["eventId"]
    assert out["searchedLogStreams"] == []
    assert messages(logs, group, logStreamNamePrefix="web/", filterPattern="ERROR") == [
        "ERROR Exception: boom",
        "ERROR timeout talking to db",
    ]
    # startTime and endTime are both inclusive here.
    assert messages(logs, group, startTime=start + 10, endTime=start + 10) == [
        "ERROR timeout talking to db",
        "WARN slow request",
        "ERROR disk full",
    ]
    fails(
        "InvalidParameterException",
        logs.filter_log_events,
        logGroupName=group,
        logStreamNames=["worker"],
        logStreamNamePrefix="w",
    )
    fails("ResourceNotFoundException", logs.filter_log_events, logGroupName=group + "-x")


def test_filter_pages_with_next_token(logs: Any, group: str) -> None:
    seed(logs, group)
    first = logs.filter_log_events(logGroupName=group, limit=3)
    assert len(first["events"]) == 3 and "nextToken" in first
    pages = logs.get_paginator("filter_log_events").paginate(
        logGroupName=group, PaginationConfig={"PageSize": 3}
    )
    every = [e for p in pages for e in p["events"]]
    assert len(every) == 8
    assert len({e["eventId"] for e in every}) == 8
    assert [e["timestamp"] for e in every] == sorted(e["timestamp"] for e in every)
    last = logs.filter_log_events(logGroupName=group, limit=8)
    assert len(last["events"]) == 8 and "nextToken" not in last
    backward = logs.filter_log_events(logGroupName=group, limit=3, startFromHead=False)
    assert [e["message"] for e in backward["events"]] == [
        '{"level":"error","ms":250}',
        "GET /b 500",
        "ERROR disk full",
    ]
    rest = logs.filter_log_events(logGroupName=group, nextToken=backward["nextToken"])
    assert len(rest["events"]) == 5 and rest["events"][0]["message"] == "WARN slow request"
