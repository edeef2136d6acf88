"""Service operations on a real store, without a server or a controller: what CreateService,
UpdateService and DeleteService store, the rules that refuse a request (and leave the store as
it was), and how deployments map to ECS's service deployments."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portside import testing
from portside.api.ecs import requests_services as wire
from portside.elb import target_groups
from portside.errors import (
    ClientException,
    ClusterNotFoundException,
    InvalidParameterException,
    PlatformUnknownException,
    ServiceNotActiveException,
    ServiceNotFoundException,
)
from portside.model.doc import from_doc, to_doc
from portside.model.launch import CapacityItem
from portside.model.service import (
    COMPLETED,
    DEPLOYMENT_ACTIVE,
    DEPLOYMENT_INACTIVE,
    FAILED,
    INACTIVE,
    PRIMARY,
    Deployment,
    Service,
)
from portside.ops import clusters, service_deployments, services, task_definitions
from portside.ops import service_validation as sv
from portside.ops.context import Op, root_principal
from portside.ops.tags import get_tags
from portside.testing.elb import load_balanced_group

ACCOUNT = "000000000000"
REGION = "us-east-1"
T0 = 1_700_000_000.0
NETWORK = {"awsvpcConfiguration": {"subnets": ["subnet-1"], "securityGroups": ["sg-1"]}}
WEB = {"name": "web", "image": "busybox", "memory": 64, "portMappings": [{"containerPort": 80}]}


Clock = testing.FakeClock


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def op(tmp_path: Path, clock: Clock) -> Iterator[Op]:
    store = testing.sqlite_store(tmp_path)
    yield testing.make_op(testing.make_world(store, clock=clock), REGION, ACCOUNT)
    store.close()


@pytest.fixture
def cluster(op: Op) -> str:
    return clusters.create_cluster(
        op, name="c1", capacity_providers=["FARGATE", "FARGATE_SPOT"]
    ).cluster.arn


def register(op: Op, family: str = "web", **extra: Any) -> str:
    request = {"family": family, "containerDefinitions": [WEB], **extra}
    return task_definitions.register(op, request)[0].arn


def register_fargate(op: Op, family: str = "app") -> str:
    return register(
        op,
        family,
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
    )


def create(op: Op, name: str = "s1", **params: Any) -> Service:
    params.setdefault("cluster", "c1")
    if params.get("schedulingStrategy") != "DAEMON":
        params.setdefault("desiredCount", 1)
    params.setdefault("taskDefinition", "web")
    return services.create_service(op, wire.create_service({"serviceName": name, **params})).service


def update(op: Op, name: str = "s1", **params: Any) -> Service:
    return services.update_service(
        op, wire.update_service({"cluster": "c1", "service": name, **params})
    ).service


def stored(op: Op, name: str = "s1") -> Service:
    with op.store.read() as tx:
        found = services.load(tx, f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/c1/{name}")
    assert found is not None
    return found


def rows(op: Op) -> int:
    with op.store.read() as tx:
        return tx.count("services")


def refused(kind: type[Exception], message: str, call: Any, *args: Any, **kwargs: Any) -> None:
    with pytest.raises(kind) as err:
        call(*args, **kwargs)
    assert message in str(err.value), str(err.value)


@pytest.fixture(autouse=True)
def _web(op: Op, cluster: str) -> None:
    register(op)


# -- CreateService: what it stores -------------------------------------------------------------


def test_create_stores_an_active_service_with_one_primary_deployment(op: Op, cluster: str) -> None:
    service = create(op, desiredCount=3)
    assert service.arn == f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/c1/s1"
    assert service.cluster_arn == cluster
    assert service.status == "ACTIVE"
    assert service.created_at == T0 and service.created_by == root_principal(ACCOUNT)
    assert service.task_definition.endswith("task-definition/web:1")
    assert (service.running_count, service.pending_count, service.events) == (0, 0, [])
    assert service.launch_type == "EC2" and service.capacity_provider_strategy == []
    assert service.propagate_tags == "NONE"
    assert service.role_arn == f"arn:aws:iam::{ACCOUNT}:{sv.SERVICE_LINKED_ROLE}"
    (dep,) = service.deployments
    assert re.fullmatch(r"ecs-svc/\d{19}", dep.id)
    assert dep.status == PRIMARY and dep.rollout_state == "IN_PROGRESS"
    assert dep.rollout_state_reason == f"ECS deployment {dep.id} in progress."
    assert (dep.desired_count, dep.task_definition) == (3, service.task_definition)
    assert (dep.launch_type, dep.created_at, dep.sources) == ("EC2", T0, [])
    assert stored(op) == service


def test_create_defaults_the_deployment_configuration_by_scheduling_strategy(op: Op) -> None:
    replica = create(op, "r")
    daemon = create(op, "d", schedulingStrategy="DAEMON")
    breaker = {"enable": False, "rollback": False}
    assert replica.deployment_configuration.to_doc() == {
        "deploymentCircuitBreaker": breaker,
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
    }
    assert daemon.deployment_configuration.to_doc() == {
        "deploymentCircuitBreaker": breaker,
        "maximumPercent": 100,
        "minimumHealthyPercent": 0,
    }
    assert daemon.desired_count == 0 and daemon.launch_type == "EC2"


def test_create_keeps_given_deployment_configuration_members(op: Op) -> None:
    alarms = {"alarmNames": ["high-cpu"], "enable": True, "rollback": False}
    service = create(
        op,
        deploymentConfiguration={
            "maximumPercent": 150,
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
            "alarms": alarms,
        },
    )
    config = service.deployment_configuration.to_doc()
    assert config["maximumPercent"] == 150 and config["minimumHealthyPercent"] == 100
    assert config["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert config["alarms"] == alarms


def test_create_with_fargate_copies_network_and_platform_to_the_deployment(op: Op) -> None:
    register_fargate(op)
    service = create(op, taskDefinition="app", launchType="FARGATE", networkConfiguration=NETWORK)
    assert service.platform_version == "LATEST"
    dep = service.primary
    shown = {
        "awsvpcConfiguration": {"assignPublicIp": "DISABLED", **NETWORK["awsvpcConfiguration"]}
    }
    assert service.network_configuration == shown
    assert dep.platform_version == "1.4.0" and dep.network_configuration == shown
    assert dep.launch_type == "FARGATE"


def test_create_uses_and_records_the_clusters_default_strategy(op: Op) -> None:
    clusters.create_cluster(
        op,
        name="c2",
        capacity_providers=["FARGATE"],
        default_strategy=[CapacityItem("FARGATE", 1)],
    )
    register_fargate(op)
    service = create(op, cluster="c2", taskDefinition="app", networkConfiguration=NETWORK)
    expected = [{"capacityProvider": "FARGATE", "weight": 1, "base": 0}]
    assert service.launch_type is None and service.capacity_provider_strategy == expected
    assert service.primary.capacity_provider_strategy == expected


def test_create_with_a_strategy_checks_it_against_the_cluster(op: Op) -> None:
    register_fargate(op)
    refused(
        InvalidParameterException,
        "not associated with the cluster",
        create,
        op,
        taskDefinition="app",
        networkConfiguration=NETWORK,
        capacityProviderStrategy=[{"capacityProvider": "nope", "weight": 1}],
    )
    service = create(
        op,
        taskDefinition="app",
        networkConfiguration=NETWORK,
        capacityProviderStrategy=[{"capacityProvider": "FARGATE_SPOT", "weight": 2}],
    )
    assert service.capacity_provider_strategy[0]["capacityProvider"] == "FARGATE_SPOT"
    assert service.platform_version == "LATEST"


def test_create_stores_the_optional_settings(op: Op) -> None:
    target = load_balanced_group(op)
    service = create(
        op,
        loadBalancers=[{"targetGroupArn": target, "containerName": "web", "containerPort": 80}],
        role="ecsServiceRole",
        healthCheckGracePeriodSeconds=30,
        enableExecuteCommand=True,
        enableECSManagedTags=True,
        propagateTags="SERVICE",
        placementConstraints=[{"type": "distinctInstance"}],
        placementStrategy=[{"type": "binpack", "field": "memory"}],
        tags=[{"key": "team", "value": "web"}],
    )
    assert service.role_arn == f"arn:aws:iam::{ACCOUNT}:role/ecsServiceRole"
    assert service.health_check_grace_period_seconds == 30
    assert service.enable_execute_command and service.enable_ecs_managed_tags
    assert service.propagate_tags == "SERVICE"
    assert [c.to_doc() for c in service.placement_constraints] == [{"type": "distinctInstance"}]
    assert [s.to_doc() for s in service.placement_strategy] == [
        {"type": "binpack", "field": "memory"}
    ]
    with op.store.read() as tx:
        assert get_tags(tx, service.arn) == [{"key": "team", "value": "web"}]


# -- CreateService: names and idempotency ----------------------------------------------------------


@pytest.mark.parametrize("name", ["", "a b", "web.1", "x" * 256])
def test_service_names_follow_ecs_rules(op: Op, name: str) -> None:
    refused(InvalidParameterException, "255 characters", create, op, name)
    assert rows(op) == 0


def test_a_second_create_of_the_same_name_is_not_idempotent(op: Op) -> None:
    create(op)
    for params in ({}, {"desiredCount": 2}, {"clientToken": "t1"}):
        refused(InvalidParameterException, sv.NOT_IDEMPOTENT, create, op, **params)
    assert len(stored(op).deployments) == 1


def test_a_retry_with_the_same_token_and_parameters_returns_the_service(op: Op) -> None:
    first = create(op, clientToken="token-1", desiredCount=2)
    again = create(op, clientToken="token-1", desiredCount=2)
    assert again == first
    refused(
        InvalidParameterException,
        sv.NOT_IDEMPOTENT,
        create,
        op,
        clientToken="token-1",
        desiredCount=3,
    )


def test_client_token_rules(op: Op) -> None:
    for token in ("x" * 37, "with space"):
        refused(InvalidParameterException, "clientToken", create, op, clientToken=token)


def test_a_draining_service_blocks_its_name_and_an_inactive_one_does_not(op: Op) -> None:
    create(op, desiredCount=0)
    services.delete_service(op, "c1", "s1", False)
    refused(InvalidParameterException, sv.STILL_DRAINING, create, op)
    gone = stored(op)
    gone.status = INACTIVE
    put_deployments(op, gone)
    again = create(op, desiredCount=4)
    assert again.status == "ACTIVE" and again.desired_count == 4
    assert len(again.deployments) == 1


# -- CreateService: refusals -------------------------------------------------------------------


def test_create_in_a_missing_cluster(op: Op) -> None:
    refused(ClusterNotFoundException, "Cluster not found.", create, op, cluster="nope")


def test_create_needs_an_active_task_definition(op: Op) -> None:
    refused(ClientException, "TaskDefinition not found.", create, op, taskDefinition="nope")
    refused(InvalidParameterException, "can not be blank", create, op, taskDefinition=None)
    task_definitions.deregister(op, "web:1")
    refused(ClientException, "TaskDefinition is inactive", create, op, taskDefinition="web:1")
    assert rows(op) == 0


def test_desired_count_rules(op: Op) -> None:
    refused(InvalidParameterException, "DesiredCount is missing", create, op, desiredCount=None)
    refused(InvalidParameterException, "lesser than 0", create, op, desiredCount=-1)
    refused(
        InvalidParameterException,
        sv.DAEMON_DESIRED_COUNT,
        create,
        op,
        schedulingStrategy="DAEMON",
        desiredCount=1,
    )
    assert rows(op) == 0


def test_daemon_refuses_fargate_strategies_and_placement_strategies(op: Op) -> None:
    daemon = {"schedulingStrategy": "DAEMON"}
    refused(InvalidParameterException, "FARGATE", create, op, launchType="FARGATE", **daemon)
    refused(
        InvalidParameterException,
        sv.DAEMON_STRATEGY,
        create,
        op,
        capacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}],
        **daemon,
    )
    refused(
        InvalidParameterException,
        sv.DAEMON_PLACEMENT_STRATEGY,
        create,
        op,
        placementStrategy=[{"type": "random"}],
        **daemon,
    )
    clusters.create_cluster(
        op,
        name="c2",
        capacity_providers=["FARGATE"],
        default_strategy=[CapacityItem("FARGATE", 1)],
    )
    # ECS applies the cluster's default strategy, and refuses it; EC2 given works.
    refused(InvalidParameterException, sv.DAEMON_STRATEGY, create, op, cluster="c2", **daemon)
    assert create(op, cluster="c2", launchType="EC2", **daemon).launch_type == "EC2"


def test_launch_type_and_strategy_together_are_refused(op: Op) -> None:
    refused(
        InvalidParameterException,
        sv.BOTH_LAUNCH_KINDS,
        create,
        op,
        launchType="EC2",
        capacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}],
    )


def test_the_launch_type_must_suit_the_task_definition(op: Op) -> None:
    refused(
        InvalidParameterException,
        "does not support launch_type FARGATE",
        create,
        op,
        launchType="FARGATE",
    )


def test_network_configuration_follows_the_network_mode(op: Op) -> None:
    register_fargate(op)
    refused(
        InvalidParameterException,
        "Network Configuration must be provided",
        create,
        op,
        taskDefinition="app",
        launchType="FARGATE",
    )
    refused(
        InvalidParameterException,
        "not valid for the given networkMode",
        create,
        op,
        networkConfiguration=NETWORK,
    )


def test_platform_version_rules(op: Op) -> None:
    refused(InvalidParameterException, sv.PLATFORM_ON_EC2, create, op, platformVersion="LATEST")
    register_fargate(op)
    fargate = {"taskDefinition": "app", "launchType": "FARGATE", "networkConfiguration": NETWORK}
    refused(
        PlatformUnknownException, "does not exist", create, op, platformVersion="9.9", **fargate
    )
    assert create(op, platformVersion="1.4.0", **fargate).platform_version == "1.4.0"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"maximumPercent": 100, "minimumHealthyPercent": 100}, sv.BOTH_100),
        ({"maximumPercent": 50, "minimumHealthyPercent": 60}, "can not be greater than"),
        ({"minimumHealthyPercent": 101, "maximumPercent": 300}, "between 0 and 100"),
        ({"minimumHealthyPercent": -1}, "between 0 and 100"),
        ({"maximumPercent": 0, "minimumHealthyPercent": 0}, "greater than 0"),
        ({"strategy": "BLUE_GREEN"}, "requires a load balancer"),
        ({"lifecycleHooks": [{"targetType": "PAUSE"}]}, "lifecycleHooks can only be specified"),
    ],
)
def test_deployment_configuration_rules(op: Op, config: dict[str, Any], message: str) -> None:
    refused(InvalidParameterException, message, create, op, deploymentConfiguration=config)
    assert rows(op) == 0


def test_daemon_max_percent_is_at_most_100(op: Op) -> None:
    refused(
        InvalidParameterException,
        sv.DAEMON_MAX_PERCENT,
        create,
        op,
        schedulingStrategy="DAEMON",
        deploymentConfiguration={"maximumPercent": 200},
    )


def test_replica_allows_zero_to_one_hundred(op: Op) -> None:
    config = {"minimumHealthyPercent": 0, "maximumPercent": 100}
    assert (
        create(op, deploymentConfiguration=config).deployment_configuration.maximum_percent == 100
    )


def test_an_unknown_deployment_controller_is_refused(op: Op) -> None:
    # ECS, CODE_DEPLOY and EXTERNAL run (tests/api/test_task_sets.py, tests/codedeploy/).
    refused(
        InvalidParameterException,
        "Invalid deployment controller type BLUE. Valid values are",
        create,
        op,
        deploymentController={"type": "BLUE"},
    )


def test_unsupported_features_are_refused_not_dropped(op: Op) -> None:
    refused(
        InvalidParameterException,
        "volumeConfigurations",
        create,
        op,
        volumeConfigurations=[{"name": "data"}],
    )
    refused(
        InvalidParameterException,
        "Service Connect",
        create,
        op,
        serviceConnectConfiguration={"enabled": True},
    )


def test_placement_rules_are_parsed(op: Op) -> None:
    refused(
        InvalidParameterException,
        "requires an expression",
        create,
        op,
        placementConstraints=[{"type": "memberOf"}],
    )
    refused(
        InvalidParameterException,
        "for binpack",
        create,
        op,
        placementStrategy=[{"type": "binpack", "field": "disk"}],
    )


def test_grace_period_must_not_be_negative(op: Op) -> None:
    refused(
        InvalidParameterException,
        "healthCheckGracePeriodSeconds",
        create,
        op,
        healthCheckGracePeriodSeconds=-1,
    )


TARGET = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/0123456789"


@pytest.mark.parametrize(
    ("balancer", "message"),
    [
        (
            {"targetGroupArn": TARGET, "containerName": "api", "containerPort": 80},
            "The container api does not exist in the task definition.",
        ),
        (
            {"targetGroupArn": TARGET, "containerName": "web", "containerPort": 8080},
            "The container web did not have a container port 8080 defined.",
        ),
        (
            {"targetGroupArn": "arn:aws:s3:::bucket", "containerName": "web", "containerPort": 80},
            "not a valid target group ARN",
        ),
        (
            {
                "targetGroupArn": TARGET,
                "loadBalancerName": "classic",
                "containerName": "web",
                "containerPort": 80,
            },
            "not both",
        ),
        ({"containerName": "web", "containerPort": 80}, "needs a targetGroupArn"),
        ({"targetGroupArn": TARGET}, "containerName and containerPort"),
    ],
)
def test_load_balancer_rules(op: Op, balancer: dict[str, Any], message: str) -> None:
    refused(InvalidParameterException, message, create, op, loadBalancers=[balancer])


def test_target_group_rules(op: Op) -> None:
    """The target group must exist, have a load balancer, and take the network mode's targets
    (ECS's wording)."""
    balancer = {"containerName": "web", "containerPort": 80}
    refused(
        InvalidParameterException,
        "Unable to assume role and validate the specified targetGroupArn",
        create,
        op,
        loadBalancers=[{**balancer, "targetGroupArn": TARGET}],
    )
    lonely = target_groups.create(
        op, {"Name": "lonely", "Protocol": "HTTP", "Port": 80, "VpcId": "vpc-1"}
    )["TargetGroups"][0]["TargetGroupArn"]
    refused(
        InvalidParameterException,
        f"The target group with targetGroupArn {lonely} does not have an associated load balancer.",
        create,
        op,
        loadBalancers=[{**balancer, "targetGroupArn": lonely}],
    )
    by_instance = load_balanced_group(op, "inst", listener_port=8081)
    by_ip = load_balanced_group(op, "byip", target_type="ip", listener_port=8082)
    refused(
        InvalidParameterException,
        f"The provided target group {by_ip} has target type ip, which is incompatible with "
        "the bridge network mode specified in the task definition.",
        create,
        op,
        loadBalancers=[{**balancer, "targetGroupArn": by_ip}],
    )
    register(op, "vpc", networkMode="awsvpc")
    refused(
        InvalidParameterException,
        f"The provided target group {by_instance} has target type instance, which is "
        "incompatible with the awsvpc network mode specified in the task definition.",
        create,
        op,
        taskDefinition="vpc",
        networkConfiguration=NETWORK,
        loadBalancers=[{**balancer, "targetGroupArn": by_instance}],
    )
    assert rows(op) == 0
    create(op, loadBalancers=[{**balancer, "targetGroupArn": by_instance}])
    # UpdateService checks the groups it is given too.
    refused(
        InvalidParameterException,
        "has target type ip",
        update,
        op,
        loadBalancers=[{**balancer, "targetGroupArn": by_ip}],
    )


def test_role_rules(op: Op) -> None:
    refused(InvalidParameterException, "only permitted with a load balancer", create, op, role="r")
    register_fargate(op)
    refused(
        InvalidParameterException,
        sv.ROLE_NEEDS_LINKED_ROLE,
        create,
        op,
        taskDefinition="app",
        launchType="FARGATE",
        networkConfiguration=NETWORK,
        role="r",
        loadBalancers=[{"targetGroupArn": TARGET, "containerName": "web", "containerPort": 80}],
    )


def test_service_registry_rules(op: Op) -> None:
    from portside.servicediscovery import namespaces, operations
    from portside.servicediscovery import services as cloud_map

    op_id = namespaces.create_http(op, {"Name": "registry-rules"})["OperationId"]
    ns = operations.get_operation(op, {"OperationId": op_id})["Operation"]["Targets"]
    made = cloud_map.create_service(op, {"Name": "web", "NamespaceId": ns["NAMESPACE"]})
    registry = made["Service"]["Arn"]
    refused(
        InvalidParameterException,
        "does not exist",
        create,
        op,
        serviceRegistries=[
            {"registryArn": registry[:-1] + "x", "containerName": "web", "containerPort": 80}
        ],
    )
    refused(
        InvalidParameterException,
        "one service registry only",
        create,
        op,
        serviceRegistries=[{"registryArn": registry}, {"registryArn": registry}],
    )
    refused(
        InvalidParameterException,
        "bridge or host network mode",
        create,
        op,
        serviceRegistries=[{"registryArn": registry}],
    )
    service = create(
        op,
        serviceRegistries=[{"registryArn": registry, "containerName": "web", "containerPort": 80}],
    )
    assert service.service_registries[0]["registryArn"] == registry


# -- UpdateService -----------------------------------------------------------------------------


def test_update_of_a_missing_or_deleted_service(op: Op) -> None:
    refused(ServiceNotFoundException, "Service not found.", update, op, "nope", desiredCount=1)
    create(op, desiredCount=0)
    services.delete_service(op, "c1", "s1", False)
    refused(ServiceNotActiveException, "Service was not ACTIVE.", update, op, desiredCount=1)


def test_desired_count_alone_starts_no_deployment(op: Op, clock: Clock) -> None:
    before = create(op, desiredCount=1)
    clock.now += 5
    after = update(op, desiredCount=4)
    assert after.desired_count == 4 and len(after.deployments) == 1
    assert after.primary.id == before.primary.id and after.primary.desired_count == 4
    assert after.version == before.version + 1


def test_a_new_task_definition_starts_a_deployment(op: Op, clock: Clock) -> None:
    first = create(op, desiredCount=2).primary
    second_td = register(op)
    clock.now += 10
    service = update(op, taskDefinition="web:2")
    new, old = service.deployments
    assert service.task_definition == second_td == new.task_definition
    assert new.status == PRIMARY and new.created_at == T0 + 10 and new.desired_count == 2
    assert old.id == first.id and old.status == DEPLOYMENT_ACTIVE
    assert new.sources == [first.id] and not service.steady


def test_the_same_task_definition_starts_no_deployment(op: Op) -> None:
    create(op)
    assert len(update(op, taskDefinition="web:1").deployments) == 1


def test_force_new_deployment_keeps_the_task_definition(op: Op) -> None:
    create(op)
    service = update(op, forceNewDeployment=True)
    assert [d.status for d in service.deployments] == [PRIMARY, DEPLOYMENT_ACTIVE]
    assert service.deployments[0].task_definition == service.deployments[1].task_definition


def test_an_inactive_task_definition_is_refused_and_nothing_changes(op: Op) -> None:
    before = create(op)
    register(op)
    task_definitions.deregister(op, "web:2")
    refused(
        ClientException,
        "TaskDefinition is inactive",
        update,
        op,
        taskDefinition="web:2",
        desiredCount=5,
    )
    assert stored(op) == before


def test_update_resets_the_launch_back_off(op: Op) -> None:
    service = create(op)
    service.launch_failures, service.launch_backoff_until = 7, T0 + 900
    with op.store.transaction() as tx:
        services.save(tx, service)
    after = update(op, desiredCount=1)
    assert (after.launch_failures, after.launch_backoff_until) == (0, 0.0)


def test_daemon_refuses_a_desired_count(op: Op) -> None:
    create(op, schedulingStrategy="DAEMON")
    refused(InvalidParameterException, sv.DAEMON_DESIRED_COUNT, update, op, desiredCount=2)


def test_a_strategy_change_needs_a_forced_deployment(op: Op) -> None:
    register_fargate(op)
    create(op, taskDefinition="app", launchType="FARGATE", networkConfiguration=NETWORK)
    spot = [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]
    refused(
        InvalidParameterException,
        sv.FORCE_FOR_STRATEGY,
        update,
        op,
        capacityProviderStrategy=spot,
    )
    service = update(op, capacityProviderStrategy=spot, forceNewDeployment=True)
    assert service.launch_type is None
    assert service.primary.capacity_provider_strategy == [{**spot[0], "base": 0}]
    back = update(op, capacityProviderStrategy=[], forceNewDeployment=True)
    assert back.launch_type == "FARGATE" and back.capacity_provider_strategy == []
    assert len(back.deployments) == 3


def test_network_configuration_changes_start_a_deployment(op: Op) -> None:
    register_fargate(op)
    create(op, taskDefinition="app", launchType="FARGATE", networkConfiguration=NETWORK)
    assert len(update(op, networkConfiguration=NETWORK).deployments) == 1
    other = {"awsvpcConfiguration": {"subnets": ["subnet-2"]}}
    service = update(op, networkConfiguration=other)
    assert len(service.deployments) == 2
    assert service.primary.network_configuration == {
        "awsvpcConfiguration": {"assignPublicIp": "DISABLED", "subnets": ["subnet-2"]}
    }


def test_placement_and_deployment_settings_change_without_a_deployment(op: Op) -> None:
    create(op)
    service = update(
        op,
        placementConstraints=[{"type": "distinctInstance"}],
        placementStrategy=[{"type": "spread", "field": "instanceId"}],
        deploymentConfiguration={"maximumPercent": 300},
        healthCheckGracePeriodSeconds=60,
        propagateTags="TASK_DEFINITION",
        enableExecuteCommand=True,
    )
    assert len(service.deployments) == 1
    assert [c.to_doc() for c in service.placement_constraints] == [{"type": "distinctInstance"}]
    assert service.deployment_configuration.maximum_percent == 300
    assert service.deployment_configuration.minimum_healthy_percent == 100
    assert service.health_check_grace_period_seconds == 60
    assert service.propagate_tags == "TASK_DEFINITION" and service.enable_execute_command


def test_update_checks_the_result_against_the_task_definition(op: Op) -> None:
    lb = {"targetGroupArn": load_balanced_group(op), "containerName": "web", "containerPort": 80}
    before = create(op, loadBalancers=[lb])
    task_definitions.register(
        op,
        {"family": "web", "containerDefinitions": [{**WEB, "portMappings": []}]},
    )
    refused(
        InvalidParameterException,
        "did not have a container port 80",
        update,
        op,
        taskDefinition="web:2",
    )
    assert stored(op) == before


def test_load_balancer_changes_start_a_deployment(op: Op) -> None:
    create(op)
    lb = {"targetGroupArn": load_balanced_group(op), "containerName": "web", "containerPort": 80}
    service = update(op, loadBalancers=[lb])
    assert [i.to_doc() for i in service.load_balancers] == [lb]
    assert len(service.deployments) == 2


def test_old_inactive_deployments_are_pruned(op: Op, clock: Clock) -> None:
    create(op)
    service = update(op, forceNewDeployment=True)
    service.deployments[1].status = DEPLOYMENT_INACTIVE
    with op.store.transaction() as tx:
        services.save(tx, service)
    clock.now += services.HISTORY_SECONDS + 1
    after = update(op, forceNewDeployment=True)
    assert len(after.deployments) == 2
    assert after.deployments[1].id == service.deployments[0].id


# -- DeleteService ------------------------------------------------------------------------------


def test_delete_is_refused_while_scaled_above_zero(op: Op) -> None:
    before = create(op, desiredCount=2)
    refused(
        InvalidParameterException,
        sv.SCALED_ABOVE_ZERO,
        services.delete_service,
        op,
        "c1",
        "s1",
        False,
    )
    assert stored(op) == before


def test_forced_delete_drains_the_service(op: Op, clock: Clock) -> None:
    create(op, desiredCount=2, tags=[{"key": "a", "value": "b"}])
    clock.now += 3
    service = services.delete_service(op, "c1", "s1", True).service
    assert service.status == "DRAINING" and service.desired_count == 0
    assert service.deleted_at == T0 + 3 and service.primary.desired_count == 0
    assert stored(op) == service
    with op.store.read() as tx:
        assert get_tags(tx, service.arn) == []
    # Deleting again answers with the draining service.
    assert services.delete_service(op, "c1", "s1", False).service == service


def test_daemon_services_delete_without_force(op: Op) -> None:
    create(op, schedulingStrategy="DAEMON")
    assert services.delete_service(op, "c1", "s1", False).service.status == "DRAINING"


def test_delete_of_a_missing_service(op: Op) -> None:
    refused(
        ServiceNotFoundException, "Service not found.", services.delete_service, op, "c1", "x", True
    )


# -- DescribeServices, ListServices --------------------------------------------------------------


def test_describe_finds_by_name_or_arn_and_reports_missing(op: Op) -> None:
    service = create(op)
    found, failures = services.describe_services(op, "c1", ["s1", service.arn, "nope"])
    assert [v.service.arn for v in found] == [service.arn, service.arn]
    assert failures == [
        {"arn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/c1/nope", "reason": "MISSING"}
    ]


def test_describe_takes_one_to_ten_services(op: Op) -> None:
    refused(InvalidParameterException, "cannot be empty", services.describe_services, op, "c1", [])
    refused(
        InvalidParameterException,
        "At most 10",
        services.describe_services,
        op,
        "c1",
        [f"s{i}" for i in range(11)],
    )


def test_describe_shows_draining_services(op: Op) -> None:
    create(op, desiredCount=0)
    services.delete_service(op, "c1", "s1", False)
    (view,), _ = services.describe_services(op, "c1", ["s1"])
    assert view.service.status == "DRAINING"


def test_list_shows_active_services_with_filters_and_pages(op: Op) -> None:
    for name in ("a", "b", "c"):
        create(op, name)
    create(op, "d", schedulingStrategy="DAEMON")
    create(op, "gone", desiredCount=0)
    services.delete_service(op, "c1", "gone", False)
    prefix = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/c1/"
    keys, token = services.list_services(op, wire.service_query({"cluster": "c1"}))
    assert keys == [prefix + n for n in ("a", "b", "c", "d")] and token is None
    keys, _ = services.list_services(
        op, wire.service_query({"cluster": "c1", "schedulingStrategy": "DAEMON"})
    )
    assert keys == [prefix + "d"]
    fargate = wire.service_query({"cluster": "c1", "launchType": "FARGATE"})
    assert services.list_services(op, fargate)[0] == []
    page, token = services.list_services(op, wire.service_query({"cluster": "c1", "maxResults": 3}))
    assert len(page) == 3 and token
    rest, token = services.list_services(
        op, wire.service_query({"cluster": "c1", "nextToken": token})
    )
    assert rest == [prefix + "d"] and token is None


# -- service deployments -------------------------------------------------------------------------


def put_deployments(op: Op, service: Service) -> None:
    with op.store.transaction() as tx:
        services.save(tx, service)


def test_deployment_statuses_map_to_service_deployment_statuses(op: Op, clock: Clock) -> None:
    service = create(op)
    clock.now += 1
    service = update(op, forceNewDeployment=True)  # the first is replaced while in progress
    clock.now += 1
    service = update(op, forceNewDeployment=True)
    newest, middle, oldest = service.deployments
    middle.rollout_state = COMPLETED
    newest.rollout_state = FAILED
    newest.rollout_state_reason = "ECS deployment circuit breaker: tasks failed to start."
    put_deployments(op, service)
    statuses = [(v.deployment.id, v.status) for v in service_deployments.history(stored(op))]
    assert statuses == [(newest.id, "STOPPED"), (middle.id, "SUCCESSFUL"), (oldest.id, "STOPPED")]

    # The circuit breaker rolls back: the failed deployment reports the rollback.
    rollback = Deployment(
        id="ecs-svc/0000000000000000042",
        status=PRIMARY,
        task_definition=middle.task_definition,
        desired_count=1,
        created_at=T0 + 5,
        updated_at=T0 + 5,
        rollback_of=newest.id,
    )
    newest.status = DEPLOYMENT_ACTIVE
    service.deployments.insert(0, rollback)
    put_deployments(op, service)
    views = service_deployments.history(stored(op))
    assert [v.deployment.id for v in views] == [newest.id, middle.id, oldest.id]
    assert views[0].status == "ROLLBACK_IN_PROGRESS" and views[0].rollback == rollback
    current = service_deployments.current_deployment(stored(op))
    assert current is not None and current.id == newest.id
    rollback.rollout_state = COMPLETED
    put_deployments(op, service)
    assert service_deployments.history(stored(op))[0].status == "ROLLBACK_SUCCESSFUL"


def test_list_service_deployments_filters_and_pages(op: Op, clock: Clock) -> None:
    create(op)
    for _ in range(3):
        clock.now += 1
        update(op, forceNewDeployment=True)
    views, token = service_deployments.list_service_deployments(
        op, wire.deployment_query({"cluster": "c1", "service": "s1"})
    )
    assert [v.status for v in views] == ["IN_PROGRESS", "STOPPED", "STOPPED", "STOPPED"]
    assert token is None
    page, token = service_deployments.list_service_deployments(
        op, wire.deployment_query({"cluster": "c1", "service": "s1", "maxResults": 3})
    )
    assert len(page) == 3 and token
    rest, _ = service_deployments.list_service_deployments(
        op, wire.deployment_query({"cluster": "c1", "service": "s1", "nextToken": token})
    )
    assert [v.deployment.created_at for v in rest] == [T0]
    only, _ = service_deployments.list_service_deployments(
        op, wire.deployment_query({"cluster": "c1", "service": "s1", "status": ["IN_PROGRESS"]})
    )
    assert len(only) == 1
    window, _ = service_deployments.list_service_deployments(
        op,
        wire.deployment_query(
            {"cluster": "c1", "service": "s1", "createdAt": {"after": T0 + 1, "before": T0 + 2}}
        ),
    )
    assert [v.deployment.created_at for v in window] == [T0 + 2, T0 + 1]
    refused(
        ServiceNotFoundException,
        "Service not found.",
        service_deployments.list_service_deployments,
        op,
        wire.deployment_query({"cluster": "c1", "service": "nope"}),
    )


def test_describe_service_deployments_by_arn(op: Op) -> None:
    service = create(op)
    arn = service_deployments.service_deployment_arn(service, service.primary.id)
    assert arn == (
        f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/c1/s1/"
        + service.primary.id.removeprefix("ecs-svc/")
    )
    other = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/c1/s1/123"
    found, failures = service_deployments.describe_service_deployments(op, [arn, other, "junk"])
    assert [v.deployment.id for v in found] == [service.primary.id]
    assert failures == [{"arn": other, "reason": "MISSING"}, {"arn": "junk", "reason": "MISSING"}]
    refused(
        InvalidParameterException,
        "At most 20",
        service_deployments.describe_service_deployments,
        op,
        [arn] * 21,
    )


def test_an_inactive_service_has_no_service_deployments(op: Op) -> None:
    service = create(op)
    service.status = INACTIVE
    put_deployments(op, service)
    assert service_deployments.history(stored(op)) == []


def test_documents_round_trip(op: Op) -> None:
    service = create(op, tags=[{"key": "k", "value": "v"}])
    assert from_doc(Service, to_doc(service)) == service
    doc = to_doc(service)
    # What other modules read from service documents.
    assert doc["clusterArn"] and doc["status"] == "ACTIVE" and doc["launchType"] == "EC2"
    assert doc["taskDefinition"] == doc["deployments"][0]["taskDefinition"]
    assert doc["capacityProviderStrategy"] == []
