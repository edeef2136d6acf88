"""ECS gateways through boto3 and the AWS CLI against a real server: a gateway's life
(create, describe, update, associate with clusters, delete) and ECS's errors, with no service
connected: no routes and no load balancers, as on AWS before the first service connects
(test_gateway_routes.py connects them).

Neither AWS CLI the tests have knows these actions (Debian's v2 is 2.9, the venv's v1 has
the daemon actions but not the gateway ones): boto3 only."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess
from roles import ECS_TRUST

ACCOUNT = "000000000000"


def _error(call: Any, **params: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as err:
        call(**params)
    return dict(err.value.response["Error"])


def _role(server: ServerProcess, name: str) -> str:
    # A plain client: the harness's checks read JSON answers, IAM's are XML.
    iam = boto3.client(
        "iam",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    out = iam.create_role(RoleName=f"gw-{name}", AssumeRolePolicyDocument=ECS_TRUST)
    return str(out["Role"]["Arn"])


def test_a_gateways_life_and_its_cluster_associations(
    server: ServerProcess, ecs: Any, name: str
) -> None:
    role = _role(server, name)
    created = ecs.create_gateway(
        name=name,
        infrastructureRoleArn=role,
        configuration={"hostSharedAlb": {"scheme": "internal", "protocol": "HTTP"}},
        tags=[{"key": "team", "value": "platform"}],
        clientToken="t-1",
    )
    arn = f"arn:aws:ecs:us-east-1:{ACCOUNT}:gateway/{name}"
    assert created == {"gatewayArn": arn, "name": name, "status": "ACTIVE"} | {
        "ResponseMetadata": created["ResponseMetadata"]
    }
    again = ecs.create_gateway(
        name=name,
        infrastructureRoleArn=role,
        configuration={"hostSharedAlb": {"scheme": "internal", "protocol": "HTTP"}},
        tags=[{"key": "team", "value": "platform"}],
        clientToken="t-1",
    )
    assert again["gatewayArn"] == arn
    taken = _error(
        ecs.create_gateway,
        name=name,
        infrastructureRoleArn=role,
        configuration={"hostSharedAlb": {}},
    )
    assert taken["Code"] == "InvalidParameterException"

    shown = ecs.describe_gateway(gateway=name)["gateway"]
    alb = shown["configuration"]["hostSharedAlb"]
    assert (alb["scheme"], alb["protocol"], alb["port"], alb["currentAlbCount"]) == (
        "internal",
        "HTTP",
        80,
        0,
    )
    assert (shown["accessType"], shown["deletionProtection"], shown["status"]) == (
        "PRIVATE",
        False,
        "ACTIVE",
    )
    assert shown["tags"] == [{"key": "team", "value": "platform"}]
    assert ecs.list_tags_for_resource(resourceArn=arn)["tags"] == shown["tags"]
    listed = ecs.list_gateways(names=[name])["gateways"]
    assert [g["gatewayArn"] for g in listed] == [arn]

    updated = ecs.update_gateway(
        gateway=arn,
        deletionProtection=True,
        configuration={"hostSharedAlb": {"maxAlbCount": 3, "httpDesync": "strictest"}},
    )
    assert updated["status"] == "UPDATE_COMPLETE"
    alb = ecs.describe_gateway(gateway=arn)["gateway"]["configuration"]["hostSharedAlb"]
    assert (alb["maxAlbCount"], alb["httpDesync"], alb["scheme"]) == (3, "strictest", "internal")

    # Clusters: associated, listed, and no route or load balancer until a service connects.
    ecs.create_cluster(clusterName=name)
    assoc = ecs.associate_gateway_with_cluster(gateway=name, cluster=name)
    cluster_arn = f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/{name}"
    assert (assoc["gatewayArn"], assoc["clusterArn"], assoc["status"]) == (
        arn,
        cluster_arn,
        "ACTIVE",
    )
    listed_assoc = ecs.list_gateway_cluster_associations(cluster=name)
    assert [a["gatewayArn"] for a in listed_assoc["gatewayClusterAssociations"]] == [arn]
    resources = ecs.describe_gateway_resources(gateway=name)["gatewayResources"]
    assert resources == {"gatewayArn": arn, "resources": {"hostSharedAlb": []}}
    assert ecs.list_gateway_routes(gateway=name)["gatewayRoutes"] == []
    route = f"arn:aws:ecs:us-east-1:{ACCOUNT}:gateway-route/{name}/x"
    assert _error(ecs.describe_gateway_route, gatewayRouteArn=route)["Code"] == (
        "ResourceNotFoundException"
    )

    # Deletion waits for protection off and no association.
    protected = _error(ecs.delete_gateway, gateway=name)
    assert protected["Code"] == "InvalidParameterException"
    ecs.update_gateway(gateway=name, deletionProtection=False)
    held = _error(ecs.delete_gateway, gateway=name)
    assert held["Code"] == "InvalidParameterException"
    gone = ecs.disassociate_gateway_from_cluster(gateway=name, cluster=name)
    assert gone["status"] == "INACTIVE"
    twice = _error(ecs.disassociate_gateway_from_cluster, gateway=name, cluster=name)
    assert twice["Code"] == "ResourceNotFoundException"
    inactive = ecs.list_gateway_cluster_associations(gateway=name, status=["INACTIVE"])
    assert [a["clusterArn"] for a in inactive["gatewayClusterAssociations"]] == [cluster_arn]
    assert not ecs.list_gateway_cluster_associations(gateway=name, status=["ACTIVE"])[
        "gatewayClusterAssociations"
    ]
    deleted = ecs.delete_gateway(gateway=name)
    assert deleted["status"] == "DELETED"
    assert _error(ecs.describe_gateway, gateway=name)["Code"] == "GatewayNotFoundException"


def test_gateway_errors(server: ServerProcess, ecs: Any, name: str) -> None:
    role = _role(server, name)
    for call, params in (
        (ecs.describe_gateway, {"gateway": name}),
        (ecs.delete_gateway, {"gateway": name}),
        (ecs.update_gateway, {"gateway": name, "deletionProtection": False}),
        (ecs.describe_gateway_resources, {"gateway": name}),
        (ecs.list_gateway_routes, {"gateway": name}),
        (ecs.associate_gateway_with_cluster, {"gateway": name, "cluster": "default"}),
    ):
        assert _error(call, **params)["Code"] == "GatewayNotFoundException", call

    def create(**config: Any) -> dict[str, str]:
        return _error(
            ecs.create_gateway,
            name=name,
            infrastructureRoleArn=config.pop("role", role),
            configuration=config,
        )

    missing_role = f"arn:aws:iam::{ACCOUNT}:role/nobody-{name}"
    assert create(role=missing_role, hostSharedAlb={})["Code"] == "InvalidParameterException"
    assert create(role="not-an-arn", hostSharedAlb={})["Code"] == "InvalidParameterException"
    # Portside has no S3 and no WAF: the bucket and the web ACL do not exist.
    logs = {"destination": {"s3": {"bucket": f"logs-{name}"}}}
    refused = create(hostSharedAlb={"accessLogs": logs})
    assert refused["Code"] == "InvalidParameterException" and "S3" in refused["Message"]
    waf = "arn:aws:wafv2:us-east-1:000000000000:regional/webacl/x/1"
    assert create(hostSharedAlb={"webACLArn": waf})["Code"] == "InvalidParameterException"

    ecs.create_gateway(name=name, infrastructureRoleArn=role, configuration={"hostSharedAlb": {}})
    try:
        nowhere = _error(ecs.associate_gateway_with_cluster, gateway=name, cluster=f"no-{name}")
        assert nowhere["Code"] == "ClusterNotFoundException"
        shown = ecs.describe_gateway(gateway=name)["gateway"]
        alb = shown["configuration"]["hostSharedAlb"]
        assert (alb["scheme"], alb["protocol"], alb["port"]) == ("internet-facing", "HTTPS", 443)
        assert shown["accessType"] == "PUBLIC"
    finally:
        ecs.delete_gateway(gateway=name)
