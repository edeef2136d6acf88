"""Tags on applications and deployment groups (TagResource, UntagResource,
ListTagsForResource; CreateApplication's and CreateDeploymentGroup's `tags`), kept in the
resource's document under `_tags` and never shown with it. ARNs:
arn:aws:codedeploy:REGION:ACCOUNT:application:NAME and
arn:aws:codedeploy:REGION:ACCOUNT:deploymentgroup:APP/GROUP."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from portside.codedeploy import records
from portside.codedeploy.api_base import ACTIONS
from portside.codedeploy.errors import error
from portside.ops.context import Op
from portside.store.base import Tx

HIDDEN = "_tags"


def app_arn(op: Op, name: str) -> str:
    return f"arn:aws:codedeploy:{op.region}:{op.account}:application:{name}"


def group_arn(op: Op, app: str, group: str) -> str:
    return f"arn:aws:codedeploy:{op.region}:{op.account}:deploymentgroup:{app}/{group}"


def shown(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != HIDDEN}


def given(tags: Sequence[Mapping[str, Any]] | None) -> list[dict[str, str]]:
    return [{"Key": str(t["Key"]), "Value": str(t.get("Value", ""))} for t in tags or ()]


def _resolve(op: Op, arn: str) -> tuple[str, str]:
    prefix = f"arn:aws:codedeploy:{op.region}:{op.account}:"
    kind, _, rest = arn.removeprefix(prefix).partition(":")
    if not arn.startswith(prefix) or not rest:
        raise error("InvalidArnException", f"The ARN {arn} is not valid.")
    if kind == "application":
        return records.APPLICATIONS, records.app_key(op, rest)
    if kind == "deploymentgroup" and "/" in rest:
        app, _, group = rest.partition("/")
        return records.GROUPS, records.group_key(op, app, group)
    raise error("InvalidArnException", f"The ARN {arn} is not valid.")


def _doc(tx: Tx, table: str, key: str, arn: str) -> dict[str, Any]:
    doc = tx.get(table, key)
    if doc is None:
        raise error("ResourceArnRequiredException", f"The resource {arn} does not exist.")
    return doc


@ACTIONS.action("ListTagsForResource")
def list_tags(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    table, key = _resolve(op, p["ResourceArn"])
    with op.store.read() as tx:
        return {"Tags": _doc(tx, table, key, p["ResourceArn"]).get(HIDDEN) or []}


@ACTIONS.action("TagResource")
def tag(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    table, key = _resolve(op, p["ResourceArn"])
    with op.store.transaction() as tx:
        doc = _doc(tx, table, key, p["ResourceArn"])
        tags = {t["Key"]: t["Value"] for t in doc.get(HIDDEN) or ()}
        tags.update({t["Key"]: t["Value"] for t in given(p.get("Tags"))})
        doc[HIDDEN] = [{"Key": k, "Value": v} for k, v in tags.items()]
        tx.put(table, key, doc)
    return {}


@ACTIONS.action("UntagResource")
def untag(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    table, key = _resolve(op, p["ResourceArn"])
    gone = set(p.get("TagKeys") or ())
    with op.store.transaction() as tx:
        doc = _doc(tx, table, key, p["ResourceArn"])
        doc[HIDDEN] = [t for t in doc.get(HIDDEN) or () if t["Key"] not in gone]
        tx.put(table, key, doc)
    return {}
