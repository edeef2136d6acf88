"""EC2 instances through boto3 on the simulated provider: RunInstances with a launch template
or direct parameters, the user data's cluster, states as the host reports them, the container
instance that shows the EC2 instance id, DescribeInstances' filters and paging,
DescribeInstanceStatus, TerminateInstances deregistering the container instance, and EC2's
errors."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

from ec2_errors import error_of


def wait_for(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def script(cluster: str, attributes: str = "") -> str:
    """User data as ECS's docs write it (boto3 base64-encodes RunInstances' own)."""
    lines = ["#!/bin/bash", f"echo ECS_CLUSTER={cluster} >> /etc/ecs/ecs.config"]
    if attributes:
        lines.append(f"echo 'ECS_INSTANCE_ATTRIBUTES={attributes}' >> /etc/ecs/ecs.config")
    return "\n".join(lines)


def user_data(cluster: str) -> str:
    """A launch template's user data: base64 (boto3 leaves it as given)."""
    return base64.b64encode(script(cluster).encode()).decode()


def states(ec2: Any, ids: list[str]) -> dict[str, str]:
    out = ec2.describe_instances(InstanceIds=ids)
    return {
        i["InstanceId"]: i["State"]["Name"] for r in out["Reservations"] for i in r["Instances"]
    }


def test_run_instances_register_in_the_user_datas_cluster(ec2: Any, ecs: Any, name: str) -> None:
    ecs.create_cluster(clusterName=name)
    out = ec2.run_instances(
        ImageId="portside-simulated",
        InstanceType="m5.large",
        MinCount=2,
        MaxCount=2,
        Placement={"AvailabilityZone": "us-east-1b"},
        UserData=script(name, '{"stack":"blue"}'),
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}],
    )
    ids = [i["InstanceId"] for i in out["Instances"]]
    assert len(ids) == 2 and {i["State"]["Name"] for i in out["Instances"]} == {"pending"}
    assert all(i["Placement"]["AvailabilityZone"] == "us-east-1b" for i in out["Instances"])
    wait_for(lambda: set(states(ec2, ids).values()) == {"running"})
    arns = wait_for(lambda: ecs.list_container_instances(cluster=name)["containerInstanceArns"])
    arns = wait_for(
        lambda: (
            (a := ecs.list_container_instances(cluster=name)["containerInstanceArns"])
            and len(a) == 2
            and a
        )
    )
    described = ecs.describe_container_instances(cluster=name, containerInstances=arns)
    instances = described["containerInstances"]
    assert sorted(i["ec2InstanceId"] for i in instances) == sorted(ids)
    for inst in instances:
        cpu = {r["name"]: r.get("integerValue") for r in inst["registeredResources"]}
        assert cpu["CPU"] == 2048 and cpu["MEMORY"] == 8192
        attrs = {a["name"]: a.get("value") for a in inst["attributes"]}
        assert attrs["ecs.availability-zone"] == "us-east-1b"
        assert attrs["ecs.instance-type"] == "m5.large"
        assert attrs["stack"] == "blue"
    tagged = ec2.describe_instances(Filters=[{"Name": "tag:Name", "Values": [name]}])
    assert sorted(i["InstanceId"] for r in tagged["Reservations"] for i in r["Instances"]) == (
        sorted(ids)
    )
    status = ec2.describe_instance_status(InstanceIds=ids)["InstanceStatuses"]
    assert {s["InstanceState"]["Name"] for s in status} == {"running"}
    done = ec2.terminate_instances(InstanceIds=[ids[0]])["TerminatingInstances"][0]
    assert done["PreviousState"]["Name"] == "running"
    assert done["CurrentState"]["Name"] == "shutting-down"
    wait_for(lambda: states(ec2, ids)[ids[0]] == "terminated")
    left = wait_for(
        lambda: (
            (a := ecs.list_container_instances(cluster=name)["containerInstanceArns"])
            and len(a) == 1
            and a
        )
    )
    only = ecs.describe_container_instances(cluster=name, containerInstances=left)
    assert only["containerInstances"][0]["ec2InstanceId"] == ids[1]
    ec2.terminate_instances(InstanceIds=[ids[1]])
    wait_for(lambda: states(ec2, ids)[ids[1]] == "terminated")


