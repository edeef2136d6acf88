"""GetParameters, GetParametersByPath and DescribeParameters through boto3: what a path holds
(one level or all), filters, paging, and the faults of each in AWS's words."""

from __future__ import annotations

from typing import Any

import pytest
from ssm_faults import fault

from portside.ssm import listing, names


@pytest.fixture
def tree(ssm: Any, name: str) -> str:
    """/NAME/app/{a, b (StringList), s (SecureString), deep/{c, d}} and /NAME/other."""
    root = f"/{name}"
    for leaf, kind in (("a", "String"), ("b", "StringList"), ("s", "SecureString")):
        ssm.put_parameter(Name=f"{root}/app/{leaf}", Value=f"v-{leaf}", Type=kind)
    for leaf in ("c", "d"):
        ssm.put_parameter(Name=f"{root}/app/deep/{leaf}", Value=f"v-{leaf}", Type="String")
    ssm.put_parameter(
        Name=f"{root}/other",
        Value="v-o",
        Type="String",
        Tier="Advanced",
        Tags=[{"Key": "team", "Value": "web"}],
    )
    return root


def _names(answer: dict[str, Any]) -> list[str]:
    return [p["Name"] for p in answer["Parameters"]]


def test_get_parameters_lists_the_missing(ssm: Any, tree: str) -> None:
    answer = ssm.get_parameters(
        Names=[f"{tree}/other", f"{tree}/app/a", f"{tree}/nope", f"{tree}/app/a:9", "bad name"],
        WithDecryption=True,
    )
    assert _names(answer) == [f"{tree}/app/a", f"{tree}/other"]  # in name order
    assert answer["InvalidParameters"] == [f"{tree}/nope", f"{tree}/app/a:9", "bad name"]
    secret = ssm.get_parameters(Names=[f"{tree}/app/s"], WithDecryption=True)["Parameters"]
    assert secret[0]["Value"] == "v-s"


def test_by_path_one_level_recursive_and_paged(ssm: Any, tree: str) -> None:
    one = ssm.get_parameters_by_path(Path=f"{tree}/app")
    assert _names(one) == [f"{tree}/app/{leaf}" for leaf in ("a", "b", "s")]
    assert one["Parameters"][2]["Value"] != "v-s"  # ciphertext without WithDecryption
    assert ssm.get_parameters_by_path(Path=f"{tree}/app/", WithDecryption=True)["Parameters"][2][
        "Value"
    ] == ("v-s")
    pages, token = [], None
    while True:
        extra = {"NextToken": token} if token else {}
        page = ssm.get_parameters_by_path(Path=tree, Recursive=True, MaxResults=2, **extra)
        assert len(page["Parameters"]) <= 2
        pages.append(_names(page))
        token = page.get("NextToken")
        if not token:
            break
    assert [n for page in pages for n in page] == [
        f"{tree}/app/a",
        f"{tree}/app/b",
        f"{tree}/app/deep/c",
        f"{tree}/app/deep/d",
        f"{tree}/app/s",
        f"{tree}/other",
    ]
    typed = ssm.get_parameters_by_path(
        Path=tree,
        Recursive=True,
        ParameterFilters=[{"Key": "Type", "Values": ["StringList", "SecureString"]}],
    )
    assert _names(typed) == [f"{tree}/app/b", f"{tree}/app/s"]
    assert ssm.get_parameters_by_path(Path=f"{tree}/none")["Parameters"] == []


def test_by_path_faults(ssm: Any, tree: str) -> None:
    assert fault(ssm.get_parameters_by_path, Path=tree[1:]) == (
        "ValidationException",
        names.PATH_RULES,
    )
    code, message = fault(
        ssm.get_parameters_by_path,
        Path=tree,
        ParameterFilters=[{"Key": "Name", "Values": ["x"]}],
    )
    assert (code, message) == (
        "InvalidFilterKey",
        "The following filter key is not valid: Name. "
        "Valid filter keys include: [Type, KeyId, Label].",
    )
    code, _ = fault(ssm.get_parameters_by_path, Path=tree, NextToken="bm90LW91cnM=")
    assert code == "InvalidNextToken"


def test_describe_filters(ssm: Any, tree: str) -> None:
    def described(**params: Any) -> list[str]:
        return _names(ssm.describe_parameters(MaxResults=50, **params))

    recursive = {"Key": "Path", "Option": "Recursive", "Values": [tree]}
    assert len(described(ParameterFilters=[recursive])) == 6
    assert described(ParameterFilters=[{"Key": "Path", "Values": [f"{tree}/app/deep"]}]) == [
        f"{tree}/app/deep/c",
        f"{tree}/app/deep/d",
    ]
    assert described(ParameterFilters=[recursive, {"Key": "Tier", "Values": ["Advanced"]}]) == [
        f"{tree}/other"
    ]
    assert described(ParameterFilters=[recursive, {"Key": "tag:team"}]) == [f"{tree}/other"]
    assert described(
        ParameterFilters=[{"Key": "Name", "Option": "BeginsWith", "Values": [f"{tree}/app/d"]}]
    ) == [f"{tree}/app/deep/c", f"{tree}/app/deep/d"]
    assert described(
        ParameterFilters=[recursive, {"Key": "Name", "Option": "Contains", "Values": ["deep/d"]}]
    ) == [f"{tree}/app/deep/d"]
    (secret,) = ssm.describe_parameters(
        ParameterFilters=[recursive, {"Key": "KeyId", "Values": ["alias/aws/ssm"]}]
    )["Parameters"]
    assert (secret["Name"], secret["KeyId"], secret["Type"]) == (
        f"{tree}/app/s",
        "alias/aws/ssm",
        "SecureString",
    )
    assert described(Filters=[{"Key": "Name", "Values": [f"{tree}/app/deep"]}]) == [
        f"{tree}/app/deep/c",
        f"{tree}/app/deep/d",
    ]
    first = ssm.describe_parameters(ParameterFilters=[recursive], MaxResults=4)
    rest = ssm.describe_parameters(
        ParameterFilters=[recursive], MaxResults=4, NextToken=first["NextToken"]
    )
    assert len(first["Parameters"]) == 4 and len(rest["Parameters"]) == 2
    assert "NextToken" not in rest


def test_describe_faults(ssm: Any, tree: str) -> None:
    both = {
        "Filters": [{"Key": "Name", "Values": ["x"]}],
        "ParameterFilters": [{"Key": "Name", "Values": ["x"]}],
    }
    assert fault(ssm.describe_parameters, **both) == ("ValidationException", listing.BOTH_FILTERS)
    label = [{"Key": "Label", "Values": ["prod"]}]
    assert fault(ssm.describe_parameters, ParameterFilters=label)[0] == "InvalidFilterKey"
    option = [{"Key": "Path", "Option": "Deep", "Values": [tree]}]
    assert fault(ssm.describe_parameters, ParameterFilters=option) == (
        "InvalidFilterOption",
        "The following filter option is not valid: Deep. "
        "Valid options include: [Recursive, OneLevel].",
    )
    missing = [{"Key": "Type"}]
    assert fault(ssm.describe_parameters, ParameterFilters=missing) == (
        "InvalidFilterValue",
        "The following filter values are missing : null for filter key Type.",
    )
    twice = [{"Key": "Type", "Values": ["String"]}, {"Key": "Type", "Values": ["String"]}]
    assert fault(ssm.describe_parameters, ParameterFilters=twice)[0] == "InvalidFilterKey"
    bad_type = [{"Key": "Type", "Values": ["Number"]}]
    assert fault(ssm.describe_parameters, ParameterFilters=bad_type)[0] == "InvalidFilterValue"
