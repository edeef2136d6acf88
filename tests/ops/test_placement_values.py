"""Placement rules as values (model/placement.py): each names every member of ECS's shape,
reads any request document and gives it back unchanged, the edges parse them, and what a
service stores and DescribeServices shows is the document they were before they were values,
byte for byte. A task definition's own constraints stay in its spec and join the call's as
values, with ECS's refusals worded as before."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import botocore.session
import orjson
import pytest
from botocore.model import StructureShape
from botocore_strategies import params_for
from hypothesis import given
from hypothesis import strategies as st

from portside import testing
from portside.api.ecs import requests_services
from portside.api.ecs import services as service_replies
from portside.errors import InvalidParameterException
from portside.model.doc import GivenMembers, camel
from portside.model.placement import (
    PlacementConstraint,
    PlacementStrategy,
    constraints_of,
    strategies_of,
)
from portside.model.service import Service
from portside.model.task_definition import TaskDefinition
from portside.ops import clusters, placement, records, services, task_definitions
from portside.ops.context import Op
from portside.scheduler import strategies
from portside.schedules.target import run_task_params
from portside.wire import task_requests

ACCOUNT = "000000000000"
REGION = "us-east-1"
T0 = 1_700_000_000.0
ECS = botocore.session.get_session().get_service_model("ecs")

# Each value and the ECS shapes it stands for (a task definition's constraints are read as
# the call's are).
VALUES: list[tuple[type[GivenMembers], str]] = [
    (PlacementConstraint, "PlacementConstraint"),
    (PlacementConstraint, "TaskDefinitionPlacementConstraint"),
    (PlacementStrategy, "PlacementStrategy"),
]
IDS = [shape for _, shape in VALUES]

CONSTRAINTS = [
    {"expression": "attribute:ecs.instance-type =~ t2.*", "type": "memberOf"},
    {"type": "distinctInstance"},
]
STRATEGY = [
    {"field": "memory", "type": "binpack"},
    {"type": "spread", "field": "attribute:ecs.availability-zone"},
    {"type": "random"},
]


def shuffled(doc: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    items = list(doc.items())
    rng.shuffle(items)
    return dict(items)


@pytest.mark.parametrize(("cls", "shape_name"), VALUES, ids=IDS)
def test_a_value_names_every_member_of_its_shape(cls: type, shape_name: str) -> None:
    shape = ECS.shape_for(shape_name)
    assert isinstance(shape, StructureShape)
    names = {camel(f.name) for f in fields(cls) if f.metadata.get("stored", True)}
    assert names == set(shape.members)


@pytest.mark.parametrize(("cls", "shape_name"), VALUES, ids=IDS)
@given(data=st.data())
def test_any_request_document_comes_back_byte_for_byte(
    cls: type[GivenMembers], shape_name: str, data: st.DataObject
) -> None:
    drawn = data.draw(params_for(ECS.shape_for(shape_name), depth=2))
    doc = shuffled(drawn, data.draw(st.randoms()))
    value = cls.from_doc(doc)
    assert orjson.dumps(value.to_doc()) == orjson.dumps(doc)
    assert value == cls.from_doc(drawn)  # the order members came in is not part of the value


def test_values_read_as_ecs_writes_them() -> None:
    assert constraints_of(CONSTRAINTS) == (
        PlacementConstraint("memberOf", "attribute:ecs.instance-type =~ t2.*"),
        PlacementConstraint("distinctInstance"),
    )
    assert strategies_of(STRATEGY)[0] == PlacementStrategy("binpack", "memory")
    assert strategies_of(None) == () and constraints_of([]) == ()
    assert (PlacementStrategy("random"),) == strategies.RUN_TASK_DEFAULT


# -- what the edges parse -----------------------------------------------------------------------


def test_run_task_and_start_task_parse_placement_rules() -> None:
    request = {"taskDefinition": "web", "placementConstraints": CONSTRAINTS}
    parsed = task_requests.launch({**request, "placementStrategy": STRATEGY})
    assert parsed.placement_constraints == constraints_of(CONSTRAINTS)
    assert [s.to_doc() for s in parsed.placement_strategy] == STRATEGY
    started = task_requests.start_task({**request, "containerInstances": ["i"]})
    assert [c.to_doc() for c in started.launch.placement_constraints] == CONSTRAINTS
    bare = task_requests.launch({"taskDefinition": "web"})
    assert bare.placement_constraints == () and bare.placement_strategy == ()


def test_a_schedule_target_parses_placement_rules() -> None:
    target = {
        "Arn": "arn:aws:ecs:us-east-1:000000000000:cluster/c",
        "EcsParameters": {
            "TaskDefinitionArn": "web",
            "PlacementConstraints": [{"type": "distinctInstance"}],
            "PlacementStrategy": [{"field": "cpu", "type": "binpack"}],
        },
    }
    parsed = task_requests.launch(run_task_params(target, "nightly"))
    assert parsed.placement_constraints == (PlacementConstraint("distinctInstance"),)
    assert [s.to_doc() for s in parsed.placement_strategy] == [{"field": "cpu", "type": "binpack"}]


def test_service_requests_parse_placement_rules() -> None:
    rules = {"placementConstraints": CONSTRAINTS, "placementStrategy": STRATEGY}
    created = requests_services.create_service({"serviceName": "s", **rules})
    assert created.placement_constraints == constraints_of(CONSTRAINTS)
    assert created.placement_strategy == strategies_of(STRATEGY)
    assert requests_services.create_service({"serviceName": "s"}).placement_strategy == ()
    updated = requests_services.update_service({"service": "s", **rules})
    assert updated.placement_strategy == strategies_of(STRATEGY)
    untouched = requests_services.update_service({"service": "s"})
    assert untouched.placement_constraints is None and untouched.placement_strategy is None
    cleared = requests_services.update_service({"service": "s", "placementConstraints": []})
    assert cleared.placement_constraints == ()


# -- combined with a task definition's ----------------------------------------------------------


def definition(constraints: list[dict[str, Any]]) -> TaskDefinition:
    spec = {"family": "web", "containerDefinitions": [], "placementConstraints": constraints}
    return TaskDefinition(arn="arn", family="web", revision=1, spec=spec)


def test_a_definitions_constraints_join_the_calls_as_values() -> None:
    own = [{"expression": "attribute:stack == prod", "type": "memberOf"}]
    rules, strategy = placement.check_rules(
        constraints_of([{"type": "distinctInstance"}]), strategies_of(STRATEGY), definition(own)
    )
    assert rules == [
        PlacementConstraint("distinctInstance"),
        PlacementConstraint("memberOf", "attribute:stack == prod"),
    ]
    assert strategy == list(strategies_of(STRATEGY))


@pytest.mark.parametrize(
    ("call", "own", "message"),
    [
        ([], [{"type": "memberOf"}], "A memberOf constraint requires an expression."),
        (
            [{"type": "distinctInstance"}] * 6,
            [{"type": "distinctInstance"}] * 5,
            "You can specify a maximum of 10 placement constraints, including those in the task "
            "definition; 11 were given.",
        ),
        (
            [{"type": "sameInstance"}],
            [],
            "Invalid placement constraint type 'sameInstance': use memberOf or distinctInstance.",
        ),
        (
            [{"expression": "a == b"}],
            [],
            "Invalid placement constraint type 'None': use memberOf or distinctInstance.",
        ),
    ],
)
def test_refusals_keep_ecs_words(
    call: list[dict[str, Any]], own: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(InvalidParameterException) as refused:
        placement.check_rules(constraints_of(call), (), definition(own))
    assert refused.value.message == message


def test_a_strategy_refusal_keeps_ecs_words() -> None:
    with pytest.raises(InvalidParameterException) as refused:
        placement.check_rules(
            (), strategies_of([{"field": "x", "type": "binpack"}]), definition([])
        )
    assert refused.value.message == (
        "Invalid placement strategy field 'x' for binpack: use cpu or memory."
    )


# -- what is stored and shown -------------------------------------------------------------------


@pytest.fixture
def op(tmp_path: Path) -> Iterator[Op]:
    store = testing.sqlite_store(tmp_path)
    yield testing.make_op(testing.make_world(store, clock=testing.FakeClock(T0)), REGION, ACCOUNT)
    store.close()


def stored_doc(op: Op, arn: str) -> dict[str, Any]:
    with op.store.read() as tx:
        doc = tx.get("services", arn)
    assert doc is not None
    return dict(doc)


def web_service(op: Op, **given: Any) -> str:
    clusters.create_cluster(op, name="c1")
    web = {"name": "web", "image": "busybox", "memory": 64}
    task_definitions.register(op, {"family": "web", "containerDefinitions": [web]})
    request = {"serviceName": "s1", "cluster": "c1", "taskDefinition": "web", "desiredCount": 0}
    return services.create_service(
        op, requests_services.create_service({**request, **given})
    ).service.arn


def described(op: Op, arn: str) -> dict[str, Any]:
    (view,), _ = services.describe_services(op, "c1", [arn])
    return service_replies.shape(view)


def test_a_service_stores_and_shows_its_rules_as_given(op: Op) -> None:
    arn = web_service(op, placementConstraints=CONSTRAINTS, placementStrategy=STRATEGY)
    doc, reply = stored_doc(op, arn), described(op, arn)
    for key, sent in (("placementConstraints", CONSTRAINTS), ("placementStrategy", STRATEGY)):
        assert orjson.dumps(doc[key]) == orjson.dumps(sent)
        assert orjson.dumps(reply[key]) == orjson.dumps(sent)
    changed = [{"type": "spread", "field": "instanceId"}]
    services.update_service(
        op,
        requests_services.update_service(
            {"cluster": "c1", "service": "s1", "placementStrategy": changed}
        ),
    )
    assert orjson.dumps(stored_doc(op, arn)["placementStrategy"]) == orjson.dumps(changed)
    assert orjson.dumps(described(op, arn)["placementConstraints"]) == orjson.dumps(CONSTRAINTS)


def test_a_service_without_rules_shows_empty_lists(op: Op) -> None:
    arn = web_service(op)
    reply = described(op, arn)
    assert reply["placementConstraints"] == [] and reply["placementStrategy"] == []


def test_a_stored_service_reads_and_saves_back_unchanged(op: Op) -> None:
    """A document stored before these were values is read into them and written back as it
    was (the service controller saves a service only when its document changed)."""
    arn = web_service(op)
    doc = stored_doc(op, arn)
    doc["placementConstraints"] = CONSTRAINTS
    doc["placementStrategy"] = STRATEGY
    with op.store.transaction() as tx:
        tx.put("services", arn, doc)
    with op.store.transaction() as tx:
        service = records.load(tx, "services", Service, arn)
        assert service is not None
        assert service.placement_strategy[0] == PlacementStrategy("binpack", "memory")
        records.save(tx, "services", service)
    again = stored_doc(op, arn)
    assert orjson.dumps(again["placementConstraints"]) == orjson.dumps(CONSTRAINTS)
    assert orjson.dumps(again["placementStrategy"]) == orjson.dumps(STRATEGY)
