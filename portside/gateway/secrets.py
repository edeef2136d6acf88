"""A task's secrets, resolved for its agent at the task's start (server side).

    POST /_portside/agent/v1/secrets  {"session", "taskArn"} -> TaskSecrets

Only for a task placed on one of the asking session's instances (else AccessDeniedException):
the task's definition is read here, never taken from the agent, so an agent gets the values
of its own tasks' references and nothing else. Each is resolved in the task's account and
region by the stores' own resolve modules, in the order the ECS agent creates the resources
that hold them: registry credentials, then Parameter Store, then Secrets Manager; the first
that cannot be read is the answer's `failure` (ECS's stoppedReason) and no value is sent.

Nothing is written but what reading a secret writes anyway (Secrets Manager's
LastAccessedDate); nothing is cached: a task started after a secret changed gets the new
value, and a running task keeps what it started with.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from typing import Any

from starlette.routing import BaseRoute, Route

from portside.errors import AccessDeniedException, ClientException, SerializationException
from portside.gateway import protocol
from portside.gateway.protocol import (
    ContainerSecrets,
    RegistryAuth,
    SecretReference,
    SecretsRequest,
    TaskSecrets,
)
from portside.gateway.protocol.secrets import ENVIRONMENT, LOG_OPTION, REGISTRY, references
from portside.iam.enforce.execution import execution_refusal
from portside.model.task_definition import TaskDefinition
from portside.ops.context import Op, World
from portside.secretsmanager import resolve as asm
from portside.ssm import resolve as ssm

# The session's instances, or None when there is no such session.
InstancesOf = Callable[[str], set[str] | None]


class SecretsDesk:
    def __init__(self, world: World, instances_of: InstancesOf) -> None:
        self.world = world
        self.instances_of = instances_of

    def routes(self, endpoint: Callable[[Any], Any]) -> list[BaseRoute]:
        """The route, wrapped by the gateway's signed-endpoint wrapper."""
        return [Route(protocol.SECRETS, endpoint(self.answer), methods=["POST"])]

    async def answer(self, op: Op, params: dict[str, Any]) -> TaskSecrets:
        try:
            ask = SecretsRequest.from_wire(params)
        except (KeyError, TypeError) as exc:
            raise SerializationException(f"The request is not a valid message: {exc!r}") from None
        instances = self.instances_of(ask.session)
        if instances is None:
            raise ClientException("UnknownSession: open a new session.")
        return await asyncio.to_thread(self.resolve, ask.task_arn, instances)

    def resolve(self, task_arn: str, instances: set[str]) -> TaskSecrets:
        with self.world.store.read() as tx:
            task = tx.get("tasks", task_arn)
            if task is None or task.get("instanceArn") not in instances:
                raise AccessDeniedException(
                    f"The task {task_arn} is not placed on an instance of this agent's session."
                )
            stored = tx.get("task_definitions", task["taskDefinitionArn"])
        definition = TaskDefinition.from_doc(stored).spec if stored else {}
        _, _, _, region, account, _ = task_arn.split(":", 5)
        refused = execution_refusal(self.world, task_arn, task, definition)
        if refused is not None:
            return TaskSecrets(task_arn, failure=refused)
        return resolve_task(self.world, account, region, task_arn, definition)


def resolve_task(
    world: World, account: str, region: str, task_arn: str, definition: Mapping[str, Any]
) -> TaskSecrets:
    """Every secret `definition` takes, for a task of `account` running in `region`."""
    refs = references(definition)
    try:
        values = _values(world, account, region, refs)
    except (asm.SecretRetrievalError, ssm.SecretsUnavailable) as failed:
        return TaskSecrets(task_arn, failure=failed.message)
    by_container: dict[str, dict[str, Any]] = {}
    for ref in refs:
        mine = by_container.setdefault(ref.container, {ENVIRONMENT: [], LOG_OPTION: []})
        if ref.kind == REGISTRY:
            mine[REGISTRY] = values[(REGISTRY, ref.value_from)]
        else:
            mine[ref.kind].append((ref.name, values[(ref.store, ref.value_from)]))
    return TaskSecrets(
        task_arn,
        tuple(
            ContainerSecrets(
                name,
                tuple(got[ENVIRONMENT]),
                tuple(got[LOG_OPTION]),
                got.get(REGISTRY),
            )
            for name, got in by_container.items()
        ),
    )


def _values(
    world: World, account: str, region: str, refs: tuple[SecretReference, ...]
) -> dict[tuple[str, str], Any]:
    """{(registry | asm | ssm, valueFrom): its value} for every reference, each read once."""
    out: dict[tuple[str, str], Any] = {}
    for ref in refs:
        key = (REGISTRY, ref.value_from)
        if ref.kind == REGISTRY and key not in out:
            out[key] = registry_auth(asm.resolve(world, account, region, ref.value_from))
    wanted = [r.value_from for r in refs if r.kind != REGISTRY and r.store == "ssm"]
    if wanted:
        found = ssm.resolve_all(world, account, region, wanted)
        out.update({("ssm", value_from): value for value_from, value in found.items()})
    for ref in refs:
        key = ("asm", ref.value_from)
        if ref.kind != REGISTRY and ref.store == "asm" and key not in out:
            out[key] = asm.resolve(world, account, region, ref.value_from)
    return out


def registry_auth(text: str) -> RegistryAuth:
    """Registry credentials from a secret's value, a JSON object with `username` and
    `password`; matched as Go's encoding/json matches field names (case-insensitively), with
    the ECS agent's words for a value it cannot use."""
    if not text:
        raise asm.SecretRetrievalError("asm fetching authorization data: empty secrets value")
    try:
        held = json.loads(text)
    except json.JSONDecodeError:
        held = None
    if not isinstance(held, dict):
        raise asm.SecretRetrievalError(
            "asm fetching authorization data: unable to unmarshal secret value, invalid schema"
        )
    fields = {str(k).lower(): v for k, v in held.items()}
    found: dict[str, str] = {}
    for name in ("username", "password"):
        value = fields.get(name)
        if value is not None and not isinstance(value, str):
            raise asm.SecretRetrievalError(
                "asm fetching authorization data: unable to unmarshal secret value, invalid schema"
            )
        if not value:
            raise asm.SecretRetrievalError(
                f"asm fetching {name}: AuthorizationData is malformed, empty field"
            )
        found[name] = value
    return RegistryAuth(found["username"], found["password"])
