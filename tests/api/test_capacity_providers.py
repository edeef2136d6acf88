"""Capacity provider actions through boto3 (and one AWS CLI round trip) against a real server:
each happy path and each error ECS gives. Tests here sign for their own regions, so listings
are exact."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from contract import attach
from harness import ACCESS_KEY, SECRET_KEY, ServerProcess

ACCOUNT = "000000000000"
REGION = "ps-cp-1"
DEFAULT_SCALING = {
    "status": "DISABLED",
    "targetCapacity": 100,
    "minimumScalingStepSize": 1,
    "maximumScalingStepSize": 10000,
    "instanceWarmupPeriod": 300,
}


def asg_arn(group: str, region: str = REGION) -> str:
    return (
        f"arn:aws:autoscaling:{region}:{ACCOUNT}:autoScalingGroup:"
        f"{uuid.uuid4()}:autoScalingGroupName/{group}"
    )


def cp_arn(name: str, region: str = REGION) -> str:
    return f"arn:aws:ecs:{region}:{ACCOUNT}:capacity-provider/{name}"


def fails(code: str, call: Callable[..., Any], **kwargs: Any) -> str:
    """Call, expect the ECS error `code` with HTTP 400, and return its message."""
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    assert err.value.response["Error"]["Code"] == code, err.value.response["Error"]
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return str(err.value.response["Error"]["Message"])


@pytest.fixture
def ecs(server: ServerProcess) -> Any:
    return server.client("ecs", region=REGION)


@pytest.fixture
def unvalidated(server: ServerProcess) -> Any:
    """A client that skips botocore's own parameter checks, so the server's are exercised."""
    client = boto3.client(
        "ecs",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"max_attempts": 1}, parameter_validation=False),
    )
    return attach(client)


@pytest.fixture
def fresh(server: ServerProcess) -> Any:
    """A client for a region no other test signs for."""
    return server.client("ecs", region=f"ps-cp-{uuid.uuid4().hex[:10]}")


def region_of(client: Any) -> str:
    return str(client.meta.region_name)


def real_group(ecs: Any, name: str) -> None:
    """An Auto Scaling group `name` in the client's region (empty, protected from scale-in):
    managed scaling needs one that exists."""

    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=ecs.meta.endpoint_url,
            region_name=region_of(ecs),
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    ec2, autoscaling = client("ec2"), client("autoscaling")
    template = {"ImageId": "portside-simulated", "InstanceType": "m5.large"}
    ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData=template)
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": name},
        MinSize=0,
        MaxSize=4,
        DesiredCapacity=0,
        AvailabilityZones=[f"{region_of(ecs)}a"],
        NewInstancesProtectedFromScaleIn=True,
    )


def create(ecs: Any, name: str, group: str | None = None, **asg: Any) -> dict[str, Any]:
    if (asg.get("managedScaling") or {}).get("status") == "ENABLED":
        real_group(ecs, group or name)
    provider = {"autoScalingGroupArn": asg_arn(group or name, region_of(ecs)), **asg}
    return dict(
        ecs.create_capacity_provider(name=name, autoScalingGroupProvider=provider)[
            "capacityProvider"
        ]
    )


def describe(ecs: Any, name: str, include: list[str] | None = None) -> dict[str, Any]:
    out = ecs.describe_capacity_providers(capacityProviders=[name], include=include or [])
    assert out["failures"] == [], out
    (provider,) = out["capacityProviders"]
    return dict(provider)


def missing(ecs: Any, name: str) -> None:
    out = ecs.describe_capacity_providers(capacityProviders=[name])
    assert out["capacityProviders"] == []
    assert out["failures"] == [{"arn": cp_arn(name, region_of(ecs)), "reason": "MISSING"}]


def listed(ecs: Any, page: int | None = None) -> list[str]:
    names: list[str] = []
    kwargs: dict[str, Any] = {} if page is None else {"maxResults": page}
    while True:
        out = ecs.describe_capacity_providers(**kwargs)
        names += [p["name"] for p in out["capacityProviders"]]
        if "nextToken" not in out:
            return names
        kwargs["nextToken"] = out["nextToken"]


# CreateCapacityProvider


def test_create_fills_in_ecs_defaults(ecs: Any, name: str) -> None:
    group = asg_arn(name)
    provider = ecs.create_capacity_provider(
        name=name,
        autoScalingGroupProvider={"autoScalingGroupArn": group},
        tags=[{"key": "team", "value": "web"}],
    )["capacityProvider"]
    assert provider == {
        "capacityProviderArn": cp_arn(name),
        "name": name,
        "status": "ACTIVE",
        "type": "EC2_AUTOSCALING",
        "autoScalingGroupProvider": {
            "autoScalingGroupArn": group,
            "managedScaling": DEFAULT_SCALING,
            "managedTerminationProtection": "DISABLED",
            "managedDraining": "ENABLED",
        },
        "tags": [{"key": "team", "value": "web"}],
    }
    assert describe(ecs, name, ["TAGS"]) == provider
    # Without include=TAGS the tags member is there, and empty.
    assert describe(ecs, name)["tags"] == []


def test_create_keeps_every_setting_given(ecs: Any, name: str) -> None:
    scaling = {
        "status": "ENABLED",
        "targetCapacity": 60,
        "minimumScalingStepSize": 2,
        "maximumScalingStepSize": 30,
        "instanceWarmupPeriod": 0,
    }
    provider = create(
        ecs,
        name,
        managedScaling=scaling,
        managedTerminationProtection="ENABLED",
        managedDraining="DISABLED",
    )["autoScalingGroupProvider"]
    assert provider["managedScaling"] == scaling
    assert provider["managedTerminationProtection"] == "ENABLED"
    assert provider["managedDraining"] == "DISABLED"
    assert describe(ecs, name)["autoScalingGroupProvider"] == provider


def test_create_with_part_of_managed_scaling_defaults_the_rest(ecs: Any, name: str) -> None:
    # As hashicorp/terraform-provider-aws's TestAccECSCapacityProvider_managedScalingPartial.
    scaling = create(ecs, name, managedScaling={"status": "ENABLED", "minimumScalingStepSize": 2})[
        "autoScalingGroupProvider"
    ]["managedScaling"]
    assert scaling == {**DEFAULT_SCALING, "status": "ENABLED", "minimumScalingStepSize": 2}


def test_termination_protection_without_managed_scaling_is_refused(ecs: Any, name: str) -> None:
    with pytest.raises(ClientError) as refused:
        create(ecs, name, managedTerminationProtection="ENABLED")
    assert refused.value.response["Error"]["Code"] == "ClientException"
    assert refused.value.response["Error"]["Message"].endswith(
        "To enable managed termination protection for a capacity provider, managed scaling "
        "must also be enabled."
    )


def test_create_takes_a_plain_group_name(ecs: Any, name: str) -> None:
    provider = ecs.create_capacity_provider(
        name=name, autoScalingGroupProvider={"autoScalingGroupArn": f"{name}-asg"}
    )["capacityProvider"]
    assert provider["autoScalingGroupProvider"]["autoScalingGroupArn"] == f"{name}-asg"


@pytest.mark.parametrize(
    "bad",
    ["aws-pool", "AWSpool", "ecs_pool", "Ecs1", "fargate", "FARGATE_SPOT", "a b", "a.b", "x" * 256],
)
def test_create_refuses_a_bad_name(ecs: Any, bad: str) -> None:
    message = fails(
        "ClientException",
        ecs.create_capacity_provider,
        name=bad,
        autoScalingGroupProvider={"autoScalingGroupArn": asg_arn(uuid.uuid4().hex)},
    )
    assert "name is invalid" in message and '"fargate"' in message


def test_create_allows_the_longest_name(ecs: Any) -> None:
    long_name = "p" + uuid.uuid4().hex + "x" * 222
    assert len(long_name) == 255
    assert create(ecs, long_name, group=uuid.uuid4().hex)["name"] == long_name


def test_create_refuses_a_name_in_use(ecs: Any, name: str) -> None:
    first = create(ecs, name)
    message = fails(
        "ClientException",
        ecs.create_capacity_provider,
        name=name,
        autoScalingGroupProvider={
            "autoScalingGroupArn": asg_arn(name + "-other"),
            "managedDraining": "DISABLED",
        },
    )
    assert "already exists" in message
    assert describe(ecs, name) == {**first, "tags": []}


def test_one_group_serves_one_provider(ecs: Any, name: str) -> None:
    create(ecs, name, group=f"{name}-asg")
    for other in (asg_arn(f"{name}-asg"), f"{name}-asg"):  # by ARN or by name: the same group
        message = fails(
            "ClientException",
            ecs.create_capacity_provider,
            name=f"{name}-2",
            autoScalingGroupProvider={"autoScalingGroupArn": other},
        )
        assert "already being used by another capacity provider" in message
    missing(ecs, f"{name}-2")


@pytest.mark.parametrize(
    "group",
    [
        "",
        "arn:aws:autoscaling:eu-west-1:000000000000:autoScalingGroup:u:autoScalingGroupName/g",
        "arn:aws:autoscaling:ps-cp-1:111111111111:autoScalingGroup:u:autoScalingGroupName/g",
        "arn:aws:ec2:ps-cp-1:000000000000:instance/i-1",
        "arn:aws:autoscaling:ps-cp-1:000000000000:autoScalingGroup:u",
    ],
)
def test_create_refuses_a_group_that_is_not_this_accounts(ecs: Any, name: str, group: str) -> None:
    message = fails(
        "ClientException",
        ecs.create_capacity_provider,
        name=name,
        autoScalingGroupProvider={"autoScalingGroupArn": group},
    )
    assert "Auto Scaling group" in message
    missing(ecs, name)


def test_create_requires_an_auto_scaling_group_provider(ecs: Any, name: str) -> None:
    message = fails("InvalidParameterException", ecs.create_capacity_provider, name=name)
    assert message == "AutoScalingGroupProvider can not be blank."
    missing(ecs, name)


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("targetCapacity", 0),
        ("targetCapacity", 101),
        ("minimumScalingStepSize", 0),
        ("maximumScalingStepSize", 10001),
        ("instanceWarmupPeriod", -1),
        ("instanceWarmupPeriod", 10001),
    ],
)
def test_create_refuses_managed_scaling_out_of_range(
    ecs: Any, unvalidated: Any, name: str, member: str, value: int
) -> None:
    message = fails(
        "InvalidParameterException",
        unvalidated.create_capacity_provider,
        name=name,
        autoScalingGroupProvider={
            "autoScalingGroupArn": asg_arn(name),
            "managedScaling": {member: value},
        },
    )
    assert f"autoScalingGroupProvider.managedScaling.{member}" in message
    missing(ecs, name)


def test_create_refuses_managed_instances_and_a_cluster(ecs: Any, name: str) -> None:
    managed = {
        "infrastructureRoleArn": f"arn:aws:iam::{ACCOUNT}:role/r",
        "instanceLaunchTemplate": {
            "ec2InstanceProfileArn": f"arn:aws:iam::{ACCOUNT}:instance-profile/p",
            "networkConfiguration": {"subnets": ["subnet-1"]},
        },
    }
    message = fails(
        "ClientException", ecs.create_capacity_provider, name=name, managedInstancesProvider=managed
    )
    assert "Managed Instances" in message
    message = fails(
        "InvalidParameterException",
        ecs.create_capacity_provider,
        name=name,
        cluster="default",
        autoScalingGroupProvider={"autoScalingGroupArn": asg_arn(name)},
    )
    assert "cluster" in message
    missing(ecs, name)


def test_create_refuses_bad_tags(ecs: Any, name: str) -> None:
    fails(
        "InvalidParameterException",
        ecs.create_capacity_provider,
        name=name,
        autoScalingGroupProvider={"autoScalingGroupArn": asg_arn(name)},
        tags=[{"key": "aws:owner", "value": "me"}],
    )
    missing(ecs, name)
    # Nothing half-applied: the group is still free.
    assert create(ecs, f"{name}-b", group=name)["status"] == "ACTIVE"


# DescribeCapacityProviders


def test_describe_lists_the_region_fargate_first(fresh: Any) -> None:
    fargate = describe(fresh, "FARGATE")
    assert fargate == {
        "capacityProviderArn": cp_arn("FARGATE", region_of(fresh)),
        "name": "FARGATE",
        "status": "ACTIVE",
        "type": "FARGATE",
        "tags": [],
    }
    assert listed(fresh) == ["FARGATE", "FARGATE_SPOT"]
    for n in ("zeta", "alpha", "Mid"):
        create(fresh, n)
    assert listed(fresh) == ["FARGATE", "FARGATE_SPOT", "Mid", "alpha", "zeta"]


def test_describe_pages_by_ten_unless_told(fresh: Any) -> None:
    names = [f"p{i:02d}" for i in range(10)]
    for n in names:
        create(fresh, n)
    first = fresh.describe_capacity_providers()
    assert len(first["capacityProviders"]) == 10 and "nextToken" in first
    rest = fresh.describe_capacity_providers(nextToken=first["nextToken"])
    assert [p["name"] for p in rest["capacityProviders"]] == ["p08", "p09"]
    assert "nextToken" not in rest
    everyone = ["FARGATE", "FARGATE_SPOT", *names]
    for size in (1, 2, 3, 10):
        assert listed(fresh, size) == everyone


@pytest.mark.parametrize("size", [0, 11])
def test_describe_refuses_a_page_size_out_of_range(ecs: Any, size: int) -> None:
    message = fails("InvalidParameterException", ecs.describe_capacity_providers, maxResults=size)
    assert "maxResults" in message


def test_describe_refuses_a_bad_token(ecs: Any) -> None:
    fails("InvalidParameterException", ecs.describe_capacity_providers, nextToken="gA==")


def test_describe_by_name_and_arn_with_failures(ecs: Any, name: str) -> None:
    create(ecs, name)
    other_region = cp_arn(name, "eu-west-1")
    fargate_elsewhere = cp_arn("FARGATE", "eu-west-1")
    out = ecs.describe_capacity_providers(
        capacityProviders=[
            name,
            cp_arn(name),
            "FARGATE_SPOT",
            cp_arn("FARGATE"),
            f"{name}-nope",
            other_region,
            fargate_elsewhere,
        ]
    )
    assert [p["name"] for p in out["capacityProviders"]] == [name, name, "FARGATE_SPOT", "FARGATE"]
    assert out["failures"] == [
        {"arn": cp_arn(f"{name}-nope"), "reason": "MISSING"},
        {"arn": other_region, "reason": "MISSING"},
        {"arn": fargate_elsewhere, "reason": "MISSING"},
    ]
    assert "nextToken" not in out


def test_describe_refuses_more_than_a_hundred_names(ecs: Any) -> None:
    names = [f"n{i}" for i in range(101)]
    fails("InvalidParameterException", ecs.describe_capacity_providers, capacityProviders=names)


def test_describe_for_a_cluster_shows_its_providers(ecs: Any, name: str) -> None:
    create(ecs, name)
    create(ecs, f"{name}-unused")
    ecs.create_cluster(clusterName=name, capacityProviders=["FARGATE", name])
    out = ecs.describe_capacity_providers(cluster=name)
    assert [p["name"] for p in out["capacityProviders"]] == ["FARGATE", name]
    out = ecs.describe_capacity_providers(cluster=name, capacityProviders=[name, f"{name}-unused"])
    assert [p["name"] for p in out["capacityProviders"]] == [name]
    assert out["failures"] == [{"arn": cp_arn(f"{name}-unused"), "reason": "MISSING"}]
    fails("ClusterNotFoundException", ecs.describe_capacity_providers, cluster=f"{name}-none")


def test_include_must_be_tags(ecs: Any) -> None:
    message = fails("InvalidParameterException", ecs.describe_capacity_providers, include=["X"])
    assert message == "include should be one of [TAGS]"


# UpdateCapacityProvider


def test_update_changes_only_what_it_names(ecs: Any, name: str) -> None:
    before = create(ecs, name, managedScaling={"status": "ENABLED", "targetCapacity": 80})
    answer = ecs.update_capacity_provider(
        name=name,
        autoScalingGroupProvider={
            "managedScaling": {"instanceWarmupPeriod": 60, "maximumScalingStepSize": 5},
            "managedDraining": "DISABLED",
        },
    )["capacityProvider"]
    expected = before["autoScalingGroupProvider"] | {
        "managedScaling": {
            **DEFAULT_SCALING,
            "status": "ENABLED",
            "targetCapacity": 80,
            "instanceWarmupPeriod": 60,
            "maximumScalingStepSize": 5,
        },
        "managedDraining": "DISABLED",
    }
    # ECS answers the call with UPDATE_IN_PROGRESS; here the update is done by then.
    assert answer["updateStatus"] == "UPDATE_IN_PROGRESS"
    assert answer["autoScalingGroupProvider"] == expected
    after = describe(ecs, name)
    assert after["updateStatus"] == "UPDATE_COMPLETE"
    assert after["status"] == "ACTIVE"
    assert after["autoScalingGroupProvider"] == expected


def test_update_by_arn_and_termination_protection(ecs: Any, name: str) -> None:
    create(ecs, name, managedScaling={"status": "ENABLED"})
    ecs.update_capacity_provider(
        name=cp_arn(name), autoScalingGroupProvider={"managedTerminationProtection": "ENABLED"}
    )
    assert (
        describe(ecs, name)["autoScalingGroupProvider"]["managedTerminationProtection"] == "ENABLED"
    )


def test_update_refuses_unknown_builtin_and_deleted_providers(ecs: Any, name: str) -> None:
    change = {"managedDraining": "DISABLED"}
    message = fails(
        "ClientException",
        ecs.update_capacity_provider,
        name=f"{name}-nope",
        autoScalingGroupProvider=change,
    )
    assert message == (
        "The specified capacity provider does not exist. Specify a valid name or ARN and try again."
    )
    for reserved in ("FARGATE", "FARGATE_SPOT"):
        assert "reserved" in fails(
            "ClientException",
            ecs.update_capacity_provider,
            name=reserved,
            autoScalingGroupProvider=change,
        )
    create(ecs, name)
    ecs.delete_capacity_provider(capacityProvider=name)
    fails(
        "ClientException", ecs.update_capacity_provider, name=name, autoScalingGroupProvider=change
    )
    assert describe(ecs, name)["autoScalingGroupProvider"]["managedDraining"] == "ENABLED"


def test_update_requires_auto_scaling_group_settings(ecs: Any, unvalidated: Any, name: str) -> None:
    create(ecs, name)
    message = fails("InvalidParameterException", ecs.update_capacity_provider, name=name)
    assert message == "AutoScalingGroupProvider can not be blank."
    fails(
        "InvalidParameterException",
        unvalidated.update_capacity_provider,
        name=name,
        autoScalingGroupProvider={"managedScaling": {"targetCapacity": 0}},
    )
    assert "updateStatus" not in describe(ecs, name)


# DeleteCapacityProvider


def test_delete_leaves_an_inactive_provider_behind(ecs: Any, name: str) -> None:
    created = create(ecs, name)
    answer = ecs.delete_capacity_provider(capacityProvider=name)["capacityProvider"]
    # ECS answers ACTIVE + DELETE_IN_PROGRESS (aws-cli's example); the delete then completes.
    assert answer["status"] == "ACTIVE"
    assert answer["updateStatus"] == "DELETE_IN_PROGRESS"
    assert answer["autoScalingGroupProvider"] == created["autoScalingGroupProvider"]
    after = describe(ecs, name)
    assert (after["status"], after["updateStatus"]) == ("INACTIVE", "DELETE_COMPLETE")
    # A deleted provider is still describable, but no cluster can take it and it is gone for
    # a second delete.
    message = fails(
        "InvalidParameterException",
        ecs.create_cluster,
        clusterName=name,
        capacityProviders=[name],
    )
    assert "does not exist" in message
    fails("ClientException", ecs.delete_capacity_provider, capacityProvider=name)


def test_delete_by_arn(ecs: Any, name: str) -> None:
    create(ecs, name)
    ecs.delete_capacity_provider(capacityProvider=cp_arn(name))
    assert describe(ecs, name)["status"] == "INACTIVE"
    fails(
        "ClientException", ecs.delete_capacity_provider, capacityProvider=cp_arn(name, "eu-west-1")
    )


@pytest.mark.parametrize("reserved", ["FARGATE", "FARGATE_SPOT"])
def test_fargate_providers_cannot_be_deleted(ecs: Any, reserved: str) -> None:
    message = fails("ClientException", ecs.delete_capacity_provider, capacityProvider=reserved)
    assert "reserved" in message
    assert describe(ecs, reserved)["status"] == "ACTIVE"


def test_delete_fails_while_a_cluster_uses_the_provider(ecs: Any, name: str) -> None:
    create(ecs, name)
    ecs.create_cluster(
        clusterName=name,
        capacityProviders=[name],
        defaultCapacityProviderStrategy=[{"capacityProvider": name, "weight": 1}],
    )
    answer = ecs.delete_capacity_provider(capacityProvider=name)["capacityProvider"]
    reason = (
        f"The capacity provider cannot be deleted because it is associated with cluster: {name}. "
        "Remove the capacity provider from the cluster and try again."
    )
    assert (answer["status"], answer["updateStatus"]) == ("ACTIVE", "DELETE_FAILED")
    assert answer["updateStatusReason"] == reason
    after = describe(ecs, name)
    assert (after["status"], after["updateStatus"], after["updateStatusReason"]) == (
        "ACTIVE",
        "DELETE_FAILED",
        reason,
    )
    # Still a working provider: the cluster keeps it and others may take it.
    ecs.create_cluster(clusterName=f"{name}-2", capacityProviders=[name])
    ecs.delete_cluster(cluster=f"{name}-2")
    # Once the cluster lets go, the delete goes through.
    ecs.put_cluster_capacity_providers(
        cluster=name, capacityProviders=[], defaultCapacityProviderStrategy=[]
    )
    ecs.delete_capacity_provider(capacityProvider=name)
    after = describe(ecs, name)
    assert (after["status"], after["updateStatus"]) == ("INACTIVE", "DELETE_COMPLETE")
    assert "updateStatusReason" not in after


def test_a_deleted_cluster_does_not_hold_its_providers(ecs: Any, name: str) -> None:
    create(ecs, name)
    ecs.create_cluster(clusterName=name, capacityProviders=[name])
    ecs.delete_cluster(cluster=name)
    ecs.delete_capacity_provider(capacityProvider=name)
    assert describe(ecs, name)["status"] == "INACTIVE"


def test_a_deleted_name_and_group_can_be_used_again(ecs: Any, name: str) -> None:
    group = f"{name}-asg"
    ecs.create_capacity_provider(
        name=name,
        autoScalingGroupProvider={"autoScalingGroupArn": group},
        tags=[{"key": "old", "value": "1"}],
    )
    ecs.delete_capacity_provider(capacityProvider=name)
    # The group is free again, and so is the name.
    create(ecs, f"{name}-next", group=group)
    again = create(ecs, name, group=f"{name}-asg2", managedDraining="DISABLED")
    assert again["status"] == "ACTIVE" and "updateStatus" not in again
    current = describe(ecs, name, ["TAGS"])
    assert current["tags"] == []
    assert current["autoScalingGroupProvider"]["managedDraining"] == "DISABLED"
    assert ecs.list_tags_for_resource(resourceArn=cp_arn(name))["tags"] == []


# Around the provider: tags and clusters


def test_tags_on_a_provider(ecs: Any, name: str) -> None:
    create(ecs, name)
    ecs.tag_resource(resourceArn=cp_arn(name), tags=[{"key": "env", "value": "prod"}])
    assert ecs.list_tags_for_resource(resourceArn=cp_arn(name))["tags"] == [
        {"key": "env", "value": "prod"}
    ]
    assert describe(ecs, name, ["TAGS"])["tags"] == [{"key": "env", "value": "prod"}]
    ecs.untag_resource(resourceArn=cp_arn(name), tagKeys=["env"])
    assert describe(ecs, name, ["TAGS"])["tags"] == []


def test_a_cluster_takes_a_provider_by_name_or_arn(ecs: Any, name: str) -> None:
    create(ecs, name)
    cluster = ecs.create_cluster(
        clusterName=name,
        capacityProviders=[cp_arn(name), "FARGATE"],
        defaultCapacityProviderStrategy=[{"capacityProvider": name, "weight": 1, "base": 1}],
    )["cluster"]
    assert cluster["capacityProviders"] == [name, "FARGATE"]


# The AWS CLI


def test_capacity_provider_lifecycle_with_the_cli(server: ServerProcess, name: str) -> None:
    region = ("--region", REGION)
    real_group(server.client("ecs", region=REGION), name)
    group = asg_arn(name)
    created = server.aws(
        "ecs",
        "create-capacity-provider",
        "--name",
        name,
        "--auto-scaling-group-provider",
        f"autoScalingGroupArn={group},managedScaling={{status=ENABLED,targetCapacity=90}},"
        "managedTerminationProtection=ENABLED",
        "--tags",
        "key=team,value=ops",
        *region,
    )["capacityProvider"]
    assert created["capacityProviderArn"] == cp_arn(name)
    assert created["autoScalingGroupProvider"]["managedScaling"] == {
        **DEFAULT_SCALING,
        "status": "ENABLED",
        "targetCapacity": 90,
    }
    described = server.aws(
        "ecs",
        "describe-capacity-providers",
        "--capacity-providers",
        name,
        "--include",
        "TAGS",
        *region,
    )
    assert described["capacityProviders"][0]["tags"] == [{"key": "team", "value": "ops"}]
    updated = server.aws(
        "ecs",
        "update-capacity-provider",
        "--name",
        name,
        "--auto-scaling-group-provider",
        "managedScaling={status=DISABLED},managedTerminationProtection=DISABLED",
        *region,
    )["capacityProvider"]
    assert updated["updateStatus"] == "UPDATE_IN_PROGRESS"
    assert updated["autoScalingGroupProvider"]["managedScaling"]["status"] == "DISABLED"
    deleted = server.aws("ecs", "delete-capacity-provider", "--capacity-provider", name, *region)[
        "capacityProvider"
    ]
    assert deleted["updateStatus"] == "DELETE_IN_PROGRESS"
    after = server.aws("ecs", "describe-capacity-providers", "--capacity-providers", name, *region)
    assert after["capacityProviders"][0]["status"] == "INACTIVE"
