"""What each ECS API action authorizes: the resources and condition keys the Service
Authorization Reference lists for it ("Actions, resources, and condition keys for Amazon
Elastic Container Service"), built from the request the way ECS names them.

Resource ARNs (the reference's resource types): cluster/<name>, container-instance/<cluster>/
<id>, service/<cluster>/<name>, task/<cluster>/<id>, task-definition/<family>:<revision>,
capacity-provider/<name>, task-set/<cluster>/<service>/<id>, service-deployment/<cluster>/
<service>/<id>, service-revision/<cluster>/<service>/<id>. An action whose reference row has
no resource type authorizes "*" (ListClusters, ListTaskDefinitions, DescribeTaskDefinition,
DeregisterTaskDefinition, ListServices with ecs:cluster, ...). ListTasks without a container
instance is "*" with ecs:cluster, as AWS answers it (`... ecs:ListTasks on resource: *`).

Choices where the request cannot name the resource: a resource not made yet is named with
`*` in place of its id (RunTask's tags: task/<cluster>/*; CreateTaskSet: task-set/<cluster>/
<service>/*; RegisterTaskDefinition: task-definition/<family>:*), which `*`-patterns in a
policy match; a task definition named by family alone needs the resolver for its revision
(without one: task-definition/<family>, which only `family*` patterns match).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from portside.iam.authorization.checks import (
    NO_RESOLVER,
    Check,
    Resolver,
    request_tags,
    target,
)
from portside.iam.policy.context import ANY, ContextValue, Target

P = Mapping[str, Any]


class Env:
    """The request's account and region, the resolver, and ARN builders for ECS's names."""

    __slots__ = ("account", "region", "resolver")

    def __init__(self, account: str, region: str, resolver: Resolver) -> None:
        self.account = account
        self.region = region
        self.resolver = resolver

    def arn(self, resource: str) -> str:
        return f"arn:aws:ecs:{self.region}:{self.account}:{resource}"

    def cluster(self, ref: str | None) -> str:
        ref = ref or "default"
        return ref if ref.startswith("arn:") else self.arn(f"cluster/{ref}")

    def in_cluster(self, kind: str, cluster_arn: str, ref: str) -> str:
        """A task, container instance or service named by id/name within a cluster."""
        if ref.startswith("arn:"):
            return ref
        return self.arn(f"{kind}/{cluster_arn.rsplit('/', 1)[-1]}/{ref}")

    def task_definition(self, ref: str) -> str:
        if ref.startswith("arn:"):
            return ref
        if ":" in ref:
            return self.arn(f"task-definition/{ref}")
        return self.resolver.task_definition_arn(ref) or self.arn(f"task-definition/{ref}")

    def capacity_provider(self, ref: str) -> str:
        return ref if ref.startswith("arn:") else self.arn(f"capacity-provider/{ref}")

    def on(self, arn: str, keys: Mapping[str, ContextValue | None] | None = None) -> Target:
        return target(arn, self.resolver, keys, prefix="ecs")


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _bool(value: Any) -> str | None:
    return None if value is None else "true" if value else "false"


def _providers(env: Env, p: P) -> list[str] | None:
    strategy = p.get("capacityProviderStrategy")
    names = [s.get("capacityProvider") for s in strategy or () if isinstance(s, Mapping)]
    names += _strings(p.get("capacityProviders"))
    arns = [env.capacity_provider(n) for n in names if isinstance(n, str)]
    return arns or None


def _network(p: P) -> dict[str, ContextValue | None]:
    vpc = (p.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
    public = vpc.get("assignPublicIp")
    return {
        "ecs:subnet": _strings(vpc.get("subnets")) or None,
        "ecs:auto-assign-public-ip": None if public is None else _bool(public == "ENABLED"),
    }


def _launch_keys(env: Env, p: P, cluster: str) -> dict[str, ContextValue | None]:
    """The keys RunTask, StartTask, CreateService and UpdateService share."""
    connect = p.get("serviceConnectConfiguration") or {}
    overrides = p.get("overrides") or {}
    return {
        "ecs:cluster": cluster,
        "ecs:capacity-provider": _providers(env, p),
        "ecs:enable-ecs-managed-tags": _bool(p.get("enableECSManagedTags")),
        "ecs:enable-execute-command": _bool(p.get("enableExecuteCommand")),
        "ecs:propagate-tags": p.get("propagateTags"),
        "ecs:enable-service-connect": _bool(connect.get("enabled")) if connect else None,
        "ecs:namespace": connect.get("namespace") if connect else None,
        "ecs:enable-ebs-volumes": "true" if p.get("volumeConfigurations") else None,
        "ecs:task-cpu": _number(overrides.get("cpu", p.get("cpu"))),
        "ecs:task-memory": _number(overrides.get("memory", p.get("memory"))),
        **_network(p),
    }


def _number(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text if text.isdigit() else None


def _clean(keys: Mapping[str, ContextValue | None]) -> dict[str, ContextValue]:
    return {k: v for k, v in keys.items() if v is not None}


def _pass_role(roles: Sequence[str | None], service: str) -> list[Check]:
    """iam:PassRole on each role the call hands to ECS (iam:PassedToService says to whom)."""
    arns = tuple(Target(r) for r in dict.fromkeys(r for r in roles if r))
    if not arns:
        return []
    return [Check("iam:PassRole", arns, {"iam:PassedToService": service}, dependent=True)]


def _tag_on_create(env: Env, p: P, operation: str, created: str) -> list[Check]:
    """ecs:TagResource on what the call creates, when it is created with tags (ECS's tagging
    authorization), with ecs:CreateAction naming the call."""
    tags = request_tags(p.get("tags"))
    if not tags:
        return []
    keys = {**tags, "ecs:CreateAction": operation}
    return [Check("ecs:TagResource", (Target(created),), keys, dependent=True)]


Rule = Callable[[Env, P], list[Check]]
RULES: dict[str, Rule] = {}


def rule(*operations: str) -> Callable[[Rule], Rule]:
    def register(fn: Rule) -> Rule:
        for op in operations:
            RULES[op] = fn
        return fn

    return register


def _one(operation: str, targets: Sequence[Target], keys: Mapping[str, Any] | None = None) -> Check:
    return Check(f"ecs:{operation}", tuple(targets) or (ANY,), _clean(keys or {}))


# Actions with no resource type in the reference: "*" (ecs:cluster where it lists one).
_STAR = (
    "ListClusters", "ListTaskDefinitions", "ListTaskDefinitionFamilies", "DescribeTaskDefinition",
    "DeregisterTaskDefinition", "ListAccountSettings", "DiscoverPollEndpoint",
)  # fmt: skip


def _star(operation: str) -> Rule:
    return lambda env, p: [_one(operation, [])]


for _op in _STAR:
    RULES[_op] = _star(_op)


@rule("PutAccountSetting", "PutAccountSettingDefault", "DeleteAccountSetting")
def _account_setting(env: Env, p: P) -> list[Check]:
    return [_one(p["_operation"], [], {"ecs:account-setting": p.get("name")})]


@rule("ListServices")
def _list_services(env: Env, p: P) -> list[Check]:
    return [_one("ListServices", [], {"ecs:cluster": env.cluster(p.get("cluster"))})]


@rule("ListServicesByNamespace")
def _by_namespace(env: Env, p: P) -> list[Check]:
    return [_one("ListServicesByNamespace", [], {"ecs:namespace": p.get("namespace")})]


@rule("CreateCluster")
def _create_cluster(env: Env, p: P) -> list[Check]:
    arn = env.cluster(p.get("clusterName"))
    keys = {**request_tags(p.get("tags")), "ecs:capacity-provider": _providers(env, p)}
    return [
        _one("CreateCluster", [Target(arn)], keys),
        *_tag_on_create(env, p, "CreateCluster", arn),
    ]


@rule("DescribeClusters")
def _describe_clusters(env: Env, p: P) -> list[Check]:
    refs = _strings(p.get("clusters")) or ["default"]
    return [_one("DescribeClusters", [env.on(env.cluster(c)) for c in refs])]


# Actions on the one cluster the request names (default: "default").
_ON_CLUSTER = (
    "DeleteCluster", "UpdateCluster", "UpdateClusterSettings", "ListContainerInstances",
    "ListAttributes", "RegisterContainerInstance", "DeregisterContainerInstance",
    "SubmitTaskStateChange", "SubmitContainerStateChange", "SubmitAttachmentStateChanges",
    "PutClusterCapacityProviders",
)  # fmt: skip


def _on_cluster(operation: str) -> Rule:
    def fn(env: Env, p: P) -> list[Check]:
        cluster = env.cluster(p.get("cluster"))
        keys: dict[str, Any] = {}
        if operation == "PutClusterCapacityProviders":
            keys["ecs:capacity-provider"] = _providers(env, p)
        if operation == "RegisterContainerInstance":
            keys.update(request_tags(p.get("tags")))
        return [_one(operation, [env.on(cluster)], keys)]

    return fn


for _op in _ON_CLUSTER:
    RULES[_op] = _on_cluster(_op)


@rule("DescribeTasks", "GetTaskProtection", "UpdateTaskProtection")
def _tasks(env: Env, p: P) -> list[Check]:
    cluster = env.cluster(p.get("cluster"))
    arns = [env.in_cluster("task", cluster, t) for t in _strings(p.get("tasks"))]
    return [_one(p["_operation"], [env.on(a, {"ecs:cluster": cluster}) for a in arns])]


@rule("StopTask")
def _stop_task(env: Env, p: P) -> list[Check]:
    cluster = env.cluster(p.get("cluster"))
    task = env.in_cluster("task", cluster, str(p.get("task", "")))
    return [_one("StopTask", [env.on(task, {"ecs:cluster": cluster})])]


@rule("ExecuteCommand")
def _execute_command(env: Env, p: P) -> list[Check]:
    cluster = env.cluster(p.get("cluster"))
    task = env.in_cluster("task", cluster, str(p.get("task", "")))
    keys = {"ecs:cluster": cluster, "ecs:task": task, "ecs:container-name": p.get("container")}
    return [_one("ExecuteCommand", [env.on(cluster), env.on(task)], keys)]


@rule("ListTasks")
def _list_tasks(env: Env, p: P) -> list[Check]:
    cluster = env.cluster(p.get("cluster"))
    instance = p.get("containerInstance")
    targets = [env.on(env.in_cluster("container-instance", cluster, instance))] if instance else []
    return [_one("ListTasks", targets, {"ecs:cluster": cluster})]


@rule(
    "DescribeContainerInstances", "UpdateContainerInstancesState", "UpdateContainerAgent",
    "Poll", "StartTelemetrySession",
)  # fmt: skip
def _instances(env: Env, p: P) -> list[Check]:
    cluster = env.cluster(p.get("cluster"))
    refs = _strings(p.get("containerInstances")) or _strings([p.get("containerInstance")])
    arns = [env.in_cluster("container-instance", cluster, r) for r in refs]
    return [_one(p["_operation"], [env.on(a) for a in arns], {"ecs:cluster": cluster})]


@rule("PutAttributes", "DeleteAttributes")
def _attributes(env: Env, p: P) -> list[Check]:
    cluster = env.cluster(p.get("cluster"))
    refs = [a.get("targetId") for a in p.get("attributes") or () if isinstance(a, Mapping)]
    arns = dict.fromkeys(
        env.in_cluster("container-instance", cluster, r) for r in refs if isinstance(r, str)
    )
    return [_one(p["_operation"], [env.on(a) for a in arns], {"ecs:cluster": cluster})]


@rule("RunTask", "StartTask")
def _run_task(env: Env, p: P) -> list[Check]:
    operation = p["_operation"]
    cluster = env.cluster(p.get("cluster"))
    definition = env.task_definition(str(p.get("taskDefinition", "")))
    keys: dict[str, Any] = {**_launch_keys(env, p, cluster), **request_tags(p.get("tags"))}
    if operation == "StartTask":
        instances = [
            env.in_cluster("container-instance", cluster, r)
            for r in _strings(p.get("containerInstances"))
        ]
        keys["ecs:container-instances"] = instances or None
    overrides = p.get("overrides") or {}
    roles = [overrides.get("taskRoleArn"), overrides.get("executionRoleArn")]
    if not any(roles):
        roles = list(env.resolver.task_definition_roles(definition))
    task = env.in_cluster("task", cluster, "*")
    return [
        _one(operation, [env.on(definition)], keys),
        *_pass_role(roles, "ecs-tasks.amazonaws.com"),
        *_tag_on_create(env, p, operation, task),
    ]


@rule("RegisterTaskDefinition")
def _register(env: Env, p: P) -> list[Check]:
    definition = env.arn(f"task-definition/{p.get('family', '')}:*")
    containers = [c for c in p.get("containerDefinitions") or () if isinstance(c, Mapping)]
    keys: dict[str, Any] = {
        **request_tags(p.get("tags")),
        "ecs:compute-compatibility": _strings(p.get("requiresCompatibilities")) or None,
        "ecs:privileged": _bool(any(c.get("privileged") for c in containers)),
        "ecs:task-cpu": _number(p.get("cpu")),
        "ecs:task-memory": _number(p.get("memory")),
    }
    roles = [p.get("taskRoleArn"), p.get("executionRoleArn")]
    return [
        _one("RegisterTaskDefinition", [Target(definition)], keys),
        *_pass_role(roles, "ecs-tasks.amazonaws.com"),
        *_tag_on_create(env, p, "RegisterTaskDefinition", definition),
    ]


@rule("DeleteTaskDefinitions")
def _delete_definitions(env: Env, p: P) -> list[Check]:
    refs = _strings(p.get("taskDefinitions"))
    return [_one("DeleteTaskDefinitions", [env.on(env.task_definition(r)) for r in refs])]


@rule("CreateService")
def _create_service(env: Env, p: P) -> list[Check]:
    cluster = env.cluster(p.get("cluster"))
    service = env.in_cluster("service", cluster, str(p.get("serviceName", "")))
    keys: dict[str, Any] = {**_launch_keys(env, p, cluster), **request_tags(p.get("tags"))}
    if p.get("taskDefinition"):
        keys["ecs:task-definition"] = env.task_definition(str(p["taskDefinition"]))
    return [
        _one("CreateService", [Target(service)], keys),
        *_pass_role([p.get("role")], "ecs.amazonaws.com"),
        *_tag_on_create(env, p, "CreateService", service),
    ]


@rule("UpdateService")
def _update_service(env: Env, p: P) -> list[Check]:
    cluster = env.cluster(p.get("cluster"))
    service = env.in_cluster("service", cluster, str(p.get("service", "")))
    keys: dict[str, Any] = _launch_keys(env, p, cluster)
    if p.get("taskDefinition"):
        keys["ecs:task-definition"] = env.task_definition(str(p["taskDefinition"]))
    return [_one("UpdateService", [env.on(service)], keys)]


@rule("DeleteService", "UpdateServicePrimaryTaskSet", "ListServiceDeployments")
def _service(env: Env, p: P) -> list[Check]:
    cluster = env.cluster(p.get("cluster"))
    service = env.in_cluster("service", cluster, str(p.get("service", "")))
    return [_one(p["_operation"], [env.on(service, {"ecs:cluster": cluster})])]


@rule("DescribeServices")
def _describe_services(env: Env, p: P) -> list[Check]:
    cluster = env.cluster(p.get("cluster"))
    arns = [env.in_cluster("service", cluster, s) for s in _strings(p.get("services"))]
    return [_one("DescribeServices", [env.on(a, {"ecs:cluster": cluster}) for a in arns])]


def _service_of(child_arn: str) -> str:
    """service-deployment/<cluster>/<service>/<id> -> service/<cluster>/<service>."""
    head, _, path = child_arn.partition(":service-")
    parts = path.split("/")
    return f"{head}:service/{parts[1]}/{parts[2]}" if len(parts) >= 4 else child_arn


@rule("DescribeServiceDeployments", "DescribeServiceRevisions", "StopServiceDeployment",
      "ContinueServiceDeployment")  # fmt: skip
def _deployments(env: Env, p: P) -> list[Check]:
    refs = (
        _strings(p.get("serviceDeploymentArns"))
        or _strings(p.get("serviceRevisionArns"))
        or _strings([p.get("serviceDeploymentArn")])
    )
    targets: list[Target] = []
    for arn in refs:
        service = _service_of(arn)
        cluster = env.cluster(service.split("/")[1]) if service.count("/") >= 2 else None
        keys = {"ecs:cluster": cluster, "ecs:service": service}
        targets += [env.on(service, {"ecs:cluster": cluster}), env.on(arn, keys)]
    return [_one(p["_operation"], targets)]


def _task_set_keys(env: Env, p: P) -> tuple[str, dict[str, Any]]:
    cluster = env.cluster(p.get("cluster"))
    service = env.in_cluster("service", cluster, str(p.get("service", "")))
    return service, {"ecs:cluster": cluster, "ecs:service": service}


@rule("CreateTaskSet")
def _create_task_set(env: Env, p: P) -> list[Check]:
    service, keys = _task_set_keys(env, p)
    task_set = env.arn(f"task-set/{service.split('/', 1)[1]}/*")
    keys.update(request_tags(p.get("tags")))
    keys["ecs:capacity-provider"] = _providers(env, p)
    if p.get("taskDefinition"):
        keys["ecs:task-definition"] = env.task_definition(str(p["taskDefinition"]))
    return [
        _one("CreateTaskSet", [Target(task_set)], keys),
        *_tag_on_create(env, p, "CreateTaskSet", task_set),
    ]


@rule("DeleteTaskSet", "UpdateTaskSet", "DescribeTaskSets")
def _task_sets(env: Env, p: P) -> list[Check]:
    service, keys = _task_set_keys(env, p)
    ids = _strings(p.get("taskSets")) or _strings([p.get("taskSet")]) or ["*"]
    base = service.split("/", 1)[1]
    arns = [i if i.startswith("arn:") else env.arn(f"task-set/{base}/{i}") for i in ids]
    return [_one(p["_operation"], [env.on(a) for a in arns], keys)]


@rule("CreateCapacityProvider")
def _create_provider(env: Env, p: P) -> list[Check]:
    arn = env.capacity_provider(str(p.get("name", "")))
    return [
        _one("CreateCapacityProvider", [Target(arn)], request_tags(p.get("tags"))),
        *_tag_on_create(env, p, "CreateCapacityProvider", arn),
    ]


@rule("DeleteCapacityProvider", "UpdateCapacityProvider", "DescribeCapacityProviders")
def _providers_rule(env: Env, p: P) -> list[Check]:
    refs = (
        _strings(p.get("capacityProviders"))
        or _strings([p.get("capacityProvider")])
        or _strings([p.get("name")])
    )
    return [_one(p["_operation"], [env.on(env.capacity_provider(r)) for r in refs])]


@rule("TagResource", "UntagResource", "ListTagsForResource")
def _tagging(env: Env, p: P) -> list[Check]:
    keys: dict[str, Any] = request_tags(p.get("tags"))
    if p["_operation"] == "UntagResource":
        keys["aws:TagKeys"] = _strings(p.get("tagKeys"))
    return [_one(p["_operation"], [env.on(str(p.get("resourceArn", "")))], keys)]


def ecs_checks(
    operation: str,
    params: Mapping[str, Any],
    *,
    account: str,
    region: str,
    resolver: Resolver = NO_RESOLVER,
) -> list[Check] | None:
    """The checks ECS makes for `operation` with `params` (botocore's canonical form, as the
    edge decodes them); None for an operation this table does not know."""
    fn = RULES.get(operation)
    if fn is None:
        return None
    return fn(Env(account, region, resolver), {**params, "_operation": operation})
