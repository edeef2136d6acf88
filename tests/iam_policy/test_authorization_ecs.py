"""What ECS actions authorize, from the Service Authorization Reference for Amazon ECS
("Actions, resources, and condition keys for Amazon Elastic Container Service": RunTask on
task-definition* with ecs:cluster, ecs:capacity-provider, aws:RequestTag...; StopTask on
task* with ecs:cluster; ExecuteCommand on cluster* and task* with ecs:container-name,
ecs:task; ListTasks on container-instance*, else "*"; ListClusters on "*"), and the issue's
scenarios decided end to end with the evaluator."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from portside.api.ecs import SERVICE
from portside.iam.authorization import ECS_RULES, Check, Resolver, checks
from portside.iam.policy import Caller, evaluate

ACCOUNT = "123456789012"
REGION = "us-east-1"
ECS = f"arn:aws:ecs:{REGION}:{ACCOUNT}"


class Store(Resolver):
    def __init__(self, tags: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self._tags = tags or {}

    def task_definition_arn(self, ref: str) -> str | None:
        return f"{ECS}:task-definition/{ref}:7"

    def task_definition_roles(self, arn: str) -> Sequence[str]:
        return [f"arn:aws:iam::{ACCOUNT}:role/app", f"arn:aws:iam::{ACCOUNT}:role/exec"]

    def tags(self, arn: str) -> Mapping[str, str] | None:
        return self._tags.get(arn)


def ecs(op: str, resolver: Resolver | None = None, **params: Any) -> list[Check]:
    kw: dict[str, Any] = {"account": ACCOUNT, "region": REGION}
    if resolver is not None:
        kw["resolver"] = resolver
    return checks("ecs", op, params, **kw)


def arns(check: Check) -> list[str]:
    return [t.arn for t in check.targets]


def test_every_served_ecs_action_has_a_rule() -> None:
    assert set(SERVICE.handlers) <= set(ECS_RULES)


def test_run_task() -> None:
    run, *rest = ecs(
        "RunTask",
        cluster="prod",
        taskDefinition="web:3",
        capacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}],
        enableExecuteCommand=True,
    )
    assert run.action == "ecs:RunTask" and not run.dependent
    assert arns(run) == [f"{ECS}:task-definition/web:3"]
    assert run.context == {
        "ecs:cluster": f"{ECS}:cluster/prod",
        "ecs:capacity-provider": [f"{ECS}:capacity-provider/FARGATE"],
        "ecs:enable-execute-command": "true",
    }
    assert rest == []  # no roles, no tags: nothing else to check


def test_run_task_defaults_resolves_and_passes_roles() -> None:
    run, pass_role = ecs("RunTask", Store(), taskDefinition="web")
    assert arns(run) == [f"{ECS}:task-definition/web:7"]
    assert run.context["ecs:cluster"] == f"{ECS}:cluster/default"
    assert pass_role.action == "iam:PassRole" and pass_role.dependent
    assert arns(pass_role) == [
        f"arn:aws:iam::{ACCOUNT}:role/app",
        f"arn:aws:iam::{ACCOUNT}:role/exec",
    ]
    assert pass_role.context == {"iam:PassedToService": "ecs-tasks.amazonaws.com"}


def test_run_task_with_tags_needs_tag_resource() -> None:
    run, tag = ecs(
        "RunTask",
        cluster=f"{ECS}:cluster/prod",
        taskDefinition=f"{ECS}:task-definition/w:1",
        tags=[{"key": "team", "value": "blue"}],
    )
    assert run.context["aws:RequestTag/team"] == "blue" and run.context["aws:TagKeys"] == ["team"]
    assert tag.action == "ecs:TagResource" and arns(tag) == [f"{ECS}:task/prod/*"]
    assert tag.context["ecs:CreateAction"] == "RunTask"


def test_stop_and_describe_tasks() -> None:
    (stop,) = ecs("StopTask", cluster="prod", task="abc")
    assert arns(stop) == [f"{ECS}:task/prod/abc"]
    assert stop.targets[0].context == {"ecs:cluster": f"{ECS}:cluster/prod"}
    (describe,) = ecs("DescribeTasks", cluster="prod", tasks=["a", f"{ECS}:task/prod/b"])
    assert arns(describe) == [f"{ECS}:task/prod/a", f"{ECS}:task/prod/b"]


def test_services() -> None:
    create, pass_role = ecs("CreateService", cluster="prod", serviceName="web",
                            taskDefinition="web:2", role="ecsServiceRole")  # fmt: skip
    assert arns(create) == [f"{ECS}:service/prod/web"]
    assert create.context["ecs:task-definition"] == f"{ECS}:task-definition/web:2"
    assert create.context["ecs:cluster"] == f"{ECS}:cluster/prod"
    assert pass_role.context == {"iam:PassedToService": "ecs.amazonaws.com"}
    (describe,) = ecs("DescribeServices", cluster="prod", services=["web", "api"])
    assert arns(describe) == [f"{ECS}:service/prod/web", f"{ECS}:service/prod/api"]
    (update,) = ecs("UpdateService", cluster="prod", service="web", desiredCount=2)
    assert arns(update) == [f"{ECS}:service/prod/web"]


def test_actions_without_resources_are_star() -> None:
    cases: list[tuple[str, dict[str, Any]]] = [
        ("ListClusters", {}),
        ("ListTaskDefinitions", {}),
        ("DescribeTaskDefinition", {"taskDefinition": "web:1"}),
        ("ListServices", {"cluster": "prod"}),
        ("ListTasks", {"cluster": "prod"}),
    ]
    for op, params in cases:
        (c,) = ecs(op, None, **params)
        assert arns(c) == ["*"], op
    (list_tasks,) = ecs("ListTasks", cluster="prod")
    assert list_tasks.context == {"ecs:cluster": f"{ECS}:cluster/prod"}
    (on_instance,) = ecs("ListTasks", cluster="prod", containerInstance="i1")
    assert arns(on_instance) == [f"{ECS}:container-instance/prod/i1"]


def test_execute_command() -> None:
    (c,) = ecs("ExecuteCommand", cluster="prod", task="t1", container="app", command="sh",
               interactive=True)  # fmt: skip
    assert arns(c) == [f"{ECS}:cluster/prod", f"{ECS}:task/prod/t1"]
    assert c.context == {"ecs:cluster": f"{ECS}:cluster/prod", "ecs:task": f"{ECS}:task/prod/t1",
                         "ecs:container-name": "app"}  # fmt: skip


def test_clusters_definitions_and_tags() -> None:
    (describe,) = ecs("DescribeClusters")
    assert arns(describe) == [f"{ECS}:cluster/default"]
    create, tag = ecs("CreateCluster", clusterName="prod", tags=[{"key": "env", "value": "p"}])
    assert arns(create) == [f"{ECS}:cluster/prod"] and arns(tag) == [f"{ECS}:cluster/prod"]
    register, pass_role = ecs("RegisterTaskDefinition", family="web", cpu="256",
                              taskRoleArn=f"arn:aws:iam::{ACCOUNT}:role/app",
                              requiresCompatibilities=["FARGATE"],
                              containerDefinitions=[{"name": "a", "privileged": True}])  # fmt: skip
    assert arns(register) == [f"{ECS}:task-definition/web:*"]
    assert register.context["ecs:task-cpu"] == "256"
    assert register.context["ecs:privileged"] == "true"
    assert register.context["ecs:compute-compatibility"] == ["FARGATE"]
    assert pass_role.action == "iam:PassRole"
    (untag,) = ecs("UntagResource", resourceArn=f"{ECS}:cluster/prod", tagKeys=["env"])
    assert untag.context == {"aws:TagKeys": ["env"]}


def test_resource_tags_ride_on_their_targets() -> None:
    task = f"{ECS}:task/prod/t1"
    (stop,) = ecs("StopTask", Store({task: {"team": "blue"}}), cluster="prod", task="t1")
    assert stop.targets[0].context == {
        "ecs:cluster": f"{ECS}:cluster/prod",
        "aws:ResourceTag/team": "blue",
        "ecs:ResourceTag/team": "blue",
    }


# The API scenarios, decided with the evaluator (the API tests drive them through
# a server once the lead wires enforcement).
ALICE = Caller(f"arn:aws:iam::{ACCOUNT}:user/alice", ACCOUNT, user_name="alice",
               tags={"team": "blue"})  # fmt: skip


def decide(check: Check, *policies: str) -> Any:
    return evaluate(check.request(ALICE), list(policies))


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_read_only_on_one_cluster() -> None:
    policy = doc(
        {"Effect": "Allow", "Action": ["ecs:Describe*", "ecs:List*"],
         "Resource": [f"{ECS}:cluster/prod", f"{ECS}:task/prod/*"]},
        {"Effect": "Allow", "Action": ["ecs:List*"], "Resource": "*",
         "Condition": {"ArnEqualsIfExists": {"ecs:cluster": f"{ECS}:cluster/prod"}}},
    )  # fmt: skip
    assert decide(ecs("DescribeClusters", clusters=["prod"])[0], policy).allowed
    assert not decide(ecs("DescribeClusters", clusters=["dev"])[0], policy).allowed
    assert decide(ecs("ListTasks", cluster="prod")[0], policy).allowed
    assert not decide(ecs("ListTasks", cluster="dev")[0], policy).allowed
    assert decide(ecs("ListClusters")[0], policy).allowed
    refused = decide(ecs("RunTask", cluster="prod", taskDefinition="web:1")[0], policy)
    assert refused.message() == (
        f"User: arn:aws:iam::{ACCOUNT}:user/alice is not authorized to perform: ecs:RunTask on "
        f"resource: {ECS}:task-definition/web:1 because no identity-based policy allows the "
        "ecs:RunTask action"
    )


def test_stop_only_the_teams_tasks() -> None:
    policy = doc({"Effect": "Allow", "Action": "ecs:StopTask", "Resource": "*",
                  "Condition": {"StringEquals":
                                {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}})  # fmt: skip
    store = Store(
        {f"{ECS}:task/prod/mine": {"team": "blue"}, f"{ECS}:task/prod/theirs": {"team": "red"}}
    )
    assert decide(ecs("StopTask", store, cluster="prod", task="mine")[0], policy).allowed
    assert not decide(ecs("StopTask", store, cluster="prod", task="theirs")[0], policy).allowed


def test_execute_command_by_container_name() -> None:
    policy = doc({"Effect": "Allow", "Action": "ecs:ExecuteCommand",
                  "Resource": [f"{ECS}:cluster/prod", f"{ECS}:task/prod/*"],
                  "Condition": {"StringEquals": {"ecs:container-name": "app"}}})  # fmt: skip
    assert decide(
        ecs("ExecuteCommand", cluster="prod", task="t", container="app")[0], policy
    ).allowed
    no = decide(ecs("ExecuteCommand", cluster="prod", task="t", container="db")[0], policy)
    assert not no.allowed and no.resource == f"{ECS}:cluster/prod"


def test_newer_resources_are_authorized_on_what_they_name() -> None:
    daemon = f"{ECS}:daemon/prod/agent"
    (described,) = ecs("DescribeDaemon", daemonArn=daemon)
    assert described.action == "ecs:DescribeDaemon" and arns(described) == [daemon]
    role = f"arn:aws:iam::{ACCOUNT}:role/exec"
    infra = f"arn:aws:iam::{ACCOUNT}:role/infra"
    create, pass_task, pass_infra = ecs(
        "CreateExpressGatewayService",
        cluster="prod",
        executionRoleArn=role,
        infrastructureRoleArn=infra,
        primaryContainer={"image": "busybox"},
    )
    assert create.action == "ecs:CreateExpressGatewayService"
    assert create.context == {"ecs:cluster": f"{ECS}:cluster/prod"}
    assert pass_task.action == "iam:PassRole" and arns(pass_task) == [role]
    assert pass_task.context == {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    assert arns(pass_infra) == [infra]
    assert pass_infra.context == {"iam:PassedToService": "ecs.amazonaws.com"}
