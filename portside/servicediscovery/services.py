"""Services: CreateService, GetService, ListServices, UpdateService, DeleteService and the
service attributes (Get/Update/DeleteServiceAttributes).

A service lives in one namespace and is named once there. In a DNS namespace its DnsConfig
says which records its instances make (A, AAAA, SRV, or a CNAME alone), their TTL and the
routing policy (MULTIVALUE: up to eight healthy records at random per answer; WEIGHTED: one);
a service with none, or of Type HTTP, is found through DiscoverInstances only. Health is
the instances' custom status (HealthCheckCustomConfig) or, with a Route 53 HealthCheckConfig
(public namespaces), stored and shown: Portside runs no Route 53 checks.
"""

from __future__ import annotations

from typing import Any

from portside.errors import NamedError
from portside.ops.context import Op
from portside.servicediscovery import errors, filters, operations, paging, records, tagging
from portside.servicediscovery.actions import action
from portside.servicediscovery.errors import InvalidInput
from portside.store.base import Document, Tx

_HIDDEN = frozenset({"Tags", "ServiceAttributes", "_Revision"})
MAX_ATTRIBUTES = 30


def _check_records(dns_records: list[dict[str, Any]], policy: str) -> None:
    types = [r["Type"] for r in dns_records]
    if not types:
        raise InvalidInput("DnsConfig must contain at least one DnsRecord.")
    if len(set(types)) != len(types):
        raise InvalidInput("DnsRecords may contain each record type once.")
    if "CNAME" in types and len(types) > 1:
        raise InvalidInput("A CNAME record cannot be combined with any other record type.")
    if "CNAME" in types and policy != "WEIGHTED":
        raise InvalidInput("A CNAME record requires the WEIGHTED routing policy.")


def _type(ns: Document, p: dict[str, Any], dns: dict[str, Any] | None) -> str:
    if ns["Type"] == "HTTP" or p.get("Type") == "HTTP":
        if dns:
            raise InvalidInput("DnsConfig cannot be specified for an HTTP service.")
        return "HTTP"
    return "DNS_HTTP" if dns else "HTTP"


@action("CreateService")
def create_service(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    dns = p.get("DnsConfig")
    ns_ref = p.get("NamespaceId") or (dns or {}).get("NamespaceId")
    if not ns_ref:
        raise InvalidInput("NamespaceId is required.")
    if p.get("HealthCheckConfig") and p.get("HealthCheckCustomConfig"):
        raise InvalidInput(
            "HealthCheckConfig and HealthCheckCustomConfig cannot both be specified."
        )
    with op.store.transaction() as tx:
        ns = records.namespace(op, tx, ns_ref)
        kind = _type(ns, p, dns)
        if p.get("HealthCheckConfig") and ns["Type"] != "DNS_PUBLIC":
            raise InvalidInput("HealthCheckConfig is only supported in public DNS namespaces.")
        name = p["Name"]
        for held in records.services_of(tx, op.region, op.account, ns["Id"]):
            if held["Name"].lower() == name.lower():
                creator = p.get("CreatorRequestId")
                if creator and held.get("CreatorRequestId") == creator:
                    return {"Service": shown(tx, held)}  # a retry: the same answer
                raise NamedError(
                    "ServiceAlreadyExists",
                    f"Service {name} already exists in namespace {ns['Id']} "
                    f"(service {held['Id']}).",
                )
        srv_id = records.new_id(op, "srv-")
        doc: Document = {
            "Id": srv_id,
            "Arn": records.arn(op, "service", srv_id),
            "ResourceOwner": op.account,
            "Name": name,
            "NamespaceId": ns["Id"],
            "Type": kind,
            "CreateDate": op.now(),
            "CreatedByAccount": op.account,
        }
        if p.get("Description") is not None:
            doc["Description"] = p["Description"]
        if dns:
            policy = dns.get("RoutingPolicy") or "MULTIVALUE"
            _check_records(dns["DnsRecords"], policy)
            doc["DnsConfig"] = {
                "NamespaceId": ns["Id"],
                "RoutingPolicy": policy,
                "DnsRecords": [dict(r) for r in dns["DnsRecords"]],
            }
        for member in ("HealthCheckConfig", "HealthCheckCustomConfig", "CreatorRequestId"):
            if p.get(member) is not None:
                doc[member] = p[member]
        doc["Tags"] = tagging.merged([], p.get("Tags") or [], name)
        doc["ServiceAttributes"] = {}
        tx.put(records.SERVICES, records.service_key(doc), doc)
        return {"Service": shown(tx, doc)}


def shown(tx: Tx, doc: Document) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k not in _HIDDEN}
    out["InstanceCount"] = len(records.instances(tx, doc))
    return out


