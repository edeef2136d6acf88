"""The feed reader on a real store: only the tables asked for, and a fresh reader (a restart)
does not repeat what a service's earlier changes already said."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from portside import testing
from portside.events.feed import FeedReader, tables_for
from portside.model.doc import to_doc
from portside.model.service import Deployment, Service, ServiceEvent
from portside.store.sqlite import SqliteStore

ARN = "arn:aws:ecs:us-east-1:000000000000:service/c/web"


NOW = time.time()


def put_service(store: SqliteStore, events: list[ServiceEvent], state: str) -> None:
    service = Service(
        arn=ARN,
        name="web",
        cluster_arn="arn:aws:ecs:us-east-1:000000000000:cluster/c",
        task_definition="td",
        desired_count=1,
        created_at=NOW,
        created_by="root",
        deployments=[
            Deployment("ecs-svc/1", "PRIMARY", "td", 1, NOW, NOW + 1, rollout_state=state)
        ],
        events=events,
    )
    with store.transaction() as tx:
        tx.put("services", ARN, to_doc(service))


def names(reader: FeedReader) -> list[str]:
    return [item.event["detail"]["eventName"] for item in reader.read()]


def test_a_fresh_reader_reports_only_what_a_change_added(tmp_path: Path) -> None:
    store = testing.sqlite_store(tmp_path, name="db")
    started = ServiceEvent("e1", NOW + 1, "(service web) has started 1 tasks: (task a).")
    put_service(store, [started], "IN_PROGRESS")
    mark = store.last_seq()
    steady = ServiceEvent("e2", NOW + 2, "(service web) has reached a steady state.")
    put_service(store, [steady, started], "COMPLETED")
    # Reading from the start sees both changes' news.
    assert names(FeedReader(store, 0)) == [
        "SERVICE_DEPLOYMENT_IN_PROGRESS",
        "SERVICE_DEPLOYMENT_COMPLETED",
        "SERVICE_STEADY_STATE",
    ]
    # A reader starting between them (a restart) looks up the earlier change.
    assert names(FeedReader(store, mark)) == [
        "SERVICE_DEPLOYMENT_COMPLETED",
        "SERVICE_STEADY_STATE",
    ]
    store.close()


def test_readers_skip_tables_they_do_not_need(tmp_path: Path) -> None:
    store = testing.sqlite_store(tmp_path, name="db")
    put_service(store, [], "IN_PROGRESS")
    assert tables_for(["ECS Task State Change"]) == ("tasks",)
    reader = FeedReader(store, 0, tables_for(["ECS Task State Change"]))
    assert reader.read() == []
    assert reader.position == store.last_seq()
    store.close()


def test_past_the_look_back_a_restart_counts_news_from_its_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = iter([100.0, 200.0, 300.0, 400.0])
    store = testing.sqlite_store(tmp_path, clock=lambda: next(clock), name="db")
    service = Service(
        arn=ARN,
        name="web",
        cluster_arn="arn:aws:ecs:us-east-1:000000000000:cluster/c",
        task_definition="td",
        desired_count=1,
        created_at=50.0,
        created_by="root",
        deployments=[Deployment("ecs-svc/1", "PRIMARY", "td", 1, 50.0, 90.0)],
        events=[ServiceEvent("e1", 90.0, "(service web) has reached a steady state.")],
    )
    with store.transaction() as tx:  # committed at 100
        tx.put("services", ARN, to_doc(service))
    mark = store.last_seq()
    service.events.insert(0, ServiceEvent("e2", 190.0, "(service web) has reached a steady state."))
    with store.transaction() as tx:  # committed at 200
        tx.put("services", ARN, to_doc(service))
    monkeypatch.setattr("portside.events.feed.LOOKBACK", 0)
    items = FeedReader(store, mark).read()
    assert [(i.event["detail"]["eventName"], i.event["detail"]["createdAt"]) for i in items] == [
        ("SERVICE_STEADY_STATE", "1970-01-01T00:03:10.000Z")
    ]
    store.close()
