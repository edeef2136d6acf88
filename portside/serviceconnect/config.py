"""A service's `serviceConnectConfiguration`: ECS's checks, the configuration as ECS shows it
on the service's deployments, and the Cloud Map services it registers tasks in.

Rules (ECS API reference, ServiceConnectConfiguration / ServiceConnectService /
ServiceConnectClientAlias; developer guide, "Service Connect"):

- not in the host network mode (awsvpc and bridge only);
- the namespace is the one given (a name or ARN of a Cloud Map namespace of this account and
  Region), else the cluster's `serviceConnectDefaults`; none found is
  NamespaceNotFoundException;
- each `services[]` entry names a `portName` the task definition's port mappings name; its
  `discoveryName` is the portName unless given and is unique in the service; each client
  alias has a port (1-65535) and a `dnsName` (the discoveryName and namespace, as
  `discovery.namespace`, unless given); `ingressPortOverride` is a port;
- a service with no `services` is a client only: its tasks reach the namespace's names, no
  name reaches them.

Each `services[]` entry is a Cloud Map service named by its discoveryName in the namespace
(made here when the namespace has none of that name, as ECS does; deleted by
registrations.py once no service names it and it has no instance left), shown in the deployment's
`serviceConnectResources` (discoveryName, discoveryArn). The Cloud Map service is written
with the same document shape servicediscovery/services.py writes (its CreateService opens
its own transaction; this must be in CreateService's).

Wording: ours, except NamespaceNotFoundException's ("The specified namespace wasn't found.",
the model's documentation of the error).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from portside.errors import InvalidParameterException, NamedError
from portside.model.task_definition import TaskDefinition
from portside.ops.context import Op
from portside.servicediscovery import operations as sd_operations
from portside.servicediscovery import records as sd_records
from portside.servicediscovery import tagging as sd_tagging
from portside.store.base import Document, Tx

_DNS_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,253}[A-Za-z0-9])?$")
_DISCOVERY = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_-]{0,62})$")
# The CreatorRequestId of the Cloud Map services ECS makes: registrations.py deletes them
# once no service names them and their last instance is gone.
MANAGED = "ecs-service-connect"


def namespace_not_found() -> NamedError:
    return NamedError("NamespaceNotFoundException", "The specified namespace wasn't found.")


def find_namespace(op: Op, tx: Tx, ref: str) -> Document | None:
    """A Cloud Map namespace of the caller's account and Region, by name or ARN."""
    m = sd_records.ARN.match(ref)
    if m is not None:
        if (m[1], m[2], m[3]) != (op.region, op.account, "namespace"):
            return None
        return tx.get(sd_records.NAMESPACES, sd_records.op_scope(op) + m[4])
    return sd_records.namespace_by_name(tx, op.region, op.account, ref)


def port_names(td: TaskDefinition) -> dict[str, tuple[str, int]]:
    """The task definition's named port mappings: name -> (container, container port)."""
    out: dict[str, tuple[str, int]] = {}
    for container in td.spec.get("containerDefinitions") or ():
        for mapping in container.get("portMappings") or ():
            name = mapping.get("name")
            if name and mapping.get("containerPort") is not None:
                out[str(name)] = (str(container.get("name")), int(mapping["containerPort"]))
    return out


def _port(value: Any, what: str) -> int:
    if not isinstance(value, int) or not 0 < value < 65536:
        raise InvalidParameterException(f"{what} must be a port between 1 and 65535.")
    return value


def check(
    given: Mapping[str, Any] | None,
    td: TaskDefinition,
    cluster_default: str | None,
    find: Any,
) -> tuple[dict[str, Any], Document] | None:
    """The configuration as stored and the namespace it is in; None when Service Connect is
    off. `find(ref)` is the namespace document a name or ARN names, or None (pure but for it)."""
    if not given or not given.get("enabled"):
        if given and given.get("services"):
            raise InvalidParameterException(
                "Service Connect services can only be given when Service Connect is enabled."
            )
        return None
    mode = str(td.spec.get("networkMode") or "bridge")
    if mode not in ("awsvpc", "bridge"):
        raise InvalidParameterException(
            f"Service Connect is not supported for task definitions that use the {mode} "
            "network mode: use awsvpc or bridge."
        )
    ref = given.get("namespace") or cluster_default
    if not ref:
        raise InvalidParameterException(
            "Service Connect needs a namespace: give serviceConnectConfiguration.namespace, "
            "or set the cluster's serviceConnectDefaults."
        )
    namespace = find(str(ref))
    if namespace is None:
        raise namespace_not_found()
    named = port_names(td)
    services: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in given.get("services") or ():
        port_name = str(item.get("portName") or "")
        if port_name not in named:
            raise InvalidParameterException(
                f"The portName {port_name} does not match the name of a port mapping in the "
                f"task definition {td.arn}."
            )
        discovery = str(item.get("discoveryName") or port_name)
        if not _DISCOVERY.match(discovery):
            raise InvalidParameterException(
                f"The discoveryName {discovery} must be 1-64 letters, digits, hyphens and "
                "underscores, starting with a letter or digit."
            )
        if discovery in seen:
            raise InvalidParameterException(
                f"The discoveryName {discovery} is used twice in the Service Connect configuration."
            )
        seen.add(discovery)
        out: dict[str, Any] = {"portName": port_name, "discoveryName": discovery}
        aliases = []
        for alias in item.get("clientAliases") or ():
            port = _port(alias.get("port"), "A client alias's port")
            dns_name = str(alias.get("dnsName") or f"{discovery}.{namespace['Name']}")
            if not _DNS_NAME.match(dns_name):
                raise InvalidParameterException(f"The dnsName {dns_name} is not a valid name.")
            aliases.append({"port": port, "dnsName": dns_name})
        if aliases:
            out["clientAliases"] = aliases
        if item.get("ingressPortOverride") is not None:
            out["ingressPortOverride"] = _port(item["ingressPortOverride"], "ingressPortOverride")
        for member in ("timeout", "tls"):
            if item.get(member):
                out[member] = item[member]
        services.append(out)
    config: dict[str, Any] = {"enabled": True, "namespace": namespace["Arn"]}
    if services:
        config["services"] = services
    for member in ("logConfiguration", "accessLogConfiguration"):
        if given.get(member):
            config[member] = given[member]
    return config, namespace


