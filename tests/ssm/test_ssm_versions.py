"""Labels, history and the 100-version limit, tags and deletion, through boto3."""

from __future__ import annotations

from typing import Any

from ssm_faults import fault


def test_labels_move_and_select(ssm: Any, name: str) -> None:
    for value in ("v1", "v2", "v3"):
        ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
    labelled = ssm.label_parameter_version(
        Name=name, ParameterVersion=1, Labels=["prod", "blue", "9lives", "awsy", "ssm-x", "a b"]
    )
    assert labelled["ParameterVersion"] == 1
    assert labelled["InvalidLabels"] == ["9lives", "awsy", "ssm-x", "a b"]
    assert ssm.get_parameter(Name=f"{name}:prod")["Parameter"]["Value"] == "v1"
    # Without a version the newest gets it; a label moves.
    assert ssm.label_parameter_version(Name=name, Labels=["prod"])["ParameterVersion"] == 3
    assert ssm.get_parameter(Name=f"{name}:prod")["Parameter"]["Value"] == "v3"
    history = ssm.get_parameter_history(Name=name)["Parameters"]
    assert [(h["Version"], h["Value"], h.get("Labels")) for h in history] == [
        (1, "v1", ["blue"]),
        (2, "v2", None),
        (3, "v3", ["prod"]),
    ]
    by_label = ssm.get_parameters_by_path(
        Path="/", ParameterFilters=[{"Key": "Label", "Values": ["blue"]}]
    )["Parameters"]
    assert [(p["Name"], p["Value"]) for p in by_label if p["Name"] == name] == [(name, "v1")]

    removed = ssm.unlabel_parameter_version(Name=name, ParameterVersion=3, Labels=["prod", "blue"])
    assert (removed["RemovedLabels"], removed["InvalidLabels"]) == (["prod"], ["blue"])
    assert fault(ssm.get_parameter, Name=f"{name}:prod")[0] == "ParameterNotFound"

    code, _ = fault(ssm.label_parameter_version, Name=name, ParameterVersion=8, Labels=["x"])
    assert code == "ParameterVersionNotFound"
    missing = fault(ssm.label_parameter_version, Name=f"{name}-no", Labels=["x"])
    assert missing[0] == "ParameterNotFound"
    nine = [f"l{i}" for i in range(9)]
    ssm.label_parameter_version(Name=name, ParameterVersion=2, Labels=nine)
    ssm.label_parameter_version(Name=name, ParameterVersion=2, Labels=["tenth"])
    code, message = fault(
        ssm.label_parameter_version, Name=name, ParameterVersion=2, Labels=["eleventh"]
    )
    assert code == "ParameterVersionLabelLimitExceeded"
    assert message.startswith("A parameter version can have maximum 10 labels.")


def test_history_pages_and_the_hundred_version_limit(ssm: Any, name: str) -> None:
    for n in range(1, 101):
        ssm.put_parameter(Name=name, Value=f"v{n}", Type="String", Overwrite=True)
    first = ssm.get_parameter_history(Name=name, MaxResults=50)
    rest = ssm.get_parameter_history(Name=name, MaxResults=50, NextToken=first["NextToken"])
    assert [h["Version"] for h in first["Parameters"] + rest["Parameters"]] == list(range(1, 101))
    assert "NextToken" not in rest

    # The 101st version deletes the oldest, unless a label holds it.
    ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["pinned"])
    code, message = fault(ssm.put_parameter, Name=name, Value="v101", Overwrite=True)
    assert code == "ParameterMaxVersionLimitExceeded"
    assert message == (
        f"You attempted to create a new version of {name} by calling the PutParameter API "
        "with the overwrite flag. Version 1, the oldest version, can't be deleted because it "
        "has a label associated with it. Move the label to another version of the parameter, "
        "and try again."
    )
    ssm.label_parameter_version(Name=name, ParameterVersion=50, Labels=["pinned"])
    assert ssm.put_parameter(Name=name, Value="v101", Overwrite=True)["Version"] == 101
    versions = [h["Version"] for h in ssm.get_parameter_history(Name=name)["Parameters"]]
    assert versions == list(range(2, 52))
    assert fault(ssm.get_parameter, Name=f"{name}:1")[0] == "ParameterVersionNotFound"
    assert ssm.get_parameter(Name=f"{name}:2")["Parameter"]["Value"] == "v2"


def test_tags(ssm: Any, name: str) -> None:
    ssm.put_parameter(
        Name=f"/{name}/t", Value="v", Type="String", Tags=[{"Key": "team", "Value": "web"}]
    )
    target = {"ResourceType": "Parameter", "ResourceId": f"/{name}/t"}
    ssm.add_tags_to_resource(**target, Tags=[{"Key": "env", "Value": "dev"}])
    ssm.add_tags_to_resource(**target, Tags=[{"Key": "team", "Value": "api"}])
    assert ssm.list_tags_for_resource(**target)["TagList"] == [
        {"Key": "team", "Value": "api"},
        {"Key": "env", "Value": "dev"},
    ]
    ssm.remove_tags_from_resource(**target, TagKeys=["team"])
    assert ssm.list_tags_for_resource(**target)["TagList"] == [{"Key": "env", "Value": "dev"}]
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]
    assert fault(ssm.add_tags_to_resource, **target, Tags=many)[0] == "TooManyTagsError"
    gone = {"ResourceType": "Parameter", "ResourceId": f"/{name}/none"}
    assert fault(ssm.list_tags_for_resource, **gone)[0] == "InvalidResourceId"
    other = {"ResourceType": "Document", "ResourceId": name}
    assert fault(ssm.list_tags_for_resource, **other)[0] == "InvalidResourceId"


def test_delete(ssm: Any, name: str) -> None:
    for leaf in ("a", "b"):
        ssm.put_parameter(Name=f"/{name}/{leaf}", Value="v", Type="String")
        ssm.put_parameter(Name=f"/{name}/{leaf}", Value="w", Type="String", Overwrite=True)
    ssm.delete_parameter(Name=f"/{name}/a")
    assert fault(ssm.delete_parameter, Name=f"/{name}/a") == ("ParameterNotFound", "")
    assert fault(ssm.get_parameter_history, Name=f"/{name}/a")[0] == ("ParameterNotFound")
    answer = ssm.delete_parameters(Names=[f"/{name}/b", f"/{name}/a", "bad name"])
    assert answer["DeletedParameters"] == [f"/{name}/b"]
    assert answer["InvalidParameters"] == [f"/{name}/a", "bad name"]
    assert ssm.get_parameters_by_path(Path=f"/{name}", Recursive=True)["Parameters"] == []
    # A new parameter of the same name starts again at version 1.
    assert ssm.put_parameter(Name=f"/{name}/a", Value="v", Type="String")["Version"] == 1
    code, message = fault(ssm.delete_parameter, Name="/aws/service/x")
    assert (code, message) == (
        "AccessDeniedException",
        "No access to reserved parameter name: /aws/service/x.",
    )
