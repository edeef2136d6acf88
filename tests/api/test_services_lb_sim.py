"""Services behind a load balancer on simulated fleets, through boto3 against a real server
(its HAProxy checks the targets): a RUNNING service task is registered in its target group,
counts as healthy for the deployment once its target is, and a stop deregisters it, holds the
container through the deregistration delay (DEACTIVATING) and then stops it. ECS's events
throughout.

The task definitions use the host network mode on a port a backend in this process serves,
so every simulated instance's target (the instance at 127.0.0.1, as the data plane reaches
it) passes HAProxy's health checks; a port nobody serves makes an unhealthy one.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess, free_port
from test_services_sim import Sim, create, describe, describe_tasks, sim, task_arns, wait_until

SUBNETS = ["subnet-0aaa1111", "subnet-0bbb2222"]


class Backend:
    """200 to anything, on 127.0.0.1."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                try:
                    self.send_response(200)
                    self.send_header("content-length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except ConnectionError:
                    pass  # a health check that did not wait for the body

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def backend() -> Iterator[Backend]:
    found = Backend()
    yield found
    found.close()


@pytest.fixture
def elb(server: ServerProcess) -> Any:
    return boto3.client(
        "elbv2",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def fleet(server: ServerProcess, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Sim]:
    with sim(server, tmp_path, request.node.name[:40].replace("[", "-").strip("]")) as found:
        yield found


def target_group(elb: Any, name: str, *, delay: int = 2, target_type: str = "instance") -> str:
    """A target group behind a new ALB's listener, checked every 5 s."""
    lb = elb.create_load_balancer(Name=name, Subnets=SUBNETS)["LoadBalancers"][0]
    tg = elb.create_target_group(
        Name=name,
        Protocol="HTTP",
        Port=80,
        VpcId="vpc-0abc",
        TargetType=target_type,
        HealthCheckIntervalSeconds=5,
        HealthCheckTimeoutSeconds=2,
        HealthyThresholdCount=2,
        UnhealthyThresholdCount=2,
    )["TargetGroups"][0]["TargetGroupArn"]
    elb.modify_target_group_attributes(
        TargetGroupArn=tg,
        Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": str(delay)}],
    )
    elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=free_port(),
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
    )
    return str(tg)


def web(fleet: Sim, family: str, port: int, mode: str = "host") -> str:
    container = {
        "name": "app",
        "image": "busybox",
        "memory": 64,
        "portMappings": [{"containerPort": port}],
    }
    out = fleet.ecs.register_task_definition(
        family=family, networkMode=mode, containerDefinitions=[container]
    )
    return str(out["taskDefinition"]["taskDefinitionArn"])


def health(elb: Any, tg: str) -> dict[tuple[str, int], str]:
    found = elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
    return {(d["Target"]["Id"], d["Target"]["Port"]): d["TargetHealth"]["State"] for d in found}


def messages(fleet: Sim, name: str) -> list[str]:
    return [e["message"] for e in reversed(describe(fleet, name)["events"])]


def counted(fleet: Sim, name: str, head: str) -> int:
    """How many targets the service's events say, summed over events starting `head`."""
    return sum(int(m[len(head) :].split()[0]) for m in messages(fleet, name) if m.startswith(head))


def ec2_ids(fleet: Sim, instances: list[str]) -> dict[str, str]:
    out = fleet.ecs.describe_container_instances(
        cluster=fleet.cluster, containerInstances=instances
    )["containerInstances"]
    return {i["containerInstanceArn"]: i["ec2InstanceId"] for i in out}


def test_tasks_are_registered_healthy_then_drained_before_they_stop(
    fleet: Sim, elb: Any, backend: Backend
) -> None:
    instances = fleet.add(2)
    ids = ec2_ids(fleet, instances)
    tg = target_group(elb, unique("reg"), delay=3)
    td = web(fleet, "lbweb", backend.port)
    balancer = {"targetGroupArn": tg, "containerName": "app", "containerPort": backend.port}
    create(fleet, "web", td, 2, loadBalancers=[balancer])

    # Registered as (instance, container port), healthy, and only then the deployment done.
    expected = {(ids[i], backend.port) for i in instances}
    wait_until(lambda: set(health(elb, tg)) == expected, 30, "both targets registered")
    assert counted(fleet, "web", "(service web) registered ") == 2
    assert f"targets in (target-group {tg})" in " ".join(messages(fleet, "web"))
    wait_until(
        lambda: describe(fleet, "web")["deployments"][0]["rolloutState"] == "COMPLETED",
        40,
        "the deployment to complete",
    )
    assert set(health(elb, tg).values()) == {"healthy"}

    # Scale-in: the stopped task's target drains first; the task is DEACTIVATING meanwhile
    # and its container still runs; then it stops.
    fleet.ecs.update_service(cluster=fleet.cluster, service="web", desiredCount=1)
    stopping = wait_until(lambda: task_arns(fleet, "web", "STOPPED"), 20, "a task to stop")
    (task,) = describe_tasks(fleet, stopping)
    assert (task["lastStatus"], task["desiredStatus"]) == ("DEACTIVATING", "STOPPED")
    assert "draining" in health(elb, tg).values()
    instance = task["containerInstanceArn"]
    driver = fleet.driver_of(instance)
    assert driver.inspect(fleet.runtime_id(task)).status == "running"
    wait_until(lambda: counted(fleet, "web", "(service web) deregistered ") == 1, 10, "the event")
    assert "(service web) has begun draining connections on 1 tasks." in messages(fleet, "web")
    (done,) = wait_until(
        lambda: [t for t in describe_tasks(fleet, stopping) if t["lastStatus"] == "STOPPED"],
        20,
        "the held task to stop",
    )
    assert done["stoppedAt"].timestamp() - done["stoppingAt"].timestamp() >= 2.5
    wait_until(lambda: len(health(elb, tg)) == 1, 20, "the drained target to go")


def test_a_container_that_exits_is_deregistered(fleet: Sim, elb: Any, backend: Backend) -> None:
    (instance,) = fleet.add(1)
    tg = target_group(elb, unique("exit"), delay=60)
    td = web(fleet, "lbexit", backend.port)
    balancer = {"targetGroupArn": tg, "containerName": "app", "containerPort": backend.port}
    create(fleet, "web", td, 1, loadBalancers=[balancer])
    (arn,) = wait_until(lambda: task_arns(fleet, "web"), 20, "a task")
    wait_until(lambda: health(elb, tg), 30, "its target")
    (task,) = describe_tasks(fleet, [arn])
    fleet.driver_of(instance).exit(fleet.runtime_id(task), 1)
    # Its target is deregistered; the replacement (same instance and port in host mode)
    # registers it again.
    wait_until(lambda: counted(fleet, "web", "(service web) deregistered ") == 1, 20, "event")
    wait_until(lambda: counted(fleet, "web", "(service web) registered ") == 2, 20, "again")
    (stopped,) = describe_tasks(fleet, [arn])
    assert stopped["lastStatus"] == "STOPPED"
    assert "draining connections" not in " ".join(messages(fleet, "web"))


def test_delete_service_deregisters_its_targets(fleet: Sim, elb: Any, backend: Backend) -> None:
    fleet.add(1)
    tg = target_group(elb, unique("del"), delay=1)
    td = web(fleet, "lbdel", backend.port)
    balancer = {"targetGroupArn": tg, "containerName": "app", "containerPort": backend.port}
    create(fleet, "web", td, 1, loadBalancers=[balancer])
    wait_until(lambda: health(elb, tg), 30, "its target")
    fleet.ecs.delete_service(cluster=fleet.cluster, service="web", force=True)
    wait_until(lambda: not health(elb, tg), 30, "its target to go")
    wait_until(
        lambda: describe(fleet, "web")["status"] == "INACTIVE", 30, "the service to be INACTIVE"
    )
    (stopped,) = describe_tasks(fleet, task_arns(fleet, "web", "STOPPED"))
    assert stopped["lastStatus"] == "STOPPED"


def test_an_unhealthy_target_is_replaced(fleet: Sim, elb: Any) -> None:
    fleet.add(1)
    tg = target_group(elb, unique("sick"), delay=0)
    port = free_port()  # nobody serves it
    td = web(fleet, "lbsick", port)
    balancer = {"targetGroupArn": tg, "containerName": "app", "containerPort": port}
    # No room over desired: the unhealthy task is stopped to make room for its replacement
    # (with room, the replacement would start first and this one wait for it to be healthy).
    create(
        fleet,
        "web",
        td,
        1,
        loadBalancers=[balancer],
        healthCheckGracePeriodSeconds=0,
        deploymentConfiguration={"maximumPercent": 100, "minimumHealthyPercent": 0},
    )
    (first,) = wait_until(lambda: task_arns(fleet, "web"), 20, "a task")
    wait_until(
        lambda: first in task_arns(fleet, "web", "STOPPED"), 60, "the unhealthy task replaced"
    )
    (task,) = describe_tasks(fleet, [first])
    assert task["stoppedReason"] == f"Task failed ELB health checks in (target-group {tg})"
    short = first.rsplit("/", 1)[1]
    assert (
        f"(service web) (task {short}) is unhealthy in (target-group {tg}) due to (reason "
        "Health checks failed)."
    ) in messages(fleet, "web")
    fleet.ecs.update_service(cluster=fleet.cluster, service="web", desiredCount=0)


def test_standalone_tasks_are_never_registered(fleet: Sim, elb: Any, backend: Backend) -> None:
    fleet.add(1)
    tg = target_group(elb, unique("solo"))
    td = web(fleet, "lbsolo", backend.port)
    arn = fleet.ecs.run_task(cluster=fleet.cluster, taskDefinition=td)["tasks"][0]["taskArn"]
    wait_until(lambda: describe_tasks(fleet, [arn])[0]["lastStatus"] == "RUNNING", 20, "it to run")
    # A service of another port on the same group registers; the task never does.
    other = Backend()
    try:
        td2 = web(fleet, "lbsolo2", other.port)
        balancer = {"targetGroupArn": tg, "containerName": "app", "containerPort": other.port}
        create(fleet, "web", td2, 1, loadBalancers=[balancer])
        found = wait_until(lambda: health(elb, tg), 30, "the service's target")
        assert [port for _, port in found] == [other.port]
        fleet.ecs.update_service(cluster=fleet.cluster, service="web", desiredCount=0)
        fleet.ecs.stop_task(cluster=fleet.cluster, task=arn)
    finally:
        other.close()


def test_load_balancer_validation(fleet: Sim, elb: Any) -> None:
    tg = target_group(elb, unique("val"), target_type="ip")
    td = web(fleet, "lbval", 8080, mode="bridge")
    balancer = {"targetGroupArn": tg, "containerName": "app", "containerPort": 8080}
    with pytest.raises(fleet.ecs.exceptions.InvalidParameterException) as err:
        create(fleet, "web", td, 1, loadBalancers=[balancer])
    assert err.value.response["Error"]["Message"] == (
        f"The provided target group {tg} has target type ip, which is incompatible with the "
        "bridge network mode specified in the task definition."
    )
    lonely = elb.create_target_group(Name=unique("lonely"), Protocol="HTTP", Port=80, VpcId="v")[
        "TargetGroups"
    ][0]["TargetGroupArn"]
    with pytest.raises(fleet.ecs.exceptions.InvalidParameterException) as err:
        create(fleet, "web", td, 1, loadBalancers=[{**balancer, "targetGroupArn": lonely}])
    assert err.value.response["Error"]["Message"] == (
        f"The target group with targetGroupArn {lonely} does not have an associated load balancer."
    )