def ensure_discovery(op: Op, tx: Tx, namespace: Document, name: str) -> str:
    """The ARN of the Cloud Map service `name` in `namespace`, made when there is none (an
    HTTP service: Service Connect finds instances through the API, never DNS)."""
    for held in sd_records.services_of(tx, op.region, op.account, namespace["Id"]):
        if held["Name"].lower() == name.lower():
            return str(held["Arn"])
    srv_id = sd_records.new_id(op, "srv-")
    doc: Document = {
        "Id": srv_id,
        "Arn": sd_records.arn(op, "service", srv_id),
        "ResourceOwner": op.account,
        "Name": name,
        "NamespaceId": namespace["Id"],
        "Type": "HTTP",
        "CreateDate": op.now(),
        "CreatedByAccount": op.account,
        "Description": "Managed by Amazon ECS",
        "CreatorRequestId": MANAGED,
        "HealthCheckCustomConfig": {"FailureThreshold": 1},
        "Tags": sd_tagging.merged([], [], name),
        "ServiceAttributes": {},
    }
    tx.put(sd_records.SERVICES, sd_records.service_key(doc), doc)
    return str(doc["Arn"])


def resolve(
    op: Op,
    tx: Tx,
    given: Mapping[str, Any] | None,
    td: TaskDefinition,
    cluster_default: str | None,
) -> tuple[dict[str, Any] | None, list[dict[str, str]]]:
    """CreateService's and UpdateService's step: the configuration checked and its
    resources (each discovery name's Cloud Map service, made when missing)."""
    found = check(given, td, cluster_default, lambda ref: find_namespace(op, tx, ref))
    if found is None:
        return None, []
    config, namespace = found
    resources = [
        {
            "discoveryName": s["discoveryName"],
            "discoveryArn": ensure_discovery(op, tx, namespace, s["discoveryName"]),
        }
        for s in config.get("services") or ()
    ]
    return config, resources


def cluster_defaults(op: Op, tx: Tx, given: Mapping[str, Any] | None) -> dict[str, str] | None:
    """A cluster's `serviceConnectDefaults` as ECS keeps and shows them (API reference,
    ClusterServiceConnectDefaultsRequest): an existing namespace's name or ARN gives its ARN;
    a new name makes an HTTP namespace of that name ("API calls" discovery, what ECS
    creates) and gives its ARN; an empty name removes the defaults ({}; the namespace stays).
    None: not given (unchanged). In the caller's transaction (CreateCluster, UpdateCluster:
    ops/clusters.py's hook)."""
    if given is None:
        return None
    ref = str(given.get("namespace") or "")
    if not ref:
        return {}
    if len(ref) > 1024 or (any(c in ref for c in '<>"/') and not sd_records.ARN.match(ref)):
        raise InvalidParameterException(
            'The namespace name can have up to 1024 characters and no >, <, " or /.'
        )
    found = find_namespace(op, tx, ref)
    if found is not None:
        return {"namespace": str(found["Arn"])}
    if sd_records.ARN.match(ref):
        raise namespace_not_found()
    ns_id = sd_records.new_id(op, "ns-")
    doc: Document = {
        "Type": "HTTP",
        "Name": ref,
        "Id": ns_id,
        "Arn": sd_records.arn(op, "namespace", ns_id),
        "ResourceOwner": op.account,
        "Properties": {"HttpProperties": {"HttpName": ref}},
        "CreateDate": op.now(),
        "Tags": sd_tagging.merged([], [], ref),
    }
    doc["_Operation"] = sd_operations.record(op, tx, "CREATE_NAMESPACE", {"NAMESPACE": ns_id})
    tx.put(sd_records.NAMESPACES, sd_records.op_scope(op) + ns_id, doc)
    return {"namespace": str(doc["Arn"])}
