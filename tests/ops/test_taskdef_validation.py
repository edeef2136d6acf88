"""validate_task_definition: each ECS registration rule accepted once and refused once."""

from __future__ import annotations

import copy
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator
from hypothesis import given, settings
from hypothesis import strategies as st

from portside.errors import ClientException, InvalidParameterException, RequestError
from portside.model.units import fargate_memory_options, parse_cpu, parse_memory
from portside.ops.taskdef_validation import validate_task_definition as validate

Json = dict[str, Any]
EXEC_ROLE = "arn:aws:iam::000000000000:role/ecsTaskExecutionRole"

# The Fargate table as the developer guide prints it, written out independently of units.py.
FARGATE_TABLE: dict[int, set[int]] = {
    256: {512, 1024, 2048},
    512: set(range(1024, 4096 + 1, 1024)),
    1024: set(range(2048, 8192 + 1, 1024)),
    2048: set(range(4096, 16384 + 1, 1024)),
    4096: set(range(8192, 30720 + 1, 1024)),
    8192: set(range(16384, 61440 + 1, 4096)),
    16384: set(range(32768, 122880 + 1, 8192)),
}


def container(**fields: Any) -> Json:
    return {"name": "app", "image": "nginx", "memory": 128, **fields}


def request(*containers: Json, **fields: Any) -> Json:
    return {"family": "web", "containerDefinitions": list(containers) or [container()], **fields}


def fargate(*containers: Json, **fields: Any) -> Json:
    base: Json = {
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
        "executionRoleArn": EXEC_ROLE,
    }
    return request(*(containers or [{"name": "app", "image": "nginx"}]), **{**base, **fields})


def refused(body: Json, exc: type[RequestError] = ClientException) -> str:
    with pytest.raises(RequestError) as info:
        validate(body)
    assert type(info.value) is exc, info.value.message
    return info.value.message


def attributes(body: Json) -> set[str]:
    return {a["name"] for a in validate(body).get("requiresAttributes", [])}


# -- what ECS stores ----------------------------------------------------------------------


def test_defaults_are_filled_in_as_describe_shows_them() -> None:
    out = validate(request(container(portMappings=[{"containerPort": 80}])))
    app = out["containerDefinitions"][0]
    assert app["essential"] is True
    assert app["cpu"] == 0
    assert app["environment"] == [] and app["mountPoints"] == [] and app["volumesFrom"] == []
    assert app["portMappings"] == [{"containerPort": 80, "protocol": "tcp"}]
    assert out["volumes"] == [] and out["placementConstraints"] == []
    assert out["compatibilities"] == ["EXTERNAL", "EC2"]
    # ECS leaves out what was not given: no networkMode (bridge is implied), no cpu/memory,
    # no requiresCompatibilities, and no requiresAttributes when nothing is required.
    for key in ("networkMode", "cpu", "memory", "requiresCompatibilities", "requiresAttributes"):
        assert key not in out
    assert "tags" not in validate(request(tags=[{"key": "team", "value": "a"}]))


def test_explicit_values_are_kept_and_the_request_is_not_mutated() -> None:
    body = request(container(essential=False), container(name="b", cpu=10), networkMode="host")
    before = copy.deepcopy(body)
    out = validate(body)
    assert body == before
    assert [c["essential"] for c in out["containerDefinitions"]] == [False, True]
    assert out["containerDefinitions"][1]["cpu"] == 10
    assert out["networkMode"] == "host"


def test_empty_role_arn_is_dropped_and_given_ones_kept() -> None:
    assert "taskRoleArn" not in validate(request(taskRoleArn=""))
    out = validate(request(taskRoleArn="arn:aws:iam::1:role/t", executionRoleArn=EXEC_ROLE))
    assert out["taskRoleArn"] == "arn:aws:iam::1:role/t"
    assert out["executionRoleArn"] == EXEC_ROLE


