"""The request members ops/ takes as values (model/overrides.py, model/deployment.py,
model/load_balancer.py): each names every member of ECS's shape, reads any request document
and gives it back unchanged, and what tasks and services store from them is the document they
stored before they were values, byte for byte."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any, get_args, get_type_hints

import botocore.session
import orjson
import pytest
from botocore.model import ListShape, Shape, StructureShape
from botocore_strategies import params_for
from hypothesis import given
from hypothesis import strategies as st
from roles import task_role_in

from portside import testing
from portside.api.ecs import requests_services
from portside.model.container_instance import InstanceResources
from portside.model.deployment import (
    CircuitBreaker,
    DeploymentAlarms,
    DeploymentConfiguration,
    ThresholdConfiguration,
)
from portside.model.doc import GivenMembers, camel
from portside.model.load_balancer import LoadBalancer
from portside.model.overrides import (
    ContainerOverride,
    EnvironmentFile,
    EphemeralStorage,
    InferenceAcceleratorOverride,
    KeyValue,
    ResourceRequirement,
    TaskOverrides,
)
from portside.model.service import Service
from portside.ops import clusters, instances, launch, records, services, task_definitions
from portside.ops.context import Op
from portside.testing.elb import load_balanced_group
from portside.wire import task_requests

ACCOUNT = "000000000000"
REGION = "us-east-1"
T0 = 1_700_000_000.0
TARGET = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/0123456789"
ECS = botocore.session.get_session().get_service_model("ecs")

# Each value and the ECS shape it stands for.
VALUES: list[tuple[type[GivenMembers], str]] = [
    (TaskOverrides, "TaskOverride"),
    (ContainerOverride, "ContainerOverride"),
    (KeyValue, "KeyValuePair"),
    (EnvironmentFile, "EnvironmentFile"),
    (ResourceRequirement, "ResourceRequirement"),
    (InferenceAcceleratorOverride, "InferenceAcceleratorOverride"),
    (EphemeralStorage, "EphemeralStorage"),
    (DeploymentConfiguration, "DeploymentConfiguration"),
    (CircuitBreaker, "DeploymentCircuitBreaker"),
    (ThresholdConfiguration, "ThresholdConfiguration"),
    (DeploymentAlarms, "DeploymentAlarms"),
    (LoadBalancer, "LoadBalancer"),
]
IDS = [shape for _, shape in VALUES]


def members(cls: type) -> dict[str, Any]:
    """The document member each field of `cls` is, with its type (Portside's own `internal`
    members, which no reply shows, left out)."""
    hints = get_type_hints(cls)
    return {
        f.metadata.get("key") or camel(f.name): hints[f.name]
        for f in fields(cls)
        if f.metadata.get("stored", True) and not f.metadata.get("internal")
    }


def shuffled(value: Any, rng: random.Random) -> Any:
    """`value` with every object's members in another order (a client's own)."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [shuffled(v, rng) for v in value]
    return value


def _nested_value(hint: Any) -> type | None:
    """The value class a field holds (alone or in a tuple), if any."""
    for arg in (hint, *get_args(hint), *(a for h in get_args(hint) for a in get_args(h))):
        if isinstance(arg, type) and is_dataclass(arg):
            return arg
    return None


@pytest.mark.parametrize(("cls", "shape_name"), VALUES, ids=IDS)
def test_a_value_names_every_member_of_its_shape(cls: type, shape_name: str) -> None:
    """A member botocore's model adds fails here, rather than vanish between the request and
    the stored document."""
    shape = ECS.shape_for(shape_name)
    assert isinstance(shape, StructureShape)
    assert set(members(cls)) == set(shape.members)
    for key, hint in members(cls).items():
        inner = _nested_value(hint)
        member: Shape = shape.members[key]
        if isinstance(member, ListShape):
            member = member.member
        if inner is not None:
            assert (inner, member.name) in VALUES, key


@pytest.mark.parametrize(("cls", "shape_name"), VALUES, ids=IDS)
@given(data=st.data())
def test_any_request_document_comes_back_byte_for_byte(
    cls: type[GivenMembers], shape_name: str, data: st.DataObject
) -> None:
    drawn = data.draw(params_for(ECS.shape_for(shape_name), depth=6))
    doc = shuffled(drawn, data.draw(st.randoms()))
    value = cls.from_doc(doc)
    assert orjson.dumps(value.to_doc()) == orjson.dumps(doc)
    assert value == cls.from_doc(drawn)  # the order members came in is not part of the value


# -- what the edge parses ---------------------------------------------------------------------

