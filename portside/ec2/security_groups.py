"""Security groups: CreateSecurityGroup, DescribeSecurityGroups, DeleteSecurityGroup, and how
requests name a group (by id, or by name in the default VPC)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from portside.ec2 import defaults, tagging
from portside.ec2.errors import dependency, missing
from portside.ec2.filters import FilterSet, one
from portside.ec2.operations import action
from portside.ec2.permissions import ip_permissions
from portside.ec2.records import ENI, GROUP, RULE, VPC, page, wire
from portside.ec2.resources import DEFAULT_GROUP, new_group, rules_of
from portside.errors import NamedError
from portside.ops.context import Op
from portside.store.base import Document, Tx

MAX_TEXT = 255


def _perm_values(direction: str, member: str, inner: str | None = None) -> Any:
    def read(doc: Document) -> Iterable[Any]:
        for perm in doc.get(direction) or ():
            if inner is None:
                yield perm.get(member)
            else:
                for item in perm.get(member) or ():
                    yield item.get(inner)

    return read


def _permission_fields(prefix: str, direction: str) -> dict[str, Any]:
    return {
        f"{prefix}.cidr": _perm_values(direction, "IpRanges", "CidrIp"),
        f"{prefix}.from-port": _perm_values(direction, "FromPort"),
        f"{prefix}.to-port": _perm_values(direction, "ToPort"),
        f"{prefix}.protocol": _perm_values(direction, "IpProtocol"),
        f"{prefix}.group-id": _perm_values(direction, "UserIdGroupPairs", "GroupId"),
        f"{prefix}.group-name": _perm_values(direction, "UserIdGroupPairs", "GroupName"),
        f"{prefix}.user-id": _perm_values(direction, "UserIdGroupPairs", "UserId"),
        f"{prefix}.ipv6-cidr": _perm_values(direction, "Ipv6Ranges", "CidrIpv6"),
        f"{prefix}.prefix-list-id": _perm_values(direction, "PrefixListIds", "PrefixListId"),
    }


FIELDS = {
    "description": one("Description"),
    "group-id": one("GroupId"),
    "group-name": one("GroupName"),
    "owner-id": one("OwnerId"),
    "vpc-id": one("VpcId"),
    **_permission_fields("ip-permission", "IpPermissions"),
    **_permission_fields("egress.ip-permission", "IpPermissionsEgress"),
}


def _check_text(parameter: str, value: str) -> None:
    if not value or len(value) > MAX_TEXT or not value.isascii() or not value.isprintable():
        raise NamedError(
            "InvalidParameterValue",
            f"Value ({value}) for parameter {parameter} is invalid. Use up to 255 ASCII "
            "characters.",
        )


def by_name(tx: Tx, op: Op, vpc_id: str, name: str) -> Document | None:
    return next((g for g in GROUP.all(tx, op, vpc=vpc_id, name=name)), None)


def named(tx: Tx, op: Op, group_id: str | None, group_name: str | None) -> Document:
    """The group a request names: by id, else by name in the default VPC (as EC2 reads a
    GroupName)."""
    if group_id:
        return GROUP.get(tx, op, group_id)
    if not group_name:
        raise missing("groupId")
    vpc = defaults.default_vpc(tx, op)
    found = by_name(tx, op, vpc["VpcId"], group_name) if vpc else None
    if found is None:
        where = f" in default VPC '{vpc['VpcId']}'" if vpc else ""
        raise NamedError(
            "InvalidGroup.NotFound", f"The security group '{group_name}' does not exist{where}"
        )
    return found


def shown(doc: Document, rules: list[Document]) -> dict[str, Any]:
    """A group as DescribeSecurityGroups shows it, its rules joined into IpPermissions."""
    out = wire(doc)
    out["IpPermissions"] = ip_permissions(r for r in rules if not r["IsEgress"])
    out["IpPermissionsEgress"] = ip_permissions(r for r in rules if r["IsEgress"])
    return out


@action("CreateSecurityGroup")
def create_security_group(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    name, description = p["GroupName"], p["Description"]
    _check_text("GroupName", name)
    _check_text("GroupDescription", description)
    if name.lower().startswith("sg-"):
        raise NamedError("InvalidParameterValue", "Group names may not be in the format sg-*")
    if name == DEFAULT_GROUP:
        raise NamedError("InvalidGroup.Reserved", "The security group 'default' is reserved")
    tags = tagging.specified(p, "security-group")
    with op.store.transaction() as tx:
        if p.get("VpcId"):
            vpc_id = VPC.get(tx, op, p["VpcId"])["VpcId"]
        else:
            vpc = defaults.default_vpc(tx, op)
            if vpc is None:
                raise NamedError("VPCIdNotSpecified", "No default VPC for this user")
            vpc_id = vpc["VpcId"]
        if by_name(tx, op, vpc_id, name) is not None:
            raise NamedError(
                "InvalidGroup.Duplicate",
                f"The security group '{name}' already exists for VPC '{vpc_id}'",
            )
        doc = new_group(op, tx, vpc_id, name, description, tags)
    out: dict[str, Any] = {"GroupId": doc["GroupId"]}
    if tags:
        out["Tags"] = tags
    out["SecurityGroupArn"] = doc["SecurityGroupArn"]
    return out


@action("DescribeSecurityGroups")
def describe_security_groups(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    keep = FilterSet(p.get("Filters"), FIELDS)
    with op.store.read() as tx:
        if p.get("GroupIds") or p.get("GroupNames"):
            docs = GROUP.get_many(tx, op, p.get("GroupIds") or ())
            for name in p.get("GroupNames") or ():
                found = named(tx, op, None, name)
                if all(d["GroupId"] != found["GroupId"] for d in docs):
                    docs.append(found)
        else:
            docs = GROUP.all(tx, op)
        rules: dict[str, list[Document]] = {}
        if docs:
            wanted = {d["GroupId"] for d in docs}
            if len(wanted) <= 20:
                rules = {g: rules_of(tx, op, g) for g in wanted}
            else:
                for rule in sorted(RULE.all(tx, op), key=lambda r: r.get("Order") or [0, 0]):
                    rules.setdefault(rule["GroupId"], []).append(rule)
    views = keep.apply(shown(d, rules.get(d["GroupId"], [])) for d in docs)
    return page(p, views, "GroupId", "SecurityGroups", lambda d: d)


def dependents(tx: Tx, op: Op, group: Document) -> bool:
    """Whether another group's rule references the group, or an ENI is in it."""
    group_id = group["GroupId"]
    if any(r["GroupId"] != group_id for r in RULE.all(tx, op, ref=group_id)):
        return True
    return any(
        any(g["GroupId"] == group_id for g in eni.get("Groups") or ())
        for eni in ENI.all(tx, op, vpc=group["VpcId"])
    )


@action("DeleteSecurityGroup")
def delete_security_group(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        group = named(tx, op, p.get("GroupId"), p.get("GroupName"))
        group_id = group["GroupId"]
        if group["GroupName"] == DEFAULT_GROUP:
            raise NamedError(
                "CannotDelete",
                f'the specified group: "{group_id}" name: "default" cannot be deleted by a user',
            )
        if dependents(tx, op, group):
            raise dependency(f"resource {group_id} has a dependent object")
        for rule in RULE.all(tx, op, grp=group_id):
            RULE.delete(tx, op, rule["SecurityGroupRuleId"])
        GROUP.delete(tx, op, group_id)
    return {"Return": True, "GroupId": group_id}
