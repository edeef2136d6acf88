"""Names, DNS names, defaults, and actions and conditions as ELB shows them (pure)."""

from __future__ import annotations

import pytest

from portside.elb import actions, defaults, names
from portside.elb.errors import ValidationError
from portside.errors import NamedError

LB = "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/web/0123456789abcdef"
TG = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/00000000000000aa"


def test_arns_nest() -> None:
    listener = names.listener_arn(LB, "1111111111111111")
    assert listener.endswith(":listener/app/web/0123456789abcdef/1111111111111111")
    rule = names.rule_arn(listener, "2222222222222222")
    assert rule.endswith(
        ":listener-rule/app/web/0123456789abcdef/1111111111111111/2222222222222222"
    )
    assert names.lb_of(listener) == LB and names.lb_of(rule) == LB
    assert names.listener_of(rule) == listener
    assert listener.startswith(names.listener_prefix(LB))
    assert rule.startswith(names.rule_prefix(listener))
    assert [names.kind(a) for a in (LB, TG, listener, rule, "x")] == [
        "loadbalancer",
        "targetgroup",
        "listener",
        "listener-rule",
        None,
    ]


def test_dns_names() -> None:
    alb = names.dns_name("web", "application", "internet-facing", "eu-west-1", "0123456789abcdef")
    assert alb == f"web-{int('0123456789abcdef', 16) % 10**10:010d}.eu-west-1.elb.portside.internal"
    nlb = names.dns_name("db", "network", "internal", "us-east-1", "00000000000000ff")
    assert nlb == "internal-db-00000000000000ff.us-east-1.elb.portside.internal"


@pytest.mark.parametrize("bad", ["", "-a", "a-", "a_b", "x" * 33, "internal-a"])
def test_bad_lb_names(bad: str) -> None:
    with pytest.raises(ValidationError):
        names.check_lb_name(bad)


def test_health_check_defaults() -> None:
    http = defaults.health_check("HTTP", "instance", {})
    assert http["Matcher"] == {"HttpCode": "200"} and http["HealthCheckTimeoutSeconds"] == 5
    tcp = defaults.health_check("TCP", "ip", {})
    assert "HealthCheckPath" not in tcp and tcp["HealthCheckTimeoutSeconds"] == 10
    tcp_http = defaults.health_check("TCP", "ip", {"HealthCheckProtocol": "HTTP"})
    assert (
        tcp_http["Matcher"] == {"HttpCode": "200-399"}
        and tcp_http["HealthCheckTimeoutSeconds"] == 6
    )
    with pytest.raises(ValidationError):
        defaults.health_check("HTTP", "ip", {"HealthCheckProtocol": "TCP"})
    with pytest.raises(ValidationError):
        defaults.health_check("HTTP", "ip", {"HealthCheckPath": "health"})


def test_attributes() -> None:
    tcp = defaults.tg_attributes("TCP", "instance")
    assert tcp["stickiness.type"] == "source_ip" and "slow_start.duration_seconds" not in tcp
    current = defaults.tg_attributes("HTTP", "ip")
    changed = defaults.apply_attributes(
        current, [{"Key": "slow_start.duration_seconds", "Value": "30"}], "Target group"
    )
    assert (
        changed["slow_start.duration_seconds"] == "30"
        and current["slow_start.duration_seconds"] == "0"
    )
    for bad in ("901", "x"):
        with pytest.raises(ValidationError):
            defaults.apply_attributes(
                current, [{"Key": "slow_start.duration_seconds", "Value": bad}], "Target group"
            )


def _lookup(arn: str) -> dict[str, str] | None:
    return {"Protocol": "HTTP"} if arn == TG else None


def test_forward_is_shown_both_ways() -> None:
    (single,) = actions.actions(
        [{"Type": "forward", "TargetGroupArn": TG}], _lookup, "application", LB, {}
    )
    assert single["TargetGroupArn"] == TG
    assert single["ForwardConfig"]["TargetGroups"] == [{"TargetGroupArn": TG, "Weight": 1}]
    config = {"TargetGroups": [{"TargetGroupArn": TG}]}
    (same,) = actions.actions(
        [{"Type": "forward", "ForwardConfig": config}], _lookup, "application", LB, {}
    )
    assert same == single


def test_forward_checks() -> None:
    with pytest.raises(NamedError) as missing:
        actions.actions(
            [{"Type": "forward", "TargetGroupArn": TG + "x"}], _lookup, "application", LB, {}
        )
    assert missing.value.code == "TargetGroupNotFound"
    with pytest.raises(NamedError) as elsewhere:
        actions.actions(
            [{"Type": "forward", "TargetGroupArn": TG}], _lookup, "application", LB, {TG: {"other"}}
        )
    assert elsewhere.value.code == "TargetGroupAssociationLimit"
    with pytest.raises(NamedError) as tcp:
        actions.actions([{"Type": "forward", "TargetGroupArn": TG}], _lookup, "network", LB, {})
    assert tcp.value.code == "IncompatibleProtocols"
    with pytest.raises(ValidationError):
        actions.actions([], _lookup, "application", LB, {})


def test_conditions() -> None:
    (path,) = actions.conditions(
        [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/a"]}}]
    )
    assert path == {
        "Field": "path-pattern",
        "Values": ["/a"],
        "PathPatternConfig": {"Values": ["/a"]},
    }
    (header,) = actions.conditions(
        [{"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X", "Values": ["1"]}}]
    )
    assert "Values" not in header
    with pytest.raises(ValidationError):
        actions.conditions([{"Field": "path-pattern", "Values": ["/" + str(i) for i in range(6)]}])
    with pytest.raises(ValidationError):
        actions.conditions([{"Field": "http-header", "HttpHeaderConfig": {"Values": ["1"]}}])
    with pytest.raises(ValidationError):
        actions.conditions([])