OVERRIDES = {
    "containerOverrides": [
        {
            "name": "app",
            "command": ["echo", "hi"],
            "environment": [{"name": "B", "value": "3"}, {"value": "no name"}],
            "environmentFiles": [{"value": "arn:aws:s3:::bucket/app.env", "type": "s3"}],
            "cpu": 128,
            "memory": 256,
            "memoryReservation": 192,
            "resourceRequirements": [{"type": "GPU", "value": "1"}],
        }
    ],
    "cpu": "512",
    "memory": "1024",
    "executionRoleArn": "arn:aws:iam::000000000000:role/exec",
    "taskRoleArn": "arn:aws:iam::000000000000:role/task",
    "ephemeralStorage": {"sizeInGiB": 30},
    "inferenceAcceleratorOverrides": [{"deviceName": "d1", "deviceType": "eia2.medium"}],
}
DEPLOYMENT = {
    "deploymentCircuitBreaker": {
        "enable": True,
        "rollback": True,
        "resetOnHealthyTask": False,
        "thresholdConfiguration": {"type": "COUNT", "value": 4},
    },
    "maximumPercent": 150,
    "minimumHealthyPercent": 50,
    "alarms": {"alarmNames": ["high-cpu"], "rollback": False, "enable": True},
    "strategy": "ROLLING",
    "lifecycleHooks": [],
    "earlySuccessCriteria": {"enable": True, "healthyPercent": 100},
}
BALANCER = {"targetGroupArn": TARGET, "containerName": "web", "containerPort": 80}


def test_run_task_overrides_are_parsed_into_a_value() -> None:
    parsed = task_requests.launch({"taskDefinition": "web", "overrides": OVERRIDES})
    assert parsed.overrides is not None
    assert parsed.overrides.for_container("app").memory_reservation == 192
    assert parsed.overrides.task_role_arn == "arn:aws:iam::000000000000:role/task"
    assert parsed.overrides.to_doc() == OVERRIDES
    assert task_requests.launch({"taskDefinition": "web"}).overrides is None


def test_service_members_are_parsed_into_values() -> None:
    request = requests_services.create_service(
        {"serviceName": "s", "deploymentConfiguration": DEPLOYMENT, "loadBalancers": [BALANCER]}
    )
    assert request.deployment_configuration is not None
    assert request.deployment_configuration.circuit_breaker.threshold_configuration == (
        ThresholdConfiguration("COUNT", 4)
    )
    assert request.deployment_configuration.to_doc() == DEPLOYMENT
    assert [lb.to_doc() for lb in request.load_balancers] == [BALANCER]
    update = requests_services.update_service({"service": "s"})
    assert update.deployment_configuration is None and update.load_balancers is None
    cleared = requests_services.update_service({"service": "s", "loadBalancers": []})
    assert cleared.load_balancers == ()


# -- what is stored -----------------------------------------------------------------------------


@pytest.fixture
def op(tmp_path: Path) -> Iterator[Op]:
    store = testing.sqlite_store(tmp_path)
    yield testing.make_op(testing.make_world(store, clock=testing.FakeClock(T0)), REGION, ACCOUNT)
    store.close()


def stored_doc(op: Op, table: str, arn: str) -> dict[str, Any]:
    with op.store.read() as tx:
        doc = tx.get(table, arn)
    assert doc is not None
    return dict(doc)


def run_task_overrides(op: Op, overrides: dict[str, Any]) -> bytes:
    """The overrides a task started with `overrides` stores, as stored JSON."""
    clusters.create_cluster(op, name="c")
    resources = [
        {"name": "CPU", "type": "INTEGER", "integerValue": 1024},
        {"name": "MEMORY", "type": "INTEGER", "integerValue": 2048},
    ]
    instances.register(op, cluster="c", total_resources=InstanceResources.of(resources))
    containers = [
        {"name": "app", "image": "busybox", "memory": 64},
        {"name": "side", "image": "busybox", "memory": 64},
    ]
    task_definitions.register(op, {"family": "app", "containerDefinitions": containers})
    request = {"cluster": "c", "taskDefinition": "app", "overrides": overrides}
    (view,), _ = launch.run_task(op, task_requests.launch(request))
    return orjson.dumps(stored_doc(op, "tasks", view.task.arn)["overrides"])


