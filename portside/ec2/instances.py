"""EC2 instances: RunInstances, DescribeInstances, TerminateInstances, DescribeInstanceStatus.

An instance is a host a provider starts (portside/hosts) running a Portside agent in the
cluster its user data names. These calls only write what is wanted; the `ec2-instances` loop
(instance_hosts.py) starts and stops the hosts and moves each instance through EC2's states
as its provider reports: pending -> running (its agent registered) -> shutting-down ->
terminated (its container instance deregistered), or stopped when its host died by itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portside.ec2.errors import combination, invalid_value
from portside.ec2.filters import FilterSet, each, one
from portside.ec2.instance_launch import launch, spec_of
from portside.ec2.instance_records import (
    CODES,
    all_of,
    get_many,
    put,
    reservations,
    set_state,
    state_of,
)
from portside.ec2.operations import action
from portside.ec2.records import page
from portside.ops.context import Op
from portside.store.base import Document


def _state(d: Mapping[str, Any]) -> tuple[Any, ...]:
    return (d["State"]["Name"],)


FIELDS = {
    "availability-zone": lambda d: (d["Placement"]["AvailabilityZone"],),
    "client-token": one("ClientToken"),
    "iam-instance-profile.arn": lambda d: ((d.get("IamInstanceProfile") or {}).get("Arn"),),
    "image-id": one("ImageId"),
    "instance-id": one("InstanceId"),
    "instance-state-code": lambda d: (d["State"]["Code"],),
    "instance-state-name": _state,
    "instance-type": one("InstanceType"),
    "key-name": one("KeyName"),
    "launch-time": one("LaunchTime"),
    "network-interface.network-interface-id": each("NetworkInterfaces", "NetworkInterfaceId"),
    "owner-id": one("_OwnerId"),
    "placement-group-name": lambda d: (d["Placement"].get("GroupName"),),
    "private-dns-name": one("PrivateDnsName"),
    "private-ip-address": one("PrivateIpAddress"),
    "reservation-id": one("_ReservationId"),
    "subnet-id": one("SubnetId"),
    "vpc-id": one("VpcId"),
    "instance.group-id": each("SecurityGroups", "GroupId"),
    "instance.group-name": each("SecurityGroups", "GroupName"),
    "group-id": each("SecurityGroups", "GroupId"),
}
STATUS_FIELDS = {
    "availability-zone": one("AvailabilityZone"),
    "instance-state-code": lambda d: (d["InstanceState"]["Code"],),
    "instance-state-name": lambda d: (d["InstanceState"]["Name"],),
    "instance-status.status": lambda d: (d["InstanceStatus"]["Status"],),
    "instance-status.reachability": lambda d: (
        d["InstanceStatus"]["Details"][0]["Status"] if d["InstanceStatus"]["Details"] else None,
    ),
    "system-status.status": lambda d: (d["SystemStatus"]["Status"],),
    "system-status.reachability": lambda d: (
        d["SystemStatus"]["Details"][0]["Status"] if d["SystemStatus"]["Details"] else None,
    ),
}


@action("RunInstances")
def run_instances(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    low, high = p["MinCount"], p["MaxCount"]
    if low < 1:
        raise invalid_value("MinCount", low, "Expecting a value greater than 0.")
    if high < low:
        raise invalid_value(
            "MaxCount",
            high,
            "The maximum count must be greater than or equal to the minimum count.",
        )
    given = {k: v for k, v in p.items() if k != "LaunchTemplate"}
    token = p.get("ClientToken") or ""
    with op.store.transaction() as tx:
        if token:
            held = [d for d in all_of(tx, op) if d.get("ClientToken") == token]
            if held:  # the same call again: its reservation, as EC2 answers it
                return reservations(held)[0]
        spec = spec_of(tx, op, p.get("LaunchTemplate"), given)
        spec.client_token = token
        docs = launch(tx, op, spec, low, high)
    return reservations(docs)[0]


@action("DescribeInstances")
def describe_instances(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    ids = p.get("InstanceIds")
    if ids and p.get("MaxResults") is not None:
        raise combination("The parameter instancesSet cannot be used with the parameter maxResults")
    size = p.get("MaxResults")
    if size is not None and not 5 <= size <= 1000:
        raise invalid_value("maxResults", f" {size} ", "Expecting a value between 5 and 1000.")
    keep = FilterSet(p.get("Filters"), FIELDS)
    with op.store.read() as tx:
        docs = get_many(tx, op, ids) if ids else all_of(tx, op)
    docs = keep.apply(docs)
    out = page(p, docs, "InstanceId", "Instances", lambda d: d)
    answer: dict[str, Any] = {"Reservations": reservations(out["Instances"])}
    if out.get("NextToken"):
        answer["NextToken"] = out["NextToken"]
    return answer


def terminate(docs: list[Document], reason: str) -> list[dict[str, Any]]:
    """Ask `docs` to terminate (in the caller's transaction, documents written by the caller):
    the InstanceStateChange of each."""
    changes = []
    for doc in docs:
        before = dict(doc["State"])
        if state_of(doc) not in ("shutting-down", "terminated"):
            set_state(doc, "shutting-down", reason)
        changes.append(
            {
                "InstanceId": doc["InstanceId"],
                "CurrentState": dict(doc["State"]),
                "PreviousState": before,
            }
        )
    return changes


@action("TerminateInstances")
def terminate_instances(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        docs = get_many(tx, op, p["InstanceIds"])
        when = op.now()
        changes = terminate(docs, f"User initiated ({_utc(when)})")
        for doc in docs:
            put(tx, doc)
    return {"TerminatingInstances": changes}


def _utc(at: float) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S GMT", time.gmtime(at))


def _status(doc: Document) -> dict[str, Any]:
    state = state_of(doc)
    if state == "running":
        check = "ok" if doc.get("_Host") == "running" else "initializing"
        details = [
            {"Name": "reachability", "Status": "passed" if check == "ok" else "initializing"}
        ]
    else:
        check, details = "not-applicable", []
    return {
        "AvailabilityZone": doc["Placement"]["AvailabilityZone"],
        "InstanceId": doc["InstanceId"],
        "InstanceState": {"Code": CODES[state], "Name": state},
        "InstanceStatus": {"Status": check, "Details": details},
        "SystemStatus": {"Status": check, "Details": list(details)},
        "Events": [],
    }


@action("DescribeInstanceStatus")
def describe_instance_status(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    ids = p.get("InstanceIds")
    if ids and p.get("MaxResults") is not None:
        raise combination("The parameter instancesSet cannot be used with the parameter maxResults")
    keep = FilterSet(p.get("Filters"), STATUS_FIELDS, tags=lambda d: ())
    with op.store.read() as tx:
        docs = get_many(tx, op, ids) if ids else all_of(tx, op)
    if not p.get("IncludeAllInstances"):
        docs = [d for d in docs if state_of(d) == "running"]
    views = keep.apply(_status(d) for d in docs)
    return page(p, views, "InstanceId", "InstanceStatuses", lambda d: d)