@action("GetService")
def get_service(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        return {"Service": shown(tx, records.service(op, tx, p["Id"]))}


_FIELDS = {"NAMESPACE_ID": lambda s: s["NamespaceId"], "RESOURCE_OWNER": lambda s: "SELF"}
_CONDITIONS = {"NAMESPACE_ID": ("EQ", "IN"), "RESOURCE_OWNER": ("EQ",)}


@action("ListServices")
def list_services(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    keep = filters.matcher(p.get("Filters") or (), _FIELDS, _CONDITIONS)
    with op.store.read() as tx:
        found = [shown(tx, d) for _, d in tx.scan(records.SERVICES, prefix=records.op_scope(op))]
    listed = [
        {k: v for k, v in s.items() if k not in ("CreatorRequestId", "NamespaceId")}
        for s in found
        if keep(s)
    ]
    return paging.page(p, listed, lambda s: s["Id"], "Services")


@action("UpdateService")
def update_service(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    change = p["Service"]
    with op.store.transaction() as tx:
        doc = records.service(op, tx, p["Id"])
        if "Description" in change:
            doc["Description"] = change["Description"]
        dns = change.get("DnsConfig")
        if dns is not None:
            if "DnsConfig" not in doc:
                raise InvalidInput(f"Service {doc['Id']} has no DNS configuration to update.")
            held = sorted(r["Type"] for r in doc["DnsConfig"]["DnsRecords"])
            if sorted(r["Type"] for r in dns["DnsRecords"]) != held:
                raise InvalidInput("The record types of a service cannot be changed.")
            doc["DnsConfig"]["DnsRecords"] = [dict(r) for r in dns["DnsRecords"]]
        if change.get("HealthCheckConfig") is not None:
            if "HealthCheckConfig" not in doc:
                raise InvalidInput(f"Service {doc['Id']} has no HealthCheckConfig to update.")
            doc["HealthCheckConfig"] = change["HealthCheckConfig"]
        tx.put(records.SERVICES, records.service_key(doc), doc)
        op_id = operations.record(op, tx, "UPDATE_SERVICE", {"SERVICE": doc["Id"]})
    return {"OperationId": op_id}


@action("DeleteService")
def delete_service(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        doc = records.service(op, tx, p["Id"])
        if records.instances(tx, doc):
            raise errors.resource_in_use(
                f"Service {doc['Id']} has instances registered; deregister them first."
            )
        tx.delete(records.SERVICES, records.service_key(doc))
    return {}


@action("GetServiceAttributes")
def get_attributes(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        doc = records.service(op, tx, p["ServiceId"])
    return {
        "ServiceAttributes": {
            "ServiceArn": doc["Arn"],
            "ResourceOwner": doc["ResourceOwner"],
            "Attributes": dict(doc.get("ServiceAttributes") or {}),
        }
    }


@action("UpdateServiceAttributes")
def update_attributes(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        doc = records.service(op, tx, p["ServiceId"])
        held = dict(doc.get("ServiceAttributes") or {})
        held.update(p["Attributes"])
        if len(held) > MAX_ATTRIBUTES:
            raise NamedError(
                "ServiceAttributesLimitExceededException",
                f"A service can have at most {MAX_ATTRIBUTES} attributes.",
            )
        doc["ServiceAttributes"] = held
        tx.put(records.SERVICES, records.service_key(doc), doc)
    return {}


@action("DeleteServiceAttributes")
def delete_attributes(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        doc = records.service(op, tx, p["ServiceId"])
        held = dict(doc.get("ServiceAttributes") or {})
        for key in p["Attributes"]:
            held.pop(key, None)
        doc["ServiceAttributes"] = held
        tx.put(records.SERVICES, records.service_key(doc), doc)
    return {}
