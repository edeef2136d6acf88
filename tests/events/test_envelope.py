"""From committed changes to ECS events: which changes make which events, in ECS's shapes."""

from __future__ import annotations

from typing import Any

from portside.events.envelope import Seen, envelopes, event_id, iso, remember
from portside.model.container_instance import ContainerInstance
from portside.model.doc import to_doc
from portside.model.service import Deployment, Service, ServiceEvent
from portside.model.task import Container, Task
from portside.store.base import Change

REGION, ACCOUNT = "eu-west-1", "123456789012"
CLUSTER = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/web"
TASK_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/web/0123456789abcdef0123456789abcdef"
SERVICE_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/web/api"
INSTANCE_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:container-instance/web/abc"
T0 = 1_700_000_000.25


def task_doc(**changes: Any) -> dict[str, Any]:
    task = Task(
        arn=TASK_ARN,
        cluster_arn=CLUSTER,
        task_definition_arn=f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/app:3",
        instance_arn=INSTANCE_ARN,
        launch_type="EC2",
        last_status="PENDING",
        desired_status="RUNNING",
        created_at=T0,
        cpu="256",
        memory="512",
        group="family:app",
        containers=[
            Container(
                arn=f"arn:aws:ecs:{REGION}:{ACCOUNT}:container/web/0123/c1",
                name="app",
                image="busybox",
            )
        ],
    )
    for key, value in changes.items():
        setattr(task, key, value)
    return dict(to_doc(task))


def change(
    table: str, doc: dict[str, Any] | None, seq: int = 7, at: float = T0 + 5, op: str = "put"
) -> Change:
    key = {"tasks": TASK_ARN, "services": SERVICE_ARN, "container_instances": INSTANCE_ARN}[table]
    return Change(seq, at, table, key, op, doc)


def test_task_state_change_is_the_task_as_describe_tasks_shows_it() -> None:
    doc = task_doc(last_status="RUNNING", started_at=T0 + 3, version=3)
    (event,), seen = envelopes(change("tasks", doc), None)
    assert event["version"] == "0"
    assert event["detail-type"] == "ECS Task State Change"
    assert event["source"] == "aws.ecs"
    assert (event["account"], event["region"]) == (ACCOUNT, REGION)
    assert event["resources"] == [TASK_ARN]
    assert event["time"] == iso(T0 + 5, millis=False) == "2023-11-14T22:13:25Z"
    detail = event["detail"]
    assert detail["taskArn"] == TASK_ARN
    assert detail["clusterArn"] == CLUSTER
    assert detail["lastStatus"] == "RUNNING"
    assert detail["desiredStatus"] == "RUNNING"
    assert detail["version"] == 3
    assert detail["createdAt"] == "2023-11-14T22:13:20.250Z"
    assert detail["startedAt"] == "2023-11-14T22:13:23.250Z"
    assert detail["updatedAt"] == "2023-11-14T22:13:25.250Z"
    assert detail["containers"][0]["name"] == "app"
    assert detail["containers"][0]["taskArn"] == TASK_ARN
    assert detail["containerInstanceArn"] == INSTANCE_ARN
    assert "tags" not in detail
    assert seen == Seen(mark="3")


def test_event_ids_are_stable_and_distinct() -> None:
    doc = task_doc(version=2)
    first, _ = envelopes(change("tasks", doc, seq=41), None)
    again, _ = envelopes(change("tasks", doc, seq=41), None)
    other, _ = envelopes(change("tasks", doc, seq=42), None)
    assert first[0]["id"] == again[0]["id"] == event_id(41, 0)
    assert other[0]["id"] != first[0]["id"]


def test_a_task_write_without_a_new_version_makes_no_event() -> None:
    doc = task_doc(version=4)
    events, seen = envelopes(change("tasks", doc), Seen(mark="4"))
    assert events == []
    assert seen == Seen(mark="4")
    events, _ = envelopes(change("tasks", task_doc(version=5)), Seen(mark="4"))
    assert len(events) == 1


def test_deletes_and_other_tables_make_no_events() -> None:
    assert envelopes(change("tasks", None, op="delete"), None) == ([], None)
    other = Change(1, T0, "clusters", "arn:aws:ecs:x:1:cluster/a", "put", {"clusterName": "a"})
    assert envelopes(other, None) == ([], None)


