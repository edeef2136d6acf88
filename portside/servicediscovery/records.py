"""Where Cloud Map keeps its resources, their ids and ARNs, and how a request finds them.

Tables (store/tables.py), every key beginning `ACCOUNT|REGION|` so that regions never see
each other and "every namespace of this account here" is a prefix scan:

- `sd_namespaces`: `...|ns-ID`, the namespace as GetNamespace shows it, name indexed;
- `sd_services`: `...|srv-ID`, the service as GetService shows it, namespace indexed, plus
  its tags and custom attributes (`_PRIVATE`);
- `sd_instances`: `...|srv-ID|INSTANCE-ID`, the instance with its custom health status and,
  for an ECS task's, the task's ARN (`Task`, indexed: a stop deregisters by task);
- `sd_operations`: `...|OPERATION-ID`, the operations GetOperation and ListOperations show.

A namespace or service is named by its id or its ARN, as the API allows both.
"""

from __future__ import annotations

import re

from portside.ops.context import Op
from portside.servicediscovery import errors
from portside.store.base import Document, Tx

NAMESPACES = "sd_namespaces"
SERVICES = "sd_services"
INSTANCES = "sd_instances"
OPERATIONS = "sd_operations"
TABLES = (NAMESPACES, SERVICES, INSTANCES)  # what DNS records are made of

INSTANCE_PRIVATE = frozenset({"Health", "Task", "ServiceId"})
ARN = re.compile(
    r"^arn:aws[a-z-]*:servicediscovery:([a-z0-9-]+):(\d{12}):(namespace|service)/(.+)$"
)
_ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"


def scope(region: str, account: str) -> str:
    return f"{account}|{region}|"


def op_scope(op: Op) -> str:
    return scope(op.region, op.account)


def arn(op: Op, kind: str, rid: str) -> str:
    return f"arn:aws:servicediscovery:{op.region}:{op.account}:{kind}/{rid}"


def new_id(op: Op, prefix: str) -> str:
    """`ns-` or `srv-` and 16 lower-case letters and digits, as Cloud Map's ids look."""
    digest = int(op.world.new_id()[:24], 16)
    chars = []
    for _ in range(16):
        digest, i = divmod(digest, len(_ID_CHARS))
        chars.append(_ID_CHARS[i])
    return prefix + "".join(chars)


def _id_of(op: Op, ref: str, kind: str) -> str:
    m = ARN.match(ref)
    if m is None:
        return ref
    if (m[1], m[2], m[3]) != (op.region, op.account, kind):
        return ""
    return m[4]


# -- lookups --------------------------------------------------------------------------------


def namespace(op: Op, tx: Tx, ref: str) -> Document:
    doc = tx.get(NAMESPACES, op_scope(op) + _id_of(op, ref, "namespace"))
    if doc is None:
        raise errors.namespace_not_found(ref)
    return doc


def service(op: Op, tx: Tx, ref: str) -> Document:
    doc = tx.get(SERVICES, op_scope(op) + _id_of(op, ref, "service"))
    if doc is None:
        raise errors.service_not_found(ref)
    return doc


def service_key(doc: Document) -> str:
    region, account = doc["Arn"].split(":")[3:5]
    return scope(region, account) + doc["Id"]


def namespace_key(doc: Document) -> str:
    region, account = doc["Arn"].split(":")[3:5]
    return scope(region, account) + doc["Id"]


def instance_key(service_doc: Document, instance_id: str) -> str:
    return f"{service_key(service_doc)}|{instance_id}"


def instances(tx: Tx, service_doc: Document) -> list[tuple[str, Document]]:
    return list(tx.scan(INSTANCES, prefix=service_key(service_doc) + "|"))


def namespace_by_name(tx: Tx, region: str, account: str, name: str) -> Document | None:
    for _, doc in tx.scan(NAMESPACES, prefix=scope(region, account), where={"name": name}):
        return doc
    return None


def services_of(tx: Tx, region: str, account: str, namespace_id: str) -> list[Document]:
    where = {"namespace": namespace_id}
    return [d for _, d in tx.scan(SERVICES, prefix=scope(region, account), where=where)]
