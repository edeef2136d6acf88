"""Names, paths, labels, tiers and filters as Parameter Store judges them (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from portside.errors import AccessDeniedException, NamedError, ValidationException
from portside.ssm import filters, names, records, rules


def test_names_and_arns() -> None:
    plain = names.parse(" /a/b:prod ", "000000000000", "us-east-1")
    assert (plain.name, plain.selector, plain.label, plain.version) == (
        "/a/b",
        "prod",
        "prod",
        None,
    )
    assert plain.shown == "/a/b"
    by_arn = names.parse("arn:aws:ssm:eu-west-1:111122223333:parameter/a/b:3", "0", "us-east-1")
    assert (by_arn.name, by_arn.account, by_arn.region, by_arn.version) == (
        "/a/b",
        "111122223333",
        "eu-west-1",
        3,
    )
    assert by_arn.shown == "arn:aws:ssm:eu-west-1:111122223333:parameter/a/b"
    assert names.parse("arn:aws:ssm:us-east-1:111122223333:parameter/top", "1", "x").name == "top"
    assert names.ident("/top") == names.ident("top") == "top"
    assert names.arn("us-east-1", "1", "/a/b") == "arn:aws:ssm:us-east-1:1:parameter/a/b"
    for bad in ("a/b", "/a//b", "/a/", "a b", "ssm", "/SSM/x", "a:b:c", "a:", "x@y", ""):
        with pytest.raises(ValidationException):
            names.parse(bad, "1", "r")
    with pytest.raises(ValidationException):
        names.parse("arn:aws:ssm:us-east-1:1:parameter/a", "1", "r", arns=False)
    with pytest.raises(ValidationException):
        names.parse("a:1", "1", "r", selectors=False)


def test_writable_names() -> None:
    def check(name: str) -> None:
        names.check_writable(names.parse(name, "000000000000", "us-east-1"))

    for reserved in ("awsTestParameter", "/aws/x", "/AWS-thing"):
        with pytest.raises(AccessDeniedException):
            check(reserved)
    check("/" + "/".join("l" * 15))
    with pytest.raises(NamedError) as deep:
        check("/" + "/".join("l" * 16))
    assert deep.value.code == "HierarchyLevelLimitExceededException"
    with pytest.raises(ValidationException):
        check("/" + "x" * 1000)
    # What AWS takes but the store's 512-character keys cannot hold is refused up front.
    records.check_storable(names.parse("/" + "x" * 400, "000000000000", "us-east-1"))
    with pytest.raises(ValidationException, match="Portside keeps parameter names of up to"):
        records.check_storable(names.parse("/" + "x" * 900, "000000000000", "us-east-1"))


def test_paths() -> None:
    assert names.path_prefix("/") == ""
    assert names.path_prefix("/a/b") == names.path_prefix("/a/b/") == "a/b/"
    for bad in ("a", "//", "/a//b", "/ssm/x", "/a b"):
        with pytest.raises(ValidationException):
            names.path_prefix(bad)
    assert names.below("/a/b/c", "a/b/", recursive=False)
    assert not names.below("/a/b/c/d", "a/b/", recursive=False)
    assert names.below("/a/b/c/d", "a/b/", recursive=True)
    assert not names.below("/a/bc", "a/b/", recursive=True)
    assert names.below("top", "", recursive=False) and names.below("/top", "", recursive=False)
    assert not names.below("/a/b", "", recursive=False)


@pytest.mark.parametrize(
    ("label", "valid"),
    [
        ("prod", True),
        ("Prod-1.x_y", True),
        ("1prod", False),
        ("awsome", False),
        ("SSMx", False),
        ("a b", False),
        ("l" * 100, True),
        ("l" * 101, False),
    ],
)
def test_labels(label: str, valid: bool) -> None:
    assert names.valid_label(label) is valid


def test_tiers() -> None:
    small, big = "x", "x" * 4097
    assert rules.tier(None, None, small) == "Standard"
    assert rules.tier("Intelligent-Tiering", None, big) == "Advanced"
    assert rules.tier("Intelligent-Tiering", "Advanced", small) == "Advanced"
    assert rules.tier(None, "Advanced", small) == "Advanced"
    for requested, held, value in (("Standard", None, big), ("Standard", "Advanced", small)):
        with pytest.raises(ValidationException):
            rules.tier(requested, held, value)
    with pytest.raises(ValidationException):
        rules.tier("Advanced", None, "x" * 8193)


def test_merge_keeps_the_last_versions_settings() -> None:
    last = {
        "Type": "SecureString",
        "KeyId": "alias/mine",
        "Description": "d",
        "AllowedPattern": "v.*",
        "DataType": "text",
        "Tier": "Advanced",
    }
    kept = rules.merge({"Value": "v2"}, last)
    assert kept == rules.Settings("SecureString", "alias/mine", "d", "v.*", "text", "Advanced")
    changed = rules.merge({"Value": "w", "Type": "String", "AllowedPattern": ""}, last)
    assert (changed.type, changed.key_id, changed.allowed_pattern) == ("String", None, None)
    with pytest.raises(NamedError):
        rules.merge({"Value": "w"}, last)  # the kept pattern refuses it


def _doc(name: str, kind: str = "String", **extra: Any) -> dict[str, Any]:
    current = {"Type": kind, "Tier": "Standard", "DataType": "text", **extra}
    return {"Name": name, "Current": current, "Labels": {"prod": 1}, "Tags": []}


def test_filters_match() -> None:
    docs = [_doc("/a/x"), _doc("/a/b/y", "SecureString", KeyId="alias/k"), _doc("top")]

    def kept(given: list[dict[str, Any]], by_path: bool = False) -> list[str]:
        chosen = filters.checked(given, by_path=by_path)
        return [d["Name"] for d in docs if filters.matches(d, chosen)]

    assert kept([{"Key": "Path", "Values": ["/a"]}]) == ["/a/x"]
    assert kept([{"Key": "Path", "Option": "Recursive", "Values": ["/a"]}]) == ["/a/x", "/a/b/y"]
    assert kept([{"Key": "Path", "Values": ["/"]}]) == ["top"]
    assert kept([{"Key": "Name", "Values": ["/top"]}]) == ["top"]
    assert kept([{"Key": "KeyId", "Values": ["alias/k"]}]) == ["/a/b/y"]
    assert kept([{"Key": "Type", "Option": "BeginsWith", "Values": ["Secure"]}]) == ["/a/b/y"]
    assert kept([{"Key": "Label", "Values": ["prod"]}], by_path=True) == [d["Name"] for d in docs]
    with pytest.raises(NamedError) as label:
        kept([{"Key": "Name", "Option": "Contains", "Values": ["x"]}], by_path=True)
    assert label.value.code == "InvalidFilterKey"
    with pytest.raises(NamedError) as option:
        kept([{"Key": "Label", "Option": "BeginsWith", "Values": ["p"]}], by_path=True)
    assert option.value.code == "InvalidFilterOption"
