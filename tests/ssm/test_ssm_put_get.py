"""PutParameter and GetParameter through boto3: types, overwrite and versions, selectors and
ARNs, tiers and their sizes, AllowedPattern, DataType, and the name rules in AWS's words."""

from __future__ import annotations

from typing import Any

from ssm_faults import fault

from portside.ssm import names, rules


def test_create_overwrite_and_read_back(ssm: Any, name: str) -> None:
    path = f"/{name}/db/host"
    created = ssm.put_parameter(Name=path, Value="db1", Type="String", Description="the host")
    assert (created["Version"], created["Tier"]) == (1, "Standard")
    again = ssm.put_parameter(Name=path, Value="db2", Overwrite=True)  # Type kept
    assert again["Version"] == 2
    got = ssm.get_parameter(Name=path)["Parameter"]
    assert {k: got[k] for k in ("Name", "Type", "Value", "Version", "DataType")} == {
        "Name": path,
        "Type": "String",
        "Value": "db2",
        "Version": 2,
        "DataType": "text",
    }
    assert got["ARN"] == f"arn:aws:ssm:us-east-1:000000000000:parameter/{name}/db/host"
    (meta,) = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [path]}])[
        "Parameters"
    ]
    assert meta["Description"] == "the host"  # an overwrite without one keeps it
    assert meta["LastModifiedUser"] == "arn:aws:iam::000000000000:root"

    code, message = fault(ssm.put_parameter, Name=path, Value="db3", Type="String")
    assert code == "ParameterAlreadyExists"
    assert "set the overwrite option in the request to true" in message


def test_selectors_arns_and_missing(ssm: Any, name: str) -> None:
    ssm.put_parameter(Name=name, Value="one", Type="StringList")
    ssm.put_parameter(Name=name, Value="one,two", Overwrite=True)
    first = ssm.get_parameter(Name=f"{name}:1")["Parameter"]
    assert (first["Value"], first["Version"], first["Selector"]) == ("one", 1, ":1")
    # `/NAME` and `NAME` are one parameter; its ARN names it too, and the answer keeps it.
    assert ssm.get_parameter(Name=f"/{name}")["Parameter"]["Value"] == "one,two"
    arn = f"arn:aws:ssm:us-east-1:000000000000:parameter/{name}"
    by_arn = ssm.get_parameter(Name=f"{arn}:2")["Parameter"]
    assert (by_arn["Name"], by_arn["ARN"], by_arn["Value"]) == (arn, arn, "one,two")

    code, message = fault(ssm.get_parameter, Name=f"{name}:7")
    assert code == "ParameterVersionNotFound"
    assert message == (
        f"Systems Manager could not find version 7 of {name}. Verify the version and try again."
    )
    # AWS answers a missing parameter without a message.
    assert fault(ssm.get_parameter, Name=f"{name}-gone") == ("ParameterNotFound", "")
    assert fault(ssm.get_parameter, Name=f"{name}:nolabel")[0] == "ParameterNotFound"
    other = f"arn:aws:ssm:eu-west-1:000000000000:parameter/{name}"
    assert fault(ssm.get_parameter, Name=other)[0] == "ParameterNotFound"


def test_name_rules(ssm: Any, name: str) -> None:
    for bad in (f"{name} x", f"{name}/nested", "ssm-thing", f"/{name}/a@b", f"/{name}//x"):
        assert fault(ssm.put_parameter, Name=bad, Value="v", Type="String") == (
            "ValidationException",
            names.NAME_RULES,
        ), bad
    code, message = fault(ssm.put_parameter, Name=f"/aws/{name}", Value="v", Type="String")
    assert (code, message) == (
        "AccessDeniedException",
        f"No access to reserved parameter name: /aws/{name}.",
    )
    deepest = "/" + "/".join([name] + [f"l{i}" for i in range(14)])  # 15 levels
    assert ssm.put_parameter(Name=deepest, Value="v", Type="String")["Version"] == 1
    assert fault(ssm.put_parameter, Name=deepest + "/x", Value="v", Type="String") == (
        "HierarchyLevelLimitExceededException",
        names.DEPTH_RULE,
    )
    arn = f"arn:aws:ssm:us-east-1:000000000000:parameter/{name}"
    code, _ = fault(ssm.put_parameter, Name=arn, Value="v", Type="String")
    assert code == "ValidationException"  # PutParameter takes no ARN
    # Leading and trailing spaces are dropped.
    ssm.put_parameter(Name=f"  /{name}/spaced ", Value="v", Type="String")
    assert ssm.get_parameter(Name=f"/{name}/spaced")["Parameter"]["Value"] == "v"


