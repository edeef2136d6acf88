"""CreateService and UpdateService's rules: pure checks, no store.

ECS's own words where a public record of them was found (the source sits beside each);
"wording: ours" marks the rest. The API reference and developer guide are the spec for what
is refused; botocore's model already checked types and enums at the edge.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from portside.controllers.native_deployments import rules as native_rules
from portside.elb import registrations
from portside.errors import InvalidParameterException, PlatformUnknownException
from portside.model import arn as arns
from portside.model.cluster import Cluster
from portside.model.deployment import CircuitBreaker, DeploymentConfiguration
from portside.model.launch import AwsVpc, CapacityItem, strategy_document, strategy_of
from portside.model.load_balancer import LoadBalancer
from portside.model.placement import PlacementStrategy
from portside.model.service import DAEMON, REPLICA, Service
from portside.model.task_definition import TaskDefinition
from portside.ops import placement, task_build
from portside.ops.capacity import check_strategy
from portside.servicediscovery import registrations as cloud_map
from portside.store.base import Tx

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_TOKEN = re.compile(r"^[\x21-\x7e]{1,36}$")
MAX_LOAD_BALANCERS = 5  # target groups per service (ECS service quotas)
MAX_GRACE_PERIOD = 2_147_483_647
PLATFORM_VERSIONS = ("LATEST", "1.4.0", "1.3.0")
LATEST_PLATFORM = "1.4.0"
SERVICE_LINKED_ROLE = "role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS"

# ECS's words, each from a public record of an ECS answer.
NOT_IDEMPOTENT = "Creation of service was not idempotent."  # terraform-provider-aws#23462
STILL_DRAINING = "Unable to Start a service that is still Draining."  # quoted by ecs-cli users
SCALED_ABOVE_ZERO = "The service cannot be stopped while it is scaled above 0."  # ditto, moto
DAEMON_DESIRED_COUNT = (  # quoted by CloudFormation preflight rules (go-to-k/cdk-real-drift)
    "The daemon scheduling strategy does not support a desired count for services."
)
DAEMON_STRATEGY = (  # aws/containers-roadmap#692
    "Specifying a capacity provider strategy is not supported when you create a service "
    "using the DAEMON scheduling strategy."
)
DAEMON_PLACEMENT_STRATEGY = "The daemon scheduling strategy does not support placement strategies."
DAEMON_MAX_PERCENT = (  # aws/aws-cdk#2209
    "The daemon scheduling strategy does not support values above 100 for maximumPercent on a "
    "deployment configuration. Change the maximumPercent value to 100, and try again"
)
BOTH_100 = (  # hashicorp/terraform-provider-aws#6316
    "Both maximumPercent and minimumHealthyPercent cannot be 100 as this will block deployments."
)
FORCE_FOR_STRATEGY = (  # quoted in the CloudFormation user guide (AWS::ECS::Service)
    "When switching from launch type to capacity provider strategy on an existing service, or "
    "making a change to a capacity provider strategy on a service that is already using one, "
    "you must force a new deployment."
)
BOTH_LAUNCH_KINDS = "Specifying both a launch type and capacity provider strategy is not supported."
PLATFORM_ON_EC2 = "The platform version must be null when specifying an EC2 launch type."
ROLE_NEEDS_LINKED_ROLE = (
    "You cannot specify an IAM role for services that require a service linked role."
)


def check_name(name: str) -> None:
    if not _NAME.match(name):
        # wording: ours (the API reference's rule)
        raise InvalidParameterException(
            "Service name can have at most 255 characters: letters (uppercase and lowercase), "
            "numbers, underscores and hyphens."
        )


def check_client_token(token: str | None) -> None:
    if token is not None and not _TOKEN.match(token):
        # wording: ours (the API reference's rule)
        raise InvalidParameterException(
            "clientToken can have up to 36 ASCII characters in the range 33-126."
        )


def check_unsupported(unsupported: Sequence[str], service_connect: bool) -> None:
    """Members given that Portside does not act on (the edge names them): refused rather
    than silently dropped."""
    if unsupported:
        raise InvalidParameterException(f"Portside does not support {unsupported[0]} yet.")
    # Service Connect is supported: serviceconnect/config.py checks it.


def desired_count(scheduling: str, count: int | None) -> int:
    """The desired count CreateService starts with (DAEMON: the controller counts instances)."""
    if scheduling == DAEMON:
        if count is not None:
            raise InvalidParameterException(DAEMON_DESIRED_COUNT)
        return 0
    if count is None:
        raise InvalidParameterException("DesiredCount is missing")  # kayac/ecspresso
    return check_count(count)


def check_count(count: int) -> int:
    if count < 0:
        raise InvalidParameterException("Task count can not be lesser than 0")  # convox/rack#2457
    return count


def check_grace_period(seconds: int | None) -> int | None:
    if seconds is not None and not 0 <= seconds <= MAX_GRACE_PERIOD:
        # wording: ours (the API reference's range)
        raise InvalidParameterException(
            f"healthCheckGracePeriodSeconds must be between 0 and {MAX_GRACE_PERIOD}."
        )
    return seconds


def default_deployment_configuration(scheduling: str) -> DeploymentConfiguration:
    """As DescribeServices shows them: REPLICA 100/200, DAEMON 0/100 (API reference,
    DeploymentConfiguration), the circuit breaker off."""
    replica = scheduling == REPLICA
    return DeploymentConfiguration(
        deployment_circuit_breaker=CircuitBreaker(enable=False, rollback=False),
        maximum_percent=200 if replica else 100,
        minimum_healthy_percent=100 if replica else 0,
    )


def deployment_configuration(
    given: DeploymentConfiguration | None,
    scheduling: str,
    current: DeploymentConfiguration | None = None,
) -> DeploymentConfiguration:
    """`given` over `current` (or the defaults), member by member, checked."""
    given = given or DeploymentConfiguration()
    base = (
        current
        if current is not None and current != DeploymentConfiguration()
        else default_deployment_configuration(scheduling)
    )
    # BLUE_GREEN, LINEAR, CANARY: their members (controllers/native_deployments/rules.py).
    merged = native_rules.fit(given, given.over(base))
    low, high = merged.minimum_healthy_percent, merged.maximum_percent
    assert low is not None and high is not None  # the defaults, and so every service, have both
    # wording: ours, except where a constant names its source
    if not 0 <= low <= 100:
        raise InvalidParameterException("minimumHealthyPercent must be between 0 and 100.")
    if high < 1:
        raise InvalidParameterException("maximumPercent must be greater than 0.")
    if scheduling == DAEMON and high > 100:
        raise InvalidParameterException(DAEMON_MAX_PERCENT)
    if low == high == 100:
        raise InvalidParameterException(BOTH_100)
    if low > high:
        raise InvalidParameterException(
            f"minimumHealthyPercent ({low}) can not be greater than maximumPercent ({high})."
        )
    return merged


def launch(
    cluster: Cluster,
    launch_type: str | None,
    strategy: Sequence[CapacityItem],
    scheduling: str,
) -> tuple[str | None, list[dict[str, Any]]]:
    """(launch type, capacity provider strategy as stored) a new service runs with: the one
    given, or the cluster's default strategy, or EC2 (API reference, CreateService)."""
    if launch_type and strategy:
        raise InvalidParameterException(BOTH_LAUNCH_KINDS)
    if scheduling == DAEMON:
        # ECS applies the cluster's default strategy to a DAEMON service too, and refuses it
        # (aws/containers-roadmap#692: "--launch-type EC2" is the way out).
        if strategy or (not launch_type and cluster.default_strategy):
            raise InvalidParameterException(DAEMON_STRATEGY)
        if launch_type == "FARGATE":
            # The API reference: "Fargate tasks don't support the DAEMON scheduling
            # strategy." Wording: ours.
            raise InvalidParameterException(
                "The daemon scheduling strategy does not support the FARGATE launch type."
            )
        return launch_type or "EC2", []
    if launch_type:
        return launch_type, []
    if not strategy:
        if cluster.default_strategy:
            return None, [dict(i) for i in cluster.default_strategy]
        return "EC2", []
    return None, strategy_document(check_strategy(strategy, cluster.capacity_providers))


