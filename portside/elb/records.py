"""Where ELB keeps its resources, and what the operations share to read them.

Each resource is one document under its ARN, in the wire shape DescribeX answers with plus
a few members of its own (`Attributes`, `Tags`, a listener's `DefaultRuleArn`). A
listener's default rule is stored as a rule (Priority `default`), so DescribeRules, tags and
"which target groups receive traffic" read rules alone. A target is one document under
`TARGET_GROUP_ARN|ID|PORT`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from portside.elb import names
from portside.elb.errors import (
    ValidationError,
    lb_not_found,
    listener_not_found,
    rule_not_found,
    tg_not_found,
)
from portside.errors import NamedError
from portside.ops import paging
from portside.store.base import Document, Tx

LBS = "elb_load_balancers"
TGS = "elb_target_groups"
LISTENERS = "elb_listeners"
RULES = "elb_rules"
TARGETS = "elb_targets"
HEALTH = "elb_target_health"  # written by the data plane: see health.py

PRIVATE = ("Attributes", "Tags", "DefaultRuleArn", "Subnets")


def wire(doc: Document, *drop: str) -> dict[str, Any]:
    """A stored document as DescribeX shows it: its own members left out."""
    return {k: v for k, v in doc.items() if k not in PRIVATE and k not in drop}


def target_key(tg: str, target_id: str, port: int | None) -> str:
    return f"{tg}|{target_id}|{port if port is not None else ''}"


def forwarded(actions: Iterable[dict[str, Any]]) -> list[str]:
    """The target groups `actions` forward to."""
    found: list[str] = []
    for action in actions:
        if action.get("Type") != "forward":
            continue
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
        arns = [g["TargetGroupArn"] for g in groups] or [action.get("TargetGroupArn")]
        found.extend(a for a in arns if a and a not in found)
    return found


def usage(tx: Tx, region: str, account: str) -> dict[str, set[str]]:
    """Target group ARN -> the load balancers whose listeners or rules forward to it."""
    used: dict[str, set[str]] = {}
    for key, rule in tx.scan(RULES, prefix=names.base(region, account) + "listener-rule/"):
        for tg in forwarded(rule.get("Actions") or []):
            used.setdefault(tg, set()).add(names.lb_of(key))
    return used


def paged(
    docs: list[Document], size: int, after: str, key: str
) -> tuple[list[Document], str | None]:
    """A page of `docs` past the one whose `key` member is `after`, and the next marker."""
    if after:
        at = next((i for i, d in enumerate(docs) if d[key] == after), None)
        if at is None:
            raise ValidationError("Invalid marker")
        docs = docs[at + 1 :]
    if len(docs) > size:
        return docs[:size], paging.encode_token(docs[size - 1][key])
    return docs, None


def page(
    p: dict[str, Any],
    member: str,
    docs: list[Document],
    key: str,
    show: Callable[[Document], dict[str, Any]],
) -> dict[str, Any]:
    """A DescribeX answer: the page of `docs` the request's PageSize (400 when not given) and
    Marker ask for, each as `show` has it, under `member`, and the NextMarker when more
    remain."""
    after = paging.decode_token(p.get("Marker"), lambda token: ValidationError("Invalid marker"))
    found, next_marker = paged(docs, p.get("PageSize") or 400, after, key)
    out: dict[str, Any] = {member: [show(d) for d in found]}
    if next_marker:
        out["NextMarker"] = next_marker
    return out


def either(arns: list[str], parent: str | None, many: str, one: str) -> None:
    """A DescribeX that takes ARNs or its parent's ARN (`many`: "listener ARNs", `one`: "a
    load balancer ARN") refuses a request with neither or both."""
    if not arns and not parent:
        raise ValidationError(f"You must specify either {many} or {one}")
    if arns and parent:
        raise ValidationError(
            f"{many[:1].upper()}{many[1:]} and {one} cannot be specified at the same time"
        )


def get(tx: Tx, table: str, arn: str, kind: str, what: str, missing: Exception) -> Document:
    """The document of `arn`; `missing` raised when it is not found."""
    names.check_arn(arn, kind, what)
    doc = tx.get(table, arn)
    if doc is None:
        raise missing
    return doc


def get_all(
    tx: Tx, table: str, arns: list[str], kind: str, what: str, missing: Exception
) -> list[Document]:
    """The documents of `arns` in the order given; `missing` raised when one is not found."""
    return [get(tx, table, arn, kind, what, missing) for arn in arns]


def get_named(
    wanted: list[str],
    find: Callable[[str], Document | None],
    missing: Callable[[str], Exception],
    what: str,
) -> list[Document]:
    """The documents `find` has for the names `wanted`, in the order given; when some are
    not found, `missing` raised with "`what` '[NAME, ...]' not found"."""
    docs, gone = [], []
    for name in wanted:
        held = find(name)
        if held is None:
            gone.append(name)
        else:
            docs.append(held)
    if gone:
        raise missing(f"{what} '[{', '.join(gone)}]' not found")
    return docs


@dataclass(frozen=True)
class Family:
    """One kind of ELB resource as its operations read it: its table, the kind its ARNs name
    (`loadbalancer`), what ELB's messages call it (`load balancer`) and its not-found error
    (ELB's "One or more ... not found" unless given a message)."""

    table: str
    kind: str
    what: str
    missing: Callable[..., NamedError]

    def get(self, tx: Tx, arn: str, missing: Exception | None = None) -> Document:
        return get(tx, self.table, arn, self.kind, self.what, missing or self.missing())

    def get_all(self, tx: Tx, arns: list[str]) -> list[Document]:
        return get_all(tx, self.table, arns, self.kind, self.what, self.missing())

    def described(
        self,
        tx: Tx,
        region: str,
        account: str,
        arns: list[str],
        wanted: list[str],
        by_name: Callable[[Tx, str, str, str], Document | None],
    ) -> list[Document]:
        """What a DescribeX that takes ARNs or names asks for: the documents of `arns`, else
        those `by_name` finds for the names `wanted`, else every one in the account."""
        if arns:
            return self.get_all(tx, arns)
        if wanted:
            plural = f"{self.what[:1].upper()}{self.what[1:]}s"
            return get_named(wanted, partial(by_name, tx, region, account), self.missing, plural)
        prefix = f"{names.base(region, account)}{self.kind}/"
        return [doc for _, doc in tx.scan(self.table, prefix=prefix)]


LB = Family(LBS, "loadbalancer", "load balancer", lb_not_found)
TG = Family(TGS, "targetgroup", "target group", tg_not_found)
LISTENER = Family(LISTENERS, "listener", "listener", listener_not_found)
RULE = Family(RULES, "listener-rule", "rule", rule_not_found)
FAMILY_OF = {family.kind: family for family in (LB, TG, LISTENER, RULE)}
