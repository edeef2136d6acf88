"""The agent protocol's messages: each reads back what it wrote, a task definition travels
once per sync answer, the gateway reads a stored task as the model holds it, and the agent's
report reads back the fields ops/task_reports.py applies."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import orjson
import pytest

from portside.agent.driver import TaskResources
from portside.agent.reports import build
from portside.agent.runner import ContainerRun, TaskRun
from portside.agent.state import run_from_doc, run_to_doc
from portside.errors import InvalidParameterException
from portside.gateway.messages import agent_instance, agent_task
from portside.gateway.protocol import (
    AgentInstance,
    Attachment,
    ContainerOverride,
    ContainerReport,
    ExecOffer,
    LogsPut,
    ManagedAgent,
    Refusal,
    SyncAnswer,
    SyncRequest,
    TaskOverrides,
    TaskReport,
)
from portside.model.container_instance import ContainerInstance
from portside.model.doc import to_doc
from portside.model.task import Container, Task
from portside.testing.agent import agent_task as make_task

TASK_ARN = "arn:aws:ecs:us-east-1:000000000000:task/web/" + "a" * 32
DEFINITION = {
    "family": "web",
    "networkMode": "awsvpc",
    "containerDefinitions": [{"name": "app", "image": "busybox", "memory": 64}],
}
ENI = Attachment("att-1", "ElasticNetworkInterface", "PRECREATED", (("subnetId", "subnet-1"),))


def wire_trip(message: Any) -> Any:
    return type(message).from_wire(orjson.loads(orjson.dumps(message.to_wire())))


def stored_task() -> Task:
    return Task(
        arn=TASK_ARN,
        cluster_arn="arn:aws:ecs:us-east-1:000000000000:cluster/web",
        task_definition_arn="arn:aws:ecs:us-east-1:000000000000:task-definition/web:3",
        instance_arn="arn:aws:ecs:us-east-1:000000000000:container-instance/web/1",
        launch_type="FARGATE",
        last_status="PROVISIONING",
        desired_status="RUNNING",
        created_at=1.0,
        version=4,
        cpu="256",
        memory="512",
        containers=[Container(arn="arn:container/app", name="app", image="busybox")],
        availability_zone="us-east-1a",
        group="service:web",
        overrides={
            "cpu": "512",
            "containerOverrides": [
                {"name": "app", "command": ["echo", "hi"], "environment": [{"name": "A"}]},
                {"name": "side"},  # ECS echoes an empty entry per container
            ],
            "inferenceAcceleratorOverrides": [],
        },
        attachments=[ENI.to_wire()],
        enable_execute_command=True,
    )


def test_the_gateway_reads_a_stored_task_as_the_model_holds_it() -> None:
    task = stored_task()
    message = agent_task(orjson.loads(orjson.dumps(to_doc(task))), DEFINITION)
    assert (message.arn, message.cluster_arn, message.instance_arn) == (
        task.arn,
        task.cluster_arn,
        task.instance_arn,
    )
    assert message.task_definition_arn == task.task_definition_arn
    assert (message.family, message.revision, message.cluster) == ("web", 3, "web")
    assert (message.last_status, message.desired_status, message.version) == (
        "PROVISIONING",
        "RUNNING",
        4,
    )
    assert (message.launch_type, message.cpu, message.memory) == ("FARGATE", "256", "512")
    assert (message.availability_zone, message.group) == ("us-east-1a", "service:web")
    assert message.enable_execute_command is True
    assert [(c.name, c.arn) for c in message.containers] == [("app", "arn:container/app")]
    assert message.eni == ENI
    assert message.overrides == TaskOverrides(
        cpu="512",
        containers=(ContainerOverride("app", command=("echo", "hi"), environment=(("A", ""),)),),
    )
    assert message.definition is DEFINITION


def test_the_gateway_reads_a_stored_instance() -> None:
    inst = ContainerInstance(
        arn="arn:i/1", cluster_arn="arn:c", ec2_instance_id="i-1", registered_at=1.0, version=7
    )
    inst.agent_connected = False
    assert agent_instance(to_doc(inst)) == AgentInstance("arn:i/1", "ACTIVE", False, 7)


def test_a_sync_answer_reads_back_and_carries_each_definition_once() -> None:
    a = make_task(TASK_ARN, definition=DEFINITION, attachments=(ENI,))
    b = make_task(TASK_ARN[:-1] + "b", definition=DEFINITION, version=3)
    offer = ExecOffer("s-1", "tok", TASK_ARN, "arn:i/1", "app", None, ("sh",), True, 24, 80)
    answer = SyncAnswer(
        seq=9,
        full=True,
        tasks=(a, b),
        instances=(AgentInstance("arn:i/1", "DRAINING", True, 2),),
        refused=(Refusal(TASK_ARN, "cannot go back"),),
        exec=(offer,),
    )
    wire = answer.to_wire()
    assert list(wire["definitions"]) == [a.task_definition_arn]
    assert all("definition" not in t for t in wire["tasks"])
    assert wire_trip(answer) == answer


def test_a_sync_request_and_its_reports_read_back() -> None:
    report = TaskReport(
        TASK_ARN,
        "RUNNING",
        containers=(
            ContainerReport(
                "app",
                "RUNNING",
                runtime_id="c" * 64,
                exit_code=None,
                network_bindings=({"containerPort": 80, "hostPort": 32768},),
                managed_agents=(ManagedAgent("ExecuteCommandAgent", "RUNNING", 5.0),),
                private_ipv4=("att-1", "10.0.0.2"),
            ),
        ),
        started_at=5.0,
        attachments=(ENI,),
    )
    ask = SyncRequest("sess", after=4, reports=(report,), wait=3.0)
    assert wire_trip(ask) == ask
    assert SyncRequest.from_wire({"session": "s", "wait": 99}).wait == 25.0


def test_an_agent_report_keeps_the_wire_form_the_control_plane_applies() -> None:
    """Members the agent does not know yet are absent, not null: ops/task_reports.py applies
    only what a report carries."""
    task = make_task(TASK_ARN, definition=DEFINITION, attachments=(ENI,))
    app = ContainerRun("app", dict(DEFINITION["containerDefinitions"][0]), "tok")  # type: ignore[index]
    run = TaskRun(TASK_ARN, task, {"app": app})
    assert build(run).to_wire() == {
        "taskArn": TASK_ARN,
        "lastStatus": "PROVISIONING",
        "containers": [{"name": "app", "lastStatus": "PENDING"}],
    }
    run.resources = TaskResources("awsvpc", ip_address="10.0.0.2", mac_address="02:42")
    app.state, app.runtime_id, app.started_at = "running", "c" * 64, 5.0
    run.status = "RUNNING"
    wire = build(run).to_wire()
    assert wire["lastStatus"] == "RUNNING" and wire["startedAt"] == 5.0
    assert wire["containers"] == [
        {
            "name": "app",
            "lastStatus": "RUNNING",
            "runtimeId": "c" * 64,
            "networkInterfaces": [{"attachmentId": "att-1", "privateIpv4Address": "10.0.0.2"}],
        }
    ]
    (eni,) = wire["attachments"]
    assert eni["status"] == "ATTACHED"
    details = {d["name"]: d["value"] for d in eni["details"]}
    assert details["subnetId"] == "subnet-1" and details["privateIPv4Address"] == "10.0.0.2"


def test_a_run_written_before_the_typed_protocol_reads_back() -> None:
    """The agent's state directory of an earlier version: the stored task and its definition
    side by side."""
    task = make_task(TASK_ARN, definition=DEFINITION)
    run = TaskRun(TASK_ARN, task, {"app": ContainerRun("app", {"name": "app"}, "tok")})
    assert run_from_doc(orjson.loads(orjson.dumps(run_to_doc(run)))) == run
    old = {k: v for k, v in run_to_doc(run).items() if k != "task"}
    old["doc"] = to_doc(stored_task()) | {"arn": TASK_ARN}
    old["definition"] = DEFINITION
    upgraded = run_from_doc(old)
    assert upgraded.task.launch_type == "FARGATE" and upgraded.definition == DEFINITION
    assert upgraded.containers == run.containers


def test_logs_batches_are_checked_as_they_are_read() -> None:
    batch = LogsPut("/g", "s", 0, [(1, "a"), (-5, "b")])
    assert LogsPut.from_wire(batch.to_wire()).events == [(1, "a"), (0, "b")]
    with pytest.raises(InvalidParameterException, match="integer timestamp"):
        LogsPut.from_wire({"group": "/g", "stream": "s", "first": 0, "events": [{"x": 1}]})


def test_the_agent_imports_neither_the_operations_nor_the_api() -> None:
    code = (
        "import sys, portside.agent.session, portside.agent.factory, portside.agent.state,"
        " portside.agent.metadata.source, portside.agent.docker.driver;"
        "print([m for m in sys.modules if m.startswith(('portside.ops', 'portside.api',"
        " 'portside.store', 'portside.controllers'))])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