def instance_doc(**changes: Any) -> dict[str, Any]:
    inst = ContainerInstance(
        arn=INSTANCE_ARN,
        cluster_arn=CLUSTER,
        ec2_instance_id="i-0123",
        registered_at=T0,
        cpu=2048,
        memory=4096,
    )
    for key, value in changes.items():
        setattr(inst, key, value)
    return dict(to_doc(inst))


def test_container_instance_state_change() -> None:
    doc = instance_doc(used_cpu=256, used_memory=512)
    (event,), seen = envelopes(change("container_instances", doc), None)
    assert event["detail-type"] == "ECS Container Instance State Change"
    detail = event["detail"]
    assert detail["containerInstanceArn"] == INSTANCE_ARN
    assert detail["clusterArn"] == CLUSTER
    assert detail["agentConnected"] is True
    assert detail["status"] == "ACTIVE"
    cpu = next(r for r in detail["remainingResources"] if r["name"] == "CPU")
    assert cpu["integerValue"] == 1792
    assert detail["registeredAt"] == iso(T0)
    assert detail["updatedAt"] == iso(T0 + 5)
    # A heartbeat changes nothing an event shows.
    beat = dict(doc, lastHeartbeat=T0 + 30)
    assert envelopes(change("container_instances", beat), seen)[0] == []
    drained = dict(doc, status="DRAINING")
    assert len(envelopes(change("container_instances", drained), seen)[0]) == 1


def test_hidden_fargate_capacity_makes_no_instance_events() -> None:
    assert envelopes(change("container_instances", instance_doc(fargate=True)), None)[0] == []


