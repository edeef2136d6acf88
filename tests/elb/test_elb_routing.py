"""Target groups, targets, listeners and rules through boto3, errors included."""

from __future__ import annotations

from typing import Any

import pytest
from certificates import self_signed
from test_elb_load_balancers import _error, create_lb

VPC = "vpc-0123456789abcdef0"


def create_tg(elb: Any, name: str, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("Protocol", "HTTP")
    kwargs.setdefault("Port", 80)
    kwargs.setdefault("VpcId", VPC)
    return elb.create_target_group(Name=name, **kwargs)["TargetGroups"][0]


def forward(tg: str) -> list[dict[str, Any]]:
    return [{"Type": "forward", "TargetGroupArn": tg}]


def test_target_group_defaults_and_attributes(elb: Any, name: str) -> None:
    tg = create_tg(elb, name, TargetType="ip")
    assert tg["HealthCheckProtocol"] == "HTTP" and tg["HealthCheckPort"] == "traffic-port"
    assert tg["HealthCheckPath"] == "/" and tg["Matcher"] == {"HttpCode": "200"}
    assert (tg["HealthCheckIntervalSeconds"], tg["HealthCheckTimeoutSeconds"]) == (30, 5)
    assert (tg["HealthyThresholdCount"], tg["UnhealthyThresholdCount"]) == (5, 2)
    assert tg["TargetType"] == "ip" and tg["LoadBalancerArns"] == []
    tcp = create_tg(elb, name + "-tcp", Protocol="TCP", Port=5432)
    assert tcp["HealthCheckProtocol"] == "TCP" and "HealthCheckPath" not in tcp
    assert tcp["HealthCheckTimeoutSeconds"] == 10
    arn = tg["TargetGroupArn"]
    assert create_tg(elb, name, TargetType="ip")["TargetGroupArn"] == arn  # same settings
    attrs = {
        a["Key"]: a["Value"]
        for a in elb.describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]
    }
    assert attrs["deregistration_delay.timeout_seconds"] == "300"
    assert attrs["slow_start.duration_seconds"] == "0"
    assert attrs["stickiness.enabled"] == "false" and attrs["stickiness.type"] == "lb_cookie"
    assert attrs["load_balancing.algorithm.type"] == "round_robin"
    changed = elb.modify_target_group_attributes(
        TargetGroupArn=arn,
        Attributes=[
            {"Key": "deregistration_delay.timeout_seconds", "Value": "5"},
            {"Key": "load_balancing.algorithm.type", "Value": "least_outstanding_requests"},
            {"Key": "stickiness.enabled", "Value": "true"},
        ],
    )["Attributes"]
    assert {a["Key"]: a["Value"] for a in changed}["deregistration_delay.timeout_seconds"] == "5"
    with pytest.raises(elb.exceptions.ClientError) as bad:
        elb.modify_target_group_attributes(
            TargetGroupArn=arn,
            Attributes=[{"Key": "load_balancing.algorithm.type", "Value": "fastest"}],
        )
    assert _error(bad)[0] == "ValidationError"
    modified = elb.modify_target_group(
        TargetGroupArn=arn, HealthCheckPath="/health", Matcher={"HttpCode": "200-299"}
    )["TargetGroups"][0]
    assert modified["HealthCheckPath"] == "/health"
    assert modified["Matcher"] == {"HttpCode": "200-299"}
    (found,) = elb.describe_target_groups(Names=[name])["TargetGroups"]
    assert found["TargetGroupArn"] == arn
    assert elb.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]["Port"] == 80
    with pytest.raises(elb.exceptions.DuplicateTargetGroupNameException):
        create_tg(elb, name, Port=8080)


