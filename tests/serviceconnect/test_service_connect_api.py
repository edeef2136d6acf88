"""Service Connect through the API (boto3 and the AWS CLI v2) on simulated agents: a
service's configuration checked as ECS checks it and shown on its deployments with its
Cloud Map resources, its tasks registered in the namespace's HTTP service, the cluster's
default namespace, ListServicesByNamespace."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from fleet import register, start_fleet, wait_until
from harness import ServerProcess

NETWORK = {"awsvpcConfiguration": {"subnets": ["subnet-0a1b2c"], "securityGroups": ["sg-0a1b2c"]}}
WEB = {
    "name": "web",
    "image": "busybox",
    "memory": 64,
    "portMappings": [{"name": "http", "containerPort": 8080, "protocol": "tcp"}],
}


@pytest.fixture
def sd(server: ServerProcess) -> Any:
    client = server.client("servicediscovery")
    client.meta.config.inject_host_prefix = False
    return client


def _namespace(sd: Any) -> tuple[str, str]:
    name = f"sc{uuid.uuid4().hex[:8]}"
    op = sd.create_http_namespace(Name=name)["OperationId"]
    ns_id = wait_until(
        lambda: sd.get_operation(OperationId=op)["Operation"]["Targets"].get("NAMESPACE"),
        what="the namespace",
    )
    return name, str(sd.get_namespace(Id=ns_id)["Namespace"]["Arn"])


def _error(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    error = caught.value.response["Error"]
    return error["Code"], error.get("Message", "")


def connect(namespace: str | None, **service: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"enabled": True}
    if namespace is not None:
        out["namespace"] = namespace
    if service:
        out["services"] = [service]
    return out


def test_a_service_in_a_namespace_is_shown_registered_and_listed(
    server: ServerProcess, sd: Any, tmp_path: Path
) -> None:
    ns_name, ns_arn = _namespace(sd)
    with start_fleet(server, tmp_path, f"sc-{uuid.uuid4().hex[:8]}") as fleet:
        ecs = fleet.ecs
        td = register(ecs, "sc-backend", networkMode="awsvpc", containers=[WEB])
        alias = {
            "portName": "http",
            "discoveryName": "backend",
            "clientAliases": [{"port": 8080, "dnsName": "backend"}],
        }
        ecs.create_service(
            cluster=fleet.cluster,
            serviceName="backend",
            taskDefinition=td,
            desiredCount=2,
            networkConfiguration=NETWORK,
            serviceConnectConfiguration=connect(ns_name, **alias),
        )
        service = ecs.describe_services(cluster=fleet.cluster, services=["backend"])["services"][0]
        deployment = service["deployments"][0]
        assert deployment["serviceConnectConfiguration"] == connect(ns_arn, **alias)
        (resource,) = deployment["serviceConnectResources"]
        assert resource["discoveryName"] == "backend"
        discovery = sd.get_service(Id=resource["discoveryArn"].rsplit("/", 1)[1])["Service"]
        assert (discovery["Name"], discovery["Type"]) == ("backend", "HTTP")

        def two() -> list[dict[str, Any]] | None:
            found = sd.list_instances(ServiceId=discovery["Id"])["Instances"]
            return found if len(found) == 2 else None

        instances = wait_until(two, timeout=30, what="two instances")
        arns = ecs.list_tasks(cluster=fleet.cluster, serviceName="backend")["taskArns"]
        assert sorted(i["Id"] for i in instances) == sorted(a.rsplit("/", 1)[1] for a in arns)
        for instance in instances:
            attributes = instance["Attributes"]
            assert attributes["AWS_INSTANCE_PORT"] == "8080"
            assert attributes["ECS_SERVICE_NAME"] == "backend"
            assert attributes["AWS_INSTANCE_IPV4"].count(".") == 3
        found = sd.discover_instances(NamespaceName=ns_name, ServiceName="backend")["Instances"]
        assert len(found) == 2

        # A client only: the namespace from the cluster's defaults.
        ecs.update_cluster(cluster=fleet.cluster, serviceConnectDefaults={"namespace": ns_name})
        (shown,) = ecs.describe_clusters(clusters=[fleet.cluster])["clusters"]
        assert shown["serviceConnectDefaults"] == {"namespace": ns_arn}  # kept as its ARN
        ecs.create_service(
            cluster=fleet.cluster,
            serviceName="frontend",
            taskDefinition=td,
            desiredCount=0,
            networkConfiguration=NETWORK,
            serviceConnectConfiguration={"enabled": True},
        )
        front = ecs.describe_services(cluster=fleet.cluster, services=["frontend"])["services"][0]
        assert front["deployments"][0]["serviceConnectConfiguration"] == connect(ns_arn)
        listed = ecs.list_services_by_namespace(namespace=ns_arn)["serviceArns"]
        assert sorted(a.rsplit("/", 1)[1] for a in listed) == ["backend", "frontend"]
        page = ecs.list_services_by_namespace(namespace=ns_name, maxResults=1)
        assert len(page["serviceArns"]) == 1 and page["nextToken"]

        # Stopping a task takes its instance away; scaling to 0 takes them all.
        ecs.stop_task(cluster=fleet.cluster, task=arns[0])
        wait_until(
            lambda: (
                arns[0].rsplit("/", 1)[1]
                not in [i["Id"] for i in sd.list_instances(ServiceId=discovery["Id"])["Instances"]]
            ),
            timeout=10,
            what="the stopped task's instance gone",
        )
        ecs.update_service(cluster=fleet.cluster, service="backend", desiredCount=0)
        wait_until(
            lambda: not sd.list_instances(ServiceId=discovery["Id"])["Instances"],
            timeout=30,
            what="no instances",
        )
        # Service Connect off: the deployment shows none.
        ecs.update_service(
            cluster=fleet.cluster, service="backend", serviceConnectConfiguration={"enabled": False}
        )
        after = ecs.describe_services(cluster=fleet.cluster, services=["backend"])["services"][0]
        assert "serviceConnectConfiguration" not in after["deployments"][0]
        for name in ("backend", "frontend"):
            ecs.delete_service(cluster=fleet.cluster, service=name, force=True)
        # The Cloud Map service ECS made goes with the last service naming it.
        wait_until(
            lambda: (
                not sd.list_services(
                    Filters=[{"Name": "NAMESPACE_ID", "Values": [ns_arn.rsplit("/", 1)[1]]}]
                )["Services"]
            ),
            timeout=30,
            what="the discovery service gone",
        )
        sd.delete_namespace(Id=ns_arn.rsplit("/", 1)[1])


def test_ecs_refuses_what_service_connect_cannot_do(
    server: ServerProcess, sd: Any, tmp_path: Path
) -> None:
    ns_name, _ = _namespace(sd)
    with start_fleet(server, tmp_path, f"sc-{uuid.uuid4().hex[:8]}") as fleet:
        ecs = fleet.ecs
        awsvpc = register(ecs, "sc-bad", networkMode="awsvpc", containers=[WEB])
        host = register(ecs, "sc-host", networkMode="host", containers=[WEB])
        base = {"cluster": fleet.cluster, "serviceName": "bad", "desiredCount": 1}
        code, message = _error(
            ecs.create_service,
            **base,
            taskDefinition=host,
            serviceConnectConfiguration=connect(ns_name),
        )
        assert code == "InvalidParameterException" and "host network mode" in message
        code, message = _error(
            ecs.create_service,
            **base,
            taskDefinition=awsvpc,
            networkConfiguration=NETWORK,
            serviceConnectConfiguration=connect(ns_name, portName="grpc"),
        )
        assert code == "InvalidParameterException" and "portName grpc" in message
        code, message = _error(
            ecs.create_service,
            **base,
            taskDefinition=awsvpc,
            networkConfiguration=NETWORK,
            serviceConnectConfiguration=connect("no-such-namespace"),
        )
        assert code == "NamespaceNotFoundException"
        code, _ = _error(ecs.list_services_by_namespace, namespace="no-such-namespace")
        assert code == "NamespaceNotFoundException"
        # Nothing was half made.
        assert ecs.list_services(cluster=fleet.cluster)["serviceArns"] == []


def test_the_aws_cli_v2_creates_describes_and_lists(
    server: ServerProcess, sd: Any, tmp_path: Path
) -> None:
    ns_name, ns_arn = _namespace(sd)
    with start_fleet(server, tmp_path, f"sc-{uuid.uuid4().hex[:8]}") as fleet:
        td = register(fleet.ecs, "sc-cli", networkMode="awsvpc", containers=[WEB])
        config = connect(ns_name, portName="http", clientAliases=[{"port": 80, "dnsName": "web"}])
        server.aws(
            "ecs",
            "create-service",
            "--cluster",
            fleet.cluster,
            "--service-name",
            "web",
            "--task-definition",
            td,
            "--desired-count",
            "1",
            "--network-configuration",
            json.dumps(NETWORK),
            "--service-connect-configuration",
            json.dumps(config),
            v2=True,
        )
        described = server.aws(
            "ecs", "describe-services", "--cluster", fleet.cluster, "--services", "web", v2=True
        )["services"][0]["deployments"][0]
        assert described["serviceConnectConfiguration"]["namespace"] == ns_arn
        assert described["serviceConnectResources"][0]["discoveryName"] == "http"
        listed = server.aws("ecs", "list-services-by-namespace", "--namespace", ns_name, v2=True)
        assert [a.rsplit("/", 1)[1] for a in listed["serviceArns"]] == ["web"]
        server.aws(
            "ecs",
            "delete-service",
            "--cluster",
            fleet.cluster,
            "--service",
            "web",
            "--force",
            v2=True,
        )