def test_request_rules(ssm: Any, name: str) -> None:
    code, message = fault(ssm.put_parameter, Name=name, Value="v")
    assert (code, message) == ("ValidationException", rules.TYPE_REQUIRED)
    code, message = fault(ssm.put_parameter, Name=name, Value="", Type="String")
    assert (code, message) == (
        "ValidationException",
        "1 validation error detected: Value at 'value' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1",
    )
    tags = [{"Key": "team", "Value": "web"}]
    code, message = fault(
        ssm.put_parameter, Name=name, Value="v", Type="String", Overwrite=True, Tags=tags
    )
    assert (code, message) == ("ValidationException", rules.TAGS_AND_OVERWRITE)
    code, message = fault(ssm.put_parameter, Name=name, Value="v", Type="Number")
    assert code == "ValidationException" and "Member must satisfy enum value set" in message
    assert fault(ssm.get_parameter, Name=name)[0] == "ParameterNotFound"  # none made


def test_tiers_and_sizes(ssm: Any, name: str) -> None:
    fits, big, huge = "s" * 4096, "b" * 4097, "h" * 8193
    assert ssm.put_parameter(Name=f"{name}-std", Value=fits, Type="String")["Tier"] == "Standard"
    code, message = fault(ssm.put_parameter, Name=f"{name}-big", Value=big, Type="String")
    assert (code, message) == ("ValidationException", rules.STANDARD_TOO_BIG)
    smart = ssm.put_parameter(
        Name=f"{name}-it", Value="x", Type="String", Tier="Intelligent-Tiering"
    )
    assert smart["Tier"] == "Standard"
    grown = ssm.put_parameter(
        Name=f"{name}-it", Value=big, Overwrite=True, Tier="Intelligent-Tiering"
    )
    assert grown["Tier"] == "Advanced"
    code, message = fault(
        ssm.put_parameter, Name=f"{name}-it", Value="x", Overwrite=True, Tier="Standard"
    )
    assert (code, message) == ("ValidationException", rules.DOWNGRADE)
    kept = ssm.put_parameter(Name=f"{name}-it", Value="small again", Overwrite=True)
    assert kept["Tier"] == "Advanced"  # no tier given: the parameter's
    code, message = fault(
        ssm.put_parameter, Name=f"{name}-adv", Value=huge, Type="String", Tier="Advanced"
    )
    assert code == "ValidationException" and message.endswith("less than or equal to 8192")
    adv = ssm.put_parameter(Name=f"{name}-adv", Value=huge[:8192], Type="String", Tier="Advanced")
    assert adv["Tier"] == "Advanced"
    assert ssm.get_parameter(Name=f"{name}-adv")["Parameter"]["Value"] == huge[:8192]


def test_allowed_pattern_and_data_type(ssm: Any, name: str) -> None:
    ssm.put_parameter(Name=name, Value="42", Type="String", AllowedPattern=r"^\d+$")
    code, message = fault(ssm.put_parameter, Name=name, Value="forty", Overwrite=True)
    assert (code, message) == (
        "ParameterPatternMismatchException",
        r"Parameter value, cannot be validated against allowedPattern: ^\d+$",
    )
    assert ssm.put_parameter(Name=name, Value="43", Overwrite=True)["Version"] == 2
    code, _ = fault(
        ssm.put_parameter, Name=f"{name}-re", Value="v", Type="String", AllowedPattern="(["
    )
    assert code == "InvalidAllowedPatternException"

    ami = ssm.put_parameter(
        Name=f"{name}-ami", Value="ami-0abcdef1234567890", Type="String", DataType="aws:ec2:image"
    )
    assert ami["Version"] == 1
    got = ssm.get_parameter(Name=f"{name}-ami")["Parameter"]
    assert (got["DataType"], got["Value"]) == ("aws:ec2:image", "ami-0abcdef1234567890")
    code, message = fault(
        ssm.put_parameter, Name=f"{name}-dt", Value="v", Type="String", DataType="Text"
    )
    assert (code, message) == (
        "ValidationException",
        "The following data type is not supported: Text (Data type names are all lowercase.)",
    )
    code, _ = fault(
        ssm.put_parameter,
        Name=f"{name}-dt",
        Value="ami-0abcdef1234567890",
        Type="StringList",
        DataType="aws:ec2:image",
    )
    assert code == "UnsupportedParameterType"
