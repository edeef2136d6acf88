"""ECS Express Mode's actions: wire <-> portside/express. An Express service answers as
ECSExpressGatewayService: its status (the ECS service's), the current service deployment,
and one configuration per live service revision with its ingress path (the service's URL,
`https://<service>-<id>.ecs.<region>.on.aws`, whose host name Portside's DNS answers)."""

from __future__ import annotations

from typing import Any

from portside.api.ecs.registry import action
from portside.express import config as cfg
from portside.express import service as express
from portside.express.view import ExpressView
from portside.ops.service_deployments import (
    current_deployment,
    service_deployment_arn,
    service_revision_arn,
)
from portside.wire.replies import drop_none

Json = dict[str, Any]


def _status(view: ExpressView) -> Json:
    return {"statusCode": view.service.status}


def _configuration(view: ExpressView, deployment_id: str, config: cfg.ExpressConfig) -> Json:
    d = next(x for x in view.service.deployments if x.id == deployment_id)
    return {
        "serviceRevisionArn": service_revision_arn(view.service, d.id),
        **cfg.shown(config),
        "ingressPaths": [{"accessType": "PUBLIC", "endpoint": view.ingress.endpoint}],
        "createdAt": d.created_at,
    }


def _updated_at(view: ExpressView) -> float:
    return max([view.service.created_at] + [d.updated_at for d in view.service.deployments])


def shape(view: ExpressView, include_tags: bool = True) -> Json:
    s = view.service
    current = current_deployment(s)
    out = drop_none(
        {
            "cluster": s.cluster_arn,
            "serviceName": s.name,
            "serviceArn": s.arn,
            "infrastructureRoleArn": view.infrastructure_role,
            "status": _status(view),
            "currentDeployment": service_deployment_arn(s, current.id) if current else None,
            "activeConfigurations": [_configuration(view, d.id, c) for d, c in view.configs],
            "createdAt": s.created_at,
            "updatedAt": _updated_at(view),
        }
    )
    if include_tags:
        out["tags"] = view.user_tags
    return out


@action("CreateExpressGatewayService")
def create_express_gateway_service(op: Any, p: Json) -> Json:
    return {"service": shape(express.create(op, p))}


@action("DescribeExpressGatewayService")
def describe_express_gateway_service(op: Any, p: Json) -> Json:
    view = express.describe(op, p["serviceArn"])
    return {"service": shape(view, include_tags="TAGS" in (p.get("include") or ()))}


@action("UpdateExpressGatewayService")
def update_express_gateway_service(op: Any, p: Json) -> Json:
    view, target = express.update(op, p)
    s = view.service
    return {
        "service": drop_none(
            {
                "serviceArn": s.arn,
                "cluster": s.cluster_arn,
                "serviceName": s.name,
                "status": _status(view),
                "targetConfiguration": _configuration(view, s.primary.id, target),
                "createdAt": s.created_at,
                "updatedAt": _updated_at(view),
            }
        )
    }


@action("DeleteExpressGatewayService")
def delete_express_gateway_service(op: Any, p: Json) -> Json:
    return {"service": shape(express.delete(op, p["serviceArn"]))}
