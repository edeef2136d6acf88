"""CreateService, UpdateService and DeleteService for services with gateway connectors: the
routes (gateway_routes.py) made around the service's own change, and undone when it fails.

- Create: the connector is checked, the routes made, then the service created with their
  target groups; a failed create removes the routes. A retry of a create whose routes exist
  (the same clientToken) makes none again.
- Update with `gatewayConnectors`: the same connectors keep their routes. Changed ones: the
  new routes are made first (their rules come after the old ones for the same host name, so
  the old routes serve until they go), then the service is updated (a new deployment, its
  load balancers changed), then the old routes go; a failed update removes the new ones and
  leaves the old. An empty list disconnects the service.
- Delete: the service is deleted, then its routes go (traffic to it stops at once, as its
  tasks stop) and their target groups leave the service.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TypeVar

from portside.model.requests import CreateService, UpdateService
from portside.ops import gateway_routes as routes
from portside.ops import services
from portside.ops.clusters import get_active
from portside.ops.context import Op
from portside.ops.services import ServiceView

Request = TypeVar("Request", CreateService, UpdateService)


def create_service(op: Op, request: CreateService) -> ServiceView:
    if not request.gateway_connectors:
        return services.create_service(op, request)
    planned = routes.plan(
        op,
        request.cluster,
        request.gateway_connectors,
        request.task_definition or "",
        request.network_configuration,
    )
    if planned is None:  # no such task definition: CreateService says so
        return services.create_service(op, request)
    arns = [
        routes.route_arn(op, g["gatewayArn"], planned.cluster_arn, request.name)
        for g in planned.gateways
    ]
    with op.store.read() as tx:
        held = [doc for arn in arns if (doc := tx.get(routes.ROUTES, arn)) is not None]
    if held:  # a retry, or a name in use: CreateService decides which
        return services.create_service(op, request)
    made = routes.connect(op, planned, request.name)
    view = _with_routes(op, request, made, services.create_service)
    routes.record(op, made, view.service.arn, planned.cluster_arn)
    return view


def update_service(op: Op, request: UpdateService) -> ServiceView:
    if request.gateway_connectors is None:
        return services.update_service(op, request)
    with op.store.read() as tx:
        cluster = get_active(op, tx, request.cluster)
        current = services.require(op, tx, cluster, request.service)
    planned = routes.plan(
        op,
        cluster.arn,
        request.gateway_connectors,
        request.task_definition or current.task_definition,
        request.network_configuration or current.network_configuration,
    )
    held = routes.routes_of(op, current.arn)
    same_network = request.network_configuration in (None, current.network_configuration)
    if same_network and list(request.gateway_connectors) == current.gateway_connectors:
        kept = tuple(lb for lb in current.load_balancers if not lb.shown)
        return services.update_service(
            op, dataclasses.replace(request, gateway_load_balancers=kept)
        )
    made = routes.connect(op, planned, current.name) if planned is not None else []
    view = _with_routes(op, request, made, services.update_service)
    routes.disconnect(op, held)
    routes.record(op, made, view.service.arn, cluster.arn)
    return view


def _with_routes(
    op: Op,
    request: Request,
    made: Sequence[routes.Connection],
    change: Callable[[Op, Request], ServiceView],
) -> ServiceView:
    """The service's change with the routes' target groups; the routes undone when it fails."""
    try:
        return change(
            op, dataclasses.replace(request, gateway_load_balancers=routes.load_balancers(made))
        )
    except Exception:
        routes.undo(op, made)
        raise


def delete_service(op: Op, cluster: str | None, ref: str, force: bool) -> ServiceView:
    view = services.delete_service(op, cluster, ref, force)
    held = routes.routes_of(op, view.service.arn)
    if not held:
        return view
    routes.disconnect(op, held)
    with op.store.transaction() as tx:
        service = services.load(tx, view.service.arn)
        if service is not None:
            service.load_balancers = [lb for lb in service.load_balancers if lb.shown]
            services.save(tx, service)
            view = dataclasses.replace(view, service=service)
    return view
