"""Event patterns against the examples of EventBridge's user guide ("Amazon EventBridge event
patterns", "Content filtering"), and the validation errors EventBridge gives."""

from __future__ import annotations

from typing import Any

import pytest

from portside.events.errors import InvalidEventPatternException
from portside.events.patterns import compile_pattern, matches

# The EC2 example event the user guide's pattern pages match against.
EVENT: dict[str, Any] = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "111122223333",
    "time": "2017-12-22T18:43:48Z",
    "region": "us-west-1",
    "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
    "detail": {
        "instance-id": "i-1234567890abcdef0",
        "state": "terminated",
        "c-count": 5,
        "d-count": 3,
        "x-limit": 301.8,
        "source-ip": "10.0.0.33",
        "location": "eu-west",
        "filename": "dir/subdir/file.png",
        "flag": True,
        "nothing": None,
        "tags": ["blue", "prod"],
        "volumes": [{"id": "v-1", "size": 8}, {"id": "v-2", "size": 100}],
    },
}


def m(pattern: dict[str, Any], event: dict[str, Any] = EVENT) -> bool:
    return matches(pattern, event)


def test_exact_values_and_or_within_a_field() -> None:
    assert m({"source": ["aws.ec2"]})
    assert m({"source": ["aws.s3", "aws.ec2"]})
    assert not m({"source": ["aws.s3"]})
    assert m({"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"]})
    assert not m({"source": ["aws.ec2"], "detail-type": ["Other"]})


def test_exact_matching_is_case_and_type_sensitive() -> None:
    assert not m({"source": ["AWS.EC2"]})
    assert m({"detail": {"c-count": [5]}})
    assert m({"detail": {"c-count": [5.0]}})
    assert not m({"detail": {"c-count": ["5"]}})
    assert m({"detail": {"flag": [True]}})
    assert not m({"detail": {"flag": [1]}})
    assert not m({"detail": {"c-count": [True]}})
    assert m({"detail": {"nothing": [None]}})
    assert not m({"detail": {"state": [None]}})


def test_nested_fields_and_missing_ones() -> None:
    assert m({"detail": {"state": ["terminated"]}})
    assert not m({"detail": {"state": ["running"]}})
    assert not m({"detail": {"absent": ["x"]}})
    assert not m({"detail": {"state": {"deeper": ["x"]}}})
    assert not m({"source": {"nested": ["x"]}})


def test_event_arrays_match_when_any_member_does() -> None:
    assert m({"resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"]})
    assert m({"detail": {"tags": ["prod"]}})
    assert not m({"detail": {"tags": ["dev"]}})
    assert m({"detail": {"tags": [{"prefix": "bl"}]}})


def test_arrays_of_objects_match_within_one_member() -> None:
    assert m({"detail": {"volumes": {"id": ["v-2"], "size": [100]}}})
    assert not m({"detail": {"volumes": {"id": ["v-1"], "size": [100]}}})
    assert m({"detail": {"volumes": {"size": [{"numeric": [">", 50]}]}}})


def test_prefix_and_prefix_ignoring_case() -> None:
    assert m({"time": [{"prefix": "2017-12-22"}]})
    assert not m({"time": [{"prefix": "2018"}]})
    assert m({"detail": {"state": [{"prefix": {"equals-ignore-case": "TERM"}}]}})
    assert not m({"detail": {"c-count": [{"prefix": "5"}]}})


def test_suffix_and_suffix_ignoring_case() -> None:
    assert m({"detail": {"filename": [{"suffix": ".png"}]}})
    assert not m({"detail": {"filename": [{"suffix": ".jpg"}]}})
    assert m({"detail": {"filename": [{"suffix": {"equals-ignore-case": ".PNG"}}]}})


def test_equals_ignore_case() -> None:
    assert m({"detail-type": [{"equals-ignore-case": "ec2 instance state-change notification"}]})
    assert not m({"detail-type": [{"equals-ignore-case": "ec2 instance"}]})


