"""Account settings through boto3. Settings are per region, so each test takes a region of its
own: what one test sets never leaks into another's clusters."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError
from harness import ServerProcess

ACCOUNT = "000000000000"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
SETTING_NAMES = botocore.session.get_session().get_service_model("ecs").shape_for("SettingName")


def fails(code: str, call: Callable[..., Any], **kwargs: Any) -> str:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    assert err.value.response["Error"]["Code"] == code, err.value.response["Error"]
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    message = err.value.response["Error"]["Message"]
    assert message
    return str(message)


@pytest.fixture
def ecs(server: ServerProcess) -> Any:
    """A client in a region no other test uses."""
    return server.client("ecs", region="ps-" + uuid.uuid4().hex[:8])


def listed(ecs: Any, **kwargs: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in ecs.get_paginator("list_account_settings").paginate(**kwargs):
        found += page["settings"]
    return found


def effective(ecs: Any, name: str, **kwargs: Any) -> dict[str, Any]:
    settings = ecs.list_account_settings(name=name, effectiveSettings=True, **kwargs)["settings"]
    assert len(settings) == 1
    return dict(settings[0])


# PutAccountSetting, PutAccountSettingDefault, ListAccountSettings


def test_a_fresh_account_lists_no_settings(ecs: Any) -> None:
    assert ecs.list_account_settings()["settings"] == []


def test_put_account_setting_applies_to_the_caller(ecs: Any) -> None:
    setting = ecs.put_account_setting(name="containerInsights", value="enabled")["setting"]
    assert setting == {
        "name": "containerInsights",
        "value": "enabled",
        "principalArn": ROOT,
        "type": "user",
    }
    assert ecs.list_account_settings()["settings"] == [setting]
    assert ecs.list_account_settings(name="containerInsights")["settings"] == [setting]
    assert ecs.list_account_settings(name="awsvpcTrunking")["settings"] == []


def test_put_account_setting_for_another_principal(ecs: Any) -> None:
    setting = ecs.put_account_setting(name="awsvpcTrunking", value="enabled", principalArn=ALICE)[
        "setting"
    ]
    assert setting["principalArn"] == ALICE
    assert ecs.list_account_settings(principalArn=ALICE)["settings"] == [setting]
    # The caller's own settings are untouched.
    assert ecs.list_account_settings()["settings"] == []
    assert effective(ecs, "awsvpcTrunking")["value"] == "disabled"
    assert effective(ecs, "awsvpcTrunking", principalArn=ALICE)["value"] == "enabled"


def test_put_account_setting_default_sets_the_root_default(ecs: Any) -> None:
    setting = ecs.put_account_setting_default(name="awsvpcTrunking", value="enabled")["setting"]
    assert setting["principalArn"] == ROOT
    assert setting["value"] == "enabled"
    # A principal with no setting of its own inherits the account default...
    assert effective(ecs, "awsvpcTrunking", principalArn=ALICE) == {
        "name": "awsvpcTrunking",
        "value": "enabled",
        "principalArn": ROOT,
        "type": "user",
    }
    # ...and its own setting wins over it.
    ecs.put_account_setting(name="awsvpcTrunking", value="disabled", principalArn=ALICE)
    assert effective(ecs, "awsvpcTrunking", principalArn=ALICE)["value"] == "disabled"
    assert effective(ecs, "awsvpcTrunking")["value"] == "enabled"


def test_fargate_task_retirement_wait_period_takes_days(ecs: Any) -> None:
    setting = ecs.put_account_setting_default(name="fargateTaskRetirementWaitPeriod", value="14")
    assert setting["setting"]["value"] == "14"
    assert effective(ecs, "fargateTaskRetirementWaitPeriod")["value"] == "14"


def test_effective_settings_show_the_aws_defaults(ecs: Any) -> None:
    ecs.put_account_setting(name="containerInsights", value="enhanced")
    settings = {s["name"]: s for s in listed(ecs, effectiveSettings=True)}
    assert set(settings) == set(SETTING_NAMES.enum)
    assert settings["containerInsights"]["value"] == "enhanced"
    assert settings["containerInsights"]["type"] == "user"
    for name, setting in settings.items():
        if name != "containerInsights":
            assert setting["type"] == "aws_managed", setting
    assert settings["taskLongArnFormat"]["value"] == "enabled"
    assert settings["awsvpcTrunking"]["value"] == "disabled"
    assert settings["tagResourceAuthorization"]["value"] == "on"
    assert settings["fargateTaskRetirementWaitPeriod"]["value"] == "7"


def test_list_account_settings_pages(ecs: Any) -> None:
    first = ecs.list_account_settings(effectiveSettings=True, maxResults=4)
    assert len(first["settings"]) == 4
    names = [s["name"] for s in first["settings"]]
    token = first["nextToken"]
    while token:
        page = ecs.list_account_settings(effectiveSettings=True, maxResults=4, nextToken=token)
        names += [s["name"] for s in page["settings"]]
        token = page.get("nextToken")
    assert sorted(names) == sorted(SETTING_NAMES.enum)
    assert len(set(names)) == len(names)
    # The default page is 10 long.
    assert len(ecs.list_account_settings(effectiveSettings=True)["settings"]) == 10


def test_list_account_settings_filters_by_value(ecs: Any) -> None:
    ecs.put_account_setting(name="containerInsights", value="enabled")
    on = ecs.list_account_settings(name="containerInsights", value="enabled")["settings"]
    assert [s["value"] for s in on] == ["enabled"]
    assert ecs.list_account_settings(name="containerInsights", value="disabled")["settings"] == []


def test_list_account_settings_needs_a_name_to_filter_by_value(ecs: Any) -> None:
    message = fails("InvalidParameterException", ecs.list_account_settings, value="enabled")
    assert "value" in message and "name" in message


@pytest.mark.parametrize("bad", [0, 11])
def test_list_account_settings_max_results_is_one_to_ten(ecs: Any, bad: int) -> None:
    message = fails("InvalidParameterException", ecs.list_account_settings, maxResults=bad)
    assert "maxResults" in message and "10" in message


# DeleteAccountSetting


def test_delete_account_setting_falls_back_to_the_default(ecs: Any) -> None:
    ecs.put_account_setting(name="awsvpcTrunking", value="enabled", principalArn=ALICE)
    deleted = ecs.delete_account_setting(name="awsvpcTrunking", principalArn=ALICE)["setting"]
    assert deleted == {
        "name": "awsvpcTrunking",
        "value": "enabled",
        "principalArn": ALICE,
        "type": "user",
    }
    assert ecs.list_account_settings(principalArn=ALICE)["settings"] == []
    assert effective(ecs, "awsvpcTrunking", principalArn=ALICE)["type"] == "aws_managed"


def test_delete_account_setting_that_is_not_set(ecs: Any) -> None:
    message = fails("InvalidParameterException", ecs.delete_account_setting, name="awsvpcTrunking")
    assert "awsvpcTrunking" in message


# Invalid names and values


@pytest.mark.parametrize(
    ("call", "kwargs"),
    [
        ("put_account_setting", {"value": "enabled"}),
        ("put_account_setting_default", {"value": "enabled"}),
        ("delete_account_setting", {}),
        ("list_account_settings", {}),
    ],
)
def test_an_unknown_setting_name_is_refused(ecs: Any, call: str, kwargs: dict[str, Any]) -> None:
    message = fails("InvalidParameterException", getattr(ecs, call), name="turboMode", **kwargs)
    assert message == f"name should be one of [{','.join(SETTING_NAMES.enum)}]"
    assert ecs.list_account_settings()["settings"] == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("containerInsights", "on"),
        ("awsvpcTrunking", "enhanced"),
        ("tagResourceAuthorization", "enabled"),
        ("fargateTaskRetirementWaitPeriod", "3"),
        ("taskLongArnFormat", ""),
    ],
)
def test_an_invalid_value_is_refused(ecs: Any, name: str, value: str) -> None:
    for call in (ecs.put_account_setting, ecs.put_account_setting_default):
        message = fails("InvalidParameterException", call, name=name, value=value)
        assert name in message and "not valid" in message
    assert ecs.list_account_settings()["settings"] == []


def test_guard_duty_activate_is_read_only(ecs: Any) -> None:
    message = fails(
        "InvalidParameterException",
        ecs.put_account_setting_default,
        name="guardDutyActivate",
        value="on",
    )
    assert "guardDutyActivate" in message
    assert effective(ecs, "guardDutyActivate")["type"] == "aws_managed"


# The containerInsights default and new clusters


def test_the_container_insights_default_applies_to_new_clusters(ecs: Any) -> None:
    before = ecs.create_cluster(clusterName="before")["cluster"]
    assert before["settings"] == [{"name": "containerInsights", "value": "disabled"}]
    ecs.put_account_setting_default(name="containerInsights", value="enabled")
    after = ecs.create_cluster(clusterName="after")["cluster"]
    assert after["settings"] == [{"name": "containerInsights", "value": "enabled"}]
    # An explicit setting overrides the account default.
    explicit = ecs.create_cluster(
        clusterName="explicit", settings=[{"name": "containerInsights", "value": "disabled"}]
    )["cluster"]
    assert explicit["settings"] == [{"name": "containerInsights", "value": "disabled"}]
    # Existing clusters keep what they were created with.
    described = ecs.describe_clusters(clusters=["before"], include=["SETTINGS"])["clusters"][0]
    assert described["settings"] == [{"name": "containerInsights", "value": "disabled"}]


def test_the_container_insights_default_stays_in_its_region(
    server: ServerProcess, ecs: Any
) -> None:
    ecs.put_account_setting_default(name="containerInsights", value="enhanced")
    other = server.client("ecs", region="ps-" + uuid.uuid4().hex[:8])
    assert effective(other, "containerInsights")["value"] == "disabled"
    cluster = other.create_cluster(clusterName="c")["cluster"]
    assert cluster["settings"] == [{"name": "containerInsights", "value": "disabled"}]
