"""What the Auto Scaling tests share: a launch template for a cluster, waiting on a group,
and killing a simulated host through Portside's signed route."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess


def wait_for(check: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what or check}"
        time.sleep(0.1)


def template(ec2: Any, name: str, cluster: str, instance_type: str = "m5.large") -> str:
    text = f"#!/bin/bash\necho ECS_CLUSTER={cluster} >> /etc/ecs/ecs.config\n"
    out = ec2.create_launch_template(
        LaunchTemplateName=name,
        LaunchTemplateData={
            "ImageId": "portside-simulated",
            "InstanceType": instance_type,
            "UserData": base64.b64encode(text.encode()).decode(),
        },
    )
    return str(out["LaunchTemplate"]["LaunchTemplateId"])


def group(asg: Any, name: str) -> dict[str, Any]:
    found = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    assert len(found) == 1, found
    return dict(found[0])


def in_service(asg: Any, name: str) -> list[dict[str, Any]]:
    return [i for i in group(asg, name)["Instances"] if i["LifecycleState"] == "InService"]


def settled(asg: Any, name: str, count: int) -> list[dict[str, Any]] | None:
    """The group's instances once exactly `count` are there, all InService and healthy."""
    instances = group(asg, name)["Instances"]
    ok = len(instances) == count and all(
        i["LifecycleState"] == "InService" and i["HealthStatus"] == "Healthy" for i in instances
    )
    return instances if ok else None


def kill(server: ServerProcess, instance_ids: list[str]) -> list[str]:
    """Kill simulated hosts as a machine dies (POST /_portside/hosts/v1/kill, signed)."""
    url = server.endpoint + "/_portside/hosts/v1/kill"
    body = httpx.Request("POST", url, json={"instanceIds": instance_ids}).read()
    request = AWSRequest(
        method="POST", url=url, data=body, headers={"Content-Type": "application/json"}
    )
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "ec2", REGION).add_auth(request)
    answer = httpx.post(url, content=body, headers=dict(request.headers.items()), timeout=10)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["killed"])
