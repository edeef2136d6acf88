"""Service Connect's pure parts: ECS's checks of a configuration, the host's proxy spec,
the Cloud Map registration plan, the proxy's counts."""

from __future__ import annotations

from typing import Any

import pytest

from portside.agent.serviceconnect import proxy, stats
from portside.dataplane.haproxy.render import Runtime, render
from portside.dataplane.haproxy.spec import FixedResponse, Forward
from portside.errors import InvalidParameterException, NamedError
from portside.model.task_definition import TaskDefinition
from portside.serviceconnect import config, registrations
from portside.serviceconnect.protocol import ConnectView, Name

NS = "arn:aws:servicediscovery:us-east-1:000000000000:namespace/ns-abc"
NAMESPACES = {"shop": {"Arn": NS, "Name": "shop", "Id": "ns-abc"}}


def td(mode: str = "awsvpc") -> TaskDefinition:
    spec = {
        "networkMode": mode,
        "containerDefinitions": [
            {"name": "web", "portMappings": [{"name": "http", "containerPort": 8080}]}
        ],
    }
    return TaskDefinition(
        arn="arn:aws:ecs:us-east-1:000000000000:task-definition/web:1",
        family="web",
        revision=1,
        spec=spec,
        registered_at=0.0,
        registered_by="x",
    )


def check(
    given: dict[str, Any] | None,
    definition: TaskDefinition | None = None,
    default: str | None = None,
) -> Any:
    return config.check(given, definition or td(), default, NAMESPACES.get)


def test_a_configuration_is_checked_and_shown_with_its_namespace_arn() -> None:
    got = check(
        {
            "enabled": True,
            "namespace": "shop",
            "services": [
                {"portName": "http", "clientAliases": [{"port": 8080, "dnsName": "backend"}]}
            ],
        }
    )
    assert got is not None
    shown, namespace = got
    assert namespace["Arn"] == NS
    assert shown == {
        "enabled": True,
        "namespace": NS,
        "services": [
            {
                "portName": "http",
                "discoveryName": "http",
                "clientAliases": [{"port": 8080, "dnsName": "backend"}],
            }
        ],
    }
    # An alias without a dnsName is the discovery name in the namespace.
    shown, _ = check(
        {
            "enabled": True,
            "namespace": "shop",
            "services": [
                {"portName": "http", "discoveryName": "api", "clientAliases": [{"port": 80}]}
            ],
        }
    )
    assert shown["services"][0]["clientAliases"] == [{"port": 80, "dnsName": "api.shop"}]


def test_the_cluster_default_namespace_is_used_and_a_client_needs_no_services() -> None:
    shown, _ = check({"enabled": True}, default="shop")
    assert shown == {"enabled": True, "namespace": NS}
    assert check({"enabled": False}) is None
    assert check(None) is None


@pytest.mark.parametrize(
    ("given", "mode", "error", "words"),
    [
        ({"enabled": True, "namespace": "shop"}, "host", InvalidParameterException, "host"),
        ({"enabled": True}, "awsvpc", InvalidParameterException, "needs a namespace"),
        ({"enabled": True, "namespace": "nope"}, "awsvpc", NamedError, "wasn't found"),
        (
            {"enabled": True, "namespace": "shop", "services": [{"portName": "grpc"}]},
            "awsvpc",
            InvalidParameterException,
            "portName grpc",
        ),
        (
            {
                "enabled": True,
                "namespace": "shop",
                "services": [{"portName": "http", "clientAliases": [{"port": 0}]}],
            },
            "bridge",
            InvalidParameterException,
            "port between",
        ),
        (
            {
                "enabled": True,
                "namespace": "shop",
                "services": [{"portName": "http"}, {"portName": "http"}],
            },
            "awsvpc",
            InvalidParameterException,
            "used twice",
        ),
    ],
)
def test_ecs_refuses(given: dict[str, Any], mode: str, error: type[Exception], words: str) -> None:
    with pytest.raises(error) as refused:
        check(given, td(mode))
    assert words in str(refused.value)
    if error is NamedError:
        assert refused.value.code == "NamespaceNotFoundException"  # type: ignore[attr-defined]


def _view() -> ConnectView:
    backend = Name(
        NS,
        "backend",
        8080,
        "svc/backend#http",
        (("10.1.0.7", 8080, "t/b1"), ("10.1.0.8", 8080, "t/b2")),
    )
    api = Name(NS, "api", 8080, "svc/api#http", (("10.1.0.9", 9000, "t/a1"),))
    other = Name("other-ns", "db", 5432, "svc/db#pg", ())
    return ConnectView("v1", {"t/front": NS, "t/lone": "other-ns"}, (api, backend, other))


