from __future__ import annotations

import datetime
from functools import cache
from typing import Any

import botocore.session
import orjson
import pytest
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape
from botocore.serialize import create_serializer
from botocore.validate import ParamValidator
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from portside.api.validation import InputValidator, java_pattern, parse_body
from portside.errors import (
    InvalidParameterException,
    PortsideError,
    SerializationException,
    UnknownOperationException,
)


@cache
def model(service: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(service)


@cache
def validator(service: str) -> InputValidator:
    return InputValidator(model(service))


def fault(service: str, operation: str, body: object) -> PortsideError:
    with pytest.raises(PortsideError) as caught:
        validator(service).validate(operation, body)
    return caught.value


def serialization(operation: str, body: object, service: str = "ecs") -> str:
    error = fault(service, operation, body)
    assert isinstance(error, SerializationException), error.code
    return error.message


def invalid(operation: str, body: object, service: str = "ecs") -> str:
    error = fault(service, operation, body)
    assert isinstance(error, InvalidParameterException), error.code
    return error.message


# A body that is not a JSON object


@pytest.mark.parametrize("raw", [b"{", b"", b"{'a': 1}", b'{"maxResults": 1,}'])
def test_unparseable_body_is_a_serialization_fault_without_message(raw: bytes) -> None:
    with pytest.raises(SerializationException) as caught:
        parse_body(raw)
    assert caught.value.message == ""


@pytest.mark.parametrize("raw", [b"null", b'"x"', b"1", b"true"])
def test_scalar_body_is_a_serialization_fault_without_message(raw: bytes) -> None:
    assert serialization("ListClusters", parse_body(raw)) == ""


def test_list_body_names_the_request_class_on_ecs() -> None:
    assert serialization("RegisterTaskDefinition", parse_body(b"[]")) == (
        "Unrecognized collection type class "
        "com.amazonaws.madison.frontend.RegisterTaskDefinitionRequest"
    )


def test_list_body_on_logs_is_a_list_where_not_expected() -> None:
    message = serialization("DescribeLogGroups", [], service="logs")
    assert message == "Start of list found where not expected"


# A member of the wrong JSON type


@pytest.mark.parametrize(
    ("operation", "body", "message"),
    [
        ("ListClusters", {"maxResults": "10"}, "STRING_VALUE cannot be converted to Integer"),
        ("ListClusters", {"maxResults": True}, "TRUE_VALUE cannot be converted to Integer"),
        ("ListClusters", {"maxResults": 1.5}, "NUMBER_VALUE cannot be converted to Integer"),
        ("ListClusters", {"maxResults": [1]}, "Start of list found where not expected"),
        (
            "ListClusters",
            {"nextToken": {"a": 1}},
            "Start of structure or map found where not expected.",
        ),
        ("CreateCluster", {"clusterName": 5}, "NUMBER_VALUE cannot be converted to String"),
        ("CreateCluster", {"clusterName": False}, "FALSE_VALUE cannot be converted to String"),
        ("CreateCluster", {"tags": "env=dev"}, "Expected list or null"),
        (
            "CreateCluster",
            {"tags": {"env": "dev"}},
            "Start of structure or map found where not expected.",
        ),
        ("CreateCluster", {"configuration": "x"}, "Expected null"),
        (
            "CreateCluster",
            {"configuration": []},
            "Unrecognized collection type class "
            "com.amazonaws.madison.frontend.ClusterConfiguration",
        ),
        (
            "RunTask",
            {"taskDefinition": "web", "enableExecuteCommand": "true"},
            "STRING_VALUE cannot be converted to Boolean",
        ),
        (
            "RunTask",
            {"taskDefinition": "web", "count": "2"},
            "STRING_VALUE cannot be converted to Integer",
        ),
        (
            "RegisterTaskDefinition",
            {"family": "web", "containerDefinitions": [{"name": "app", "cpu": "256"}]},
            "STRING_VALUE cannot be converted to Integer",
        ),
        (
            "RegisterTaskDefinition",
            {"family": "web", "containerDefinitions": [{"dockerLabels": "a=b"}]},
            "Expected map or null",
        ),
        (
            "RegisterTaskDefinition",
            {"family": "web", "containerDefinitions": [{"dockerLabels": {"a": 1}}]},
            "NUMBER_VALUE cannot be converted to String",
        ),
        (
            "TagResource",
            {"resourceArn": "a", "tags": [{"key": 1}]},
            "NUMBER_VALUE cannot be converted to String",
        ),
        (
            "SubmitTaskStateChange",
            {"pullStartedAt": "2024-01-01T00:00:00Z"},
            "STRING_VALUE cannot be converted to Date",
        ),
        (
            "SubmitTaskStateChange",
            {"pullStartedAt": True},
            "TRUE_VALUE cannot be converted to Date",
        ),
    ],
)
def test_wrong_json_type_is_a_serialization_fault(
    operation: str, body: dict[str, Any], message: str
) -> None:
    assert serialization(operation, body) == message


def test_logs_words_type_faults_the_coral_way() -> None:
    message = serialization("DescribeLogGroups", {"limit": "5"}, service="logs")
    assert message == "STRING_VALUE can not be converted to an Integer"
    message = serialization("DescribeLogGroups", {"logGroupNamePrefix": 5}, service="logs")
    assert message == "NUMBER_VALUE can not be converted to a String"


def test_a_type_fault_wins_over_constraint_faults_anywhere_in_the_body() -> None:
    body = {"launchType": "fargate", "tags": [{"key": "k" * 200}], "count": "1"}
    assert serialization("RunTask", body) == "STRING_VALUE cannot be converted to Integer"


def test_epoch_numbers_are_timestamps() -> None:
    body = {"pullStartedAt": 1_700_000_000, "pullStoppedAt": 1_700_000_000.25}
    assert validator("ecs").validate("SubmitTaskStateChange", body) is body


# A missing required member


def test_missing_required_member_is_blank_on_ecs() -> None:
    assert (
        invalid("RegisterTaskDefinition", {"containerDefinitions": []})
        == "Family can not be blank."
    )
    assert invalid("RunTask", {}) == "TaskDefinition can not be blank."
    assert invalid("TagResource", {"resourceArn": "arn"}) == "Tags can not be blank."


def test_null_counts_as_missing() -> None:
    assert invalid("RunTask", {"taskDefinition": None}) == "TaskDefinition can not be blank."


def test_nested_required_member_names_the_member() -> None:
    container = {"name": "app", "secrets": [{"name": "PASSWORD"}]}
    body = {"family": "web", "containerDefinitions": [container]}
    assert invalid("RegisterTaskDefinition", body) == "ValueFrom can not be blank."


def test_null_list_element_is_blank() -> None:
    body = {"family": "web", "containerDefinitions": [None]}
    assert invalid("RegisterTaskDefinition", body) == "ContainerDefinitions can not be blank."


def test_missing_required_member_on_logs_is_coral_not_null() -> None:
    body = {"logGroupName": "g", "logStreamName": "s", "logEvents": [{"message": "m"}]}
    assert invalid("PutLogEvents", body, service="logs") == (
        "1 validation error detected: Value null at 'logEvents.1.member.timestamp' "
        "failed to satisfy constraint: Member must not be null"
    )


# An enum value outside the enum


def test_enum_fault_lists_the_values_on_ecs() -> None:
    launch_types = ",".join(model("ecs").shape_for("LaunchType").enum)
    message = invalid("RunTask", {"taskDefinition": "web", "launchType": "fargate"})
    assert message == f"launchType should be one of [{launch_types}]"


def test_enum_fault_in_a_list_on_ecs() -> None:
    body = {"family": "web", "containerDefinitions": [], "requiresCompatibilities": ["LAMBDA"]}
    compatibilities = ",".join(model("ecs").shape_for("Compatibility").enum)
    message = invalid("RegisterTaskDefinition", body)
    assert message == f"requiresCompatibilities should be one of [{compatibilities}]"


def test_enum_fault_on_logs_is_coral() -> None:
    classes = ", ".join(model("logs").shape_for("LogGroupClass").enum)
    message = invalid("CreateLogGroup", {"logGroupName": "g", "logGroupClass": "x"}, "logs")
    assert message == (
        "1 validation error detected: Value 'x' at 'logGroupClass' failed to satisfy "
        f"constraint: Member must satisfy enum value set: [{classes}]"
    )


# Lengths, ranges and patterns


def test_string_too_long() -> None:
    body = {"resourceArn": "arn", "tags": [{"key": "env"}, {"key": "k" * 129, "value": "v"}]}
    assert invalid("TagResource", body) == (
        f"1 validation error detected: Value '{'k' * 129}' at 'tags.2.member.key' failed to "
        "satisfy constraint: Member must have length less than or equal to 128"
    )


def test_string_too_short() -> None:
    message = invalid("TagResource", {"resourceArn": "arn", "tags": [{"key": ""}]})
    assert message.endswith(
        "at 'tags.1.member.key' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )


def test_list_too_long() -> None:
    tags = [{"key": f"k{i}", "value": "v"} for i in range(51)]
    message = invalid("TagResource", {"resourceArn": "arn", "tags": tags})
    assert message.startswith("1 validation error detected: Value '[{key=k0, value=v}, ")
    assert message.endswith(
        "at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50"
    )


def test_pattern_fault() -> None:
    message = invalid("TagResource", {"resourceArn": "arn", "tags": [{"key": "a!b"}]})
    pattern = model("ecs").shape_for("TagKey").metadata["pattern"]
    assert message == (
        "1 validation error detected: Value 'a!b' at 'tags.1.member.key' failed to satisfy "
        f"constraint: Member must satisfy regular expression pattern: {pattern}"
    )


def test_number_out_of_range() -> None:
    strategy = [{"capacityProvider": "FARGATE", "weight": 1001}]
    message = invalid("CreateCluster", {"defaultCapacityProviderStrategy": strategy})
    assert message == (
        "1 validation error detected: Value '1001' at "
        "'defaultCapacityProviderStrategy.1.member.weight' failed to satisfy constraint: "
        "Member must have value less than or equal to 1000"
    )


def test_ecs_max_results_bounds_are_not_in_the_model() -> None:
    # ListClusters accepts 1..100 on real ECS; that rule lives in ops/, not in the model.
    body = {"maxResults": 0}
    assert validator("ecs").validate("ListClusters", body) is body


def test_coral_lists_every_constraint_fault() -> None:
    # The exact answer CloudWatch Logs gave (fluent-plugin-cloudwatch-logs#223).
    assert invalid("DescribeLogGroups", {"logGroupNamePrefix": ""}, "logs") == (
        "2 validation errors detected: Value '' at 'logGroupNamePrefix' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+; "
        "Value '' at 'logGroupNamePrefix' failed to satisfy constraint: Member must have "
        "length greater than or equal to 1"
    )


def test_bad_map_value_is_reported_against_the_whole_map() -> None:
    message = invalid("CreateLogGroup", {"logGroupName": "g", "tags": {"team": "a|b"}}, "logs")
    assert message.startswith(
        "1 validation error detected: Value '{team=a|b}' at 'tags' failed to satisfy "
        "constraint: Map value must satisfy constraint: [Member must have length less than "
        "or equal to 256, Member must satisfy regular expression pattern: "
    )


# Unknown members, nulls, the happy path


def test_unknown_and_null_members_are_ignored_and_the_body_returned() -> None:
    body = {"clusterName": "web", "bogus": [1, {"x": None}], "tags": None, "settings": []}
    assert validator("ecs").validate("CreateCluster", body) is body


def test_doubles_accept_integers() -> None:
    body = {
        "scale": {"value": 50, "unit": "PERCENT"},
        "service": "s",
        "cluster": "c",
        "taskSet": "t",
    }
    assert validator("ecs").validate("UpdateTaskSet", body) is body


def test_unknown_operation() -> None:
    with pytest.raises(UnknownOperationException):
        validator("ecs").validate("LaunchRocket", {})


def test_every_model_pattern_translates() -> None:
    for service in ("ecs", "logs"):
        for name in model(service).shape_names:
            pattern = model(service).shape_for(name).metadata.get("pattern")
            if pattern is not None:
                assert java_pattern(pattern) is not None, pattern


def test_java_pattern_reads_unicode_classes_and_literal_dashes() -> None:
    tag = java_pattern(r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$")
    assert tag is not None and tag.fullmatch("Café 42") and not tag.fullmatch("a!b")
    dash = java_pattern(r"[\w-_]*")
    assert dash is not None and dash.fullmatch("a-_b")


# Anything botocore's client accepts, serialised as botocore sends it, passes.


def strategy(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    """Parameters within the model's constraints (botocore itself checks only `min`)."""
    meta, kind = shape.metadata, shape.type_name
    low: int = meta.get("min", 0)
    high: int | None = meta.get("max")
    if isinstance(shape, StructureShape):
        if shape.is_document_type:
            return st.just({"a": [1, "b"]})
        members = {name: strategy(sub, depth + 1) for name, sub in shape.members.items()}
        if shape.is_tagged_union:
            return st.one_of([st.fixed_dictionaries({n: s}) for n, s in members.items()])
        required = {n: s for n, s in members.items() if n in shape.required_members}
        optional = {n: s for n, s in members.items() if n not in required} if depth < 4 else {}
        return st.fixed_dictionaries(required, optional=optional)
    if isinstance(shape, ListShape):
        items = strategy(shape.member, depth + 1)
        return st.lists(items, min_size=low, max_size=max(low, min(high or 2, 2)))
    if isinstance(shape, MapShape):
        keys, values = strategy(shape.key, depth + 1), strategy(shape.value, depth + 1)
        return st.dictionaries(keys, values, min_size=low, max_size=max(low, min(high or 2, 2)))
    if kind == "string":
        if shape.enum:
            return st.sampled_from(shape.enum)
        longest = max(low, min(high or 12, 12))
        if "pattern" in meta:
            matcher = java_pattern(meta["pattern"])
            assert matcher is not None
            text = st.from_regex(matcher, fullmatch=True)
            return text.filter(lambda s: low <= len(s) <= (high or len(s)))
        return st.text(min_size=low, max_size=longest)
    if kind in ("integer", "long"):
        return st.integers(meta.get("min", -(2**31)), high if high is not None else 2**31)
    if kind in ("double", "float"):
        return st.floats(meta.get("min"), high, allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return st.datetimes(datetime.datetime(1970, 1, 2), datetime.datetime(2100, 1, 1))
    if kind == "blob":
        return st.binary(max_size=16)
    raise AssertionError(kind)


@cache
def operation(service: str, name: str) -> tuple[OperationModel, st.SearchStrategy[Any]]:
    op = model(service).operation_model(name)
    assert op.input_shape is not None
    return op, strategy(op.input_shape)


@pytest.mark.parametrize("service", ["ecs", "logs"])
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_whatever_botocore_accepts_passes(service: str, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(model(service).operation_names), label="operation")
    op, params = operation(service, name)
    drawn = data.draw(params, label="params")
    assume(not ParamValidator().validate(drawn, op.input_shape).has_errors())
    wire = create_serializer("json", include_validation=False).serialize_to_request(drawn, op)
    body = parse_body(wire["body"])
    assert validator(service).validate(name, body) == orjson.loads(wire["body"])
