"""Listener rules: create, describe (by priority, the default rule last), modify, delete,
priorities. A rule's ARN names its listener, so a listener's rules are a prefix scan."""

from __future__ import annotations

from typing import Any

from portside.elb import actions, limits, listeners, load_balancers, names, tags
from portside.elb.errors import ValidationError, not_permitted, rule_not_found
from portside.elb.operations import action
from portside.elb.records import LISTENERS, RULE, RULES, either, page, wire
from portside.errors import NamedError
from portside.ops.context import Op
from portside.store.base import Document, Tx


def load(tx: Tx, arn: str) -> Document:
    return RULE.get(tx, arn, rule_not_found(f"Rule '{arn}' not found"))


def ordered(docs: list[Document]) -> list[Document]:
    """By priority, the default rule last."""
    return sorted(
        docs, key=lambda d: (d["IsDefault"], int(d["Priority"] or 0) if not d["IsDefault"] else 0)
    )


def _of(tx: Tx, listener: Document) -> list[Document]:
    """The listener's rules, its default rule among them."""
    return [doc for _, doc in tx.scan(RULES, prefix=names.rule_prefix(listener["ListenerArn"]))]


def _priorities_in_use(tx: Tx, listener: str, *, skip: set[str]) -> set[str]:
    return {
        doc["Priority"]
        for key, doc in tx.scan(RULES, prefix=names.rule_prefix(listener))
        if key not in skip and not doc["IsDefault"]
    }


def _in_use(priority: int) -> NamedError:
    return NamedError("PriorityInUse", f"Priority '{priority}' is currently in use")


@action("CreateRule")
def create(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    conditions = actions.conditions(p["Conditions"])
    tag_list = tags.checked(p.get("Tags") or [])
    priority = p["Priority"]
    with op.store.transaction() as tx:
        listener = listeners.load(tx, p["ListenerArn"])
        lb = load_balancers.load(tx, listener["LoadBalancerArn"])
        if lb["Type"] != "application":
            raise ValidationError(
                "Rules are only supported on listeners of application load balancers"
            )
        taken = _priorities_in_use(tx, listener["ListenerArn"], skip=set())
        if str(priority) in taken:
            raise _in_use(priority)
        if len(taken) >= limits.RULES_PER_LISTENER:
            raise NamedError(
                "TooManyRules", "You've reached the limit on the number of rules per listener"
            )
        checked = listeners.checked_actions(tx, lb, p["Actions"], op.region, op.account)
        arn = names.rule_arn(listener["ListenerArn"], op.world.new_id()[:16])
        doc = {
            "RuleArn": arn,
            "Priority": str(priority),
            "Conditions": conditions,
            "Actions": checked,
            "IsDefault": False,
            "Tags": tag_list,
        }
        tx.put(RULES, arn, doc)
    return {"Rules": [wire(doc)]}


@action("DescribeRules")
def describe(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    arns, listener_arn = p.get("RuleArns") or [], p.get("ListenerArn")
    either(arns, listener_arn, "listener rule ARNs", "a listener ARN")
    with op.store.read() as tx:
        if arns:
            docs = RULE.get_all(tx, arns)
        else:
            docs = ordered(_of(tx, listeners.load(tx, listener_arn or "")))
    return page(p, "Rules", docs, "RuleArn", wire)


@action("ModifyRule")
def modify(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        doc = load(tx, p["RuleArn"])
        listener = tx.get(LISTENERS, names.listener_of(doc["RuleArn"]))
        if listener is None:
            raise rule_not_found()
        if p.get("Conditions"):
            if doc["IsDefault"]:
                raise not_permitted("The default rule's conditions cannot be modified")
            doc["Conditions"] = actions.conditions(p["Conditions"])
        if p.get("Actions"):
            lb = load_balancers.load(tx, listener["LoadBalancerArn"])
            doc["Actions"] = listeners.checked_actions(tx, lb, p["Actions"], op.region, op.account)
            if doc["IsDefault"]:
                listener["DefaultActions"] = doc["Actions"]
                tx.put(LISTENERS, listener["ListenerArn"], listener)
        tx.put(RULES, doc["RuleArn"], doc)
    return {"Rules": [wire(doc)]}


@action("DeleteRule")
def delete(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        doc = load(tx, p["RuleArn"])
        if doc["IsDefault"]:
            raise not_permitted(f"Default rule '{doc['RuleArn']}' cannot be deleted")
        tx.delete(RULES, doc["RuleArn"])
    return {}


@action("SetRulePriorities")
def set_priorities(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    wanted = p["RulePriorities"]
    moved = {item["RuleArn"]: item["Priority"] for item in wanted}
    if len(set(moved.values())) != len(moved):
        raise ValidationError("Priorities must be unique")
    with op.store.transaction() as tx:
        docs = [load(tx, arn) for arn in moved]
        for doc in docs:
            if doc["IsDefault"]:
                raise not_permitted(f"Default rule '{doc['RuleArn']}' priority cannot be modified")
        for doc in docs:
            taken = _priorities_in_use(tx, names.listener_of(doc["RuleArn"]), skip=set(moved))
            if str(moved[doc["RuleArn"]]) in taken:
                raise _in_use(moved[doc["RuleArn"]])
        for doc in docs:
            doc["Priority"] = str(moved[doc["RuleArn"]])
            tx.put(RULES, doc["RuleArn"], doc)
    return {"Rules": [wire(d) for d in ordered(docs)]}
