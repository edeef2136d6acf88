"""The service discovery document from task documents (pure): which ports are targets,
where Prometheus reaches them in each network mode, and the labels they carry."""

from __future__ import annotations

from typing import Any

from portside.prometheus.discovery import Ask, document, parse_ask, targets

CLUSTER = "arn:aws:ecs:us-east-1:000000000000:cluster/prod"
TD = "arn:aws:ecs:us-east-1:000000000000:task-definition/web:7"
INSTANCE = "arn:aws:ecs:us-east-1:000000000000:container-instance/prod/abc"


def _task(**extra: Any) -> dict[str, Any]:
    task: dict[str, Any] = {
        "arn": "arn:aws:ecs:us-east-1:000000000000:task/prod/0123456789abcdef",
        "clusterArn": CLUSTER,
        "taskDefinitionArn": TD,
        "instanceArn": INSTANCE,
        "launchType": "EC2",
        "availabilityZone": "us-east-1b",
        "group": "service:web",
        "lastStatus": "RUNNING",
        "containers": [
            {
                "name": "app",
                "lastStatus": "RUNNING",
                "networkBindings": [
                    {"bindIP": "::", "containerPort": 9100, "hostPort": 40001, "protocol": "tcp"},
                    {"bindIP": "0.0.0.0", "containerPort": 9100, "hostPort": 40000},
                    {"bindIP": "0.0.0.0", "containerPort": 80, "hostPort": 40002},
                ],
            },
            {"name": "sidecar", "lastStatus": "RUNNING"},
        ],
    }
    task.update(extra)
    return task


def _spec(mode: str | None = "bridge", **labels: str) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containerDefinitions": [
            {
                "name": "app",
                "dockerLabels": {"PROMETHEUS_EXPORTER_PORT": "9100", **labels},
                "portMappings": [
                    {"containerPort": 9100, "name": "metrics"},
                    {"containerPort": 80, "name": "http"},
                ],
            },
            {"name": "sidecar", "portMappings": [{"containerPort": 9999}]},
        ]
    }
    if mode:
        spec["networkMode"] = mode
    return spec


def test_bridge_target_is_the_instance_and_the_bound_ipv4_host_port() -> None:
    [group] = targets(_task(), _spec(), "10.0.0.5")
    assert group["targets"] == ["10.0.0.5:40000"]
    assert group["labels"] == {
        "__metrics_path__": "/metrics",
        "__meta_ecs_cluster": "prod",
        "__meta_ecs_cluster_arn": CLUSTER,
        "__meta_ecs_service": "web",
        "__meta_ecs_task_arn": _task()["arn"],
        "__meta_ecs_task_group": "service:web",
        "__meta_ecs_task_definition_family": "web",
        "__meta_ecs_task_definition_revision": "7",
        "__meta_ecs_container_name": "app",
        "__meta_ecs_container_port": "9100",
        "__meta_ecs_launch_type": "EC2",
        "__meta_ecs_availability_zone": "us-east-1b",
        "__meta_ecs_network_mode": "bridge",
        "__meta_ecs_container_instance_arn": INSTANCE,
        "__meta_ecs_container_label_PROMETHEUS_EXPORTER_PORT": "9100",
    }


def test_default_network_mode_is_bridge() -> None:
    [group] = targets(_task(), _spec(mode=None), "10.0.0.5")
    assert group["labels"]["__meta_ecs_network_mode"] == "bridge"


def test_path_and_job_labels() -> None:
    spec = _spec(PROMETHEUS_EXPORTER_PATH="/stats", PROMETHEUS_EXPORTER_JOB_NAME="web-app")
    [group] = targets(_task(), spec, "10.0.0.5")
    assert group["labels"]["__metrics_path__"] == "/stats"
    assert group["labels"]["job"] == "web-app"
    assert group["labels"]["__meta_ecs_container_label_PROMETHEUS_EXPORTER_JOB_NAME"] == "web-app"


def test_host_mode_is_the_instance_and_the_container_port() -> None:
    [group] = targets(_task(), _spec("host"), "10.0.0.5")
    assert group["targets"] == ["10.0.0.5:9100"]


def test_awsvpc_is_the_eni_address_and_the_container_port() -> None:
    task = _task(
        launchType="FARGATE",
        attachments=[
            {
                "type": "ElasticNetworkInterface",
                "details": [{"name": "privateIPv4Address", "value": "172.31.4.9"}],
            }
        ],
    )
    [group] = targets(task, _spec("awsvpc"), None)
    assert group["targets"] == ["172.31.4.9:9100"]
    assert group["labels"]["__meta_ecs_launch_type"] == "FARGATE"
    assert "__meta_ecs_container_instance_arn" not in group["labels"]  # hidden capacity


def test_awsvpc_without_an_address_yet_is_no_target() -> None:
    assert targets(_task(), _spec("awsvpc"), "10.0.0.5") == []


def test_unpublished_port_and_unknown_instance_are_no_target() -> None:
    spec = _spec(PROMETHEUS_EXPORTER_PORT="9200")
    assert targets(_task(), spec, "10.0.0.5") == []
    assert targets(_task(), _spec(), None) == []


def test_port_by_mapping_name() -> None:
    [group] = targets(_task(), _spec(PROMETHEUS_EXPORTER_PORT="http"), "10.0.0.5")
    assert group["targets"] == ["10.0.0.5:40002"]
    asked = targets(_task(), _spec(), "10.0.0.5", Ask(port_name="http"))
    assert sorted(g["targets"][0] for g in asked) == ["10.0.0.5:40000", "10.0.0.5:40002"]


def test_a_container_not_running_is_no_target() -> None:
    task = _task()
    task["containers"][0]["lastStatus"] = "STOPPED"
    assert targets(task, _spec(), "10.0.0.5") == []


def test_filters_by_cluster_name_or_arn_and_service() -> None:
    assert targets(_task(), _spec(), "10.0.0.5", parse_ask(["prod"], [], None))
    assert targets(_task(), _spec(), "10.0.0.5", parse_ask([CLUSTER], [], None))
    assert not targets(_task(), _spec(), "10.0.0.5", parse_ask(["staging"], [], None))
    assert targets(_task(), _spec(), "10.0.0.5", parse_ask([], ["api,web"], None))
    assert not targets(_task(), _spec(), "10.0.0.5", parse_ask([], ["api"], None))
    standalone = _task(group="family:web")
    [group] = targets(standalone, _spec(), "10.0.0.5")
    assert group["labels"]["__meta_ecs_service"] == ""


def test_label_names_are_sanitized_and_the_document_is_ordered() -> None:
    spec = _spec(**{"com.example/team": "core"})
    [group] = targets(_task(), spec, "10.0.0.5")
    assert group["labels"]["__meta_ecs_container_label_com_example_team"] == "core"
    other = targets(_task(), _spec(), "10.0.0.4")
    assert [g["targets"] for g in document([[group], other])] == [
        ["10.0.0.4:40000"],
        ["10.0.0.5:40000"],
    ]
