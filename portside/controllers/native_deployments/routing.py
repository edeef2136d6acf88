"""Where a native deployment's tasks take traffic: the target group of each load balancer its
tasks register in (`Deployment.native["groups"]`, one per load balancer with an alternate
group), and the listener rules' weighted forwards between a deployment's groups and the
pair's others.

The first deployment uses each load balancer's targetGroupArn; each later one the pair's
other group, so the groups swap roles deployment by deployment as ECS swaps them (the
service's loadBalancers stay as given). A rollback deployment keeps blue's groups, and
takes blue's tasks as its own (`adopts`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from portside.controllers.native_deployments import rules
from portside.elb import listeners, names
from portside.elb.records import RULES
from portside.model.load_balancer import LoadBalancer
from portside.model.service import Service
from portside.store.base import Tx


def base_groups(balancers: Sequence[LoadBalancer]) -> list[str]:
    return [main for main, _ in rules.pairs(balancers)]


def other_groups(balancers: Sequence[LoadBalancer], groups: Sequence[str]) -> list[str]:
    """Each pair's group that is not in `groups` (the green groups for a blue deployment on
    `groups`)."""
    pairs = rules.pairs(balancers)
    if len(groups) != len(pairs):
        groups = [main for main, _ in pairs]
    return [
        alt if group == main else main for (main, alt), group in zip(pairs, groups, strict=True)
    ]


def balancers_by_deployment(doc: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]] | None:
    """For the targets loop: deployment id (and the ids a rollback adopted) -> the load
    balancers its tasks register with; None for a service the native engine does not run."""
    if not rules.is_native_doc(doc):
        return None
    given = [lb for lb in doc.get("loadBalancers") or () if lb.get("targetGroupArn")]
    paired = [
        lb for lb in given if (lb.get("advancedConfiguration") or {}).get("alternateTargetGroupArn")
    ]
    unpaired = [lb for lb in given if lb not in paired]
    out: dict[str, list[dict[str, Any]]] = {}
    for dep in doc.get("deployments") or ():
        native = dep.get("native") or {}
        groups = native.get("groups") or []
        if len(groups) != len(paired):
            groups = [lb["targetGroupArn"] for lb in paired]
        mapped = [
            {**lb, "targetGroupArn": g} for lb, g in zip(paired, groups, strict=True)
        ] + unpaired
        for ident in (dep["id"], *(native.get("adopts") or ())):
            out.setdefault(str(ident), mapped)
    return out


# -- listener rules ------------------------------------------------------------------------


def forward_weights(tx: Tx, rule: str) -> dict[str, int]:
    doc = tx.get(RULES, rule)
    if doc is None or doc.get("IsDefault"):
        return listeners.forward_weights(tx, _listener(tx, rule))
    out: dict[str, int] = {}
    for action in doc.get("Actions") or ():
        if action.get("Type") == "forward":
            for g in (action.get("ForwardConfig") or {}).get("TargetGroups") or ():
                out[str(g["TargetGroupArn"])] = int(g.get("Weight", 1))
    return out


def set_weights(tx: Tx, rule: str, groups: list[tuple[str, int]]) -> None:
    """The rule (or a listener's default rule) made a weighted forward to `groups`, unless it
    already is one (each write reloads HAProxy)."""
    if forward_weights(tx, rule) == dict(groups):
        return
    doc = tx.get(RULES, rule)
    if doc is None or doc.get("IsDefault"):
        listeners.set_forward_weights(tx, _listener(tx, rule), groups)
        return
    forward: dict[str, Any] = {
        "Type": "forward",
        "Order": 1,
        "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": g, "Weight": w} for g, w in groups],
            "TargetGroupStickinessConfig": {"Enabled": False},
        },
    }
    tx.put(RULES, rule, {**doc, "Actions": [forward]})


def _listener(tx: Tx, rule: str) -> str:
    """The listener whose default rule `rule` is (a listener ARN names itself)."""
    if ":listener-rule/" in rule:
        return names.listener_of(rule)
    return rule


def route(
    tx: Tx,
    balancers: Sequence[LoadBalancer],
    mine: Sequence[str],
    share: int | None,
    test: bool,
) -> None:
    """Production rules: `share` % on `mine`, the rest on each pair's other group; test
    rules: all on `mine`."""
    others = other_groups(balancers, mine)
    paired = [lb for lb in balancers if lb.target_group_arn and rules.pairs([lb])]
    for lb, group, other in zip(paired, mine, others, strict=False):
        config = lb.advanced_configuration or {}
        prod, test_rule = config.get("productionListenerRule"), config.get("testListenerRule")
        if share is not None and prod and rules.rule_exists(tx, str(prod)):
            set_weights(tx, str(prod), [(other, 100 - share), (group, share)])
        if test and test_rule and rules.rule_exists(tx, str(test_rule)):
            set_weights(tx, str(test_rule), [(group, 1)])


def groups_by_deployment(service: Service) -> dict[str, frozenset[str]] | None:
    """For the service's task facts: deployment id (and adopted ids) -> the target groups
    its tasks register in; None for a service the native engine does not run."""
    if not rules.is_native(service):
        return None
    paired = rules.pairs(service.load_balancers)
    unpaired = {
        lb.target_group_arn
        for lb in service.load_balancers
        if lb.target_group_arn and not rules.pairs([lb])
    }
    out: dict[str, frozenset[str]] = {}
    for dep in service.deployments:
        native = dep.native or {}
        groups = list(native.get("groups") or [])
        if len(groups) != len(paired):
            groups = [main for main, _ in paired]
        mine = frozenset(groups) | unpaired
        for ident in (dep.id, *(native.get("adopts") or ())):
            out.setdefault(str(ident), mine)
    return out