def test_run_instances_from_a_launch_template(ec2: Any, ecs: Any, name: str) -> None:
    ecs.create_cluster(clusterName=name)
    template = ec2.create_launch_template(
        LaunchTemplateName=name,
        LaunchTemplateData={
            "ImageId": "portside-simulated",
            "InstanceType": "c5.xlarge",
            "UserData": user_data(name),
        },
    )["LaunchTemplate"]
    assert template["DefaultVersionNumber"] == 1 and template["LatestVersionNumber"] == 1
    second = ec2.create_launch_template_version(
        LaunchTemplateId=template["LaunchTemplateId"],
        SourceVersion="1",
        LaunchTemplateData={"InstanceType": "r5.large"},
    )["LaunchTemplateVersion"]
    assert second["VersionNumber"] == 2 and not second["DefaultVersion"]
    assert second["LaunchTemplateData"]["ImageId"] == "portside-simulated"
    ec2.modify_launch_template(LaunchTemplateName=name, DefaultVersion="2")
    versions = ec2.describe_launch_template_versions(
        LaunchTemplateName=name, Versions=["$Default"]
    )["LaunchTemplateVersions"]
    assert [v["VersionNumber"] for v in versions] == [2]
    out = ec2.run_instances(LaunchTemplate={"LaunchTemplateName": name}, MinCount=1, MaxCount=1)
    instance = out["Instances"][0]
    assert instance["InstanceType"] == "r5.large"
    wait_for(lambda: states(ec2, [instance["InstanceId"]])[instance["InstanceId"]] == "running")
    arns = wait_for(lambda: ecs.list_container_instances(cluster=name)["containerInstanceArns"])
    inst = ecs.describe_container_instances(cluster=name, containerInstances=arns)
    cpu = {
        r["name"]: r.get("integerValue")
        for r in inst["containerInstances"][0]["registeredResources"]
    }
    assert cpu["CPU"] == 2048 and cpu["MEMORY"] == 16384
    ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])
    ec2.delete_launch_template(LaunchTemplateName=name)
    code, _ = error_of(ec2.describe_launch_templates, LaunchTemplateNames=[name])
    assert code == "InvalidLaunchTemplateName.NotFoundException"


def test_instance_errors_are_ec2s(ec2: Any, name: str) -> None:
    code, message = error_of(ec2.run_instances, ImageId="ami-12345678", MinCount=1, MaxCount=1)
    assert code == "InvalidAMIID.NotFound" and "ami-12345678" in message
    code, _ = error_of(ec2.describe_instances, InstanceIds=["i-0123456789abcdef0"])
    assert code == "InvalidInstanceID.NotFound"
    code, _ = error_of(ec2.terminate_instances, InstanceIds=["nope"])
    assert code == "InvalidInstanceID.Malformed"
    code, _ = error_of(
        ec2.run_instances,
        LaunchTemplate={"LaunchTemplateId": "lt-0123456789abcdef0"},
        MinCount=1,
        MaxCount=1,
    )
    assert code == "InvalidLaunchTemplateId.NotFound"
    ec2.create_launch_template(
        LaunchTemplateName=name, LaunchTemplateData={"ImageId": "portside-simulated"}
    )
    code, _ = error_of(
        ec2.create_launch_template,
        LaunchTemplateName=name,
        LaunchTemplateData={"ImageId": "portside-simulated"},
    )
    assert code == "InvalidLaunchTemplateName.AlreadyExistsException"
    code, _ = error_of(
        ec2.create_launch_template_version,
        LaunchTemplateName=name,
        LaunchTemplateData={"UserData": "!!!"},
    )
    assert code == "InvalidUserData.Malformed"
    ec2.delete_launch_template(LaunchTemplateName=name)


def test_describe_instances_pages(ec2: Any, name: str) -> None:
    out = ec2.run_instances(
        ImageId="portside-simulated",
        MinCount=7,
        MaxCount=7,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}],
    )
    ids = sorted(i["InstanceId"] for i in out["Instances"])
    seen: list[str] = []
    mine = [{"Name": "tag:Name", "Values": [name]}]
    page = ec2.describe_instances(Filters=mine, MaxResults=5)
    seen += [i["InstanceId"] for r in page["Reservations"] for i in r["Instances"]]
    page = ec2.describe_instances(Filters=mine, MaxResults=5, NextToken=page["NextToken"])
    seen += [i["InstanceId"] for r in page["Reservations"] for i in r["Instances"]]
    assert sorted(seen) == ids and "NextToken" not in page
    ec2.terminate_instances(InstanceIds=ids)
