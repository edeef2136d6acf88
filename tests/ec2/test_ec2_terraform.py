"""Terraform's AWS provider (5.100, from the local mirror) drives EC2 networking: an aws_vpc,
two aws_subnets, an aws_security_group with an aws_vpc_security_group_ingress_rule and an
aws_vpc_security_group_egress_rule apply, a plan then finds nothing to change, and destroy
removes them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from harness import ServerProcess
from terraform import Terraform, needs_terraform, provider

pytestmark = needs_terraform


def _config(endpoint: str, name: str) -> str:
    return (
        provider(endpoint, ("sts", "ec2"))
        + f"""
resource "aws_vpc" "main" {{
  cidr_block           = "10.20.0.0/16"
  enable_dns_hostnames = true
  tags = {{ Name = "{name}" }}
}}

resource "aws_subnet" "a" {{
  vpc_id            = aws_vpc.main.id
  cidr_block        = "10.20.1.0/24"
  availability_zone = "us-east-1a"
  tags = {{ Name = "{name}-a" }}
}}

resource "aws_subnet" "b" {{
  vpc_id                  = aws_vpc.main.id
  cidr_block              = "10.20.2.0/24"
  availability_zone       = "us-east-1b"
  map_public_ip_on_launch = true
}}

resource "aws_security_group" "web" {{
  name        = "{name}-web"
  description = "web tasks"
  vpc_id      = aws_vpc.main.id
}}

resource "aws_vpc_security_group_ingress_rule" "http" {{
  security_group_id = aws_security_group.web.id
  cidr_ipv4         = "10.20.0.0/16"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  description       = "http from the VPC"
}}

resource "aws_vpc_security_group_egress_rule" "all" {{
  security_group_id = aws_security_group.web.id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"
}}

output "vpc" {{ value = aws_vpc.main.id }}
output "group" {{ value = aws_security_group.web.id }}
output "subnets" {{ value = [aws_subnet.a.id, aws_subnet.b.id] }}
"""
    )


def test_apply_plan_destroy(server: ServerProcess, ec2: Any, name: str, tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(_config(server.endpoint, name))
    terraform = Terraform(tmp_path, timeout=600)
    terraform.apply()
    try:
        outputs = json.loads(terraform("output", "-json").stdout)
        vpc_id, group_id = outputs["vpc"]["value"], outputs["group"]["value"]
        subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
        assert sorted(s["CidrBlock"] for s in subnets["Subnets"]) == [
            "10.20.1.0/24",
            "10.20.2.0/24",
        ]
        (group,) = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
        assert [(p["IpProtocol"], p.get("FromPort")) for p in group["IpPermissions"]] == [
            ("tcp", 80)
        ]
        assert [p["IpProtocol"] for p in group["IpPermissionsEgress"]] == ["-1"]
        hostnames = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")
        assert hostnames["EnableDnsHostnames"] == {"Value": True}
        terraform.assert_no_changes()
    finally:
        terraform.destroy()
    with pytest.raises(ec2.exceptions.ClientError) as gone:
        ec2.describe_vpcs(VpcIds=[vpc_id])
    assert gone.value.response["Error"]["Code"] == "InvalidVpcID.NotFound"