def test_wildcard() -> None:
    assert m({"detail": {"filename": [{"wildcard": "dir/*.png"}]}})
    assert m({"detail": {"filename": [{"wildcard": "dir/*/file.*"}]}})
    assert not m({"detail": {"filename": [{"wildcard": "*.jpg"}]}})
    assert not m({"detail": {"filename": [{"wildcard": "dir/"}]}})
    star = {"detail": {"name": "a*b"}}
    assert m({"detail": {"name": [{"wildcard": "a\\*b"}]}}, star)
    assert not m({"detail": {"name": [{"wildcard": "a\\*b"}]}}, {"detail": {"name": "axb"}})


def test_anything_but_values() -> None:
    assert m({"detail": {"state": [{"anything-but": "initializing"}]}})
    assert not m({"detail": {"state": [{"anything-but": "terminated"}]}})
    assert not m({"detail": {"state": [{"anything-but": ["stopped", "terminated"]}]}})
    assert m({"detail": {"c-count": [{"anything-but": [1, 2, 3]}]}})
    assert not m({"detail": {"c-count": [{"anything-but": 5}]}})
    # A missing field is not "anything but".
    assert not m({"detail": {"absent": [{"anything-but": "x"}]}})


def test_anything_but_prefix_suffix_ignore_case_and_wildcard() -> None:
    assert not m({"detail": {"state": [{"anything-but": {"prefix": "term"}}]}})
    assert m({"detail": {"state": [{"anything-but": {"prefix": "init"}}]}})
    assert not m({"detail": {"filename": [{"anything-but": {"suffix": ".png"}}]}})
    assert not m({"detail": {"state": [{"anything-but": {"equals-ignore-case": "TERMINATED"}}]}})
    assert m({"detail": {"state": [{"anything-but": {"equals-ignore-case": ["A", "B"]}}]}})
    assert not m({"detail": {"filename": [{"anything-but": {"wildcard": "dir/*"}}]}})


