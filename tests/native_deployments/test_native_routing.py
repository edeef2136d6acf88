"""Which target groups a native deployment's tasks use (pure): the first on the load
balancer's targetGroupArn, the next on the alternate, a rollback on blue's with blue's tasks
adopted; the targets loop's and the task facts' views agree."""

from __future__ import annotations

from typing import Any

from portside.controllers.native_deployments import routing
from portside.model.deployment import DeploymentConfiguration
from portside.model.doc import from_doc, to_doc
from portside.model.load_balancer import LoadBalancer
from portside.model.service import Deployment, Service

BLUE, GREEN, OTHER = "tg/blue", "tg/green", "tg/plain"
LB = LoadBalancer.from_doc(
    {
        "targetGroupArn": BLUE,
        "containerName": "web",
        "containerPort": 80,
        "advancedConfiguration": {
            "alternateTargetGroupArn": GREEN,
            "productionListenerRule": "rule/prod",
        },
    }
)
PLAIN = LoadBalancer.from_doc(
    {"targetGroupArn": OTHER, "containerName": "web", "containerPort": 81}
)


def deployment(ident: str, native: dict[str, Any] | None) -> Deployment:
    return Deployment(ident, "ACTIVE", "td", 2, 0.0, 0.0, native=native)


def service(*deployments: Deployment, strategy: str = "BLUE_GREEN") -> Service:
    return Service(
        arn="arn:svc",
        name="svc",
        cluster_arn="arn:cluster",
        task_definition="td",
        desired_count=2,
        created_at=0.0,
        created_by="me",
        deployment_configuration=DeploymentConfiguration(strategy=strategy),
        load_balancers=[LB, PLAIN],
        deployments=list(deployments),
    )


def test_groups_swap_and_a_rollback_adopts_blue() -> None:
    assert routing.base_groups([LB, PLAIN]) == [BLUE]
    assert routing.other_groups([LB], [BLUE]) == [GREEN]
    assert routing.other_groups([LB], [GREEN]) == [BLUE]
    s = service(
        deployment("r", {"stage": "ROLLBACK", "groups": [BLUE], "adopts": ["one"]}),
        deployment("two", {"stage": "DONE", "groups": [GREEN]}),
        deployment("one", None),
    )
    by = routing.groups_by_deployment(s)
    assert by == {
        "r": frozenset({BLUE, OTHER}),
        "one": frozenset({BLUE, OTHER}),
        "two": frozenset({GREEN, OTHER}),
    }
    loop = routing.balancers_by_deployment(to_doc(s))
    assert loop is not None
    assert {k: {lb["targetGroupArn"] for lb in v} for k, v in loop.items()} == {
        k: set(v) for k, v in by.items()
    }
    assert from_doc(Service, to_doc(s)).deployments[0].native == s.deployments[0].native


def test_a_rolling_service_is_not_the_engine_s() -> None:
    s = service(deployment("one", None), strategy="ROLLING")
    assert routing.groups_by_deployment(s) is None
    assert routing.balancers_by_deployment(to_doc(s)) is None
