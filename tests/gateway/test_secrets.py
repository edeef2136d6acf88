"""A task's secrets through the gateway, in process: the messages read back what they wrote
and never show a value in their repr; the gateway answers a session only for tasks on its
instances, resolves each reference in the task's account and region (ECS's stopped reason
when one cannot be had), keeps nothing between two asks, and writes no value anywhere:
not in the change feed, the task's document, nor any byte of the store's files."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import orjson
import pytest
from roles import task_role_in

from portside.agent.attributes import default_attributes
from portside.errors import (
    AccessDeniedException,
    ClientException,
    NamedError,
    SerializationException,
)
from portside.gateway.protocol import (
    ContainerSecrets,
    RegistryAuth,
    SecretReference,
    SecretsRequest,
    TaskSecrets,
)
from portside.gateway.protocol.secrets import (
    ENVIRONMENT,
    LOG_OPTION,
    REGISTRY,
    references,
    takes_secrets,
)
from portside.gateway.secrets import SecretsDesk, registry_auth
from portside.model.container_instance import InstanceResources
from portside.ops import clusters, launch, task_definitions
from portside.ops import instances as inst_ops
from portside.ops.context import Op, World
from portside.secretsmanager import secrets as sm_secrets
from portside.secretsmanager import values as sm_values
from portside.ssm.api import ACTIONS as SSM
from portside.testing import ACCOUNT, REGION, make_op, make_world, sqlite_store
from portside.wire import task_requests as wire

EXEC_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole"
WHOLE = "whole-8c1f5e2a-value"
PASSWORD = "pw-3b7d91c4-value"
PARAMETER = "ssm-5e0a77d2-value"
TOKEN = "token-0d4c2b19-value"
VALUES = (WHOLE, PASSWORD, PARAMETER, TOKEN, "robot-4f1e", "reg-pw-9a2c")


def wire_trip(message: Any) -> Any:
    return type(message).from_wire(orjson.loads(orjson.dumps(message.to_wire())))


# -- the messages -------------------------------------------------------------------------


def test_messages_read_back_and_never_show_a_value() -> None:
    answer = TaskSecrets(
        "arn:task",
        (
            ContainerSecrets(
                "app",
                (("DB", PASSWORD), ("API", WHOLE)),
                (("tag", TOKEN),),
                RegistryAuth("robot", PARAMETER),
            ),
            ContainerSecrets("side", (("X", "y"),)),
        ),
    )
    for message in (answer, SecretsRequest("s1", "arn:task"), TaskSecrets("t", failure="why")):
        assert wire_trip(message) == message
    assert answer.of("app").registry_auth == RegistryAuth("robot", PARAMETER)
    assert answer.of("missing") == ContainerSecrets("")
    shown = repr(answer) + repr(answer.containers) + repr(answer.of("app").registry_auth)
    assert not any(v in shown for v in (PASSWORD, WHOLE, TOKEN, PARAMETER)), shown


def test_references_of_a_task_definition() -> None:
    definition = {
        "containerDefinitions": [
            {
                "name": "app",
                "repositoryCredentials": {"credentialsParameter": "reg"},
                "secrets": [
                    {"name": "A", "valueFrom": "arn:aws:secretsmanager:us-east-1:1:secret:a"},
                    {"name": "B", "valueFrom": "/p/b"},
                ],
                "logConfiguration": {
                    "logDriver": "json-file",
                    "secretOptions": [{"name": "tag", "valueFrom": "arn:aws:ssm:x:1:parameter/t"}],
                },
            },
            {"name": "plain", "image": "x"},
        ]
    }
    found = references(definition)
    assert found == (
        SecretReference("app", REGISTRY, "", "reg"),
        SecretReference("app", ENVIRONMENT, "A", "arn:aws:secretsmanager:us-east-1:1:secret:a"),
        SecretReference("app", ENVIRONMENT, "B", "/p/b"),
        SecretReference("app", LOG_OPTION, "tag", "arn:aws:ssm:x:1:parameter/t"),
    )
    assert [r.store for r in found] == ["asm", "asm", "ssm", "ssm"]
    assert takes_secrets(definition)
    assert not takes_secrets({"containerDefinitions": [{"name": "plain"}]})


def test_registry_credentials_as_the_ecs_agent_reads_them() -> None:
    assert registry_auth('{"Username": "u", "password": "p"}') == RegistryAuth("u", "p")
    for text, detail in (
        ("", "asm fetching authorization data: empty secrets value"),
        ("nope", "unable to unmarshal secret value, invalid schema"),
        ("[1]", "unable to unmarshal secret value, invalid schema"),
        ('{"username": 1, "password": "p"}', "invalid schema"),
        ('{"password": "p"}', "asm fetching username: AuthorizationData is malformed"),
        ('{"username": "u", "password": ""}', "asm fetching password: AuthorizationData"),
    ):
        with pytest.raises(Exception, match=detail) as failed:
            registry_auth(text)
        assert str(failed.value).startswith("ResourceInitializationError: unable to pull secrets")


# -- the gateway's answers ------------------------------------------------------------------


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(sqlite_store(tmp_path))


def _stores(op: Op) -> dict[str, str]:
    """The secrets the task takes; {what: its reference}."""
    whole = sm_secrets.create(op, {"Name": "api-key", "SecretString": WHOLE})["ARN"]
    db = sm_secrets.create(
        op, {"Name": "db", "SecretString": orjson.dumps({"password": PASSWORD}).decode()}
    )["ARN"]
    registry = sm_secrets.create(
        op,
        {
            "Name": "registry",
            "SecretString": '{"username": "robot-4f1e", "password": "reg-pw-9a2c"}',
        },
    )["ARN"]
    SSM["PutParameter"](op, {"Name": "/app/param", "Value": PARAMETER, "Type": "SecureString"})
    SSM["PutParameter"](op, {"Name": "/app/token", "Value": TOKEN, "Type": "SecureString"})
    return {"whole": whole, "db": db, "registry": registry}


def _container(refs: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "name": "app",
        "image": "registry.example.com/app:1",
        "memory": 64,
        "repositoryCredentials": {"credentialsParameter": refs["registry"]},
        "secrets": [
            {"name": "WHOLE", "valueFrom": refs["whole"]},
            {"name": "PASSWORD", "valueFrom": refs["db"] + ":password::"},
            {"name": "PARAMETER", "valueFrom": "/app/param"},
        ],
        "logConfiguration": {
            "logDriver": "json-file",
            "secretOptions": [{"name": "tag", "valueFrom": "/app/token"}],
        },
        **extra,
    }


def _placed(op: Op, containers: list[dict[str, Any]], family: str = "web") -> tuple[str, str]:
    """(task ARN, its instance) for a task of `containers` placed by RunTask."""
    clusters.create_cluster(op, name="c")  # idempotent, as CreateCluster is
    instance = inst_ops.register(
        op,
        cluster="c",
        # The agent's own attributes: they offer the secrets capabilities the task requires.
        attributes=default_attributes("us-east-1a", "portside.local"),
        total_resources=InstanceResources.of(
            [
                {"name": "CPU", "type": "INTEGER", "integerValue": 4096},
                {"name": "MEMORY", "type": "INTEGER", "integerValue": 8192},
            ]
        ),
    ).instance.arn
    with contextlib.suppress(NamedError):
        task_role_in(op, EXEC_ROLE)
    task_definitions.register(
        op, {"family": family, "executionRoleArn": EXEC_ROLE, "containerDefinitions": containers}
    )
    placed, failures = launch.run_task(op, wire.launch({"cluster": "c", "taskDefinition": family}))
    assert failures == [] and len(placed) == 1, failures
    return placed[0].task.arn, instance


def _ask(desk: SecretsDesk, op: Op, session: str, task_arn: str) -> TaskSecrets:
    return asyncio.run(desk.answer(op, SecretsRequest(session, task_arn).to_wire()))


def test_the_gateway_resolves_a_task_on_the_sessions_instances(
    world: World, tmp_path: Path
) -> None:
    op = make_op(world)
    refs = _stores(op)
    arn, instance = _placed(op, [_container(refs), {"name": "plain", "image": "x", "memory": 8}])
    desk = SecretsDesk(world, {"s1": {instance}, "other": {"elsewhere"}}.get)
    seq = world.store.last_seq()

    got = _ask(desk, op, "s1", arn)
    assert got.failure is None
    app = got.of("app")
    assert dict(app.environment) == {"WHOLE": WHOLE, "PASSWORD": PASSWORD, "PARAMETER": PARAMETER}
    assert dict(app.log_options) == {"tag": TOKEN}
    assert app.registry_auth == RegistryAuth("robot-4f1e", "reg-pw-9a2c")
    assert got.of("plain") == ContainerSecrets("")  # nothing to send: not in the answer

    with pytest.raises(AccessDeniedException, match="not placed on an instance"):
        _ask(desk, op, "other", arn)
    with pytest.raises(AccessDeniedException):
        _ask(desk, op, "s1", arn.replace("task/c/", "task/c/0"))
    with pytest.raises(ClientException, match="UnknownSession"):
        _ask(desk, op, "gone", arn)
    with pytest.raises(SerializationException):
        asyncio.run(desk.answer(op, {"session": "s1"}))

    # What the gateway wrote meanwhile (Secrets Manager's LastAccessedDate) holds no value,
    # nor does anything else in the feed, the task's document or the store's files.
    written = world.store.changes_raw(seq, limit=10_000)
    assert {(c.table, c.op) for c in written} <= {
        ("sm_secrets", "put"),
        ("sm_secret_versions", "put"),
    }
    feed = "".join(c.doc or "" for c in world.store.changes_raw(0, limit=100_000))
    with world.store.read() as tx:
        task = orjson.dumps(tx.get("tasks", arn)).decode()
    files = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    for value in VALUES:
        assert value not in feed and value not in task
        assert value.encode() not in files


def test_what_cannot_be_had_is_ecs_stopped_reason(world: World) -> None:
    op = make_op(world)
    refs = _stores(op)
    prefix = "ResourceInitializationError: unable to pull secrets or registry auth: "
    cases = [
        ({"secrets": [{"name": "X", "valueFrom": refs["whole"] + "-gone"}]}, "asm", "gone"),
        ({"secrets": [{"name": "X", "valueFrom": refs["db"] + ":user::"}]}, "asm", "json key user"),
        ({"secrets": [{"name": "X", "valueFrom": "/app/nope"}]}, "ssm", "/app/nope"),
        (
            {"repositoryCredentials": {"credentialsParameter": refs["whole"]}},
            "asm",
            "invalid schema",
        ),
    ]
    mine: set[str] = set()  # the session's instances: each task adds one
    desk = SecretsDesk(world, {"s": mine}.get)
    for i, (extra, store, detail) in enumerate(cases):
        arn, instance = _placed(op, [{"name": "app", "image": "x", "memory": 8, **extra}], f"f{i}")
        mine.add(instance)
        got = _ask(desk, op, "s", arn)
        assert got.containers == () and got.failure is not None
        assert got.failure.startswith(prefix), got.failure
        assert f"from {store}" in got.failure and detail in got.failure, got.failure


def test_nothing_is_kept_between_two_asks(world: World) -> None:
    op = make_op(world)
    refs = _stores(op)
    arn, instance = _placed(op, [_container(refs)])
    desk = SecretsDesk(world, {"s": {instance}}.get)
    assert dict(_ask(desk, op, "s", arn).of("app").environment)["WHOLE"] == WHOLE
    sm_values.put_secret_value(op, {"SecretId": "api-key", "SecretString": "rotated"})
    SSM["PutParameter"](op, {"Name": "/app/param", "Value": "new", "Overwrite": True})
    env = dict(_ask(desk, op, "s", arn).of("app").environment)
    assert (env["WHOLE"], env["PARAMETER"]) == ("rotated", "new")


def test_another_regions_task_reads_its_own_region(world: World) -> None:
    east, west = make_op(world), make_op(world, region="eu-west-1")
    SSM["PutParameter"](east, {"Name": "/app/where", "Value": "east", "Type": "String"})
    SSM["PutParameter"](west, {"Name": "/app/where", "Value": "west", "Type": "String"})
    arn, instance = _placed(
        west,
        [
            {
                "name": "app",
                "image": "x",
                "memory": 8,
                "secrets": [{"name": "W", "valueFrom": "/app/where"}],
            }
        ],
    )
    assert REGION != "eu-west-1" and ":eu-west-1:" in arn
    got = _ask(SecretsDesk(world, {"s": {instance}}.get), west, "s", arn)
    assert got.of("app").environment == (("W", "west"),)
