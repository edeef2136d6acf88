"""EC2's generic Filter semantics (pure): values OR, filters AND, wildcards, tag filters,
unknown names refused."""

from __future__ import annotations

from typing import Any

import pytest

from portside.ec2.filters import FilterSet, each, one, pattern
from portside.errors import NamedError

FIELDS = {"vpc-id": one("VpcId"), "cidr": each("Blocks", "Cidr"), "default": one("IsDefault")}
A = {
    "VpcId": "vpc-a",
    "Blocks": [{"Cidr": "10.0.0.0/16"}],
    "IsDefault": True,
    "Tags": [{"Key": "Name", "Value": "web"}, {"Key": "env", "Value": "prod"}],
}
B = {
    "VpcId": "vpc-b",
    "Blocks": [{"Cidr": "10.1.0.0/16"}, {"Cidr": "10.9.0.0/16"}],
    "IsDefault": False,
    "Tags": [{"Key": "Name", "Value": "db"}],
}


def ids(filters: list[dict[str, Any]]) -> list[str]:
    return [d["VpcId"] for d in FilterSet(filters, FIELDS).apply([A, B])]


def test_values_or_filters_and() -> None:
    assert ids([]) == ["vpc-a", "vpc-b"]
    assert ids([{"Name": "vpc-id", "Values": ["vpc-a", "vpc-b"]}]) == ["vpc-a", "vpc-b"]
    assert ids([{"Name": "vpc-id", "Values": ["vpc-b"]}]) == ["vpc-b"]
    both = [
        {"Name": "vpc-id", "Values": ["vpc-a", "vpc-b"]},
        {"Name": "cidr", "Values": ["10.9.0.0/16"]},
    ]
    assert ids(both) == ["vpc-b"]
    assert (
        ids([{"Name": "vpc-id", "Values": ["vpc-a"]}, {"Name": "cidr", "Values": ["10.9.0.0/16"]}])
        == []
    )


def test_lists_booleans_and_wildcards() -> None:
    assert ids([{"Name": "cidr", "Values": ["10.9.*"]}]) == ["vpc-b"]
    assert ids([{"Name": "default", "Values": ["true"]}]) == ["vpc-a"]
    assert ids([{"Name": "vpc-id", "Values": ["vpc-?"]}]) == ["vpc-a", "vpc-b"]
    assert ids([{"Name": "vpc-id", "Values": ["vpc"]}]) == []  # whole value, not a prefix
    assert pattern(r"a\*b").fullmatch("a*b") and not pattern(r"a\*b").fullmatch("axb")
    assert pattern("10.0.0.0/16").fullmatch("10.0.0.0/16") and not pattern("10.0").fullmatch("1000")


def test_tag_filters() -> None:
    assert ids([{"Name": "tag:Name", "Values": ["web", "db"]}]) == ["vpc-a", "vpc-b"]
    assert ids([{"Name": "tag:env", "Values": ["*"]}]) == ["vpc-a"]
    assert ids([{"Name": "tag-key", "Values": ["env"]}]) == ["vpc-a"]
    assert ids([{"Name": "tag-value", "Values": ["d?"]}]) == ["vpc-b"]


def test_unknown_filter_is_refused() -> None:
    with pytest.raises(NamedError) as refused:
        FilterSet([{"Name": "colour", "Values": ["red"]}], FIELDS)
    assert refused.value.code == "InvalidParameterValue"
    assert "colour" in refused.value.message
