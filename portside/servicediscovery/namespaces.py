"""Namespaces: CreatePrivateDnsNamespace, CreatePublicDnsNamespace, CreateHttpNamespace,
GetNamespace, ListNamespaces, DeleteNamespace and the three Update*Namespace actions.

A DNS namespace is a zone Portside's DNS server answers (a private one for its VPC, which
must exist; a public one too: nothing is delegated to Portside, so only clients that ask
Portside's DNS see it). Every namespace also has the HTTP name DiscoverInstances takes: its
name. A name is taken once per account and region. Each change is an operation
(operations.py) made in the same transaction. A create repeated with its CreatorRequestId
(an SDK's retry) answers the first one's OperationId; the id reused for another namespace is
DuplicateRequest.
"""

from __future__ import annotations

from typing import Any

from portside.ec2 import lookup as ec2
from portside.errors import NamedError
from portside.ops.context import Op
from portside.servicediscovery import errors, filters, operations, paging, records, tagging
from portside.servicediscovery.actions import action
from portside.servicediscovery.errors import InvalidInput
from portside.store.base import Document, Tx

PRIVATE, PUBLIC, HTTP = "DNS_PRIVATE", "DNS_PUBLIC", "HTTP"
_HIDDEN = frozenset({"Tags", "Vpc", "_Operation"})
DEFAULT_SOA_TTL = 15  # what Cloud Map gives a DNS namespace's SOA when none is asked for


def _dns_name(name: str) -> str:
    name = name.rstrip(".").lower()
    labels = name.split(".")
    if (
        len(name) > 253
        or not name.isascii()
        or not all(
            0 < len(label) <= 63 and label.replace("-", "").replace("_", "").isalnum()
            for label in labels
        )
    ):
        raise InvalidInput(f"Namespace name {name} is not a valid domain name.")
    return name


def _hosted_zone(op: Op) -> str:
    return "Z" + records.new_id(op, "").upper()[:13]


def _create(op: Op, p: dict[str, Any], kind: str) -> dict[str, Any]:
    name = p["Name"] if kind == HTTP else _dns_name(p["Name"])
    creator = p.get("CreatorRequestId")
    with op.store.transaction() as tx:
        if creator:
            for _, made in tx.scan(records.NAMESPACES, prefix=records.op_scope(op)):
                if made.get("CreatorRequestId") != creator:
                    continue
                if made["Name"] == name and made["Type"] == kind:
                    return {"OperationId": made["_Operation"]}  # a retry: the same answer
                raise errors.duplicate_request(made["_Operation"])
        held = records.namespace_by_name(tx, op.region, op.account, name)
        if held is not None:
            raise NamedError(
                "NamespaceAlreadyExists",
                f"Namespace with name {name} already exists (namespace {held['Id']}).",
            )
        properties: dict[str, Any] = {"HttpProperties": {"HttpName": name}}
        doc: Document = {"Type": kind, "Name": name}
        if kind == PRIVATE:
            vpc = p["Vpc"]
            if not ec2.vpc_exists(op, tx, vpc):
                raise InvalidInput(f"VPC {vpc} does not exist.")
            doc["Vpc"] = vpc
        if kind != HTTP:
            soa = ((p.get("Properties") or {}).get("DnsProperties") or {}).get("SOA") or {}
            properties["DnsProperties"] = {
                "HostedZoneId": _hosted_zone(op),
                "SOA": {"TTL": soa.get("TTL", DEFAULT_SOA_TTL)},
            }
        ns_id = records.new_id(op, "ns-")
        doc.update(
            Id=ns_id,
            Arn=records.arn(op, "namespace", ns_id),
            ResourceOwner=op.account,
            Description=p.get("Description"),
            Properties=properties,
            CreateDate=op.now(),
            CreatorRequestId=creator,
            Tags=tagging.merged([], p.get("Tags") or [], name),
        )
        op_id = operations.record(op, tx, "CREATE_NAMESPACE", {"NAMESPACE": ns_id})
        doc["_Operation"] = op_id
        tx.put(records.NAMESPACES, records.op_scope(op) + ns_id, _drop_none(doc))
    return {"OperationId": op_id}


