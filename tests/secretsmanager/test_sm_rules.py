"""The pure rules: staging labels, filters, secret ids, Go's number printing, password kinds."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portside.errors import NamedError
from portside.secretsmanager import filters, names, passwords, stages
from portside.secretsmanager.govalue import format_float


def _versions(**labels: list[str]) -> dict[str, dict[str, Any]]:
    return {vid: {"CreatedDate": 0.0, "Stages": list(held)} for vid, held in labels.items()}


def test_current_moves_previous_along() -> None:
    versions = _versions(v1=["AWSPREVIOUS"], v2=["AWSCURRENT", "blue"], v3=[])
    stages.attach(versions, "v3", ["AWSCURRENT"])
    assert {v: e["Stages"] for v, e in versions.items()} == {
        "v1": [],
        "v2": ["AWSPREVIOUS", "blue"],
        "v3": ["AWSCURRENT"],
    }
    assert stages.deprecated(versions) == ["v1"]


@given(
    st.lists(st.tuples(st.sampled_from(["AWSCURRENT", "AWSPENDING", "x", "y"]), st.integers(0, 3)))
)
def test_a_label_is_on_one_version_at_most(moves: list[tuple[str, int]]) -> None:
    versions = _versions(v0=["AWSCURRENT"], v1=[], v2=[], v3=[])
    for label, n in moves:
        stages.attach(versions, f"v{n}", [label])
        for held in ("AWSCURRENT", "AWSPENDING", "x", "y"):
            assert sum(held in e["Stages"] for e in versions.values()) <= 1
        assert stages.holder(versions, "AWSCURRENT") is not None


def test_moving_needs_the_holder_named() -> None:
    versions = _versions(v1=["AWSCURRENT"], v2=[])
    with pytest.raises(NamedError, match="RemoveFromVersionId can't be empty"):
        stages.move(versions, "AWSCURRENT", "v2", None)
    with pytest.raises(NamedError, match="Not a valid version: v9"):
        stages.move(versions, "AWSCURRENT", "v9", "v1")
    stages.move(versions, "AWSCURRENT", "v2", "v1")
    assert versions["v1"]["Stages"] == ["AWSPREVIOUS"]


def test_filters() -> None:
    doc = {
        "Name": "prod/db",
        "Description": "Main Database",
        "Tags": [{"Key": "Team", "Value": "data-eng"}],
    }

    def hits(key: str, *values: str) -> bool:
        return filters.matches(doc, [{"Key": key, "Values": list(values)}])

    assert hits("name", "prod") and not hits("name", "Prod") and not hits("name", "db")
    assert hits("description", "main d") and hits("tag-key", "Te") and hits("tag-value", "data")
    assert hits("all", "DATABASE team") and not hits("all", "nothing")
    assert hits("name", "!dev") and not hits("name", "!prod")
    assert hits("name", "dev", "prod") and not hits("primary-region", "us")


def test_secret_ids() -> None:
    base = names.base("us-east-1", "000000000000")
    assert names.parse_id("db", "us-east-1", "000000000000") == (None, "db")
    assert names.parse_id(base + "db-AbCdEf", "us-east-1", "000000000000") == (
        base + "db-AbCdEf",
        "db-AbCdEf",
    )
    assert names.parse_id(base + "db", "eu-west-1", "000000000000") == (None, None)


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (0.0, "0"),
        (7.0, "7"),
        (999999.0, "999999"),
        (1e6, "1e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-12.25, "-12.25"),
        (1.5e300, "1.5e+300"),
        (123456.789, "123456.789"),
    ],
)
def test_go_float_printing(number: float, text: str) -> None:
    assert format_float(number) == text


def test_password_kinds() -> None:
    kinds = passwords.kinds({"ExcludeCharacters": "0123456789", "IncludeSpace": True})
    assert len(kinds) == 4  # digits all excluded: the kind is dropped, space added
    assert " " in kinds and all(c not in "".join(kinds) for c in "0123456789")
    assert len(passwords.PUNCTUATION) == 32
