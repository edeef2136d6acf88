"""ListServicesByNamespace: the services of every cluster of the caller's account and Region
whose Service Connect configuration is in a namespace (ECS API reference: "This list might
include services in different clusters"). ACTIVE services only, as ListServices; the
namespace is a name or ARN, a missing one NamespaceNotFoundException."""

from __future__ import annotations

from typing import Any

from portside.api.ecs.registry import action
from portside.model import arn as arns
from portside.model.service import ACTIVE
from portside.ops.context import Op
from portside.ops.paging import check_max_results, decode_token, keys_page
from portside.serviceconnect.config import find_namespace, namespace_not_found
from portside.wire.replies import page


@action("ListServicesByNamespace")
def list_services_by_namespace(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    limit = check_max_results(p.get("maxResults"), default=10)
    after = decode_token(p.get("nextToken"))
    with op.store.read() as tx:
        namespace = find_namespace(op, tx, str(p["namespace"]))
        if namespace is None:
            raise namespace_not_found()
        arn = namespace["Arn"]

        def listed(doc: dict[str, Any]) -> bool:
            connect = doc.get("serviceConnect") or {}
            return connect.get("namespace") == arn

        prefix = arns.ecs(op.region, op.account, "service/")
        rows = tx.scan("services", prefix=prefix, where={"status": ACTIVE}, after=after)
        keys, token = keys_page(rows, limit, listed)
    return page("serviceArns", keys, token)
