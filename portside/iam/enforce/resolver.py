"""What the authorization mapping asks of the store (`Resolver`), answered through each
service's own functions: a task definition named by family (`ops.task_definitions.find`,
as RunTask resolves it), its roles, a resource's tags (ECS's tag table, as
ListTagsForResource reads it; a secret's or a parameter's own tags) and a secret's ARN
from its name.

Tags cost a read per resource, so they are read only for a caller whose policies name a
resource tag (`tags=False` otherwise: an unread tag cannot change a decision no policy
tests it in).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from portside.errors import PortsideError
from portside.iam.authorization import Resolver
from portside.model import arn as arns
from portside.ops import tags as ecs_tags
from portside.ops import task_definitions
from portside.ops.context import Op
from portside.secretsmanager import records as sm_records
from portside.ssm import names as ssm_names
from portside.ssm import records as ssm_records


class StoreResolver(Resolver):
    """The store's answers for one call of `op`'s caller."""

    __slots__ = ("_op", "_tags")

    def __init__(self, op: Op, *, tags: bool) -> None:
        self._op = op
        self._tags = tags

    def task_definition_arn(self, ref: str) -> str | None:
        try:
            with self._op.store.read() as tx:
                found = task_definitions.find(self._op, tx, ref)
        except PortsideError:
            return None  # a malformed reference: the operation itself answers for it
        return found.arn if found is not None else None

    def task_definition_roles(self, arn: str) -> Sequence[str]:
        try:
            with self._op.store.read() as tx:
                found = task_definitions.find(self._op, tx, arn)
        except PortsideError:
            return ()
        if found is None:
            return ()
        spec = found.spec
        return tuple(str(spec[k]) for k in ("taskRoleArn", "executionRoleArn") if spec.get(k))

    def tags(self, arn: str) -> Mapping[str, str] | None:
        if not self._tags:
            return None
        parsed = arns.parse(arn)
        if parsed is None:
            return None
        service = arn.split(":", 3)[2]
        with self._op.store.read() as tx:
            if service == "ecs":
                return {t["key"]: t["value"] for t in ecs_tags.get_tags(tx, arn)}
            if service == "secretsmanager":
                doc = sm_records.find(self._op, tx, arn)
                return _pairs(doc.get("Tags")) if doc is not None else None
            if service == "ssm" and ":parameter/" in arn:
                try:
                    ref = ssm_names.parse(arn, self._op.account, self._op.region)
                except PortsideError:
                    return None
                doc = ssm_records.find(tx, ref)
                return _pairs(doc.get("Tags")) if doc is not None else None
        return None

    def arn_of(self, service: str, ref: str) -> str | None:
        if service != "secretsmanager":
            return None
        with self._op.store.read() as tx:
            doc = sm_records.find(self._op, tx, ref)
        return str(doc["ARN"]) if doc is not None else None


def _pairs(tags: object) -> dict[str, str]:
    if not isinstance(tags, list):
        return {}
    return {str(t["Key"]): str(t.get("Value", "")) for t in tags if isinstance(t, dict)}
