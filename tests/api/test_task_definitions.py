"""Task definition actions through boto3 and the AWS CLI against a real server: every happy
path and each error ECS gives. The exhaustive registration rules are unit tests
(tests/ops/test_taskdef_validation.py); here one refusal per rule family crosses the wire."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from harness import BIN, REGION, ServerProcess

Json = dict[str, Any]
ACCOUNT = "000000000000"
EXEC_ROLE = "arn:aws:iam::000000000000:role/ecsTaskExecutionRole"
NOT_FOUND = "Unable to describe task definition."
STILL_ACTIVE = (
    "The specified task definition is still in ACTIVE status. Please deregister the target and "
    "try again."
)
DOES_NOT_EXIST = (
    "The specified task definition does not exist. Specify a valid account, family, revision "
    "and try again."
)
INVALID_ID = (
    "The specified task definition identifier is invalid. Specify a valid name or ARN and try "
    "again."
)


def arn(family: str, revision: int) -> str:
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{family}:{revision}"


def container(**fields: Any) -> Json:
    return {"name": "app", "image": "nginx", "memory": 64, **fields}


def register(ecs: Any, family: str, *containers: Json, **fields: Any) -> Json:
    out = ecs.register_task_definition(
        family=family, containerDefinitions=list(containers) or [container()], **fields
    )
    return dict(out["taskDefinition"])


def registered(ecs: Any, family: str, count: int) -> list[str]:
    return [register(ecs, family)["taskDefinitionArn"] for _ in range(count)]


def fails(code: str, call: Callable[..., Any], **kwargs: Any) -> str:
    """Call, expect the ECS error `code` with HTTP 400, and return its message."""
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    assert err.value.response["Error"]["Code"] == code, err.value.response["Error"]
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return str(err.value.response["Error"]["Message"])


def arns(ecs: Any, **kwargs: Any) -> list[str]:
    return list(ecs.list_task_definitions(**kwargs)["taskDefinitionArns"])


def walk(call: Callable[..., Json], key: str, **kwargs: Any) -> list[str]:
    """Every item of a paged list, following nextToken to the end."""
    found: list[str] = []
    token: str | None = None
    while True:
        page = call(**kwargs, **({"nextToken": token} if token else {}))
        found += page[key]
        token = page.get("nextToken")
        if not token:
            return found


def deregister(ecs: Any, *refs: str) -> None:
    for ref in refs:
        ecs.deregister_task_definition(taskDefinition=ref)


def cli_env(server: ServerProcess) -> dict[str, str]:
    env = server.env()
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
    return env


def before_the_reaper(scenario: Callable[[str], None], name: str) -> None:
    """Run a scenario that looks at DELETE_IN_PROGRESS revisions. The server keeps them visible
    for ten minutes (ops.task_definitions.DELETE_GRACE), far longer than any scenario."""
    scenario(name + "a")


# RegisterTaskDefinition


def test_revisions_count_up_per_family_and_are_never_reused(ecs: Any, name: str) -> None:
    assert [register(ecs, name)["revision"] for _ in range(3)] == [1, 2, 3]
    assert register(ecs, name + "-other")["revision"] == 1
    refs = [f"{name}:{n}" for n in (1, 2, 3)]
    deregister(ecs, *refs)
    assert ecs.delete_task_definitions(taskDefinitions=refs)["failures"] == []
    again = register(ecs, name)
    assert again["revision"] == 4
    assert again["taskDefinitionArn"] == arn(name, 4)


def test_register_fills_in_the_defaults_ecs_shows(ecs: Any, name: str) -> None:
    td = register(ecs, name)
    assert td["taskDefinitionArn"] == arn(name, 1)
    assert (td["family"], td["revision"], td["status"]) == (name, 1, "ACTIVE")
    assert td["containerDefinitions"] == [
        {
            "name": "app",
            "image": "nginx",
            "cpu": 0,
            "memory": 64,
            "portMappings": [],
            "essential": True,
            "environment": [],
            "mountPoints": [],
            "volumesFrom": [],
        }
    ]
    assert td["volumes"] == [] and td["placementConstraints"] == []
    assert td["compatibilities"] == ["EXTERNAL", "EC2"]
    assert td["registeredBy"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert td["registeredAt"].timestamp() > 0
    for absent in ("networkMode", "cpu", "memory", "requiresCompatibilities", "deregisteredAt"):
        assert absent not in td


def test_describe_returns_what_register_returned(ecs: Any, name: str) -> None:
    tags = [{"key": "team", "value": "web"}, {"key": "empty", "value": ""}]
    out = ecs.register_task_definition(
        family=name,
        containerDefinitions=[container(portMappings=[{"containerPort": 80}])],
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        executionRoleArn=EXEC_ROLE,
        tags=tags,
    )
    out.pop("ResponseMetadata")
    assert out["tags"] == tags
    td = out["taskDefinition"]
    assert td["compatibilities"] == ["EC2", "FARGATE"]
    assert td["containerDefinitions"][0]["portMappings"] == [
        {"containerPort": 80, "hostPort": 80, "protocol": "tcp"}
    ]
    for ref in (name, f"{name}:1", arn(name, 1)):
        described = ecs.describe_task_definition(taskDefinition=ref, include=["TAGS"])
        described.pop("ResponseMetadata")
        assert described == out
    assert "tags" not in ecs.describe_task_definition(taskDefinition=name)


@pytest.mark.parametrize(
    ("cpu", "memory", "stored"),
    [
        ("1 vCPU", "2 GB", ("1024", "2048")),
        (".25 vcpu", "0.5 GB", ("256", "512")),
        ("2 vCPU", "4096", ("2048", "4096")),
    ],
)
def test_cpu_and_memory_units_are_stored_as_numbers(
    ecs: Any, name: str, cpu: str, memory: str, stored: tuple[str, str]
) -> None:
    td = register(
        ecs,
        name,
        {"name": "app", "image": "nginx"},
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu=cpu,
        memory=memory,
    )
    assert (td["cpu"], td["memory"]) == stored
    assert ecs.describe_task_definition(taskDefinition=name)["taskDefinition"] == td


FARGATE_256_4096 = (
    "No Fargate configuration exists for given values: 256 CPU, 4096 memory. "
    "See the Amazon ECS documentation for the valid values."
)


def test_fargate_refuses_256_cpu_with_4096_memory(ecs: Any, name: str) -> None:
    message = fails(
        "ClientException",
        ecs.register_task_definition,
        family=name,
        containerDefinitions=[container()],
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="4096",
    )
    assert message == FARGATE_256_4096
    assert arns(ecs, familyPrefix=name) == []


def test_fargate_refuses_256_cpu_with_4096_memory_through_the_cli(
    server: ServerProcess, ecs: Any, name: str
) -> None:
    proc = server.aws(
        "ecs",
        "register-task-definition",
        "--family",
        name,
        "--requires-compatibilities",
        "FARGATE",
        "--network-mode",
        "awsvpc",
        "--cpu",
        "256",
        "--memory",
        "4096",
        "--container-definitions",
        json.dumps([{"name": "app", "image": "nginx"}]),
        check=False,
    )
    assert proc.returncode == 255, proc.stdout
    assert proc.stdout == ""
    assert (
        "An error occurred (ClientException) when calling the RegisterTaskDefinition "
        f"operation: {FARGATE_256_4096}"
    ) in proc.stderr
    assert arns(ecs, familyPrefix=name) == []


FARGATE: Json = {
    "networkMode": "awsvpc",
    "requiresCompatibilities": ["FARGATE"],
    "cpu": "256",
    "memory": "512",
}


# One refusal per family of registration rules: (request fields, error code, message part).
REFUSALS: dict[str, tuple[Json, str, str]] = {
    "family name": ({"family": "web app"}, "ClientException", "Family contains invalid"),
    "container names": (
        {"containerDefinitions": [container(), container()]},
        "ClientException",
        "Container names must be unique within a task definition.",
    ),
    "container memory": (
        {"containerDefinitions": [{"name": "app", "image": "nginx"}]},
        "ClientException",
        "At least one of 'memory' or 'memoryReservation' must be specified.",
    ),
    "task cpu units": ({"cpu": "0.3 vCPU"}, "ClientException", "Invalid 'cpu' setting for task."),
    "task sums": (
        {"cpu": "256", "containerDefinitions": [container(cpu=512)]},
        "ClientException",
        "The sum of all container 'cpu' values cannot be greater than",
    ),
    "fargate parameters": (
        {**FARGATE, "containerDefinitions": [container(privileged=True)]},
        "ClientException",
        "Fargate requires that the 'privileged' setting be 'false'",
    ),
    "network mode": (
        {
            "networkMode": "awsvpc",
            "containerDefinitions": [container(links=["b"]), container(name="b")],
        },
        "ClientException",
        "Links are not supported when networkMode=awsvpc",
    ),
    "port mappings": (
        {
            "networkMode": "host",
            "containerDefinitions": [
                container(portMappings=[{"containerPort": 80, "hostPort": 8080}])
            ],
        },
        "ClientException",
        "When networkMode=host, the host ports and container ports in port mappings must match.",
    ),
    "volumes": (
        {
            "containerDefinitions": [
                container(mountPoints=[{"sourceVolume": "data", "containerPath": "/d"}])
            ]
        },
        "ClientException",
        "Unknown volume 'data'.",
    ),
    "dependencies": (
        {
            "containerDefinitions": [
                container(dependsOn=[{"containerName": "ghost", "condition": "START"}])
            ]
        },
        "ClientException",
        "Cannot depend on container + 'ghost' because it does not exist",
    ),
    "health checks": (
        {
            "containerDefinitions": [
                container(healthCheck={"command": ["CMD", "true"], "interval": 301})
            ]
        },
        "ClientException",
        "Health check interval must be less than or equal to the maximum allowed value 300",
    ),
    "logging": (
        {"containerDefinitions": [container(logConfiguration={"logDriver": "awslogs"})]},
        "ClientException",
        "Log driver awslogs requires options: awslogs-region, awslogs-group",
    ),
    "secrets": (
        {"containerDefinitions": [container(secrets=[{"name": "DB", "valueFrom": "/db"}])]},
        "ClientException",
        "you must also specify a value for 'executionRoleArn'",
    ),
    "task options": (
        {"proxyConfiguration": {"type": "APPMESH", "containerName": "envoy"}},
        "ClientException",
        "Proxy container [envoy] does not exist",
    ),
    "external": (
        {"requiresCompatibilities": ["EXTERNAL"], "networkMode": "awsvpc"},
        "ClientException",
        "External compatible task definitions do not support networkMode 'awsvpc'.",
    ),
    "tags": (
        {"tags": [{"key": "aws:owner", "value": "me"}]},
        "InvalidParameterException",
        "aws:",
    ),
}


@pytest.mark.parametrize("rule", REFUSALS)
def test_each_rule_family_is_refused_on_the_wire(ecs: Any, name: str, rule: str) -> None:
    fields, code, words = REFUSALS[rule]
    request = {"family": name, "containerDefinitions": [container()], **fields}
    assert words in fails(code, ecs.register_task_definition, **request)
    assert arns(ecs, familyPrefix=name) == []  # nothing half-registered


def test_tags_are_returned_and_stored(ecs: Any, name: str) -> None:
    tags = [{"key": "env", "value": "prod"}, {"key": "owner", "value": "web team"}]
    out = ecs.register_task_definition(family=name, containerDefinitions=[container()], tags=tags)
    assert out["tags"] == tags
    tagged = out["taskDefinition"]["taskDefinitionArn"]
    assert ecs.list_tags_for_resource(resourceArn=tagged)["tags"] == tags
    assert ecs.describe_task_definition(taskDefinition=tagged, include=["TAGS"])["tags"] == tags
    out = ecs.register_task_definition(family=name, containerDefinitions=[container()])
    assert "tags" not in out
    plain = out["taskDefinition"]["taskDefinitionArn"]
    assert ecs.describe_task_definition(taskDefinition=plain, include=["TAGS"])["tags"] == []
    assert ecs.list_tags_for_resource(resourceArn=plain)["tags"] == []


# DescribeTaskDefinition


def test_describe_by_family_is_the_latest_active_revision(ecs: Any, name: str) -> None:
    registered(ecs, name, 3)
    assert ecs.describe_task_definition(taskDefinition=name)["taskDefinition"]["revision"] == 3
    deregister(ecs, f"{name}:3")
    assert ecs.describe_task_definition(taskDefinition=name)["taskDefinition"]["revision"] == 2
    inactive = ecs.describe_task_definition(taskDefinition=f"{name}:3")["taskDefinition"]
    assert inactive["status"] == "INACTIVE"


# Each names something that does not exist next to `{name}:1`, which does.
UNKNOWN: dict[str, Callable[[str], str]] = {
    "family": lambda name: name + "-none",
    "revision": lambda name: f"{name}:2",
    "ARN": lambda name: arn(name, 2),
    "other region": lambda name: arn(name, 1).replace(REGION, "eu-west-1"),
}


@pytest.mark.parametrize("kind", UNKNOWN)
def test_describe_unknown_is_a_client_exception(ecs: Any, name: str, kind: str) -> None:
    register(ecs, name)
    ref = UNKNOWN[kind](name)
    assert fails("ClientException", ecs.describe_task_definition, taskDefinition=ref) == NOT_FOUND


# ListTaskDefinitions


def test_list_family_prefix_is_the_whole_family_name(ecs: Any, name: str) -> None:
    mine = registered(ecs, name, 2)
    registered(ecs, name + "x", 1)
    assert arns(ecs, familyPrefix=name) == mine
    assert arns(ecs, familyPrefix=name[:-1]) == []
    every = walk(ecs.list_task_definitions, "taskDefinitionArns")
    assert set(mine) <= set(every) and arn(name + "x", 1) in every


def test_list_by_status(ecs: Any, name: str) -> None:
    def scenario(family: str) -> None:
        registered(ecs, family, 3)
        deregister(ecs, f"{family}:2", f"{family}:3")
        ecs.delete_task_definitions(taskDefinitions=[f"{family}:3"])
        assert arns(ecs, familyPrefix=family) == [arn(family, 1)]
        assert arns(ecs, familyPrefix=family, status="ACTIVE") == [arn(family, 1)]
        assert arns(ecs, familyPrefix=family, status="INACTIVE") == [arn(family, 2)]
        assert arns(ecs, familyPrefix=family, status="DELETE_IN_PROGRESS") == [arn(family, 3)]

    before_the_reaper(scenario, name)


def test_list_sorts_revisions_as_numbers(ecs: Any, name: str) -> None:
    mine = registered(ecs, name, 11)
    other = registered(ecs, name + "-b", 2)
    ascending = [*mine, *other]
    assert arns(ecs, familyPrefix=name) == mine  # web:2 before web:10
    assert arns(ecs, familyPrefix=name, sort="ASC") == mine
    assert arns(ecs, familyPrefix=name, sort="DESC") == mine[::-1]
    listed = [a for a in walk(ecs.list_task_definitions, "taskDefinitionArns") if a in ascending]
    assert listed == ascending
    listed = walk(ecs.list_task_definitions, "taskDefinitionArns", sort="DESC")
    assert [a for a in listed if a in ascending] == ascending[::-1]


@pytest.mark.parametrize("sort", ["ASC", "DESC"])
def test_list_pages_walk_every_arn_once(ecs: Any, name: str, sort: str) -> None:
    mine = registered(ecs, name, 7)
    first = ecs.list_task_definitions(familyPrefix=name, maxResults=3, sort=sort)
    assert len(first["taskDefinitionArns"]) == 3 and first["nextToken"]
    pages = walk(
        ecs.list_task_definitions, "taskDefinitionArns", familyPrefix=name, maxResults=3, sort=sort
    )
    assert pages == (mine if sort == "ASC" else mine[::-1])
    exact = ecs.list_task_definitions(familyPrefix=name, maxResults=7)
    assert len(exact["taskDefinitionArns"]) == 7 and "nextToken" not in exact


def test_list_refuses_a_bad_page_size_or_token(ecs: Any) -> None:
    fails("InvalidParameterException", ecs.list_task_definitions, maxResults=0)
    fails("InvalidParameterException", ecs.list_task_definitions, maxResults=101)
    fails("InvalidParameterException", ecs.list_task_definitions, nextToken="!!not a token!!")


# ListTaskDefinitionFamilies


def families(ecs: Any, prefix: str, **kwargs: Any) -> list[str]:
    return walk(ecs.list_task_definition_families, "families", familyPrefix=prefix, **kwargs)


def test_families_filter_by_a_real_prefix(ecs: Any, name: str) -> None:
    for family in (f"{name}-web", f"{name}-worker", f"{name}-api", f"{name}-web2"):
        register(ecs, family)
    assert families(ecs, f"{name}-w") == [f"{name}-web", f"{name}-web2", f"{name}-worker"]
    assert families(ecs, f"{name}-web") == [f"{name}-web", f"{name}-web2"]
    assert families(ecs, name) == [f"{name}-api", f"{name}-web", f"{name}-web2", f"{name}-worker"]
    assert families(ecs, name + "-x") == []


def test_families_by_status(ecs: Any, name: str) -> None:
    def scenario(prefix: str) -> None:
        active, inactive, deleting = f"{prefix}-a", f"{prefix}-b", f"{prefix}-c"
        registered(ecs, active, 2)
        deregister(ecs, f"{active}:1")  # one ACTIVE revision left: still ACTIVE
        register(ecs, inactive)
        deregister(ecs, f"{inactive}:1")
        register(ecs, deleting)
        deregister(ecs, f"{deleting}:1")
        ecs.delete_task_definitions(taskDefinitions=[f"{deleting}:1"])
        # DELETE_IN_PROGRESS revisions keep their family listed (DeleteTaskDefinitions docs)
        assert families(ecs, prefix) == [active, inactive, deleting]  # default: ALL
        assert families(ecs, prefix, status="ALL") == [active, inactive, deleting]
        assert families(ecs, prefix, status="ACTIVE") == [active]
        assert families(ecs, prefix, status="INACTIVE") == [inactive, deleting]

    before_the_reaper(scenario, name)


def test_a_new_revision_makes_an_inactive_family_active(ecs: Any, name: str) -> None:
    register(ecs, name)
    deregister(ecs, f"{name}:1")
    assert families(ecs, name, status="ACTIVE") == []
    register(ecs, name)
    assert families(ecs, name, status="ACTIVE") == [name]
    assert families(ecs, name, status="INACTIVE") == []


def test_families_page(ecs: Any, name: str) -> None:
    names = [f"{name}-{i:02}" for i in range(5)]
    for family in names:
        register(ecs, family)
    first = ecs.list_task_definition_families(familyPrefix=name, maxResults=2)
    assert first["families"] == names[:2] and first["nextToken"]
    assert families(ecs, name, maxResults=2) == names


# DeregisterTaskDefinition


def test_deregister_makes_a_revision_inactive(ecs: Any, name: str) -> None:
    registered(ecs, name, 2)
    td = ecs.deregister_task_definition(taskDefinition=f"{name}:1")["taskDefinition"]
    assert td["status"] == "INACTIVE"
    assert td["deregisteredAt"] >= td["registeredAt"]
    described = ecs.describe_task_definition(taskDefinition=f"{name}:1")["taskDefinition"]
    assert described == td
    assert arns(ecs, familyPrefix=name) == [arn(name, 2)]
    by_arn = ecs.deregister_task_definition(taskDefinition=arn(name, 2))["taskDefinition"]
    assert by_arn["status"] == "INACTIVE"


def test_deregister_needs_a_revision(ecs: Any, name: str) -> None:
    register(ecs, name)
    fails("ClientException", ecs.deregister_task_definition, taskDefinition=name)
    assert (
        ecs.describe_task_definition(taskDefinition=f"{name}:1")["taskDefinition"]["status"]
        == "ACTIVE"
    )


@pytest.mark.parametrize("kind", ["revision", "ARN"])
def test_deregister_unknown_is_refused(ecs: Any, name: str, kind: str) -> None:
    register(ecs, name)
    ref = UNKNOWN[kind](name)
    fails("ClientException", ecs.deregister_task_definition, taskDefinition=ref)
    fails("ClientException", ecs.deregister_task_definition, taskDefinition=f"{name}-none:1")


# DeleteTaskDefinitions


def test_delete_only_inactive_revisions(ecs: Any, name: str) -> None:
    registered(ecs, name, 3)
    deregister(ecs, f"{name}:1", f"{name}:2")
    out = ecs.delete_task_definitions(
        taskDefinitions=[f"{name}:1", arn(name, 2), f"{name}:3", f"{name}:9", name]
    )
    deleted = out["taskDefinitions"]
    assert [td["taskDefinitionArn"] for td in deleted] == [arn(name, 1), arn(name, 2)]
    for td in deleted:
        assert td["status"] == "DELETE_IN_PROGRESS"
        assert td["deleteRequestedAt"] >= td["deregisteredAt"]
    assert out["failures"] == [
        {"arn": arn(name, 3), "reason": STILL_ACTIVE},
        {"arn": arn(name, 9), "reason": DOES_NOT_EXIST},
        {"arn": name, "reason": INVALID_ID},
    ]
    assert (
        ecs.describe_task_definition(taskDefinition=f"{name}:3")["taskDefinition"]["status"]
        == "ACTIVE"
    )


def test_delete_refuses_more_than_ten(ecs: Any, name: str) -> None:
    refs = registered(ecs, name, 11)
    deregister(ecs, *refs)
    fails("InvalidParameterException", ecs.delete_task_definitions, taskDefinitions=refs)
    assert arns(ecs, familyPrefix=name, status="INACTIVE") == refs  # none deleted
    out = ecs.delete_task_definitions(taskDefinitions=refs[:10])
    assert len(out["taskDefinitions"]) == 10 and out["failures"] == []


def test_delete_unknown_families_are_failures(ecs: Any, name: str) -> None:
    out = ecs.delete_task_definitions(taskDefinitions=[f"{name}:1", arn(name + "-z", 4)])
    assert out["taskDefinitions"] == []
    assert out["failures"] == [
        {"arn": arn(name, 1), "reason": DOES_NOT_EXIST},
        {"arn": arn(name + "-z", 4), "reason": DOES_NOT_EXIST},
    ]


# The AWS CLI, as a shell pipeline


def test_cli_pipeline_deregisters_and_deletes_a_family(
    server: ServerProcess, ecs: Any, name: str
) -> None:
    family = f"web-{name}"
    revisions = registered(ecs, family, 3)
    survivor = register(ecs, family + "-canary")["taskDefinitionArn"]
    script = f"""
        set -euo pipefail
        aws ecs list-task-definitions --family-prefix {family} \\
            --query taskDefinitionArns --output text \\
          | xargs -n 1 aws ecs deregister-task-definition --task-definition >/dev/null
        aws ecs delete-task-definitions --output json --task-definitions $(
            aws ecs list-task-definitions --family-prefix {family} --status INACTIVE \\
                --query taskDefinitionArns --output text)
    """
    proc = subprocess.run(
        ["bash", "-c", script],
        env=cli_env(server),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["failures"] == []
    assert [td["taskDefinitionArn"] for td in out["taskDefinitions"]] == revisions
    assert {td["status"] for td in out["taskDefinitions"]} == {"DELETE_IN_PROGRESS"}
    assert all("deleteRequestedAt" in td for td in out["taskDefinitions"])
    assert arns(ecs, familyPrefix=family) == []
    assert arns(ecs, familyPrefix=family, status="INACTIVE") == []
    assert arns(ecs, familyPrefix=family + "-canary") == [survivor]
