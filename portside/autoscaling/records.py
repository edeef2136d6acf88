"""Where Auto Scaling keeps its objects, and how they are shown.

    asg_groups       a group by ACCOUNT|REGION|NAME, in the AutoScalingGroup shape less its
                     Instances; private members start with `_` (`_Zones`: (zone, subnet) in
                     the group's order; `_Deleting`: ForceDelete asked)
    asg_policies     a scaling policy by GROUP_KEY|NAME, its ARN indexed
    asg_activities   a scaling activity by GROUP_KEY|START|ID, kept six weeks

A group's instances are EC2's (`ec2_instances`, indexed by their group's key: `_Group`);
what the group knows of each is in the instance's `_Asg` member: LifecycleState, HealthStatus,
ProtectedFromScaleIn, the LaunchTemplate it came from, and the activity that launched or is
terminating it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from typing import Any

from portside.autoscaling.decide import HEALTHY, IN_SERVICE, UNHEALTHY, Member
from portside.autoscaling.errors import ValidationError, group_not_found
from portside.autoscaling.names import ACTIVITIES, GROUPS, group_key, scope
from portside.ec2.instance_records import INSTANCES, state_of
from portside.ops.context import Op
from portside.store.base import Document, Tx

SIX_WEEKS = 42 * 86400
HEALTHY_STATES = ("pending", "running")


def shown(doc: Document) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if not k.startswith("_")}


def load(tx: Tx, op: Op, name: str) -> Document:
    doc = tx.get(GROUPS, group_key(op.account, op.region, name))
    if doc is None:
        raise group_not_found(name)
    return doc


def find(tx: Tx, op: Op, name: str) -> Document | None:
    return tx.get(GROUPS, group_key(op.account, op.region, name))


def all_groups(tx: Tx, op: Op) -> list[Document]:
    return [doc for _, doc in tx.scan(GROUPS, prefix=scope(op.account, op.region))]


def put(tx: Tx, doc: Document) -> None:
    tx.put(GROUPS, doc["_Key"], doc)


def members(tx: Tx, key: str) -> list[Document]:
    """The EC2 instances a group holds (Terminating ones included)."""
    return [doc for _, doc in tx.scan(INSTANCES, where={"grp": key})]


def healthy(instance: Document) -> bool:
    return state_of(instance) in HEALTHY_STATES


def member(instance: Document) -> Member:
    asg = instance["_Asg"]
    template = asg.get("LaunchTemplate") or {}
    return Member(
        instance_id=instance["InstanceId"],
        zone=instance["Placement"]["AvailabilityZone"],
        lifecycle=asg["LifecycleState"],
        healthy=healthy(instance) and asg.get("HealthStatus", HEALTHY) == HEALTHY,
        protected=bool(asg.get("ProtectedFromScaleIn")),
        launched_at=float(instance["LaunchTime"]),
        template=f"{template.get('LaunchTemplateId', '')}:{template.get('Version', '')}",
        in_service_at=in_service_at(instance),
    )


def in_service_at(instance: Document) -> float | None:
    """When the member went InService (None while it is not; its launch for one that went
    InService before the time was kept)."""
    asg = instance["_Asg"]
    if asg["LifecycleState"] != IN_SERVICE:
        return None
    return float(asg.get("InServiceAt") or instance["LaunchTime"])


def instance_view(instance: Document) -> dict[str, Any]:
    """An instance as DescribeAutoScalingGroups lists it."""
    asg = instance["_Asg"]
    out: dict[str, Any] = {
        "InstanceId": instance["InstanceId"],
        "InstanceType": instance["InstanceType"],
        "AvailabilityZone": instance["Placement"]["AvailabilityZone"],
        "LifecycleState": asg["LifecycleState"],
        "HealthStatus": asg.get("HealthStatus", HEALTHY)
        if healthy(instance) or asg["LifecycleState"] == "Terminating"
        else UNHEALTHY,
        "ProtectedFromScaleIn": bool(asg.get("ProtectedFromScaleIn")),
    }
    if asg.get("LaunchTemplate"):
        out["LaunchTemplate"] = asg["LaunchTemplate"]
    return out


def group_view(doc: Document, instances: Iterable[Document]) -> dict[str, Any]:
    out = shown(doc)
    out["Instances"] = [instance_view(i) for i in instances]
    return out


# -- paging ------------------------------------------------------------------------------------


def _bad_token(token: str) -> ValidationError:
    return ValidationError(f"Invalid NextToken: {token[:64]}")


def page(
    items: list[Any], ident: Any, token: str | None, size: int | None, default: int = 50
) -> tuple[list[Any], str | None]:
    """A page of `items` (ordered) past the one `token` names; the next token when more."""
    if token:
        try:
            after = base64.urlsafe_b64decode(token.encode()).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise _bad_token(token) from None
        at = next((i for i, item in enumerate(items) if str(ident(item)) == after), None)
        if at is None:
            raise _bad_token(token)
        items = items[at + 1 :]
    limit = size or default
    if len(items) > limit:
        items = items[:limit]
        return items, base64.urlsafe_b64encode(str(ident(items[-1])).encode()).decode()
    return items, None


def activity_key(group_key_: str, start: float, ident: str) -> str:
    return f"{group_key_}|{start:017.6f}|{ident}"


def activities_of(tx: Tx, group_key_: str) -> list[tuple[str, Document]]:
    return list(tx.scan(ACTIVITIES, prefix=group_key_ + "|"))
