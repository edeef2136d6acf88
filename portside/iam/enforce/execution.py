"""A task's execution role asked for the task's secrets, as the ECS agent's calls are: the
agent reads them as a session of that role (`arn:aws:sts::<acct>:assumed-role/<role>/<task
id>`), so the role's policies must allow each read:

    Parameter Store    ssm:GetParameters on arn:aws:ssm:<r>:<a>:parameter/<name>
    Secrets Manager    secretsmanager:GetSecretValue on the secret's ARN (environment,
                       log options, repositoryCredentials), and kms:Decrypt on the secret's
                       own KMS key when it has one (the AWS managed key needs no grant)

checked in the order the agent makes the calls (registry credentials, Parameter Store,
Secrets Manager). The first refused is the task's stopped reason, in the agent's words:
the store's service error after ECS's ResourceInitializationError prefix
(`... unable to retrieve secrets from ssm: service call has been retried 1 time(s):
AccessDeniedException: User: <session> is not authorized to perform: ssm:GetParameters on
resource: <arn> because no identity-based policy allows the ssm:GetParameters action status
code: 400, request id: <id>`; for Secrets Manager inside `failed to fetch secret <arn> from
secrets manager: ...`, and a refused kms:Decrypt as Secrets Manager words it, `Access to KMS
is not allowed`).

Before the secrets, the role itself: one IAM does not hold, or whose trust policy does not let
`ecs-tasks.amazonaws.com` assume it, fails the task with ECS's words for a role it cannot
assume. Images from Portside's ECR are checked with the registry credentials
(`execution_images.py`), awslogs streams when the agent makes them (`execution_logs.py`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from portside.gateway.protocol.secrets import REGISTRY, SecretReference, references
from portside.iam import principals
from portside.iam.enforce.execution_images import images_refusal
from portside.iam.enforce.identities import Identity, denied, load
from portside.ops.context import Caller, Op, World, root_principal
from portside.secretsmanager import records as sm_records
from portside.secretsmanager import resolve as asm
from portside.ssm import resolve as ssm
from portside.sts.assume import ECS_TASKS, service_may_assume, unable_to_assume

MANAGED_KEY = "alias/aws/secretsmanager"


def session_arn(role_arn: str, task_arn: str) -> str | None:
    """The execution role's session for a task, as CloudTrail shows the agent's calls."""
    found = principals.identity(role_arn)
    if found is None or found[1] != "role":
        return None
    return f"arn:aws:sts::{found[0]}:assumed-role/{found[2]}/{task_arn.rsplit('/', 1)[-1]}"


def role_of(task: Mapping[str, Any], definition: Mapping[str, Any]) -> str:
    """The task's execution role: RunTask's override, else its definition's."""
    return str(
        (task.get("overrides") or {}).get("executionRoleArn")
        or definition.get("executionRoleArn")
        or ""
    )


def execution_identity(world: World, task_arn: str, role_arn: str) -> Identity | None:
    """The execution role's session for the task, as IAM holds it; None when the role
    cannot be assumed by ECS (no such role, or its trust policy refuses the service)."""
    session = session_arn(role_arn, task_arn)
    if session is None:
        return None
    with world.store.read() as tx:
        if not service_may_assume(tx, role_arn, ECS_TASKS, world.clock()):
            return None
    identity = load(world.store, session, task_arn.split(":", 5)[4])
    return identity if identity.known else None


def execution_refusal(
    world: World, task_arn: str, task: Mapping[str, Any], definition: Mapping[str, Any]
) -> str | None:
    """The stopped reason when the task's execution role cannot be assumed, or may not get
    its images' registry auth or read one of its secrets; None when all is allowed or the
    task has no execution role."""
    role_arn = role_of(task, definition)
    if not role_arn:
        return None
    identity = execution_identity(world, task_arn, role_arn)
    if identity is None:
        return unable_to_assume(role_arn)
    _, _, _, region, account, _ = task_arn.split(":", 5)
    op = Op(world, Caller(account, region, "", root_principal(account)))
    refs = references(definition)
    ordered = [r for r in refs if r.kind == REGISTRY]
    ordered += [r for r in refs if r.kind != REGISTRY and r.store == "ssm"]
    ordered += [r for r in refs if r.kind != REGISTRY and r.store == "asm"]
    failure = images_refusal(op, identity, definition)
    for ref in ordered:
        if failure is not None:
            return failure
        failure = _refused(op, identity, ref)
    return failure


def _request_id() -> str:
    return str(uuid.uuid4())


def _refused(op: Op, identity: Identity, ref: SecretReference) -> str | None:
    if ref.store == "ssm":
        arn = _parameter_arn(ref.value_from, op.account, op.region)
        message = denied(identity, "ssm:GetParameters", arn)
        if message is None:
            return None
        tail = f"status code: 400, request id: {_request_id()}"
        return ssm.SecretsUnavailable(f"AccessDeniedException: {message} {tail}").message
    arn, key = _secret(op, ref.value_from)
    message = denied(identity, "secretsmanager:GetSecretValue", arn)
    if message is None and key is not None and denied(identity, "kms:Decrypt", key):
        message = "Access to KMS is not allowed"  # Secrets Manager's words for it
    if message is None:
        return None
    return asm.SecretRetrievalError(
        f"failed to fetch secret {arn} from secrets manager: AccessDeniedException: {message} "
        f"status code: 400, request id: {_request_id()}"
    ).message


def _parameter_arn(value_from: str, account: str, region: str) -> str:
    if value_from.startswith("arn:"):
        return value_from
    return f"arn:aws:ssm:{region}:{account}:parameter/{value_from.lstrip('/')}"


def _secret(op: Op, value_from: str) -> tuple[str, str | None]:
    """The secret's ARN (its JSON key and version suffix dropped) and its own KMS key's ARN
    (None: the AWS managed key)."""
    ref = value_from
    if ref.startswith("arn:"):
        parts = ref.split(":")
        ref = ":".join(parts[:7])
    with op.store.read() as tx:
        doc = sm_records.find(op, tx, ref)
    if doc is None:
        return ref, None  # reading it fails anyway: the resolver says how
    key = doc.get("KmsKeyId")
    if not key or key == MANAGED_KEY:
        return str(doc["ARN"]), None
    key = str(key)
    if not key.startswith("arn:"):
        kind = "" if key.startswith("alias/") else "key/"
        key = f"arn:aws:kms:{op.region}:{op.account}:{kind}{key}"
    return str(doc["ARN"]), key