def launch_types(launch_type: str | None, strategy: Sequence[Mapping[str, Any]]) -> list[str]:
    """The launch types the service's tasks can get (`strategy` as stored)."""
    if launch_type:
        return [launch_type]
    return sorted({i.launch_type for i in strategy_of(strategy)}) or ["EC2"]


def platform_version(given: str | None, kinds: Sequence[str]) -> str | None:
    """The service's platformVersion: Fargate only, LATEST unless given."""
    if "FARGATE" not in kinds:
        if given is not None:
            raise InvalidParameterException(PLATFORM_ON_EC2)
        return None
    if given is None:
        return "LATEST"
    if given not in PLATFORM_VERSIONS:
        # The API reference's description of the error.
        raise PlatformUnknownException("The specified platform version does not exist.")
    return given


def resolved_platform(version: str | None) -> str | None:
    """The version a deployment runs: LATEST resolves when the deployment starts."""
    return LATEST_PLATFORM if version == "LATEST" else version


def network(given: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The network configuration as DescribeServices shows it: assignPublicIp DISABLED unless
    given."""
    if not given:
        return None
    out = dict(given)
    if out.get("awsvpcConfiguration") is not None:
        out["awsvpcConfiguration"] = {"assignPublicIp": "DISABLED", **out["awsvpcConfiguration"]}
    return out


def check_daemon_placement(scheduling: str, strategy: Sequence[PlacementStrategy]) -> None:
    if scheduling == DAEMON and strategy:
        raise InvalidParameterException(DAEMON_PLACEMENT_STRATEGY)


def _network_mode(td: TaskDefinition) -> str:
    return str(td.spec.get("networkMode") or "bridge")


def _container_ports(container: Mapping[str, Any]) -> set[int]:
    ports: set[int] = set()
    for mapping in container.get("portMappings") or ():
        if mapping.get("containerPort") is not None:
            ports.add(int(mapping["containerPort"]))
        span = mapping.get("containerPortRange")
        if span:
            first, _, last = str(span).partition("-")
            ports.update(range(int(first), int(last or first) + 1))
    return ports


def check_container_port(td: TaskDefinition, name: str, port: int) -> None:
    """ECS's checks for a load balancer's or registry's container (the wording of both is
    quoted in many public deploy logs)."""
    container = next(
        (c for c in td.spec.get("containerDefinitions") or () if c.get("name") == name), None
    )
    if container is None:
        raise InvalidParameterException(
            f"The container {name} does not exist in the task definition."
        )
    if port not in _container_ports(container):
        raise InvalidParameterException(
            f"The container {name} did not have a container port {port} defined."
        )


def check_load_balancers(items: Sequence[LoadBalancer], td: TaskDefinition) -> None:
    # wording: ours, except check_container_port's
    if len(items) > MAX_LOAD_BALANCERS:
        raise InvalidParameterException(
            f"A service can have at most {MAX_LOAD_BALANCERS} load balancer target groups."
        )
    awsvpc = _network_mode(td) == "awsvpc"
    for item in items:
        group, classic = item.target_group_arn, item.load_balancer_name
        if group and classic:
            raise InvalidParameterException(
                "Specify either a targetGroupArn or a loadBalancerName for a load balancer, "
                "not both."
            )
        if not group and not classic:
            raise InvalidParameterException(
                "A load balancer needs a targetGroupArn (Application or Network Load Balancer) "
                "or a loadBalancerName (Classic Load Balancer)."
            )
        if group:
            parsed = arns.parse(group)
            if (
                parsed is None
                or parsed.service != "elasticloadbalancing"
                or not parsed.resource.startswith("targetgroup/")
            ):
                raise InvalidParameterException(f"{group} is not a valid target group ARN.")
        elif awsvpc:
            raise InvalidParameterException(
                "Classic Load Balancers are not supported for task definitions that use the "
                "awsvpc network mode: use a target group."
            )
        name, port = item.container_name, item.container_port
        if name is None or port is None:
            raise InvalidParameterException(
                "A load balancer needs the containerName and containerPort to send traffic to."
            )
        check_container_port(td, name, port)


def check_target_groups(tx: Tx, items: Sequence[LoadBalancer], td: TaskDefinition) -> None:
    """Each target group exists, receives traffic from a load balancer and takes the targets
    the task definition's network mode registers (ECS's wording, from its replies)."""
    mode = _network_mode(td)
    for item in items:
        arn = item.target_group_arn
        if arn is None:
            continue
        group = registrations.group(tx, arn)
        if group is None:
            # What ECS answers for a target group it cannot find.
            raise InvalidParameterException(
                "Unable to assume role and validate the specified targetGroupArn. Please "
                "verify that the ECS service role being passed has the proper permissions."
            )
        if not group.load_balanced:
            raise InvalidParameterException(
                f"The target group with targetGroupArn {arn} does not have an associated "
                "load balancer."
            )
        fits = group.target_type == ("ip" if mode == "awsvpc" else "instance")
        if not fits:
            raise InvalidParameterException(
                f"The provided target group {arn} has target type {group.target_type}, which "
                f"is incompatible with the {mode} network mode specified in the task "
                "definition."
            )


def check_service_registries(
    items: Sequence[Mapping[str, Any]], td: TaskDefinition
) -> list[dict[str, Any]]:
    # Rules: the API reference's ServiceRegistry. Wording: ours, except check_container_port's.
    if len(items) > 1:
        raise InvalidParameterException(
            "A service can be associated with one service registry only."
        )
    out: list[dict[str, Any]] = []
    for item in items:
        registry = item.get("registryArn")
        parsed = arns.parse(registry or "")
        if parsed is None or parsed.service != "servicediscovery":
            raise InvalidParameterException(
                f"{registry} is not a valid service registry (AWS Cloud Map service) ARN."
            )
        name, port = item.get("containerName"), item.get("containerPort")
        if (name is None) != (port is None):
            raise InvalidParameterException(
                "containerName and containerPort of a service registry go together."
            )
        if name is not None and item.get("port") is not None:
            raise InvalidParameterException(
                "Specify either a port or a containerName and containerPort for a service "
                "registry, not both."
            )
        if name is None and _network_mode(td) in ("bridge", "host"):
            raise InvalidParameterException(
                "A service registry needs a containerName and containerPort when the task "
                "definition uses the bridge or host network mode."
            )
        if name is not None and port is not None:
            check_container_port(td, name, port)
        out.append(dict(item))
    return out


def check_registries(tx: Tx, items: Sequence[Mapping[str, Any]], td: TaskDefinition) -> None:
    """Each registry is a Cloud Map service of the caller's, and the ports given fit its
    records: an SRV record needs a port (`port`, or containerName and containerPort); a
    service of A or AAAA records only takes none (ECS's words, from its replies)."""
    mode = _network_mode(td)
    for item in items:
        registry = cloud_map.registry(tx, str(item.get("registryArn")))
        if registry is None:
            raise InvalidParameterException(
                f"The service registry {item.get('registryArn')} does not exist."
            )
        has_port = item.get("port") is not None or item.get("containerPort") is not None
        if "SRV" in registry.record_types:
            if not has_port:
                raise InvalidParameterException(
                    "The specified service registry uses SRV records: specify a port, or a "
                    "containerName and containerPort, for it."
                )
            continue
        if item.get("port") is not None:
            raise InvalidParameterException(
                "A port was provided but is not required by the specified service registry"
            )
        if item.get("containerPort") is not None and mode == "awsvpc":
            raise InvalidParameterException(
                "The values specified for serviceRegistries do not require a value for "
                "'containerPort'. Remove the value and retry."
            )
        if registry.record_types and mode != "awsvpc":
            raise InvalidParameterException(
                "A service registry with A or AAAA records only needs the awsvpc network "
                "mode; with the bridge or host network mode, use SRV records."
            )


def role_arn(
    role: str | None, load_balancers: Sequence[LoadBalancer], td: TaskDefinition, account: str
) -> str:
    """The role the service shows: the one given, or ECS's service-linked role."""
    if role is None:
        return f"arn:aws:iam::{account}:{SERVICE_LINKED_ROLE}"
    if not load_balancers:
        # The API reference: "If you specify the role parameter, you must also specify a load
        # balancer object with the loadBalancers parameter." Wording: ours.
        raise InvalidParameterException(
            "The role parameter is only permitted with a load balancer: specify loadBalancers "
            "too, or leave role out."
        )
    if _network_mode(td) == "awsvpc":
        raise InvalidParameterException(ROLE_NEEDS_LINKED_ROLE)
    if arns.is_arn(role):
        return role
    return f"arn:aws:iam::{account}:role/{role.lstrip('/')}"


def new_launch(
    service: Service, cluster: Cluster, given: Sequence[CapacityItem]
) -> tuple[str | None, list[dict[str, Any]]]:
    """UpdateService's capacityProviderStrategy: a new strategy, or back to a launch type
    (an empty list: FARGATE for Fargate providers, EC2 otherwise; API reference)."""
    if given:
        if service.scheduling_strategy == DAEMON:
            raise InvalidParameterException(DAEMON_STRATEGY)
        return None, strategy_document(check_strategy(given, cluster.capacity_providers))
    if not service.capacity_provider_strategy:
        return service.launch_type, []
    kinds = launch_types(None, service.capacity_provider_strategy)
    return ("FARGATE" if kinds == ["FARGATE"] else "EC2"), []


def check_against(td: TaskDefinition, service: Service) -> None:
    """What CreateService checks, and UpdateService again on the result of its changes."""
    network = AwsVpc.of(service.network_configuration)
    for kind in launch_types(service.launch_type, service.capacity_provider_strategy):
        task_build.check_launch_type(td, kind)
        task_build.check_network(td, kind, network)
    check_daemon_placement(service.scheduling_strategy, service.placement_strategy)
    placement.check_rules(service.placement_constraints, service.placement_strategy, td)
    check_load_balancers(service.load_balancers, td)
    check_service_registries(service.service_registries, td)