def service_doc(
    deployments: list[Deployment],
    events: list[ServiceEvent],
    strategy: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    service = Service(
        arn=SERVICE_ARN,
        name="api",
        cluster_arn=CLUSTER,
        task_definition=f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/app:3",
        desired_count=2,
        created_at=T0,
        created_by="root",
        deployments=deployments,
        events=events,
        capacity_provider_strategy=strategy or [],
    )
    return dict(to_doc(service))


def deployment(
    dep_id: str, state: str, reason: str, at: float = T0, status: str = "PRIMARY"
) -> Deployment:
    return Deployment(
        id=dep_id,
        status=status,
        task_definition="td",
        desired_count=2,
        created_at=T0,
        updated_at=at,
        rollout_state=state,
        rollout_state_reason=reason,
    )


def test_a_new_deployment_is_in_progress_then_completed() -> None:
    d1 = deployment("ecs-svc/1", "IN_PROGRESS", "ECS deployment ecs-svc/1 in progress.")
    doc = service_doc([d1], [])
    (event,), seen = envelopes(change("services", doc), Seen())
    assert event["detail-type"] == "ECS Deployment State Change"
    assert event["resources"] == [SERVICE_ARN]
    assert event["detail"] == {
        "eventType": "INFO",
        "eventName": "SERVICE_DEPLOYMENT_IN_PROGRESS",
        "deploymentId": "ecs-svc/1",
        "updatedAt": iso(T0),
        "reason": "ECS deployment ecs-svc/1 in progress.",
    }
    done = deployment("ecs-svc/1", "COMPLETED", "ECS deployment ecs-svc/1 completed.", T0 + 60)
    steady = ServiceEvent("e1", T0 + 60, "(service api) has reached a steady state.")
    events, seen = envelopes(change("services", service_doc([done], [steady]), seq=9), seen)
    assert [(e["detail-type"], e["detail"]["eventName"]) for e in events] == [
        ("ECS Deployment State Change", "SERVICE_DEPLOYMENT_COMPLETED"),
        ("ECS Service Action", "SERVICE_STEADY_STATE"),
    ]
    assert events[1]["detail"] == {
        "eventType": "INFO",
        "eventName": "SERVICE_STEADY_STATE",
        "clusterArn": CLUSTER,
        "createdAt": iso(T0 + 60),
    }
    assert len({e["id"] for e in events}) == 2
    # The same document again says nothing new.
    assert envelopes(change("services", service_doc([done], [steady]), seq=10), seen)[0] == []


def test_a_failed_deployment_and_its_rollback() -> None:
    d1 = deployment("ecs-svc/1", "COMPLETED", "ECS deployment ecs-svc/1 completed.")
    d2 = deployment("ecs-svc/2", "IN_PROGRESS", "ECS deployment ecs-svc/2 in progress.")
    seen = remember("services", service_doc([d2, d1], []))
    failed = deployment(
        "ecs-svc/2",
        "FAILED",
        "ECS deployment circuit breaker: tasks failed to start.",
        status="ACTIVE",
    )
    rollback = deployment(
        "ecs-svc/3",
        "IN_PROGRESS",
        "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1.",
    )
    events, _ = envelopes(change("services", service_doc([rollback, failed, d1], [])), seen)
    details = [e["detail"] for e in events]
    assert [(d["eventName"], d["deploymentId"], d["eventType"]) for d in details] == [
        ("SERVICE_DEPLOYMENT_FAILED", "ecs-svc/2", "ERROR"),
        ("SERVICE_DEPLOYMENT_IN_PROGRESS", "ecs-svc/3", "INFO"),
    ]
    assert details[1]["reason"].startswith("ECS deployment circuit breaker: rolling back")


def test_service_action_messages() -> None:
    msgs = [
        ServiceEvent(
            "e3",
            T0 + 3,
            "(service api) was unable to place a task because no container instance met all of "
            "its requirements. The closest matching (container-instance abc) has insufficient "
            "memory available. For more information, see the Troubleshooting section.",
        ),
        ServiceEvent(
            "e2", T0 + 2, "(service api) is unable to consistently start tasks successfully."
        ),
        ServiceEvent("e1", T0 + 1, "(service api) has started 1 tasks: (task 0123)."),
    ]
    strategy = [{"capacityProvider": "spot", "weight": 1}]
    events, _ = envelopes(change("services", service_doc([], msgs, strategy)), Seen())
    details = [e["detail"] for e in events]
    assert [d["eventName"] for d in details] == [
        "SERVICE_TASK_START_IMPAIRED",
        "SERVICE_TASK_PLACEMENT_FAILURE",
    ]
    assert details[0]["eventType"] == "WARN"
    assert details[1] == {
        "eventType": "WARN",
        "eventName": "SERVICE_TASK_PLACEMENT_FAILURE",
        "clusterArn": CLUSTER,
        "capacityProviderArns": [f"arn:aws:ecs:{REGION}:{ACCOUNT}:capacity-provider/spot"],
        "reason": "RESOURCE:MEMORY",
        "createdAt": iso(T0 + 3),
    }


def test_steady_state_on_capacity_providers_and_tasks_stopped() -> None:
    msgs = [
        ServiceEvent("e2", T0 + 2, "(service api) has reached a steady state."),
        ServiceEvent(
            "e1", T0 + 1, "(service api) has stopped 2 running tasks: (task aa) (task bb)."
        ),
    ]
    strategy = [{"capacityProvider": "spot", "weight": 1}]
    events, _ = envelopes(change("services", service_doc([], msgs, strategy)), Seen())
    names = [e["detail"]["eventName"] for e in events]
    assert names == ["TASKS_STOPPED", "SERVICE_STEADY_STATE", "CAPACITY_PROVIDER_STEADY_STATE"]
    assert events[0]["detail"]["taskArns"] == [
        f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/web/aa",
        f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/web/bb",
    ]
    assert events[2]["detail"]["capacityProviderArns"] == [
        f"arn:aws:ecs:{REGION}:{ACCOUNT}:capacity-provider/spot"
    ]


def test_a_service_older_than_the_feed_reports_only_what_is_newer() -> None:
    old = ServiceEvent("e1", T0 - 100, "(service api) has reached a steady state.")
    new = ServiceEvent("e2", T0 + 1, "(service api) has reached a steady state.")
    dep = deployment("ecs-svc/1", "COMPLETED", "done", at=T0 - 100)
    doc = service_doc([dep], [new, old])  # created at T0
    events, _ = envelopes(change("services", doc), None, since=T0 + 0.5)
    assert [e["detail"]["createdAt"] for e in events] == [iso(T0 + 1)]
    # Created since the feed's oldest change: all its news is new.
    events, _ = envelopes(change("services", doc), None, since=T0 - 200)
    assert len(events) == 3
