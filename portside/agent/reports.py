"""What the agent tells the control plane about a task (the gateway applies it with
ops/task_reports.py). Built from a TaskRun; only changes are sent."""

from __future__ import annotations

from typing import Any

from portside.agent.runner import TaskRun


def eni_attachment(run: TaskRun) -> list[dict[str, Any]] | None:
    """The awsvpc attachment with the details ECS gives once the network exists."""
    res = run.resources
    attachments = [dict(a) for a in run.doc.get("attachments") or ()]
    if res is None or res.ip_address is None or not attachments:
        return None
    out = []
    for a in attachments:
        if a.get("type") != "ElasticNetworkInterface":
            out.append(a)
            continue
        details = {d["name"]: d.get("value") for d in a.get("details") or ()}
        ip = res.ip_address
        details.update(
            {
                "networkInterfaceId": "eni-" + a["id"].replace("-", "")[:17],
                "macAddress": res.mac_address or "",
                "privateDnsName": "ip-" + ip.replace(".", "-") + ".ec2.internal",
                "privateIPv4Address": ip,
            }
        )
        status = "DELETED" if run.torn_down else "ATTACHED"
        out.append(
            {
                "id": a["id"],
                "type": "ElasticNetworkInterface",
                "status": status,
                "details": [{"name": k, "value": v} for k, v in details.items()],
            }
        )
    return out


def build(run: TaskRun) -> dict[str, Any]:
    from portside.agent.runner import task_status

    attachments = eni_attachment(run)
    eni_id = next(
        (a["id"] for a in attachments or () if a["type"] == "ElasticNetworkInterface"), None
    )
    containers = []
    for c in run.containers.values():
        rep: dict[str, Any] = {"name": c.name, "lastStatus": c.ecs_status()}
        if c.runtime_id:
            rep["runtimeId"] = c.runtime_id
        if c.digest:
            rep["imageDigest"] = c.digest
        if c.exit_code is not None and c.state == "exited":
            rep["exitCode"] = c.exit_code
        if c.reason:
            rep["reason"] = c.reason
        if c.bindings:
            rep["networkBindings"] = c.bindings
        if c.health is not None:
            rep["healthStatus"] = c.health
        if run.doc.get("enableExecuteCommand") and c.state in ("running", "exited"):
            # ECS Exec's agent is this agent (agent/exec.py): it runs while the container does.
            agent: dict[str, Any] = {
                "name": "ExecuteCommandAgent",
                "lastStatus": "RUNNING" if c.state == "running" else "STOPPED",
            }
            if c.started_at is not None:
                agent["lastStartedAt"] = c.started_at
            rep["managedAgents"] = [agent]
        if eni_id and run.resources and run.resources.ip_address:
            rep["networkInterfaces"] = [
                {"attachmentId": eni_id, "privateIpv4Address": run.resources.ip_address}
            ]
        containers.append(rep)
    report: dict[str, Any] = {
        "taskArn": run.arn,
        "lastStatus": run.status if run.status == "STOPPED" else task_status(run),
        "containers": containers,
    }
    starts = [c.started_at for c in run.containers.values() if c.started_at is not None]
    if (
        report["lastStatus"] != "PENDING"
        and starts
        and all(c.started for c in run.containers.values())
    ):
        # When the last container really started, not when the report arrived.
        report["startedAt"] = max(starts)
    for key, value in (
        ("pullStartedAt", run.pull_started_at),
        ("pullStoppedAt", run.pull_stopped_at),
        ("executionStoppedAt", run.execution_stopped_at),
        ("stoppedAt", run.stopped_at),
        ("stopCode", run.stop_code),
        ("stoppedReason", run.stopped_reason),
    ):
        if value is not None:
            report[key] = value
    if attachments is not None:
        report["attachments"] = attachments
    return report