def test_task_level_options_pass_through() -> None:
    out = validate(
        request(
            pidMode="task",
            ipcMode="none",
            runtimePlatform={"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
            enableFaultInjection=False,
        )
    )
    assert out["pidMode"] == "task" and out["ipcMode"] == "none"
    assert out["runtimePlatform"]["cpuArchitecture"] == "ARM64"
    assert out["enableFaultInjection"] is False


def test_output_satisfies_botocore_task_definition_shape() -> None:
    model = botocore.session.get_session().get_service_model("ecs")
    shape = model.shape_for("TaskDefinition")
    for body in (request(), fargate(), request(volumes=[{"name": "data"}], pidMode="host")):
        report = ParamValidator().validate(validate(body), shape)
        assert not report.has_errors(), report.generate_report()


# -- family, containers, names --------------------------------------------------------------


def test_family_rules() -> None:
    assert validate(request(family="A-z_09" * 42 + "abc"))["family"].startswith("A-z_09")
    assert "blank" in refused(request(family=""))
    assert refused(request(family="web app")) == "Family contains invalid characters."
    assert "invalid characters" in refused(request(family="x" * 256))


def test_container_count() -> None:
    many = [container(name=f"c{i}") for i in range(10)]
    assert len(validate(request(*many))["containerDefinitions"]) == 10
    assert refused(request(*many, container(name="c10"))) == "Too many containers."
    assert refused(request(containerDefinitions=[])) == "Container list cannot be empty."


def test_container_names_and_images() -> None:
    assert refused(request({"image": "nginx", "memory": 8})) == (
        "Container.name should not be null or empty."
    )
    assert "invalid characters" in refused(request(container(name="web.app")))
    assert "invalid characters" in refused(request(container(name="a" * 256)))
    assert "unique" in refused(request(container(), container()))
    assert refused(request({"name": "app", "memory": 8})) == (
        "Container.image should not be null or empty."
    )


def test_at_least_one_essential_container() -> None:
    validate(request(container(essential=False), container(name="b")))
    message = refused(request(container(essential=False), container(name="b", essential=False)))
    assert message == "Task definition doesn't have any essential container."


# -- memory and cpu -----------------------------------------------------------------------


def test_container_memory_required_without_task_memory() -> None:
    message = refused(request({"name": "app", "image": "nginx"}))
    assert message == (
        "Invalid setting for container 'app'. "
        "At least one of 'memory' or 'memoryReservation' must be specified."
    )
    validate(request({"name": "app", "image": "nginx"}, memory="512"))
    validate(request({"name": "app", "image": "nginx", "memoryReservation": 64}))


def test_memory_must_not_be_below_reservation() -> None:
    validate(request(container(memory=128, memoryReservation=128)))
    message = refused(request(container(memory=64, memoryReservation=128)))
    assert "'memory' must be greater than or equal to 'memoryReservation'" in message


def test_container_memory_must_be_positive_but_tiny_values_are_left_to_docker() -> None:
    assert "Invalid 'memory' setting for container 'app'" in refused(request(container(memory=0)))
    # ECS registers 4 MiB; Docker >= 20.10 refuses it when the container is created.
    validate(request(container(memory=4)))


def test_container_memory_against_task_memory() -> None:
    validate(request(container(memory=512), memory="512"))
    message = refused(request(container(memory=513), memory="512"))
    assert message == "The 'memory' setting for container 'app' is greater than for the task."
    only_soft = {"name": "app", "image": "nginx", "memoryReservation": 600}
    message = refused(request(only_soft, memory="512"))
    assert "'memoryReservation' setting for container 'app' is greater than for the task" in message


def test_sum_of_container_memory_against_task_memory() -> None:
    def soft(name: str, mib: int) -> Json:
        return {"name": name, "image": "nginx", "memoryReservation": mib}

    two = [soft("app", 256), soft("b", 256)]
    validate(request(*two, memory="512"))
    message = refused(request(*two, soft("c", 1), memory="512"))
    assert "sum of all container 'memoryReservation' values cannot be greater" in message
    hard = [container(memory=300), container(name="b", memory=300)]
    assert "sum of all container 'memory' values" in refused(request(*hard, memory="512"))


def test_sum_of_container_cpu_against_task_cpu() -> None:
    validate(request(container(cpu=512), container(name="b", cpu=512), cpu="1024"))
    message = refused(request(container(cpu=512), container(name="b", cpu=513), cpu="1024"))
    assert message == (
        "The sum of all container 'cpu' values cannot be greater than the value of the task 'cpu'."
    )


@pytest.mark.parametrize(
    ("cpu", "stored"),
    [
        ("1024", "1024"),
        ("1 vCPU", "1024"),
        ("1 vcpu", "1024"),
        ("1vCPU", "1024"),
        (".25 vcpu", "256"),
        ("0.5 vCPU", "512"),
        ("2 vCPUs", "2048"),
        (" 512 ", "512"),
        ("128", "128"),
        ("196608", "196608"),
    ],
)
def test_task_cpu_units(cpu: str, stored: str) -> None:
    assert validate(request(cpu=cpu))["cpu"] == stored


@pytest.mark.parametrize(
    ("memory", "stored"),
    [
        ("512", "512"),
        ("2 GB", "2048"),
        ("2gb", "2048"),
        ("2GB", "2048"),
        ("0.5 GB", "512"),
        (".5 gb", "512"),
        ("1 GiB", "1024"),
        ("300 MiB", "300"),
    ],
)
def test_task_memory_units(memory: str, stored: str) -> None:
    assert validate(request(memory=memory))["memory"] == stored


@pytest.mark.parametrize("cpu", ["abc", "0", "-1", "1.5", "0.3 vCPU", "127", "196609", "1 GB"])
def test_invalid_task_cpu(cpu: str) -> None:
    assert refused(request(cpu=cpu)).startswith("Invalid 'cpu' setting for task.")


@pytest.mark.parametrize("memory", ["abc", "0", "1.5", "0.1 GB", "2 vcpu", "-512"])
def test_invalid_task_memory(memory: str) -> None:
    assert refused(request(memory=memory)).startswith("Invalid 'memory' setting for task.")


def test_unit_parsers_directly() -> None:
    assert parse_cpu("4 vCPU") == 4096 and parse_cpu("x") is None and parse_cpu("2.") is None
    assert parse_memory("30 GB") == 30720 and parse_memory("1.25GB") == 1280
    assert parse_memory("0.001 GB") is None


# -- Fargate ------------------------------------------------------------------------------


def _edges() -> list[tuple[int, int, bool]]:
    cases: list[tuple[int, int, bool]] = []
    for cpu, sizes in FARGATE_TABLE.items():
        low, high = min(sizes), max(sizes)
        step = sorted(sizes)[-1] - sorted(sizes)[-2]
        between = 1536 if cpu == 256 else low + 512  # off the row's step
        cases += [(cpu, low, True), (cpu, high, True)]
        cases += [(cpu, low - 256, False), (cpu, high + step, False), (cpu, between, False)]
    return cases


@pytest.mark.parametrize(("cpu", "memory", "ok"), _edges())
def test_fargate_table_edges(cpu: int, memory: int, ok: bool) -> None:
    body = fargate(cpu=str(cpu), memory=str(memory))
    if ok:
        out = validate(body)
        assert (out["cpu"], out["memory"]) == (str(cpu), str(memory))
        assert out["compatibilities"] == ["EC2", "FARGATE"]
    else:
        assert refused(body) == (
            f"No Fargate configuration exists for given values: {cpu} CPU, {memory} memory. "
            "See the Amazon ECS documentation for the valid values."
        )


@settings(max_examples=150, deadline=None)
@given(
    cpu=st.sampled_from([*FARGATE_TABLE, 128, 768, 3072, 32768]),
    memory=st.integers(min_value=1, max_value=140).map(lambda n: n * 1024)
    | st.sampled_from([512, 1536, 2560]),
)
def test_fargate_accepts_exactly_the_table(cpu: int, memory: int) -> None:
    body = fargate(cpu=str(cpu), memory=str(memory))
    if memory in FARGATE_TABLE.get(cpu, set()):
        assert "FARGATE" in validate(body)["compatibilities"]
        return
    message = refused(body)
    if cpu in FARGATE_TABLE:
        assert message.startswith("No Fargate configuration exists for given values")
    else:
        assert message.startswith("Invalid 'cpu' setting for task.")


def test_units_table_matches_the_documented_table() -> None:
    for cpu, sizes in FARGATE_TABLE.items():
        assert set(fargate_memory_options(cpu)) == sizes


def test_fargate_needs_task_cpu_and_memory() -> None:
    body = fargate(container())
    del body["cpu"]
    assert refused(body) == "Fargate requires that 'cpu' be defined at the task level."
    body = fargate(container())
    del body["memory"]
    assert refused(body) == "Fargate requires that 'memory' be defined at the task level."


def test_fargate_needs_awsvpc_even_next_to_ec2() -> None:
    message = refused(fargate(networkMode="bridge", requiresCompatibilities=["EC2", "FARGATE"]))
    assert message == "Fargate only supports network mode \u2018awsvpc\u2019."
    assert "awsvpc" in refused(fargate(networkMode=None))
    out = validate(fargate(requiresCompatibilities=["EC2", "FARGATE"]))
    assert out["requiresCompatibilities"] == ["EC2", "FARGATE"]


def test_fargate_windows_needs_a_whole_vcpu() -> None:
    windows = {"operatingSystemFamily": "WINDOWS_SERVER_2022_CORE"}
    validate(fargate(cpu="1024", memory="2048", runtimePlatform=windows))
    message = refused(fargate(cpu="512", memory="1024", runtimePlatform=windows))
    assert message.startswith("No Fargate configuration exists for given values: 512 CPU")


@pytest.mark.parametrize(
    ("container_fields", "task_fields", "words"),
    [
        ({"privileged": True}, {}, "'privileged' setting be 'false'"),
        ({"dockerSecurityOptions": ["no-new-privileges"]}, {}, "dockerSecurityOptions"),
        ({"resourceRequirements": [{"type": "GPU", "value": "1"}]}, {}, "GPU"),
        ({"linuxParameters": {"devices": [{"hostPath": "/dev/x"}]}}, {}, "devices"),
        ({"linuxParameters": {"sharedMemorySize": 64}}, {}, "sharedMemorySize"),
        ({"linuxParameters": {"tmpfs": [{"containerPath": "/t", "size": 8}]}}, {}, "tmpfs"),
        ({"linuxParameters": {"maxSwap": 0}}, {}, "maxSwap"),
        ({"linuxParameters": {"swappiness": 10}}, {}, "swappiness"),
        ({"linuxParameters": {"capabilities": {"add": ["NET_ADMIN"]}}}, {}, "NET_ADMIN is not"),
        ({"stopTimeout": 121}, {}, "stopTimeout"),
        ({"logConfiguration": {"logDriver": "json-file"}}, {}, "not a valid log driver"),
        ({}, {"pidMode": "host"}, "do not support pidMode 'host'"),
        ({}, {"ipcMode": "task"}, "do not support ipcMode"),
        ({}, {"placementConstraints": [{"type": "memberOf", "expression": "x"}]}, "placement"),
        ({}, {"inferenceAccelerators": [{"deviceName": "d", "deviceType": "t"}]}, "inference"),
        (
            {},
            {"volumes": [{"name": "v", "dockerVolumeConfiguration": {"driver": "local"}}]},
            "dockerVolumeConfiguration",
        ),
        ({}, {"volumes": [{"name": "v", "host": {"sourcePath": "/data"}}]}, "sourcePath"),
    ],
)
def test_parameters_fargate_does_not_support(
    container_fields: Json, task_fields: Json, words: str
) -> None:
    body = fargate({"name": "app", "image": "nginx", **container_fields}, **task_fields)
    assert words in refused(body)
    # Without FARGATE in requiresCompatibilities the definition registers, EC2 only.
    body["requiresCompatibilities"] = ["EC2"]
    assert validate(body)["compatibilities"] == ["EC2"]


def test_parameters_fargate_allows() -> None:
    ok = {
        "name": "app",
        "image": "nginx",
        "linuxParameters": {"capabilities": {"add": ["SYS_PTRACE"]}, "initProcessEnabled": True},
        "stopTimeout": 120,
        "logConfiguration": {"logDriver": "splunk"},
    }
    validate(fargate(ok, pidMode="task", volumes=[{"name": "scratch", "host": {}}]))


def test_fargate_awslogs_needs_an_execution_role() -> None:
    logs = {"logDriver": "awslogs", "options": {"awslogs-group": "g", "awslogs-region": "r"}}
    body = fargate({"name": "app", "image": "nginx", "logConfiguration": logs})
    validate(body)
    del body["executionRoleArn"]
    assert refused(body) == (
        "Fargate requires task definition to have execution role ARN to support log driver awslogs."
    )


def test_compatibilities_are_computed() -> None:
    awsvpc = request(networkMode="awsvpc", cpu="512", memory="1024")
    assert validate(awsvpc)["compatibilities"] == ["EC2", "FARGATE"]
    assert validate({**awsvpc, "memory": "512"})["compatibilities"] == ["EC2"]
    assert validate(request(networkMode="none"))["compatibilities"] == ["EXTERNAL", "EC2"]
    mesh = request(
        container(name="envoy"),
        container(),
        proxyConfiguration={"type": "APPMESH", "containerName": "envoy"},
    )
    assert validate(mesh)["compatibilities"] == ["EC2"]
    assert (
        "MANAGED_INSTANCES"
        in validate(request(requiresCompatibilities=["MANAGED_INSTANCES"]))["compatibilities"]
    )


def test_external_refuses_awsvpc() -> None:
    validate(request(requiresCompatibilities=["EXTERNAL"], networkMode="host"))
    message = refused(request(requiresCompatibilities=["EXTERNAL"], networkMode="awsvpc"))
    assert "External" in message and "awsvpc" in message


# -- networking ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"links": ["b"]}, "Links are not supported when networkMode=awsvpc"),
        ({"dnsServers": ["10.0.0.2"]}, "DNS servers are not supported on container"),
        ({"disableNetworking": True}, "Disable Networking is not supported on container"),
        ({"hostname": "web"}, "Hostname is not supported on container"),
        ({"extraHosts": [{"hostname": "h", "ipAddress": "1.2.3.4"}]}, "Extra hosts"),
        ({"dnsSearchDomains": ["corp"]}, "DNS search domains"),
    ],
)
def test_settings_awsvpc_does_not_support(fields: Json, message: str) -> None:
    both = [container(**fields), container(name="b")]
    validate(request(*both))  # bridge
    assert refused(request(*both, networkMode="awsvpc")).startswith(message)


