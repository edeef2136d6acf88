"""A task's secrets from Parameter Store, as ECS reads them when a task starts: a container's
`secrets[].valueFrom` is a parameter name, or a parameter ARN (any region of the account),
read with decryption, as the ECS agent does with GetParameters (WithDecryption true).

When one cannot be read, the task stops with ECS's words (HHS/simpler-grants-gov#4330 and
others, 2025):

    ResourceInitializationError: unable to pull secrets or registry auth: execution resource
    retrieval failed: unable to retrieve secrets from ssm: service call has been retried 1
    time(s): invalid ssm parameters: /api//new-relic-license-key

An ARN given as valueFrom is named there by its parameter name, as in that sample. Missing
names are joined with "," as the ECS agent joins GetParameters' InvalidParameters
(aws/amazon-ecs-agent agent/ssm/ssm.go); an error of the call itself (a KMS key that is
disabled: InvalidKeyId) follows as `CODE: message`, as AccessDeniedException does in ECS's
stopped reasons (aws/copilot-cli#3104).
"""

from __future__ import annotations

from collections.abc import Iterable

from portside.errors import NamedError, RequestError
from portside.ops.context import Caller, Op, World, root_principal
from portside.ssm import names, reads

STOPPED_REASON = (
    "ResourceInitializationError: unable to pull secrets or registry auth: execution "
    "resource retrieval failed: unable to retrieve secrets from ssm: service call has been "
    "retried 1 time(s): "
)


class SecretsUnavailable(Exception):
    """A task's secrets could not be read; the message is the task's stopped reason."""

    def __init__(self, detail: str) -> None:
        super().__init__(STOPPED_REASON + detail)
        self.message = STOPPED_REASON + detail


def _region_of(value_from: str, region: str) -> str:
    try:
        return names.parse(value_from, "", region).region
    except RequestError:
        return region  # no name: GetParameters lists it as invalid


def _shown(value_from: str) -> str:
    """How ECS names a parameter it could not read: an ARN by its parameter's name."""
    if value_from.startswith("arn:") and ":parameter/" in value_from:
        rest = value_from.split(":parameter/", 1)[1]
        return "/" + rest if "/" in rest else rest
    return value_from


def resolve_all(world: World, account: str, region: str, values: Iterable[str]) -> dict[str, str]:
    """{valueFrom: the parameter's value, decrypted} for a task of `account` running in
    `region`; SecretsUnavailable when any cannot be read."""
    by_region: dict[str, list[str]] = {}
    for value_from in dict.fromkeys(values):
        by_region.setdefault(_region_of(value_from, region), []).append(value_from)
    found: dict[str, str] = {}
    for where, group in by_region.items():
        op = Op(world, Caller(account, where, "", root_principal(account)))
        try:
            with op.store.read() as tx:
                shown, invalid = reads.lookup_many(op, tx, group, decrypt=True)
        except NamedError as fault:
            raise SecretsUnavailable(f"{fault.code}: {fault.message}") from None
        if invalid:
            raise SecretsUnavailable(
                "invalid ssm parameters: " + ",".join(_shown(v) for v in invalid)
            )
        found.update({value_from: str(p["Value"]) for value_from, p in shown.items()})
    return found


def resolve(world: World, account: str, region: str, value_from: str) -> str:
    """One secret's value: see resolve_all."""
    return resolve_all(world, account, region, [value_from])[value_from]
