"""DescribeParameters and GetParametersByPath: the caller's parameters in name order, filtered,
a page at a time (10 unless MaxResults says otherwise; NextToken resumes after the last one
shown).

GetParametersByPath lists what is directly below a path (`/a` holds `/a/x`, not `/a/x/y`)
or, Recursive, everything under it; `/` holds the names without a hierarchy. With a Label
filter it answers with the labelled version of each parameter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from portside.errors import ValidationException
from portside.ops import paging
from portside.ops.context import Op
from portside.ssm import filters, names, records, views
from portside.ssm.operations import action
from portside.ssm.reads import invalid_token
from portside.store.base import Document, Tx

PAGE = 10
BOTH_FILTERS = "You can use either Filters or ParameterFilters in a single request."


def _after(token: str | None, scope: str) -> str:
    after = paging.decode_token(token, lambda given: invalid_token())
    if after and not after.startswith(scope):
        raise invalid_token()
    return after


def _page(
    tx: Tx, prefix: str, after: str, size: int, keep: Callable[[Document], bool]
) -> tuple[list[Document], str | None]:
    """Up to `size` kept documents past `after`, and the token of the next page when one
    more is kept (the table is read only that far)."""
    docs: list[Document] = []
    for _, doc in tx.scan(records.PARAMETERS, prefix=prefix, after=after):
        if not keep(doc):
            continue
        if len(docs) == size:
            return docs, paging.encode_token(records.doc_key(docs[-1]))
        docs.append(doc)
    return docs, None


def _answer(member: str, shown: list[dict[str, Any]], token: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {member: shown}
    if token:
        out["NextToken"] = token
    return out


@action("DescribeParameters")
def describe_parameters(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    if p.get("Filters") and p.get("ParameterFilters"):
        raise ValidationException(BOTH_FILTERS)
    chosen = filters.checked(p.get("ParameterFilters") or [], by_path=False)
    chosen += filters.legacy(p.get("Filters") or [])
    scope = records.scope(op.account, op.region)
    after = _after(p.get("NextToken"), scope)
    if p.get("Shared"):
        return {"Parameters": []}  # nothing is shared with an account here
    with op.store.read() as tx:
        docs, token = _page(
            tx, scope, after, p.get("MaxResults") or PAGE, lambda d: filters.matches(d, chosen)
        )
    return _answer("Parameters", [views.metadata(d) for d in docs], token)


@action("GetParametersByPath")
def get_parameters_by_path(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    prefix = names.path_prefix(p["Path"].strip())
    recursive = bool(p.get("Recursive"))
    chosen = filters.checked(p.get("ParameterFilters") or [], by_path=True)
    scope = records.scope(op.account, op.region)
    after = _after(p.get("NextToken"), scope)
    decrypt = bool(p.get("WithDecryption"))

    def keep(doc: Document) -> bool:
        return names.below(doc["Name"], prefix, recursive) and filters.matches(doc, chosen)

    with op.store.read() as tx:
        docs, token = _page(tx, scope + prefix, after, p.get("MaxResults") or PAGE, keep)
        shown = []
        for doc in docs:
            labelled = filters.label_version(doc, chosen)
            version = doc["Current"] if labelled is None else records.version(tx, doc, labelled)
            shown.append(views.parameter(op, tx, doc, version, decrypt))
    return _answer("Parameters", shown, token)
