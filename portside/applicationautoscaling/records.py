"""Where Application Auto Scaling keeps its objects in the control plane's store, and how
they are shown.

    aas_targets            a scalable target by ACCOUNT|REGION|NAMESPACE|RESOURCE_ID|DIMENSION,
                           its ARN indexed (tags are addressed by it); private members: its
                           tags and when it last scaled out and in (cooldowns)
    aas_policies           a policy by target key|name, its ARN indexed (alarms call by ARN);
                           private: the uuid of the alarms it owns
    aas_scheduled_actions  by target key|name; private: its next run
    aas_activities         by target key|start time|id, kept six weeks

Private members start with `_` and are never shown.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable

from portside.applicationautoscaling import errors
from portside.applicationautoscaling.names import (
    ACTIVITIES,
    POLICIES,
    SCHEDULED,
    TARGETS,
    Where,
)
from portside.store.base import Document, Tx

SIX_WEEKS = 42 * 86400


def shown(doc: Document) -> Document:
    return {k: v for k, v in doc.items() if not k.startswith("_")}


def target_key_of(doc: Document) -> str:
    return str(doc["_Key"])


def load_target(tx: Tx, where: Where, namespace: str, resource_id: str, dimension: str) -> Document:
    doc = tx.get(TARGETS, where.target_key(namespace, resource_id, dimension))
    if doc is None:
        raise errors.no_target(namespace, resource_id, dimension)
    return doc


def children(tx: Tx, table: str, target_key: str) -> list[tuple[str, Document]]:
    return list(tx.scan(table, prefix=target_key + "|"))


def policy_by_arn(tx: Tx, arn: str) -> tuple[str, Document] | None:
    for key, doc in tx.scan(POLICIES, where={"arn": arn}):
        return key, doc
    return None


def activity_key(target_key: str, start: float, ident: str) -> str:
    return f"{target_key}|{start:017.6f}|{ident}"


def save_activity(tx: Tx, target: Document, activity: Document) -> None:
    tx.put(
        ACTIVITIES,
        activity_key(target_key_of(target), activity["StartTime"], activity["ActivityId"]),
        activity,
    )


def expire_activities(tx: Tx, now: float) -> int:
    old = [k for k, d in tx.scan(ACTIVITIES) if d["StartTime"] < now - SIX_WEEKS]
    for key in old:
        tx.delete(ACTIVITIES, key)
    return len(old)


def delete_target_children(tx: Tx, target_key: str) -> list[Document]:
    """Remove a target's policies and scheduled actions; the policies removed."""
    gone = []
    for table in (POLICIES, SCHEDULED):
        for key, doc in children(tx, table, target_key):
            tx.delete(table, key)
            if table == POLICIES:
                gone.append(doc)
    return gone


def page(
    items: Iterable[tuple[str, Document]], limit: int | None, token: str | None, maximum: int = 50
) -> tuple[list[Document], str | None]:
    """A page of (key, doc) in key order from past the token; the next token when more."""
    after = _after(token)
    size = limit or maximum
    found: list[tuple[str, Document]] = []
    for key, doc in items:
        if after and key <= after:
            continue
        found.append((key, doc))
        if len(found) > size:
            break
    more = len(found) > size
    found = found[:size]
    next_token = base64.urlsafe_b64encode(found[-1][0].encode()).decode() if more else None
    return [d for _, d in found], next_token


def _after(token: str | None) -> str:
    if not token:
        return ""
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except ValueError:
        raise errors.bad_token() from None