def test_target_group_errors(elb: Any, name: str) -> None:
    with pytest.raises(elb.exceptions.ClientError) as bad:
        create_tg(elb, name, HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=5)
    assert _error(bad) == (
        "ValidationError",
        "Health check interval must be greater than the timeout.",
    )
    with pytest.raises(elb.exceptions.ClientError) as no_port:
        elb.create_target_group(Name=name, Protocol="HTTP", VpcId=VPC)
    assert _error(no_port) == ("ValidationError", "A port must be specified")
    missing = (
        f"arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/{name}/0123456789abcdef"
    )
    with pytest.raises(elb.exceptions.TargetGroupNotFoundException):
        elb.describe_target_groups(TargetGroupArns=[missing])
    with pytest.raises(elb.exceptions.TargetGroupNotFoundException):
        elb.register_targets(TargetGroupArn=missing, Targets=[{"Id": "i-1"}])
    elb.delete_target_group(TargetGroupArn=missing)  # ELB deletes what is gone quietly
    ip = create_tg(elb, name, TargetType="ip")["TargetGroupArn"]
    with pytest.raises(elb.exceptions.InvalidTargetException):
        elb.register_targets(TargetGroupArn=ip, Targets=[{"Id": "not-an-ip"}])


def test_targets_and_health(elb: Any, name: str) -> None:
    tg = create_tg(elb, name, TargetType="ip")["TargetGroupArn"]
    elb.register_targets(
        TargetGroupArn=tg, Targets=[{"Id": "10.0.0.1"}, {"Id": "10.0.0.2", "Port": 8080}]
    )
    found = elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
    states = {(d["Target"]["Id"], d["Target"]["Port"]): d["TargetHealth"] for d in found}
    assert states[("10.0.0.1", 80)] == {
        "State": "unused",
        "Reason": "Target.NotInUse",
        "Description": "Target group is not configured to receive traffic from the load balancer",
    }
    lb = create_lb(elb, name)["LoadBalancerArn"]
    listener = elb.create_listener(
        LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=forward(tg)
    )["Listeners"][0]["ListenerArn"]
    found = elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
    # `initial` until the data plane's first health check result (nothing answers there:
    # a data plane that has checked already says `unhealthy`).
    initial = {"Elb.RegistrationInProgress", "Elb.InitialHealthChecking"}
    unhealthy = {"Target.Timeout", "Target.FailedHealthChecks", "Target.ResponseCodeMismatch"}
    for description in found:
        health = description["TargetHealth"]
        assert health["Reason"] in (initial if health["State"] == "initial" else unhealthy)
    assert {d["HealthCheckPort"] for d in found} == {"80", "8080"}
    asked = elb.describe_target_health(TargetGroupArn=tg, Targets=[{"Id": "10.0.0.9"}])
    (unknown,) = asked["TargetHealthDescriptions"]
    assert unknown["TargetHealth"]["State"] == "unused"
    assert unknown["TargetHealth"]["Reason"] == "Target.NotRegistered"
    elb.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": "10.0.0.1"}])
    draining = elb.describe_target_health(TargetGroupArn=tg, Targets=[{"Id": "10.0.0.1"}])
    assert draining["TargetHealthDescriptions"][0]["TargetHealth"] == {
        "State": "draining",
        "Reason": "Target.DeregistrationInProgress",
        "Description": "Target deregistration is in progress",
    }
    with pytest.raises(elb.exceptions.InvalidTargetException):
        elb.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": "10.0.0.7"}])
    with pytest.raises(elb.exceptions.ResourceInUseException) as caught:
        elb.delete_target_group(TargetGroupArn=tg)
    assert _error(caught) == (
        "ResourceInUse",
        f"Target group '{tg}' is currently in use by a listener or a rule",
    )
    (shown,) = elb.describe_target_groups(TargetGroupArns=[tg])["TargetGroups"]
    assert shown["LoadBalancerArns"] == [lb]
    by_lb = elb.describe_target_groups(LoadBalancerArn=lb)["TargetGroups"]
    assert [g["TargetGroupArn"] for g in by_lb] == [tg]
    elb.delete_listener(ListenerArn=listener)
    elb.delete_target_group(TargetGroupArn=tg)
    with pytest.raises(elb.exceptions.TargetGroupNotFoundException):
        elb.describe_target_health(TargetGroupArn=tg)