def test_a_client_gets_its_namespace_names_at_its_gateway() -> None:
    view = _view()
    assert proxy.hosts(view, "t/front", "10.1.0.1") == {"backend": "10.1.0.1", "api": "10.1.0.1"}
    assert proxy.hosts(view, "t/nobody", "10.1.0.1") == {}


def test_names_sharing_a_port_are_told_apart_by_host_and_the_spec_renders() -> None:
    spec, problems = proxy.spec_of(_view(), {"t/front": "10.1.0.1", "t/lone": "10.2.0.1"})
    assert problems == []
    fronts = {(f.bind_host, f.port): f for f in spec.frontends}
    shared = fronts[("10.1.0.1", 8080)]
    assert isinstance(shared.default, FixedResponse)
    assert [r.action for r in shared.rules] == [
        Forward((("svc/api#http", 1),)),
        Forward((("svc/backend#http", 1),)),
    ]
    alone = fronts[("10.2.0.1", 5432)]
    assert alone.default == Forward((("svc/db#pg", 1),))
    backend = spec.backend("svc/backend#http")
    assert backend is not None and [s.address for s in backend.servers] == ["10.1.0.7", "10.1.0.8"]
    assert backend.retry_on is not None and not backend.health.enabled
    text = render(spec, Runtime(admin_socket="/tmp/x.sock"))
    assert "retry-on conn-failure empty-response" in text
    assert "bind 10.1.0.1:8080" in text


def test_a_port_that_cannot_be_bound_is_left_out_and_said() -> None:
    spec, problems = proxy.spec_of(
        _view(), {"t/front": "10.1.0.1"}, bindable=lambda host, port: False
    )
    assert spec.frontends == () and spec.backends == ()
    assert problems == ["10.1.0.1:8080 cannot be bound (in use, or no such address)"]


def test_registrations_register_what_is_wanted_and_drop_the_rest() -> None:
    wanted = {("srv", "t1"): {"AWS_INSTANCE_IPV4": "10.0.0.1"}, ("srv", "t2"): {"A": "1"}}
    held = {("srv", "t2"): {"A": "1"}, ("srv", "t3"): {"A": "3"}}
    plan = registrations.plan(wanted, held)
    assert plan.register == {("srv", "t1"): {"AWS_INSTANCE_IPV4": "10.0.0.1"}}
    assert plan.deregister == [("srv", "t3")]


def test_the_proxy_counts_are_read_per_target() -> None:
    from portside.dataplane.haproxy.names import backend_name

    name = backend_name("svc/backend#http")
    text = (
        "# pxname,svname,stot,econ,eresp,wretr,wredis,hrsp_5xx,req_tot,\n"
        f"{name},s_1,5,0,0,0,0,0,,\n"
        f"{name},BACKEND,12,1,0,2,1,3,10,\n"
    )
    counts = stats.parse(text, ["svc/backend#http"])
    c = counts["svc/backend#http"]
    assert (c.requests, c.connection_errors, c.retries, c.redispatches, c.errors) == (
        10,
        1,
        2,
        1,
        4,
    )
    exposition = stats.prometheus_text(counts)
    assert (
        'portside_service_connect_requests_total{service="svc/backend",discovery_name="http"} 10'
        in exposition
    )


def test_cluster_defaults_name_an_existing_namespace_or_make_an_http_one(tmp_path: Any) -> None:
    from portside.servicediscovery import records as sd_records
    from portside.testing.store import sqlite_store
    from portside.testing.world import make_op, make_world

    store = sqlite_store(tmp_path)
    op = make_op(make_world(store))
    with store.transaction() as tx:
        made = config.cluster_defaults(op, tx, {"namespace": "shop"})
    assert made is not None
    with store.read() as tx:
        held = sd_records.namespace_by_name(tx, op.region, op.account, "shop")
        assert held is not None and held["Type"] == "HTTP"
        assert made == {"namespace": held["Arn"]}
        # The same name, or its ARN, names it again; nothing new is made.
        assert config.cluster_defaults(op, tx, {"namespace": "shop"}) == made
        assert config.cluster_defaults(op, tx, {"namespace": held["Arn"]}) == made
        assert config.cluster_defaults(op, tx, {"namespace": ""}) == {}
        assert config.cluster_defaults(op, tx, None) is None
        with pytest.raises(NamedError):
            config.cluster_defaults(op, tx, {"namespace": held["Arn"][:-2] + "zz"})
        with pytest.raises(InvalidParameterException):
            config.cluster_defaults(op, tx, {"namespace": "a/b"})
    store.close()
