"""On a store, without the edge: draining targets swept once their delay has passed, the
data plane's observations read by DescribeTargetHealth, and the view the data plane reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from certificates import self_signed

from portside.acm import api as acm
from portside.elb import listeners, load_balancers, rules, target_groups, targets, view
from portside.elb.records import HEALTH, TARGETS, target_key
from portside.errors import NamedError
from portside.ops.context import Op
from portside.testing.clock import FakeClock
from portside.testing.store import sqlite_store
from portside.testing.world import make_op, make_world


@pytest.fixture
def op(tmp_path: Path) -> Op:
    return make_op(make_world(sqlite_store(tmp_path)))


def _setup(op: Op, delay: str = "5") -> tuple[str, str, str]:
    lb = load_balancers.create(op, {"Name": "web", "Subnets": ["subnet-1"]})["LoadBalancers"][0]
    tg = target_groups.create(
        op, {"Name": "web", "Protocol": "HTTP", "Port": 80, "VpcId": "vpc-1", "TargetType": "ip"}
    )["TargetGroups"][0]["TargetGroupArn"]
    target_groups.modify_attributes(
        op,
        {
            "TargetGroupArn": tg,
            "Attributes": [{"Key": "deregistration_delay.timeout_seconds", "Value": delay}],
        },
    )
    forward = [{"Type": "forward", "TargetGroupArn": tg}]
    listener = listeners.create(
        op,
        {
            "LoadBalancerArn": lb["LoadBalancerArn"],
            "Protocol": "HTTP",
            "Port": 8080,
            "DefaultActions": forward,
        },
    )["Listeners"][0]["ListenerArn"]
    return lb["LoadBalancerArn"], tg, listener


def _health(op: Op, tg: str) -> dict[str, Any]:
    found = targets.describe_health(op, {"TargetGroupArn": tg})["TargetHealthDescriptions"]
    return {d["Target"]["Id"]: d["TargetHealth"] for d in found}


def test_draining_then_swept(op: Op) -> None:
    clock = op.world.clock
    assert isinstance(clock, FakeClock)
    _, tg, _ = _setup(op)
    targets.register(
        op, {"TargetGroupArn": tg, "Targets": [{"Id": "10.0.0.1"}, {"Id": "10.0.0.2"}]}
    )
    targets.deregister(op, {"TargetGroupArn": tg, "Targets": [{"Id": "10.0.0.1"}]})
    assert _health(op, tg)["10.0.0.1"]["State"] == "draining"
    clock.advance(4.9)
    assert targets.sweep(op.store, clock()) == 0
    clock.advance(0.1)
    assert targets.sweep(op.store, clock()) == 1
    assert set(_health(op, tg)) == {"10.0.0.2"}
    # Registered again while draining: registered, not draining.
    targets.deregister(op, {"TargetGroupArn": tg, "Targets": [{"Id": "10.0.0.2"}]})
    targets.register(op, {"TargetGroupArn": tg, "Targets": [{"Id": "10.0.0.2"}]})
    assert _health(op, tg)["10.0.0.2"]["State"] == "initial"


def test_observations_read_from_the_store(op: Op) -> None:
    clock = op.world.clock
    assert isinstance(clock, FakeClock)
    _, tg, _ = _setup(op)
    targets.register(
        op, {"TargetGroupArn": tg, "Targets": [{"Id": "10.0.0.1"}, {"Id": "10.0.0.2"}]}
    )
    clock.advance(30)
    assert _health(op, tg)["10.0.0.1"]["Reason"] == "Elb.InitialHealthChecking"
    with op.store.transaction() as tx:
        tx.put(HEALTH, target_key(tg, "10.0.0.1", 80), {"state": "healthy", "at": clock()})
        tx.put(
            HEALTH,
            target_key(tg, "10.0.0.2", 80),
            {
                "state": "unhealthy",
                "reason": "Target.ResponseCodeMismatch",
                "description": "Health checks failed with these codes: [500]",
                "at": clock(),
            },
        )
    found = _health(op, tg)
    assert found["10.0.0.1"] == {"State": "healthy"}
    assert found["10.0.0.2"] == {
        "State": "unhealthy",
        "Reason": "Target.ResponseCodeMismatch",
        "Description": "Health checks failed with these codes: [500]",
    }


def test_unused_group_deregisters_at_once(op: Op) -> None:
    tg = target_groups.create(
        op, {"Name": "lonely", "Protocol": "TCP", "Port": 22, "VpcId": "vpc-1"}
    )["TargetGroups"][0]["TargetGroupArn"]
    targets.register(op, {"TargetGroupArn": tg, "Targets": [{"Id": "i-1"}]})
    targets.deregister(op, {"TargetGroupArn": tg, "Targets": [{"Id": "i-1"}]})
    with op.store.read() as tx:
        assert list(tx.scan(TARGETS, prefix=tg)) == []


def test_view(op: Op) -> None:
    lb, tg, listener = _setup(op)
    api = target_groups.create(
        op, {"Name": "api", "Protocol": "HTTP", "Port": 8000, "VpcId": "vpc-1"}
    )["TargetGroups"][0]["TargetGroupArn"]
    rules.create(
        op,
        {
            "ListenerArn": listener,
            "Priority": 20,
            "Conditions": [{"Field": "host-header", "Values": ["api.test"]}],
            "Actions": [
                {
                    "Type": "forward",
                    "ForwardConfig": {
                        "TargetGroups": [
                            {"TargetGroupArn": api, "Weight": 3},
                            {"TargetGroupArn": tg},
                        ]
                    },
                }
            ],
        },
    )
    rules.create(
        op,
        {
            "ListenerArn": listener,
            "Priority": 10,
            "Conditions": [
                {"Field": "query-string", "QueryStringConfig": {"Values": [{"Value": "x"}]}}
            ],
            "Actions": [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "418"}}],
        },
    )
    targets.register(
        op,
        {"TargetGroupArn": tg, "Targets": [{"Id": "10.0.0.1", "Port": 8081}, {"Id": "10.0.0.2"}]},
    )
    targets.deregister(op, {"TargetGroupArn": tg, "Targets": [{"Id": "10.0.0.2"}]})
    cert, key = self_signed()
    cert_arn = acm.import_certificate(op, {"Certificate": cert, "PrivateKey": key})[
        "CertificateArn"
    ]
    listeners.create(
        op,
        {
            "LoadBalancerArn": lb,
            "Protocol": "HTTPS",
            "Port": 8443,
            "Certificates": [{"CertificateArn": cert_arn}],
            "DefaultActions": [
                {
                    "Type": "redirect",
                    "RedirectConfig": {"StatusCode": "HTTP_301", "Protocol": "HTTP"},
                }
            ],
        },
    )
    (found,) = view.load_balancer_config(op.store)
    assert found.arn == lb and found.type == "application"
    assert [(x.protocol, x.port) for x in found.listeners] == [("HTTP", 8080), ("HTTPS", 8443)]
    http, https = found.listeners
    assert [r.priority for r in http.rules] == [10, 20, None]
    assert http.rules[0].conditions[0].pairs == ((None, "x"),)
    assert http.rules[0].action.fixed == {"StatusCode": "418"}
    assert http.rules[1].conditions[0].values == ("api.test",)
    assert [(g.target_group_arn, g.weight) for g in http.rules[1].action.groups] == [
        (api, 3),
        (tg, 1),
    ]
    assert set(found.target_groups) == {tg, api}
    group = found.target_groups[tg]
    assert group.deregistration_delay == 5 and group.algorithm == "round_robin"
    assert group.health_check.path == "/" and group.health_check.matcher == "200"
    assert {(t.id, t.port, t.draining) for t in group.targets} == {
        ("10.0.0.1", 8081, False),
        ("10.0.0.2", 80, True),
    }
    assert https.certificates[0].certificate_pem == cert.decode()
    assert https.certificates[0].private_key_pem == key.decode()
    assert https.rules[0].action.redirect and https.rules[0].action.redirect["Host"] == "#{host}"


def test_too_many_targets_and_listeners(op: Op) -> None:
    lb, tg, _ = _setup(op)
    many = [{"Id": f"10.0.{i // 250}.{i % 250}"} for i in range(1001)]
    with pytest.raises(NamedError) as caught:
        targets.register(op, {"TargetGroupArn": tg, "Targets": many})
    assert caught.value.code == "TooManyTargets"
    with op.store.read() as tx:
        assert tx.count(TARGETS, prefix=tg) == 0  # refused whole
    fixed = [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}]
    for port in range(9000, 9049):
        listeners.create(
            op, {"LoadBalancerArn": lb, "Protocol": "HTTP", "Port": port, "DefaultActions": fixed}
        )
    with pytest.raises(NamedError) as too_many:
        listeners.create(
            op, {"LoadBalancerArn": lb, "Protocol": "HTTP", "Port": 9100, "DefaultActions": fixed}
        )
    assert too_many.value.code == "TooManyListeners"