def test_numeric_ranges() -> None:
    assert m({"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}]}})
    assert not m({"detail": {"c-count": [{"numeric": [">", 0, "<", 5]}]}})
    assert m({"detail": {"d-count": [{"numeric": ["<", 10]}]}})
    assert m({"detail": {"x-limit": [{"numeric": ["=", 3.018e2]}]}})
    assert m({"detail": {"x-limit": [{"numeric": [">=", 301.8]}]}})
    assert not m({"detail": {"state": [{"numeric": [">", 0]}]}})
    assert not m({"detail": {"flag": [{"numeric": [">", 0]}]}})


def test_exists() -> None:
    assert m({"detail": {"state": [{"exists": True}]}})
    assert not m({"detail": {"state": [{"exists": False}]}})
    assert m({"detail": {"absent": [{"exists": False}]}})
    assert not m({"detail": {"absent": [{"exists": True}]}})
    # exists works on leaves only: an object is not one.
    assert not m({"detail": [{"exists": True}]})
    assert m({"detail": {"nothing": [{"exists": True}]}})
    assert m({"detail": {"empty": [{"exists": False}]}}, {"detail": {"empty": []}})


def test_cidr() -> None:
    assert m({"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}})
    assert not m({"detail": {"source-ip": [{"cidr": "10.0.1.0/24"}]}})
    assert not m({"detail": {"state": [{"cidr": "10.0.0.0/8"}]}})


def test_or_across_fields() -> None:
    pattern: dict[str, Any] = {
        "source": ["aws.ec2"],
        "$or": [
            {"detail": {"c-count": [{"numeric": [">", 10]}]}},
            {"detail": {"state": ["terminated"]}},
        ],
    }
    assert m(pattern)
    pattern["$or"][1] = {"detail": {"state": ["running"]}}
    assert not m(pattern)


def test_mixed_filters_in_one_field_are_or() -> None:
    assert m({"detail": {"state": ["running", {"prefix": "term"}]}})
    assert m({"detail": {"absent": ["x", {"exists": False}]}})


def test_ecs_task_state_change_pattern() -> None:
    event: dict[str, Any] = {
        "source": "aws.ecs",
        "detail-type": "ECS Task State Change",
        "detail": {
            "clusterArn": "arn:aws:ecs:us-east-1:000000000000:cluster/web",
            "lastStatus": "STOPPED",
            "stoppedReason": "Essential container in task exited",
            "containers": [{"name": "app", "exitCode": 1}, {"name": "sidecar", "exitCode": 0}],
        },
    }
    pattern = {
        "source": ["aws.ecs"],
        "detail-type": ["ECS Task State Change"],
        "detail": {
            "clusterArn": [{"suffix": "/web"}],
            "lastStatus": ["STOPPED"],
            "containers": {"exitCode": [{"anything-but": 0}]},
        },
    }
    assert m(pattern, event)
    event["detail"]["containers"][0]["exitCode"] = 0
    assert not m(pattern, event)


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("not json", "Filter is not valid JSON"),
        ("[1]", "Filter is not an object"),
        ('{"source": "aws.ec2"}', '"source" must be an object or an array'),
        ('{"source": []}', "Empty arrays are not allowed"),
        ('{"source": [[1]]}', "Match value must be String, number, true, false, or null"),
        ('{"a": [{"prefixx": "x"}]}', "Unrecognized match type prefixx"),
        ('{"a": [{"prefix": "x", "suffix": "y"}]}', "Only one key allowed in match expression"),
        ('{"a": [{"prefix": 1}]}', "prefix match pattern must be a string"),
        ('{"a": [{"suffix": ["x"]}]}', "suffix match pattern must be a string"),
        ('{"a": [{"equals-ignore-case": 1}]}', "equals-ignore-case match pattern must be a string"),
        ('{"a": [{"exists": "yes"}]}', "exists match pattern must be either true or false."),
        ('{"a": [{"numeric": 5}]}', "Value of numeric must be an array."),
        ('{"a": [{"numeric": []}]}', "Invalid member in numeric match: ]"),
        ('{"a": [{"numeric": ["!=", 5]}]}', "Unrecognized numeric range operator: !="),
        ('{"a": [{"numeric": [">", "x"]}]}', "Value of > must be numeric"),
        ('{"a": [{"numeric": ["=", "x"]}]}', "Value of equals must be numeric"),
        ('{"a": [{"numeric": ["<", 5, ">", 0]}]}', "Too many elements in numeric expression"),
        ('{"a": [{"numeric": [">", 5, "=", 9]}]}', "Bad numeric range operator: ="),
        ('{"a": [{"numeric": [">", 5, "<", 1]}]}', "Bottom must be less than top"),
        (
            '{"a": [{"numeric": [">", 0, "<", 5, "x"]}]}',
            "Too many terms in numeric range expression",
        ),
        (
            '{"a": [{"anything-but": {"numeric": [">", 1]}}]}',
            "Unsupported anything-but pattern: numeric",
        ),
        ('{"a": [{"anything-but": {"prefix": ""}}]}', "Null prefix/suffix not allowed"),
        ('{"a": [{"wildcard": "a**b"}]}', "Consecutive wildcard characters at pos 2"),
        ('{"a": [{"cidr": "10.0.0.0"}]}', "Malformed CIDR, one '/' required"),
        ('{"a": [{"cidr": "10.0.0.0/x"}]}', "Malformed CIDR, mask bits must be an integer"),
        ('{"a": [{"cidr": "300.0.0.0/8"}]}', "Nonstandard IP address: 300.0.0.0"),
        ('{"$or": [{"a": ["x"]}]}', "Or relationship must have at least two elements"),
    ],
)
def test_invalid_patterns_say_why(pattern: str, reason: str) -> None:
    with pytest.raises(InvalidEventPatternException) as caught:
        compile_pattern(pattern)
    assert caught.value.message == "Event pattern is not valid. Reason: " + reason
    assert caught.value.code == "InvalidEventPatternException"


def test_too_many_wildcards_is_too_complex() -> None:
    with pytest.raises(InvalidEventPatternException, match="Rule is too complex"):
        compile_pattern({"a": [{"wildcard": "*a*b*c*d*e*f"}]})