def test_links() -> None:
    validate(request(container(links=["b:db"]), container(name="b")))
    assert "Container 'zzz' does not exist" in refused(
        request(container(links=["zzz"]), container(name="b"))
    )
    assert refused(request(container(links=["b"]), container(name="b"), networkMode="host")) == (
        "Links are not supported when networkMode=host"
    )


@pytest.mark.parametrize("mode", ["awsvpc", "host"])
def test_host_port_follows_container_port(mode: str) -> None:
    out = validate(request(container(portMappings=[{"containerPort": 8080}]), networkMode=mode))
    mapping = out["containerDefinitions"][0]["portMappings"][0]
    assert mapping == {"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}
    same = [{"containerPort": 8080, "hostPort": 8080, "protocol": "udp"}]
    validate(request(container(portMappings=same), networkMode=mode))
    message = refused(
        request(container(portMappings=[{"containerPort": 80, "hostPort": 8080}]), networkMode=mode)
    )
    assert message == (
        f"When networkMode={mode}, the host ports and container ports in port mappings must match."
    )


def test_bridge_ports_may_differ_and_stay_dynamic() -> None:
    mappings = [{"containerPort": 80, "hostPort": 8080}, {"containerPort": 81}]
    out = validate(request(container(portMappings=mappings)))
    assert out["containerDefinitions"][0]["portMappings"][1] == {
        "containerPort": 81,
        "protocol": "tcp",
    }


@pytest.mark.parametrize(
    ("mapping", "words"),
    [
        ({"hostPort": 80}, "Invalid 'containerPort' setting for container 'app'."),
        ({"containerPort": 0}, "Invalid 'containerPort'"),
        ({"containerPort": 65536}, "Invalid 'containerPort'"),
        ({"containerPort": 80, "hostPort": 65536}, "Invalid 'hostPort'"),
        ({"containerPort": 80, "hostPort": -1}, "Invalid 'hostPort'"),
    ],
)
def test_port_ranges(mapping: Json, words: str) -> None:
    validate(request(container(portMappings=[{"containerPort": 65535, "hostPort": 0}])))
    assert words in refused(request(container(portMappings=[mapping])))


def test_no_port_mappings_without_a_network() -> None:
    validate(request(networkMode="none"))
    message = refused(request(container(portMappings=[{"containerPort": 80}]), networkMode="none"))
    assert "networkMode=none" in message


def test_a_container_port_is_mapped_once_per_protocol() -> None:
    both = [{"containerPort": 53, "protocol": "udp"}, {"containerPort": 53}]
    validate(request(container(portMappings=both)))
    twice = [{"containerPort": 80, "hostPort": 8080}, {"containerPort": 80, "hostPort": 8081}]
    assert "used multiple times" in refused(request(container(portMappings=twice)))


def test_containers_sharing_a_namespace_cannot_share_a_port() -> None:
    pair = [
        container(portMappings=[{"containerPort": 80}]),
        container(name="b", portMappings=[{"containerPort": 80}]),
    ]
    validate(request(*pair))  # bridge: separate namespaces
    assert "used multiple times" in refused(request(*pair, networkMode="awsvpc"))


def test_port_mapping_names_are_unique_in_the_task() -> None:
    pair = [
        container(portMappings=[{"containerPort": 80, "name": "web"}]),
        container(name="b", portMappings=[{"containerPort": 81, "name": "web"}]),
    ]
    assert refused(request(*pair)) == "port mapping name is already used"


def test_container_port_ranges() -> None:
    ranged = [{"containerPortRange": "8000-8010"}]
    out = validate(request(container(portMappings=ranged), networkMode="awsvpc"))
    assert out["containerDefinitions"][0]["portMappings"][0]["protocol"] == "tcp"
    assert "ecs.capability.network.container-port-range" in {
        a["name"] for a in out["requiresAttributes"]
    }
    for bad in ("8010-8000", "80", "a-b"):
        message = refused(request(container(portMappings=[{"containerPortRange": bad}])))
        assert "Invalid 'containerPortRange'" in message
    both = [{"containerPortRange": "8000-8010", "containerPort": 8000}]
    assert refused(request(container(portMappings=both))) == (
        "cannot specify both single port and port range"
    )
    assert "containerPortRange" in refused(
        request(container(portMappings=ranged), networkMode="host")
    )


# -- volumes, dependencies ----------------------------------------------------------------


def test_mount_points_name_declared_volumes() -> None:
    mount = [{"sourceVolume": "data", "containerPath": "/data"}]
    validate(request(container(mountPoints=mount), volumes=[{"name": "data"}]))
    assert refused(request(container(mountPoints=mount))) == "Unknown volume 'data'."
    twice = [{"name": "data"}, {"name": "data"}]
    assert "unique" in refused(request(volumes=twice))


def test_volumes_from_names_another_container() -> None:
    validate(request(container(volumesFrom=[{"sourceContainer": "b"}]), container(name="b")))
    assert "Container 'x' does not exist" in refused(
        request(container(volumesFrom=[{"sourceContainer": "x"}]))
    )
    assert "Container 'app'" in refused(
        request(container(volumesFrom=[{"sourceContainer": "app"}]))
    )


def _depends(target: str, condition: str) -> list[Json]:
    return [{"containerName": target, "condition": condition}]


def test_depends_on_names_a_container_of_the_task() -> None:
    validate(request(container(dependsOn=_depends("b", "START")), container(name="b")))
    assert refused(request(container(dependsOn=_depends("ghost", "START")))) == (
        "Cannot depend on container + 'ghost' because it does not exist"
    )
    assert "itself" in refused(request(container(dependsOn=_depends("app", "START"))))


def test_complete_and_success_need_a_non_essential_target() -> None:
    for condition in ("COMPLETE", "SUCCESS"):
        deps = container(dependsOn=_depends("init", condition))
        validate(request(deps, container(name="init", essential=False)))
        assert refused(request(deps, container(name="init"))) == (
            "A dependency container with SUCCESS or COMPLETE condition cannot be an essential "
            "container"
        )


def test_healthy_needs_a_health_check_on_the_target() -> None:
    deps = container(dependsOn=_depends("db", "HEALTHY"))
    validate(request(deps, container(name="db", healthCheck={"command": ["CMD", "true"]})))
    assert "HEALTHY condition must have a health check" in refused(
        request(deps, container(name="db"))
    )


def test_dependency_cycles_are_refused() -> None:
    chain = [
        container(name="a", dependsOn=_depends("b", "START")),
        container(name="b", dependsOn=_depends("c", "START")),
        container(name="c"),
    ]
    validate(request(*chain))
    chain[2]["dependsOn"] = _depends("a", "START")
    assert "cycle: a -> b -> c -> a" in refused(request(*chain))


# -- health checks, logging, secrets ------------------------------------------------------


def test_health_check_defaults() -> None:
    out = validate(request(container(healthCheck={"command": ["CMD-SHELL", "curl -f x"]})))
    check = out["containerDefinitions"][0]["healthCheck"]
    assert (check["interval"], check["timeout"], check["retries"]) == (30, 5, 3)
    assert "startPeriod" not in check


@pytest.mark.parametrize(
    ("field", "low", "high"),
    [("interval", 5, 300), ("timeout", 2, 60), ("retries", 1, 10), ("startPeriod", 0, 300)],
)
def test_health_check_bounds(field: str, low: int, high: int) -> None:
    def body(value: int) -> Json:
        return request(container(healthCheck={"command": ["CMD", "true"], field: value}))

    validate(body(low))
    validate(body(high))
    assert refused(body(high + 1)) == (
        f"Health check {field} must be less than or equal to the maximum allowed value {high} "
        "for container 'app'"
    )
    assert f"minimum allowed value {low}" in refused(body(low - 1))


def test_health_check_command_starts_with_cmd_or_cmd_shell() -> None:
    message = refused(request(container(healthCheck={"command": ["NONE"]})))
    assert "CMD or CMD-SHELL" in message


def test_awslogs_needs_group_and_region() -> None:
    def logs(options: dict[str, str]) -> Json:
        return request(container(logConfiguration={"logDriver": "awslogs", "options": options}))

    validate(logs({"awslogs-group": "g", "awslogs-region": "eu-west-1"}))
    assert refused(logs({})) == "Log driver awslogs requires options: awslogs-region, awslogs-group"
    assert refused(logs({"awslogs-region": "r"})) == (
        "Log driver awslogs requires options: awslogs-group"
    )
    validate(request(container(logConfiguration={"logDriver": "json-file"})))


def test_secrets_need_an_execution_role() -> None:
    secrets = [{"name": "DB", "valueFrom": "/prod/db"}]
    validate(request(container(secrets=secrets), executionRoleArn=EXEC_ROLE))
    assert refused(request(container(secrets=secrets))) == (
        "When you are specifying container secrets, you must also specify a value for "
        "'executionRoleArn'."
    )


# -- tags and task options ----------------------------------------------------------------


def test_tags_are_validated() -> None:
    fifty = [{"key": f"k{i}", "value": "v"} for i in range(50)]
    validate(request(tags=fifty))
    too_many = [*fifty, {"key": "k50"}]
    assert "50" in refused(request(tags=too_many), InvalidParameterException)
    assert "128" in refused(request(tags=[{"key": "k" * 129}]), InvalidParameterException)
    validate(request(tags=[{"key": "k" * 128, "value": "v" * 256}]))
    long_value = [{"key": "k", "value": "v" * 257}]
    assert "256" in refused(request(tags=long_value), InvalidParameterException)
    for key in ("aws:owner", "AWS:owner", "Aws:x"):
        message = refused(request(tags=[{"key": key, "value": "x"}]), InvalidParameterException)
        assert "aws:" in message


def test_proxy_container_must_exist() -> None:
    proxy = {"type": "APPMESH", "containerName": "envoy"}
    validate(request(container(), container(name="envoy"), proxyConfiguration=proxy))
    assert refused(request(proxyConfiguration=proxy)) == "Proxy container [envoy] does not exist"


@pytest.mark.parametrize(("size", "ok"), [(20, False), (21, True), (200, True), (201, False)])
def test_ephemeral_storage_size(size: int, ok: bool) -> None:
    body = fargate(ephemeralStorage={"sizeInGiB": size})
    if ok:
        assert validate(body)["ephemeralStorage"] == {"sizeInGiB": size}
    else:
        assert "ephemeralStorage" in refused(body)


# -- requiresAttributes -------------------------------------------------------------------


def test_required_attributes_for_a_busy_definition() -> None:
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1"
    logs = {
        "logDriver": "awslogs",
        "options": {"awslogs-group": "g", "awslogs-region": "eu-west-1"},
    }
    app = container(
        image=image,
        memoryReservation=64,
        logConfiguration=logs,
        healthCheck={"command": ["CMD", "true"]},
        secrets=[
            {"name": "A", "valueFrom": "arn:aws:ssm:eu-west-1:1:parameter/a"},
            {"name": "B", "valueFrom": "arn:aws:secretsmanager:eu-west-1:1:secret:b"},
        ],
        dependsOn=_depends("side", "START"),
    )
    side = container(name="side", privileged=True, ulimits=[])
    body = request(
        app,
        side,
        networkMode="awsvpc",
        taskRoleArn="arn:aws:iam::1:role/t",
        executionRoleArn=EXEC_ROLE,
        ipcMode="task",
    )
    assert attributes(body) >= {
        "com.amazonaws.ecs.capability.task-iam-role",
        "com.amazonaws.ecs.capability.docker-remote-api.1.18",
        "ecs.capability.task-eni",
        "com.amazonaws.ecs.capability.ecr-auth",
        "ecs.capability.execution-role-ecr-pull",
        "com.amazonaws.ecs.capability.docker-remote-api.1.21",
        "com.amazonaws.ecs.capability.logging-driver.awslogs",
        "com.amazonaws.ecs.capability.docker-remote-api.1.19",
        "ecs.capability.execution-role-awslogs",
        "ecs.capability.container-health-check",
        "ecs.capability.secrets.ssm.environment-variables",
        "ecs.capability.secrets.asm.environment-variables",
        "ecs.capability.container-ordering",
        "ecs.capability.pid-ipc-namespace-sharing",
        "com.amazonaws.ecs.capability.privileged-container",
    }
    names = [a["name"] for a in validate(body)["requiresAttributes"]]
    assert len(names) == len(set(names))


def test_no_ecr_pull_attribute_for_docker_hub_images() -> None:
    found = attributes(request(executionRoleArn=EXEC_ROLE))
    assert "com.amazonaws.ecs.capability.ecr-auth" not in found
    assert "ecs.capability.execution-role-ecr-pull" not in found
