"""A task's `secrets[].valueFrom` read from Parameter Store (portside/ssm/resolve.py), on a
store of the test's own: names, ARNs of the task's region or another, selectors, and ECS's
stopped reason when one is missing or its key is disabled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from portside.kms.api import ACTIONS as KMS
from portside.ops.context import Op, World
from portside.ssm.api import ACTIONS as SSM
from portside.ssm.resolve import STOPPED_REASON, SecretsUnavailable, resolve, resolve_all
from portside.testing.store import sqlite_store
from portside.testing.world import ACCOUNT, make_op, make_world

ARN = f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter"


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(sqlite_store(tmp_path))


def _put(op: Op, **params: Any) -> None:
    SSM["PutParameter"](op, params)


def test_names_arns_and_selectors(world: World) -> None:
    op = make_op(world)
    _put(op, Name="/app/db/password", Value="hunter2", Type="SecureString")
    _put(op, Name="/app/db/password", Value="hunter3", Overwrite=True)
    _put(op, Name="plain", Value="text", Type="String")
    _put(make_op(world, region="eu-west-1"), Name="/app/eu", Value="far", Type="SecureString")

    assert resolve(world, ACCOUNT, "us-east-1", "/app/db/password") == "hunter3"
    assert resolve(world, ACCOUNT, "us-east-1", "/app/db/password:1") == "hunter2"
    assert resolve(world, ACCOUNT, "us-east-1", f"{ARN}/app/db/password") == "hunter3"
    eu = f"arn:aws:ssm:eu-west-1:{ACCOUNT}:parameter/app/eu"
    assert resolve_all(world, ACCOUNT, "us-east-1", ["plain", eu, "plain"]) == {
        "plain": "text",
        eu: "far",
    }


def test_missing_parameters_stop_the_task_in_ecs_words(world: World) -> None:
    _put(make_op(world), Name="/app/there", Value="v", Type="String")
    with pytest.raises(SecretsUnavailable) as missing:
        resolve(world, ACCOUNT, "us-east-1", "/missing")
    assert str(missing.value) == (
        "ResourceInitializationError: unable to pull secrets or registry auth: execution "
        "resource retrieval failed: unable to retrieve secrets from ssm: service call has been "
        "retried 1 time(s): invalid ssm parameters: /missing"
    )
    values = ["/app/there", f"{ARN}/app/gone", "/app/there:4", "arn:aws:ssm:us-east-1:1:x"]
    with pytest.raises(SecretsUnavailable) as several:
        resolve_all(world, ACCOUNT, "us-east-1", values)
    assert several.value.message == (
        STOPPED_REASON + "invalid ssm parameters: /app/gone,/app/there:4,arn:aws:ssm:us-east-1:1:x"
    )
    other_account = "arn:aws:ssm:us-east-1:111122223333:parameter/app/there"
    with pytest.raises(SecretsUnavailable):
        resolve(world, ACCOUNT, "us-east-1", other_account)


def test_a_disabled_key_stops_the_task(world: World) -> None:
    op = make_op(world)
    key = KMS["CreateKey"](op, {})["KeyMetadata"]
    _put(op, Name="/app/key", Value="v", Type="SecureString", KeyId=key["KeyId"])
    KMS["DisableKey"](op, {"KeyId": key["KeyId"]})
    with pytest.raises(SecretsUnavailable) as disabled:
        resolve(world, ACCOUNT, "us-east-1", "/app/key")
    assert disabled.value.message.startswith(
        STOPPED_REASON + f"InvalidKeyId: {key['Arn']} is disabled. (Service: AWSKMS;"
    )