@pytest.mark.parametrize(
    ("overrides", "stored"),
    [
        (
            {"containerOverrides": [{"name": "app", "command": ["echo", "hi"]}]},
            b'{"containerOverrides":[{"name":"app","command":["echo","hi"]},{"name":"side"}],'
            b'"inferenceAcceleratorOverrides":[]}',
        ),
        (
            {
                "containerOverrides": [{"name": "side", "environment": [{"name": "A"}]}],
                "cpu": "512",
                "memory": "1024",
                "taskRoleArn": "r",
            },
            b'{"containerOverrides":[{"name":"app"},{"name":"side","environment":[{"name":"A"}]}],'
            b'"cpu":"512","memory":"1024","taskRoleArn":"r","inferenceAcceleratorOverrides":[]}',
        ),
        (
            {"taskRoleArn": "r", "containerOverrides": [{"command": ["x"], "name": "app"}]},
            b'{"taskRoleArn":"r","containerOverrides":[{"command":["x"],"name":"app"},'
            b'{"name":"side"}],"inferenceAcceleratorOverrides":[]}',
        ),
        (
            {},
            b'{"containerOverrides":[{"name":"app"},{"name":"side"}],'
            b'"inferenceAcceleratorOverrides":[]}',
        ),
    ],
)
def test_a_task_stores_its_overrides_as_ecs_echoes_them(
    op: Op, overrides: dict[str, Any], stored: bytes
) -> None:
    task_role_in(op, f"arn:aws:iam::{op.account}:role/r")  # a role named by its name alone
    assert run_task_overrides(op, overrides) == stored


def test_a_service_stores_its_members_as_given_or_defaulted(op: Op) -> None:
    clusters.create_cluster(op, name="c1")
    web = {"name": "web", "image": "busybox", "memory": 64, "portMappings": [{"containerPort": 80}]}
    task_definitions.register(op, {"family": "web", "containerDefinitions": [web]})
    balancer = {**BALANCER, "targetGroupArn": load_balanced_group(op)}
    created = services.create_service(
        op,
        requests_services.create_service(
            {
                "serviceName": "s1",
                "cluster": "c1",
                "taskDefinition": "web",
                "desiredCount": 1,
                "deploymentConfiguration": {"minimumHealthyPercent": 50},
                "loadBalancers": [balancer],
            }
        ),
    ).service
    doc = stored_doc(op, "services", created.arn)
    assert orjson.dumps(doc["loadBalancers"]) == orjson.dumps([balancer])
    assert orjson.dumps(doc["deploymentConfiguration"]) == (
        b'{"deploymentCircuitBreaker":{"enable":false,"rollback":false},'
        b'"maximumPercent":200,"minimumHealthyPercent":50}'
    )
    services.update_service(
        op,
        requests_services.update_service(
            {
                "cluster": "c1",
                "service": "s1",
                "deploymentConfiguration": {"alarms": DEPLOYMENT["alarms"]},
            }
        ),
    )
    doc = stored_doc(op, "services", created.arn)
    assert orjson.dumps(doc["deploymentConfiguration"]) == (
        b'{"deploymentCircuitBreaker":{"enable":false,"rollback":false},'
        b'"maximumPercent":200,"minimumHealthyPercent":50,'
        b'"alarms":{"alarmNames":["high-cpu"],"rollback":false,"enable":true}}'
    )


def test_a_stored_service_reads_and_saves_back_unchanged(op: Op) -> None:
    """A document stored before these were values is read into them and written back as it
    was (the service controller saves a service only when its document changed)."""
    clusters.create_cluster(op, name="c1")
    web = {"name": "web", "image": "busybox", "memory": 64, "portMappings": [{"containerPort": 80}]}
    task_definitions.register(op, {"family": "web", "containerDefinitions": [web]})
    arn = services.create_service(
        op,
        requests_services.create_service(
            {"serviceName": "s1", "cluster": "c1", "taskDefinition": "web", "desiredCount": 1}
        ),
    ).service.arn
    doc = stored_doc(op, "services", arn)
    doc["deploymentConfiguration"] = DEPLOYMENT
    doc["loadBalancers"] = [
        BALANCER,
        {"loadBalancerName": "classic", "containerName": "web", "containerPort": 80},
        {**BALANCER, "advancedConfiguration": {"alternateTargetGroupArn": TARGET}},
    ]
    with op.store.transaction() as tx:
        tx.put("services", arn, doc)
    with op.store.transaction() as tx:
        service = records.load(tx, "services", Service, arn)
        assert service is not None
        records.save(tx, "services", service)
    again = stored_doc(op, "services", arn)
    assert orjson.dumps(again["deploymentConfiguration"]) == orjson.dumps(DEPLOYMENT)
    assert orjson.dumps(again["loadBalancers"]) == orjson.dumps(doc["loadBalancers"])
