"""Load balancers through boto3: create, describe, pages, attributes, subnets, security
groups, tags, deletion protection and ELB's errors."""

from __future__ import annotations

import time
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess

SUBNETS = ["subnet-0aaa1111", "subnet-0bbb2222"]


def _error(caught: Any) -> tuple[str, str]:
    error = caught.value.response["Error"]
    return error["Code"], error["Message"]


def create_lb(elb: Any, name: str, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("Subnets", SUBNETS)
    return elb.create_load_balancer(Name=name, **kwargs)["LoadBalancers"][0]


def test_create_and_describe(elb: Any, name: str) -> None:
    lb = create_lb(elb, name, SecurityGroups=["sg-1"], Tags=[{"Key": "team", "Value": "web"}])
    arn = lb["LoadBalancerArn"]
    assert arn.startswith("arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/")
    assert arn.split("/")[2] == name
    assert lb["DNSName"].startswith(f"{name}-")
    assert lb["DNSName"].endswith(".us-east-1.elb.portside.internal")
    assert lb["Type"] == "application" and lb["Scheme"] == "internet-facing"
    assert lb["State"]["Code"] == "provisioning"
    assert lb["SecurityGroups"] == ["sg-1"]
    assert [z["SubnetId"] for z in lb["AvailabilityZones"]] == SUBNETS
    assert lb["CanonicalHostedZoneId"]
    time.sleep(2.1)
    (found,) = elb.describe_load_balancers(Names=[name])["LoadBalancers"]
    assert found["State"]["Code"] == "active"
    assert found["LoadBalancerArn"] == arn
    by_arn = elb.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"]
    assert by_arn[0]["DNSName"] == lb["DNSName"]
    tags = elb.describe_tags(ResourceArns=[arn])["TagDescriptions"]
    assert tags == [{"ResourceArn": arn, "Tags": [{"Key": "team", "Value": "web"}]}]


def test_create_is_idempotent_for_the_same_settings(elb: Any, name: str) -> None:
    first = create_lb(elb, name)
    again = create_lb(elb, name)
    assert again["LoadBalancerArn"] == first["LoadBalancerArn"]
    with pytest.raises(elb.exceptions.DuplicateLoadBalancerNameException) as caught:
        create_lb(elb, name, Scheme="internal")
    assert _error(caught) == (
        "DuplicateLoadBalancerName",
        f"A load balancer with the same name '{name}' exists, but with different settings",
    )


def test_network_and_internal(elb: Any, name: str) -> None:
    lb = create_lb(elb, name, Type="network", Scheme="internal")
    assert "/net/" in lb["LoadBalancerArn"]
    assert lb["DNSName"].startswith(f"internal-{name}-")
    assert "SecurityGroups" not in lb
    attrs = elb.describe_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"])
    found = {a["Key"]: a["Value"] for a in attrs["Attributes"]}
    assert found["load_balancing.cross_zone.enabled"] == "false"
    assert "idle_timeout.timeout_seconds" not in found


def test_pages(elb: Any, name: str) -> None:
    arns = {create_lb(elb, f"{name}-{i}")["LoadBalancerArn"] for i in range(3)}
    seen: set[str] = set()
    marker: dict[str, str] = {}
    pages = 0
    while True:
        page = elb.describe_load_balancers(PageSize=2, **marker)
        assert len(page["LoadBalancers"]) <= 2
        seen |= {lb["LoadBalancerArn"] for lb in page["LoadBalancers"]}
        pages += 1
        if "NextMarker" not in page:
            break
        marker = {"Marker": page["NextMarker"]}
    assert arns <= seen and pages >= 2
    paginated = elb.get_paginator("describe_load_balancers").paginate(
        PaginationConfig={"PageSize": 1}
    )
    assert arns <= {lb["LoadBalancerArn"] for p in paginated for lb in p["LoadBalancers"]}


def test_attributes_and_deletion_protection(elb: Any, name: str) -> None:
    arn = create_lb(elb, name)["LoadBalancerArn"]
    attrs = elb.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
    found = {a["Key"]: a["Value"] for a in attrs}
    assert found["idle_timeout.timeout_seconds"] == "60"
    assert found["deletion_protection.enabled"] == "false"
    assert found["routing.http2.enabled"] == "true"
    changed = elb.modify_load_balancer_attributes(
        LoadBalancerArn=arn,
        Attributes=[
            {"Key": "idle_timeout.timeout_seconds", "Value": "120"},
            {"Key": "deletion_protection.enabled", "Value": "true"},
        ],
    )["Attributes"]
    assert {a["Key"]: a["Value"] for a in changed}["idle_timeout.timeout_seconds"] == "120"
    with pytest.raises(elb.exceptions.OperationNotPermittedException) as caught:
        elb.delete_load_balancer(LoadBalancerArn=arn)
    assert "deletion protection is enabled" in _error(caught)[1]
    with pytest.raises(elb.exceptions.ClientError) as bad:
        elb.modify_load_balancer_attributes(
            LoadBalancerArn=arn, Attributes=[{"Key": "no.such.key", "Value": "1"}]
        )
    assert _error(bad) == (
        "ValidationError",
        "Load balancer attribute key 'no.such.key' is not recognized",
    )
    with pytest.raises(elb.exceptions.ClientError) as bad_value:
        elb.modify_load_balancer_attributes(
            LoadBalancerArn=arn, Attributes=[{"Key": "idle_timeout.timeout_seconds", "Value": "0"}]
        )
    assert _error(bad_value)[0] == "ValidationError"
    elb.modify_load_balancer_attributes(
        LoadBalancerArn=arn, Attributes=[{"Key": "deletion_protection.enabled", "Value": "false"}]
    )
    elb.delete_load_balancer(LoadBalancerArn=arn)
    with pytest.raises(elb.exceptions.LoadBalancerNotFoundException):
        elb.describe_load_balancers(LoadBalancerArns=[arn])


def test_subnets_security_groups_ip_type(elb: Any, name: str) -> None:
    arn = create_lb(elb, name)["LoadBalancerArn"]
    zones = elb.set_subnets(LoadBalancerArn=arn, Subnets=["subnet-0ccc3333"])["AvailabilityZones"]
    assert [z["SubnetId"] for z in zones] == ["subnet-0ccc3333"]
    groups = elb.set_security_groups(LoadBalancerArn=arn, SecurityGroups=["sg-2", "sg-3"])
    assert groups["SecurityGroupIds"] == ["sg-2", "sg-3"]
    assert (
        elb.set_ip_address_type(LoadBalancerArn=arn, IpAddressType="dualstack")["IpAddressType"]
        == "dualstack"
    )
    (lb,) = elb.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"]
    assert lb["SecurityGroups"] == ["sg-2", "sg-3"]
    assert lb["IpAddressType"] == "dualstack"


def test_tags(elb: Any, name: str) -> None:
    arn = create_lb(elb, name)["LoadBalancerArn"]
    elb.add_tags(ResourceArns=[arn], Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    elb.remove_tags(ResourceArns=[arn], TagKeys=["a"])
    (found,) = elb.describe_tags(ResourceArns=[arn])["TagDescriptions"]
    assert found["Tags"] == [{"Key": "b", "Value": "2"}]
    with pytest.raises(elb.exceptions.DuplicateTagKeysException):
        elb.add_tags(
            ResourceArns=[arn], Tags=[{"Key": "c", "Value": "1"}, {"Key": "c", "Value": "2"}]
        )
    with pytest.raises(elb.exceptions.TooManyTagsException):
        elb.add_tags(ResourceArns=[arn], Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])


def test_errors(elb: Any, name: str) -> None:
    base = "arn:aws:elasticloadbalancing:us-east-1:000000000000"
    missing = f"{base}:loadbalancer/app/{name}/0123456789abcdef"
    with pytest.raises(elb.exceptions.LoadBalancerNotFoundException) as caught:
        elb.describe_load_balancers(LoadBalancerArns=[missing])
    assert _error(caught) == ("LoadBalancerNotFound", "One or more load balancers not found")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(elb.exceptions.LoadBalancerNotFoundException):
        elb.describe_load_balancers(Names=[name])
    with pytest.raises(elb.exceptions.LoadBalancerNotFoundException):
        elb.delete_load_balancer(LoadBalancerArn=missing)
    with pytest.raises(elb.exceptions.ClientError) as bad_arn:
        elb.describe_load_balancers(LoadBalancerArns=["nope"])
    assert _error(bad_arn) == ("ValidationError", "'nope' is not a valid load balancer ARN")
    with pytest.raises(elb.exceptions.ClientError) as both:
        elb.describe_load_balancers(LoadBalancerArns=[missing], Names=[name])
    assert _error(both)[0] == "ValidationError"
    with pytest.raises(elb.exceptions.ClientError) as long_name:
        create_lb(elb, "x" * 33)
    assert _error(long_name)[0] == "ValidationError"
    with pytest.raises(elb.exceptions.ClientError) as dash:
        create_lb(elb, "-bad")
    assert _error(dash) == (
        "ValidationError",
        "Load balancer name '-bad' cannot begin or end with '-' character",
    )


def test_account_limits(elb: Any) -> None:
    limits = {x["Name"]: x["Max"] for x in elb.describe_account_limits()["Limits"]}
    assert limits["listeners-per-application-load-balancer"] == "50"


def test_errors_in_the_query_shape(server: ServerProcess) -> None:
    body = "Action=DescribeLoadBalancers&Version=2015-12-01&LoadBalancerArns.member.1=nope"
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    request = AWSRequest("POST", server.endpoint + "/", data=body.encode(), headers=headers)
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "elasticloadbalancing", REGION).add_auth(request)
    reply = httpx.post(server.endpoint + "/", content=body.encode(), headers=dict(request.headers))
    assert reply.status_code == 400
    root = ElementTree.fromstring(reply.content)
    assert root.tag.endswith("ErrorResponse")
    found = {el.tag.split("}")[1]: el.text for el in root.iter() if el.text}
    assert found["Type"] == "Sender"
    assert found["Code"] == "ValidationError"
    assert found["Message"] == "'nope' is not a valid load balancer ARN"
    assert found["RequestId"]


def test_no_capacity_reservation(elb: Any, name: str) -> None:
    arn = create_lb(elb, name)["LoadBalancerArn"]
    found = elb.describe_capacity_reservation(LoadBalancerArn=arn)
    assert found["CapacityReservationState"] == []
    assert "MinimumLoadBalancerCapacity" not in found
