"""A security group's rules: Authorize/RevokeSecurityGroupIngress and Egress,
DescribeSecurityGroupRules, ModifySecurityGroupRules.

Each rule is stored on its own (`permissions.rule_doc`), so the hosts' enforcement reads a
group's rules with one indexed scan (`resources.rules_of`) and judges flows with
`traffic.Policy`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from portside.ec2 import defaults, permissions, tagging
from portside.ec2.errors import group_not_found, missing
from portside.ec2.filters import FilterSet, one
from portside.ec2.operations import action
from portside.ec2.permissions import Spec
from portside.ec2.records import GROUP, RULE, page, wire
from portside.ec2.resources import add_rules, rules_of
from portside.ec2.security_groups import by_name, named
from portside.errors import NamedError
from portside.ops.context import Op
from portside.store.base import Document, Tx

MAX_RULES = 60  # per group and direction: EC2's default quota
FIELDS = {
    "group-id": one("GroupId"),
    "security-group-rule-id": one("SecurityGroupRuleId"),
}


def _resolver(tx: Tx, op: Op, group: Document) -> permissions.GroupResolver:
    """How a UserIdGroupPair of a rule of `group` finds its group: by id, or by name in the
    group's VPC; a group of another VPC is refused, as EC2 refuses it without peering."""

    def resolve(pair: Mapping[str, Any]) -> str:
        if pair.get("GroupId"):
            peer = GROUP.get(tx, op, pair["GroupId"])
        elif pair.get("GroupName"):
            found = by_name(tx, op, group["VpcId"], pair["GroupName"])
            if found is None:
                raise group_not_found([pair["GroupName"]])
            peer = found
        else:
            raise missing("groupId")
        if peer["VpcId"] != group["VpcId"]:
            raise NamedError(
                "InvalidParameter",
                "You have specified two resources that belong to different networks.",
            )
        return str(peer["GroupId"])

    return resolve


def _requested(tx: Tx, op: Op, group: Document, p: dict[str, Any], egress: bool) -> list[Spec]:
    given = p.get("IpPermissions") or permissions.legacy(p)
    if not given:
        raise missing("ipPermissions")
    return permissions.specs(given, egress, _resolver(tx, op, group))


def _authorize(op: Op, p: dict[str, Any], egress: bool) -> dict[str, Any]:
    tags = tagging.specified(p, "security-group-rule")
    with op.store.transaction() as tx:
        group = named(tx, op, p.get("GroupId"), p.get("GroupName"))
        specs = _requested(tx, op, group, p, egress)
        held = [r for r in rules_of(tx, op, group["GroupId"]) if r["IsEgress"] == egress]
        seen = {permissions.identity_of(r) for r in held}
        for spec in specs:
            if spec.identity in seen:
                raise NamedError(
                    "InvalidPermission.Duplicate",
                    f"the specified rule {spec.shown()} already exists",
                )
            seen.add(spec.identity)
        if len(held) + len(specs) > MAX_RULES:
            raise NamedError(
                "RulesPerSecurityGroupLimitExceeded",
                "The maximum number of rules per security group has been reached.",
            )
        docs = add_rules(op, tx, group["GroupId"], specs, tags)
    return {"Return": True, "SecurityGroupRules": [wire(d) for d in docs]}


def _revoke(op: Op, p: dict[str, Any], egress: bool) -> dict[str, Any]:
    with op.store.transaction() as tx:
        group = named(tx, op, p.get("GroupId"), p.get("GroupName"))
        held = [r for r in rules_of(tx, op, group["GroupId"]) if r["IsEgress"] == egress]
        gone: list[Document] = []
        unknown: list[Spec] = []
        if p.get("SecurityGroupRuleIds"):
            by_id = {r["SecurityGroupRuleId"]: r for r in held}
            absent = [i for i in p["SecurityGroupRuleIds"] if i not in by_id]
            if absent:
                raise RULE.not_found(absent)
            gone += [by_id[i] for i in dict.fromkeys(p["SecurityGroupRuleIds"])]
        if p.get("IpPermissions") or permissions.legacy(p):
            by_identity = {permissions.identity_of(r): r for r in held}
            for spec in _requested(tx, op, group, p, egress):
                rule = by_identity.get(spec.identity)
                if rule is None:
                    unknown.append(spec)
                elif rule not in gone:
                    gone.append(rule)
        elif not p.get("SecurityGroupRuleIds"):
            raise missing("ipPermissions")
        if unknown and not _in_default_vpc(tx, op, group):
            # A non-default VPC's group: nothing is revoked (EC2's RevokeSecurityGroupIngress).
            raise NamedError(
                "InvalidPermission.NotFound",
                "The specified rule does not exist in this security group.",
            )
        for rule in gone:
            RULE.delete(tx, op, rule["SecurityGroupRuleId"])
    out: dict[str, Any] = {"Return": True}
    if unknown:
        out["UnknownIpPermissions"] = [permissions.as_permission(s) for s in unknown]
    out["RevokedSecurityGroupRules"] = [permissions.revoked(r) for r in gone]
    return out


