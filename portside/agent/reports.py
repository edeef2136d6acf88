"""What the agent tells the control plane about a task (the gateway applies it with
ops/task_reports.py). Built from a TaskRun; only changes are sent."""

from __future__ import annotations

from portside.agent.runner import TaskRun, task_status
from portside.gateway.protocol import ENI, Attachment, ContainerReport, ManagedAgent, TaskReport


def eni_attachment(run: TaskRun) -> tuple[Attachment, ...] | None:
    """The awsvpc attachment with the details ECS gives once the network exists."""
    res = run.resources
    attachments = run.task.attachments
    if res is None or res.ip_address is None or not attachments:
        return None
    out = []
    ip = res.ip_address
    for a in attachments:
        if a.type != ENI:
            out.append(a)
            continue
        details = dict(a.details)
        details.update(
            {
                "networkInterfaceId": "eni-" + a.id.replace("-", "")[:17],
                "macAddress": res.mac_address or "",
                "privateDnsName": "ip-" + ip.replace(".", "-") + ".ec2.internal",
                "privateIPv4Address": ip,
            }
        )
        status = "DELETED" if run.torn_down else "ATTACHED"
        out.append(Attachment(a.id, ENI, status, tuple(details.items())))
    return tuple(out)


def build(run: TaskRun) -> TaskReport:
    attachments = eni_attachment(run)
    eni_id = next((a.id for a in attachments or () if a.type == ENI), None)
    res = run.resources
    nic = (eni_id, res.ip_address) if eni_id and res is not None and res.ip_address else None
    execute = run.task.enable_execute_command
    stopped = run.status == "STOPPED"
    containers = []
    for c in run.containers.values():
        agents: tuple[ManagedAgent, ...] = ()
        if execute and c.state in ("running", "exited"):
            # ECS Exec's agent is this agent (agent/exec.py): it runs while the container does.
            status = "RUNNING" if c.state == "running" else "STOPPED"
            agents = (ManagedAgent("ExecuteCommandAgent", status, c.started_at),)
        containers.append(
            ContainerReport(
                name=c.name,
                # A stopped task's containers are all STOPPED, those that never ran too
                # (a restarted agent finishes a stop it has no containers for).
                last_status="STOPPED" if stopped else c.ecs_status(),
                runtime_id=c.runtime_id or None,
                image_digest=c.digest or None,
                exit_code=c.exit_code if c.state == "exited" else None,
                reason=c.reason or None,
                network_bindings=tuple(c.bindings),
                health_status=c.health,
                managed_agents=agents,
                private_ipv4=nic,
            )
        )
    status = run.status if stopped else task_status(run)
    starts = [c.started_at for c in run.containers.values() if c.started_at is not None]
    started_at = None
    if status != "PENDING" and starts and all(c.started for c in run.containers.values()):
        # When the last container really started, not when the report arrived.
        started_at = max(starts)
    return TaskReport(
        task_arn=run.arn,
        last_status=status,
        containers=tuple(containers),
        started_at=started_at,
        pull_started_at=run.pull_started_at,
        pull_stopped_at=run.pull_stopped_at,
        execution_stopped_at=run.execution_stopped_at,
        stopped_at=run.stopped_at,
        stop_code=run.stop_code,
        stopped_reason=run.stopped_reason,
        attachments=attachments,
    )