def test_listeners(elb: Any, acm: Any, name: str) -> None:
    lb = create_lb(elb, name)["LoadBalancerArn"]
    tg = create_tg(elb, name)["TargetGroupArn"]
    listener = elb.create_listener(
        LoadBalancerArn=lb,
        Protocol="HTTP",
        Port=8080,
        DefaultActions=forward(tg),
        Tags=[{"Key": "k", "Value": "v"}],
    )["Listeners"][0]
    assert listener["DefaultActions"] == [
        {
            "Type": "forward",
            "TargetGroupArn": tg,
            "Order": 1,
            "ForwardConfig": {
                "TargetGroups": [{"TargetGroupArn": tg, "Weight": 1}],
                "TargetGroupStickinessConfig": {"Enabled": False},
            },
        }
    ]
    arn = listener["ListenerArn"]
    assert arn.startswith(lb.replace(":loadbalancer/", ":listener/") + "/")
    again = elb.create_listener(
        LoadBalancerArn=lb, Protocol="HTTP", Port=8080, DefaultActions=forward(tg)
    )["Listeners"][0]
    assert again["ListenerArn"] == arn  # the same listener asked for again
    with pytest.raises(elb.exceptions.DuplicateListenerException) as dup:
        elb.create_listener(
            LoadBalancerArn=lb,
            Protocol="HTTP",
            Port=8080,
            DefaultActions=[
                {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}
            ],
        )
    assert _error(dup) == (
        "DuplicateListener",
        f"A listener already exists on this port for this load balancer '{lb}'",
    )
    other = elb.create_listener(
        LoadBalancerArn=lb, Protocol="HTTP", Port=8090, DefaultActions=forward(tg)
    )["Listeners"][0]["ListenerArn"]
    with pytest.raises(elb.exceptions.ClientError) as taken:
        elb.modify_listener(ListenerArn=other, Port=8080)
    assert _error(taken) == ("ValidationError", "Listener port '8080' is already in use")
    elb.delete_listener(ListenerArn=other)
    modified = elb.modify_listener(
        ListenerArn=arn,
        Port=8081,
        DefaultActions=[
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {
                    "StatusCode": "503",
                    "ContentType": "text/plain",
                    "MessageBody": "down",
                },
            }
        ],
    )["Listeners"][0]
    assert modified["Port"] == 8081
    assert modified["DefaultActions"][0]["FixedResponseConfig"]["StatusCode"] == "503"
    (described,) = elb.describe_listeners(LoadBalancerArn=lb)["Listeners"]
    assert described["ListenerArn"] == arn and described["Port"] == 8081
    assert elb.describe_listeners(ListenerArns=[arn])["Listeners"][0]["Protocol"] == "HTTP"
    attrs = elb.describe_listener_attributes(ListenerArn=arn)["Attributes"]
    assert attrs == [{"Key": "routing.http.response.server.enabled", "Value": "true"}]
    # HTTPS with an imported certificate
    cert, key = self_signed()
    cert_arn = acm.import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]
    https = elb.create_listener(
        LoadBalancerArn=lb,
        Protocol="HTTPS",
        Port=8443,
        Certificates=[{"CertificateArn": cert_arn}],
        DefaultActions=[
            {
                "Type": "redirect",
                "RedirectConfig": {"Protocol": "HTTP", "Port": "8081", "StatusCode": "HTTP_302"},
            }
        ],
    )["Listeners"][0]
    assert https["SslPolicy"] == "ELBSecurityPolicy-2016-08"
    assert https["DefaultActions"][0]["RedirectConfig"] == {
        "Protocol": "HTTP",
        "Port": "8081",
        "Host": "#{host}",
        "Path": "/#{path}",
        "Query": "#{query}",
        "StatusCode": "HTTP_302",
    }
    certs = elb.describe_listener_certificates(ListenerArn=https["ListenerArn"])["Certificates"]
    assert certs == [{"CertificateArn": cert_arn, "IsDefault": True}]
    assert acm.describe_certificate(CertificateArn=cert_arn)["Certificate"]["InUseBy"] == [lb]
    with pytest.raises(acm.exceptions.ResourceInUseException):
        acm.delete_certificate(CertificateArn=cert_arn)
    with pytest.raises(elb.exceptions.CertificateNotFoundException):
        elb.create_listener(
            LoadBalancerArn=lb,
            Protocol="HTTPS",
            Port=9443,
            Certificates=[{"CertificateArn": cert_arn[:-4] + "ffff"}],
            DefaultActions=forward(tg),
        )
    with pytest.raises(elb.exceptions.ClientError) as no_cert:
        elb.create_listener(
            LoadBalancerArn=lb, Protocol="HTTPS", Port=9443, DefaultActions=forward(tg)
        )
    assert _error(no_cert)[0] == "ValidationError"
    with pytest.raises(elb.exceptions.UnsupportedProtocolException):
        elb.create_listener(
            LoadBalancerArn=lb, Protocol="TCP", Port=9000, DefaultActions=forward(tg)
        )
    policies = elb.describe_ssl_policies(Names=["ELBSecurityPolicy-2016-08"])["SslPolicies"]
    assert policies[0]["SslProtocols"] == ["TLSv1", "TLSv1.1", "TLSv1.2"]
    elb.delete_listener(ListenerArn=https["ListenerArn"])
    acm.delete_certificate(CertificateArn=cert_arn)
    elb.delete_listener(ListenerArn=arn)
    with pytest.raises(elb.exceptions.ListenerNotFoundException):
        elb.describe_listeners(ListenerArns=[arn])
    with pytest.raises(elb.exceptions.ListenerNotFoundException):
        elb.delete_listener(ListenerArn=arn)


