"""An Express service read back: the ECS service (with its tags), its ingress from ELB, its
scaling from Application Auto Scaling, and each live service revision's configuration
from the task definition it runs (express/config.from_task_definition)."""

from __future__ import annotations

from dataclasses import dataclass

from portside.errors import NamedError
from portside.express import config as cfg
from portside.express import resources as res
from portside.model import arn as arns
from portside.model.service import DEPLOYMENT_INACTIVE, Deployment, Service
from portside.ops import services
from portside.ops.context import Op
from portside.ops.tags import Tag, get_tags
from portside.ops.task_definitions import find as find_task_definition

MANAGED_KEY = "AmazonECSManaged"
INFRA_ROLE_TAG = "ecs:express-infrastructure-role"  # wording: ours
RESERVED = (MANAGED_KEY, INFRA_ROLE_TAG)


def is_express(tags: list[Tag]) -> bool:
    return any(t["key"] == MANAGED_KEY and t["value"] == "true" for t in tags)


@dataclass(frozen=True, slots=True)
class ExpressView:
    service: Service
    tags: list[Tag]
    ingress: res.Ingress
    configs: list[tuple[Deployment, cfg.ExpressConfig]]  # live revisions, newest first
    scaling: cfg.Scaling

    @property
    def current_config(self) -> cfg.ExpressConfig:
        return self.configs[0][1]

    @property
    def infrastructure_role(self) -> str | None:
        return next((t["value"] for t in self.tags if t["key"] == INFRA_ROLE_TAG), None)

    @property
    def user_tags(self) -> list[Tag]:
        return [t for t in self.tags if t["key"] not in RESERVED]


def _not_found(arn: str) -> NamedError:
    # wording: ours (the model's error shape for DescribeExpressGatewayService)
    return NamedError("ResourceNotFoundException", f"The Express service {arn} was not found.")


def read_view(op: Op, arn: str) -> ExpressView | None:
    """None when `arn` names no Express service of the caller's."""
    parsed = arns.parse(arn)
    if (
        parsed is None
        or parsed.kind != "service"
        or (parsed.region, parsed.account)
        != (
            op.region,
            op.account,
        )
    ):
        return None
    with op.store.read() as tx:
        service = services.load(tx, arn)
        if service is None:
            return None
        tags = get_tags(tx, arn)
        if not is_express(tags):
            return None  # not one, or deleted (DeleteService takes the tags)
        tds = {
            d.task_definition: find_task_definition(op, tx, d.task_definition)
            for d in service.deployments
        }
    tg = service.load_balancers[0].target_group_arn if service.load_balancers else None
    ingress = res.find_ingress(op, tg) if tg else None
    if ingress is None or tg is None:
        return None
    cluster_name = service.cluster_arn.rsplit("/", 1)[-1]
    scaling = res.scaling_of(op, cluster_name, service.name) or cfg.Scaling()
    path = res.health_check_path(op, tg) or cfg.DEFAULT_HEALTH_PATH
    configs = []
    for d in service.deployments:
        td = tds.get(d.task_definition)
        if d.status == DEPLOYMENT_INACTIVE or td is None:
            continue
        vpc = (d.network_configuration or {}).get("awsvpcConfiguration") or {}
        configs.append(
            (
                d,
                cfg.from_task_definition(
                    td.spec,
                    path,
                    tuple(vpc.get("subnets") or ()),
                    tuple(vpc.get("securityGroups") or ()),
                    scaling,
                ),
            )
        )
    if not configs:
        return None
    return ExpressView(service, tags, ingress, configs, scaling)


def load_express(op: Op, arn: str) -> ExpressView:
    view = read_view(op, arn)
    if view is None:
        raise _not_found(arn)
    return view
