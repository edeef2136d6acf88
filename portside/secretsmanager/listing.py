"""ListSecrets, and the secrets a filtered BatchGetSecretValue reads: the account and region's
secrets that the filters admit, sorted, a page at a time.

The NextToken is the sort position of the page's last secret ([sort value, ARN]); the next page
starts past it, so secrets made or deleted between calls neither repeat nor push others off.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from portside.errors import NamedError
from portside.ops.context import Op
from portside.secretsmanager import filters, names, records
from portside.secretsmanager.operations import action
from portside.secretsmanager.records import SECRETS
from portside.store.base import Document, Tx

_SORT_MEMBER = {
    "created-date": "CreatedDate",
    "last-accessed-date": "LastAccessedDate",
    "last-changed-date": "LastChangedDate",
    "name": "Name",
}


def invalid_token() -> NamedError:
    return NamedError("InvalidNextTokenException", "The NextToken value isn't valid.")


def select(
    op: Op, tx: Tx, wanted: list[dict[str, Any]], *, deleted: bool = False
) -> list[Document]:
    now = op.now()
    return [
        doc
        for _, doc in tx.scan(SECRETS, prefix=names.base(op.region, op.account))
        if records.live(doc, now) is not None
        and (deleted or "DeletedDate" not in doc)
        and filters.matches(doc, wanted)
    ]


def page(
    docs: list[Document],
    size: int,
    token: str | None,
    sort_by: str = "created-date",
    order: str = "asc",
) -> tuple[list[Document], str | None]:
    """The page of `docs` in the given order past `token`, and the next page's token."""
    member = _SORT_MEMBER[sort_by]
    empty: Any = "" if member == "Name" else 0.0

    def position(doc: Document) -> tuple[Any, str]:
        return (doc.get(member, empty), doc["ARN"])

    descending = order == "desc"
    docs = sorted(docs, key=position, reverse=descending)
    if token:
        after = _decode(token)
        try:
            docs = [d for d in docs if (position(d) < after if descending else position(d) > after)]
        except TypeError:  # a token of another sort order
            raise invalid_token() from None
    if len(docs) <= size:
        return docs, None
    shown = docs[:size]
    last = position(shown[-1])
    return shown, base64.urlsafe_b64encode(orjson.dumps(list(last))).decode()


def _decode(token: str) -> tuple[Any, str]:
    try:
        value, arn = orjson.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, TypeError):
        raise invalid_token() from None
    if not isinstance(arn, str) or not isinstance(value, str | int | float):
        raise invalid_token()
    return value, arn


@action("ListSecrets")
def list_secrets(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        docs = select(op, tx, p.get("Filters") or [], deleted=bool(p.get("IncludePlannedDeletion")))
    shown, token = page(
        docs,
        p.get("MaxResults") or 100,
        p.get("NextToken"),
        p.get("SortBy") or "created-date",
        p.get("SortOrder") or "asc",
    )
    out: dict[str, Any] = {"SecretList": [records.wire(d, "SecretVersionsToStages") for d in shown]}
    if token:
        out["NextToken"] = token
    return out