def _in_default_vpc(tx: Tx, op: Op, group: Document) -> bool:
    vpc = defaults.default_vpc(tx, op)
    return vpc is not None and vpc["VpcId"] == group["VpcId"]


def _register(
    name: str, run: Callable[[Op, dict[str, Any], bool], dict[str, Any]], egress: bool
) -> None:
    action(name)(lambda op, p: run(op, p, egress))


_register("AuthorizeSecurityGroupIngress", _authorize, egress=False)
_register("AuthorizeSecurityGroupEgress", _authorize, egress=True)
_register("RevokeSecurityGroupIngress", _revoke, egress=False)
_register("RevokeSecurityGroupEgress", _revoke, egress=True)


@action("DescribeSecurityGroupRules")
def describe_security_group_rules(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    keep = FilterSet(p.get("Filters"), FIELDS)
    with op.store.read() as tx:
        if p.get("SecurityGroupRuleIds"):
            docs = RULE.get_many(tx, op, p["SecurityGroupRuleIds"])
        else:
            docs = sorted(RULE.all(tx, op), key=lambda r: r.get("Order") or [0, 0])
    return page(p, keep.apply(docs), "SecurityGroupRuleId", "SecurityGroupRules", wire)


def _as_permission(request: Mapping[str, Any]) -> dict[str, Any]:
    """A SecurityGroupRuleRequest as the IpPermission it stands for."""
    perm: dict[str, Any] = {"IpProtocol": request.get("IpProtocol", "")}
    for member in ("FromPort", "ToPort"):
        if member in request:
            perm[member] = request[member]
    text = {"Description": request["Description"]} if "Description" in request else {}
    if request.get("CidrIpv4"):
        perm["IpRanges"] = [{"CidrIp": request["CidrIpv4"], **text}]
    if request.get("CidrIpv6"):
        perm["Ipv6Ranges"] = [{"CidrIpv6": request["CidrIpv6"], **text}]
    if request.get("PrefixListId"):
        perm["PrefixListIds"] = [{"PrefixListId": request["PrefixListId"], **text}]
    if request.get("ReferencedGroupId"):
        perm["UserIdGroupPairs"] = [{"GroupId": request["ReferencedGroupId"], **text}]
    return perm


@action("ModifySecurityGroupRules")
def modify_security_group_rules(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        group = GROUP.get(tx, op, p["GroupId"])
        held = {r["SecurityGroupRuleId"]: r for r in rules_of(tx, op, group["GroupId"])}
        resolve = _resolver(tx, op, group)
        changed: list[tuple[Document, Spec]] = []
        for update in p["SecurityGroupRules"]:
            rule = held.get(update["SecurityGroupRuleId"])
            if rule is None:
                raise RULE.not_found([update["SecurityGroupRuleId"]])
            request = update.get("SecurityGroupRule")
            if request is None:
                raise missing("securityGroupRule")
            specs = permissions.specs([_as_permission(request)], rule["IsEgress"], resolve)
            if len(specs) != 1:
                raise NamedError(
                    "InvalidParameterValue",
                    "A rule takes exactly one of CidrIpv4, CidrIpv6, "
                    "PrefixListId and ReferencedGroupId.",
                )
            changed.append((rule, specs[0]))
        others = {
            permissions.identity_of(r)
            for i, r in held.items()
            if i not in {rule["SecurityGroupRuleId"] for rule, _ in changed}
        }
        for rule, spec in changed:
            if spec.identity in others:
                raise NamedError(
                    "InvalidPermission.Duplicate",
                    f"the specified rule {spec.shown()} already exists",
                )
            others.add(spec.identity)
            doc = permissions.rule_doc(
                spec,
                rule["SecurityGroupRuleId"],
                rule["GroupId"],
                rule["GroupOwnerId"],
                rule["SecurityGroupRuleArn"],
            )
            doc["Tags"], doc["Order"] = rule.get("Tags") or [], rule.get("Order")
            RULE.put(tx, op, doc)
    return {"Return": True}