def _drop_none(doc: Document) -> Document:
    return {k: v for k, v in doc.items() if v is not None}


@action("CreatePrivateDnsNamespace")
def create_private(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return _create(op, p, PRIVATE)


@action("CreatePublicDnsNamespace")
def create_public(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return _create(op, p, PUBLIC)


@action("CreateHttpNamespace")
def create_http(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return _create(op, p, HTTP)


def shown(tx: Tx, doc: Document) -> dict[str, Any]:
    """The namespace as GetNamespace shows it, with its ServiceCount."""
    out = {k: v for k, v in doc.items() if k not in _HIDDEN}
    region, account = doc["Arn"].split(":")[3:5]
    out["ServiceCount"] = len(records.services_of(tx, region, account, doc["Id"]))
    return out


@action("GetNamespace")
def get_namespace(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        return {"Namespace": shown(tx, records.namespace(op, tx, p["Id"]))}


_FIELDS = {
    "TYPE": lambda n: n["Type"],
    "NAME": lambda n: n["Name"],
    "HTTP_NAME": lambda n: n["Properties"]["HttpProperties"]["HttpName"],
    "RESOURCE_OWNER": lambda n: "SELF",
}
_CONDITIONS = {
    "TYPE": ("EQ", "IN"),
    "NAME": ("EQ", "BEGINS_WITH"),
    "HTTP_NAME": ("EQ", "BEGINS_WITH"),
    "RESOURCE_OWNER": ("EQ",),
}


@action("ListNamespaces")
def list_namespaces(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    keep = filters.matcher(p.get("Filters") or (), _FIELDS, _CONDITIONS)
    with op.store.read() as tx:
        found = [shown(tx, d) for _, d in tx.scan(records.NAMESPACES, prefix=records.op_scope(op))]
    listed = [{k: v for k, v in n.items() if k != "CreatorRequestId"} for n in found if keep(n)]
    return paging.page(p, listed, lambda n: n["Id"], "Namespaces")


@action("DeleteNamespace")
def delete_namespace(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        doc = records.namespace(op, tx, p["Id"])
        if records.services_of(tx, op.region, op.account, doc["Id"]):
            raise errors.resource_in_use(
                f"Namespace {doc['Id']} has services associated with it; delete them first."
            )
        tx.delete(records.NAMESPACES, records.namespace_key(doc))
        op_id = operations.record(op, tx, "DELETE_NAMESPACE", {"NAMESPACE": doc["Id"]})
    return {"OperationId": op_id}


def _update(op: Op, p: dict[str, Any], kind: str) -> dict[str, Any]:
    change = p["Namespace"]
    with op.store.transaction() as tx:
        doc = records.namespace(op, tx, p["Id"])
        if doc["Type"] != kind:
            raise InvalidInput(f"Namespace {doc['Id']} is not a {kind} namespace.")
        if "Description" in change:
            doc["Description"] = change["Description"]
        soa = ((change.get("Properties") or {}).get("DnsProperties") or {}).get("SOA")
        if soa and kind != HTTP:
            doc["Properties"]["DnsProperties"]["SOA"] = {"TTL": soa["TTL"]}
        tx.put(records.NAMESPACES, records.namespace_key(doc), doc)
        op_id = operations.record(op, tx, "UPDATE_NAMESPACE", {"NAMESPACE": doc["Id"]})
    return {"OperationId": op_id}


@action("UpdatePrivateDnsNamespace")
def update_private(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return _update(op, p, PRIVATE)


@action("UpdatePublicDnsNamespace")
def update_public(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return _update(op, p, PUBLIC)


@action("UpdateHttpNamespace")
def update_http(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return _update(op, p, HTTP)
