"""resolve.py: a container definition's `valueFrom` turned into the text ECS injects, or the
task's stoppedReason in ECS's words; on a store and a world of its own (no server)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from portside.ops.context import Op, World
from portside.secretsmanager import secrets, values
from portside.secretsmanager.resolve import PREFIX, SecretRetrievalError, resolve
from portside.testing import ACCOUNT, REGION, make_op, make_world, sqlite_store

SECRET = (
    '{"user": "app", "port": 5432, "big": 1234567, "ratio": 0.5, "on": true, "none": null, '
    '"tags": ["a", "b"], "nested": {"b": 1, "a": "x"}}'
)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(sqlite_store(tmp_path))


@pytest.fixture
def op(world: World) -> Op:
    return make_op(world)


def _create(op: Op, name: str, **p: Any) -> dict[str, Any]:
    return secrets.create(op, {"Name": name, **p})


def _fails(world: World, value_from: str) -> str:
    with pytest.raises(SecretRetrievalError) as failed:
        resolve(world, ACCOUNT, REGION, value_from)
    message = str(failed.value)
    assert message.startswith(PREFIX)
    return message[len(PREFIX) :]


def test_whole_secret_by_arn_partial_arn_and_name(world: World, op: Op) -> None:
    arn = _create(op, "db", SecretString=SECRET)["ARN"]
    for value_from in (arn, arn[:-7], "db"):
        assert resolve(world, ACCOUNT, REGION, value_from) == SECRET


def test_json_keys_as_go_prints_them(world: World, op: Op) -> None:
    arn = _create(op, "db", SecretString=SECRET)["ARN"]
    expected = {
        "user": "app",
        "port": "5432",
        "big": "1.234567e+06",
        "ratio": "0.5",
        "on": "true",
        "none": "<nil>",
        "tags": "[a b]",
        "nested": "map[a:x b:1]",
    }
    for key, text in expected.items():
        assert resolve(world, ACCOUNT, REGION, f"{arn}:{key}::") == text


def test_version_stage_and_id(world: World, op: Op) -> None:
    arn = _create(op, "db", SecretString='{"pw": "one"}')["ARN"]
    second = values.put_secret_value(op, {"SecretId": arn, "SecretString": '{"pw": "two"}'})
    assert resolve(world, ACCOUNT, REGION, f"{arn}:pw::") == "two"
    assert resolve(world, ACCOUNT, REGION, f"{arn}:pw:AWSPREVIOUS:") == "one"
    assert resolve(world, ACCOUNT, REGION, f"{arn}::AWSPREVIOUS:") == '{"pw": "one"}'
    assert resolve(world, ACCOUNT, REGION, f"{arn}:pw::{second['VersionId']}") == "two"


def test_missing_secret_in_ecs_words(world: World) -> None:
    arn = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:nope-AbCdEf"
    detail = _fails(world, arn)
    assert re.fullmatch(
        f"failed to fetch secret {re.escape(arn)} from secrets manager: "
        "ResourceNotFoundException: Secrets Manager can't find the specified secret. "
        "status code: 400, request id: [0-9a-f-]{36}",
        detail,
    ), detail
    # With the ECS suffix, the secret asked for is the ARN without it.
    assert _fails(world, f"{arn}:key::").startswith(f"failed to fetch secret {arn} from")


def test_missing_json_key_in_ecs_words(world: World, op: Op) -> None:
    arn = _create(op, "db", SecretString='{"user": "app"}')["ARN"]
    assert _fails(world, f"{arn}:password::") == (
        "retrieved secret from Secrets Manager did not contain json key password"
    )


def test_values_that_are_no_json_object(world: World, op: Op) -> None:
    cases = {
        "plain": "invalid character 'p' looking for beginning of value",
        "[1, 2]": "json: cannot unmarshal array into Go value of type map[string]interface {}",
        '"text"': "json: cannot unmarshal string into Go value of type map[string]interface {}",
        '{"a": 1': "unexpected end of JSON input",
    }
    for n, (text, message) in enumerate(cases.items()):
        arn = _create(op, f"s{n}", SecretString=text)["ARN"]
        assert _fails(world, f"{arn}:a::") == message


def test_deleted_secret_and_bad_references(world: World, op: Op) -> None:
    arn = _create(op, "db", SecretString="x")["ARN"]
    secrets.delete(op, {"SecretId": arn})
    assert (
        "InvalidRequestException: You can't perform this operation on the secret because it "
        "was marked for deletion." in _fails(world, arn)
    )
    invalid = (
        "an invalid ARN format for the AWS Secrets Manager secret was specified. Specify a "
        "valid ARN and try again."
    )
    assert _fails(world, f"{arn}:only-a-key") == invalid
    assert _fails(world, f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/db") == invalid


def test_the_secret_region_comes_from_its_arn(world: World) -> None:
    other = make_op(world, region="eu-west-1")
    arn = _create(other, "db", SecretString="eu")["ARN"]
    assert resolve(world, ACCOUNT, REGION, arn) == "eu"


def test_a_secret_past_its_recovery_window_is_removed_by_maintenance(world: World) -> None:
    from portside.controllers.maintenance import MaintenanceLoop
    from portside.secretsmanager import records

    now = [1_700_000_000.0]
    world.clock = lambda: now[0]
    op = make_op(world)
    gone = _create(op, "gone", SecretString="a")["ARN"]
    kept = _create(op, "kept", SecretString="b")["ARN"]
    secrets.delete(op, {"SecretId": gone, "RecoveryWindowInDays": 7})
    secrets.delete(op, {"SecretId": kept, "RecoveryWindowInDays": 30})
    now[0] += 8 * 86400
    MaintenanceLoop(world, account=ACCOUNT).run_once()
    with world.store.read() as tx:
        assert tx.get(records.SECRETS, gone) is None
        assert list(tx.scan(records.VERSIONS, prefix=gone + "|")) == []
        assert tx.get(records.SECRETS, kept) is not None
        assert list(tx.scan(records.VERSIONS, prefix=kept + "|")) != []