def test_network_listener_and_group_rules(elb: Any, name: str) -> None:
    lb = create_lb(elb, name, Type="network")["LoadBalancerArn"]
    tcp = create_tg(elb, name, Protocol="TCP", Port=6379)["TargetGroupArn"]
    http = create_tg(elb, name + "-h")["TargetGroupArn"]
    listener = elb.create_listener(
        LoadBalancerArn=lb, Protocol="TCP", Port=6379, DefaultActions=forward(tcp)
    )
    assert listener["Listeners"][0]["Protocol"] == "TCP"
    with pytest.raises(elb.exceptions.IncompatibleProtocolsException):
        elb.create_listener(
            LoadBalancerArn=lb, Protocol="TCP", Port=6380, DefaultActions=forward(http)
        )
    other = create_lb(elb, name + "-2", Type="network")["LoadBalancerArn"]
    with pytest.raises(elb.exceptions.TargetGroupAssociationLimitException):
        elb.create_listener(
            LoadBalancerArn=other, Protocol="TCP", Port=6379, DefaultActions=forward(tcp)
        )
    elb.delete_load_balancer(LoadBalancerArn=lb)  # its listener goes with it
    elb.delete_target_group(TargetGroupArn=tcp)


def test_rules(elb: Any, name: str) -> None:
    lb = create_lb(elb, name)["LoadBalancerArn"]
    web = create_tg(elb, name + "-web")["TargetGroupArn"]
    api = create_tg(elb, name + "-api")["TargetGroupArn"]
    listener = elb.create_listener(
        LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=forward(web)
    )["Listeners"][0]["ListenerArn"]
    rule = elb.create_rule(
        ListenerArn=listener,
        Priority=10,
        Conditions=[
            {"Field": "path-pattern", "Values": ["/api/*"]},
            {"Field": "host-header", "HostHeaderConfig": {"Values": ["api.example.test"]}},
            {
                "Field": "http-header",
                "HttpHeaderConfig": {"HttpHeaderName": "X-Env", "Values": ["prod"]},
            },
        ],
        Actions=[
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": api, "Weight": 80},
                        {"TargetGroupArn": web, "Weight": 20},
                    ],
                    "TargetGroupStickinessConfig": {"Enabled": True, "DurationSeconds": 60},
                },
            }
        ],
        Tags=[{"Key": "r", "Value": "1"}],
    )["Rules"][0]
    assert rule["Priority"] == "10" and rule["IsDefault"] is False
    assert rule["Conditions"][0] == {
        "Field": "path-pattern",
        "Values": ["/api/*"],
        "PathPatternConfig": {"Values": ["/api/*"]},
    }
    assert "TargetGroupArn" not in rule["Actions"][0]
    second = elb.create_rule(
        ListenerArn=listener,
        Priority=5,
        Conditions=[
            {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["POST"]}},
            {
                "Field": "query-string",
                "QueryStringConfig": {"Values": [{"Key": "v", "Value": "2"}]},
            },
            {"Field": "source-ip", "SourceIpConfig": {"Values": ["10.0.0.0/8"]}},
        ],
        Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )["Rules"][0]
    rules = elb.describe_rules(ListenerArn=listener)["Rules"]
    assert [r["Priority"] for r in rules] == ["5", "10", "default"]
    default = rules[-1]
    assert default["IsDefault"] is True and default["Conditions"] == []
    assert default["Actions"][0]["TargetGroupArn"] == web
    with pytest.raises(elb.exceptions.PriorityInUseException) as caught:
        elb.create_rule(
            ListenerArn=listener,
            Priority=10,
            Conditions=[{"Field": "path-pattern", "Values": ["/x"]}],
            Actions=forward(web),
        )
    assert _error(caught) == ("PriorityInUse", "Priority '10' is currently in use")
    moved = elb.set_rule_priorities(
        RulePriorities=[
            {"RuleArn": rule["RuleArn"], "Priority": 1},
            {"RuleArn": second["RuleArn"], "Priority": 2},
        ]
    )["Rules"]
    assert [r["Priority"] for r in moved] == ["1", "2"]
    with pytest.raises(elb.exceptions.PriorityInUseException):
        elb.set_rule_priorities(RulePriorities=[{"RuleArn": rule["RuleArn"], "Priority": 2}])
    modified = elb.modify_rule(
        RuleArn=rule["RuleArn"],
        Conditions=[{"Field": "path-pattern", "Values": ["/v2/*"]}],
        Actions=forward(api),
    )["Rules"][0]
    assert modified["Conditions"][0]["Values"] == ["/v2/*"]
    assert modified["Actions"][0]["TargetGroupArn"] == api
    assert elb.describe_rules(RuleArns=[rule["RuleArn"]])["Rules"][0]["Priority"] == "1"
    tags = elb.describe_tags(ResourceArns=[rule["RuleArn"]])["TagDescriptions"][0]["Tags"]
    assert tags == [{"Key": "r", "Value": "1"}]
    with pytest.raises(elb.exceptions.OperationNotPermittedException):
        elb.delete_rule(RuleArn=default["RuleArn"])
    with pytest.raises(elb.exceptions.ClientError) as bad:
        elb.create_rule(
            ListenerArn=listener,
            Priority=30,
            Conditions=[{"Field": "cookie", "Values": ["x"]}],
            Actions=forward(web),
        )
    assert _error(bad)[0] == "ValidationError"
    with pytest.raises(elb.exceptions.TargetGroupNotFoundException):
        elb.create_rule(
            ListenerArn=listener,
            Priority=31,
            Conditions=[{"Field": "path-pattern", "Values": ["/y"]}],
            Actions=forward(api.replace(api[-16:], "0" * 16)),
        )
    elb.delete_rule(RuleArn=second["RuleArn"])
    with pytest.raises(elb.exceptions.RuleNotFoundException):
        elb.delete_rule(RuleArn=second["RuleArn"])
    with pytest.raises(elb.exceptions.RuleNotFoundException):
        elb.describe_rules(RuleArns=[second["RuleArn"]])
    # The group a rule forwards to is in use while the rule stands.
    with pytest.raises(elb.exceptions.ResourceInUseException):
        elb.delete_target_group(TargetGroupArn=api)
