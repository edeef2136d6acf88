"""ELB's resources as the proxy's spec (elb/proxy.py): pure."""

from __future__ import annotations

from portside.dataplane.haproxy import spec
from portside.elb import view
from portside.elb.addresses import own_address
from portside.elb.proxy import server_key, translate

TG = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/1"
TG2 = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/api/2"


def group(
    arn: str, *targets: view.Target, target_type: str = "instance", **attrs: str
) -> view.TargetGroup:
    return view.TargetGroup(
        arn=arn,
        name=arn.rsplit("/", 2)[1],
        protocol="HTTP",
        port=80,
        target_type=target_type,
        health_check=view.HealthCheck(
            True, "HTTP", "traffic-port", "/health", 5, 2, 3, 2, "200-299"
        ),
        attributes={"deregistration_delay.timeout_seconds": "300", **attrs},
        targets=targets,
    )


def target(tid: str, port: int, draining: bool = False) -> view.Target:
    return view.Target(tid, port, "us-east-1a", 1.0, draining, 9.0 if draining else None)


def forward(*groups: tuple[str, int]) -> view.Action:
    return view.Action("forward", groups=tuple(view.WeightedGroup(a, w) for a, w in groups))


def balancer(
    name: str, listeners: tuple[view.Listener, ...], groups: list[view.TargetGroup]
) -> view.LoadBalancer:
    return view.LoadBalancer(
        arn=f"arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/{name}/1",
        name=name,
        type="application",
        scheme="internet-facing",
        dns_name=f"{name}.elb",
        attributes={"idle_timeout.timeout_seconds": "30"},
        listeners=listeners,
        target_groups={g.arn: g for g in groups},
    )


def listener(port: int, *rules: view.Rule, protocol: str = "HTTP") -> view.Listener:
    return view.Listener(f"listener/{port}", protocol, port, rules)


def test_rules_targets_and_settings_become_the_spec() -> None:
    rules = (
        view.Rule("r1", 10, (view.Condition("path-pattern", ("/api/*",)),), forward((TG2, 1))),
        view.Rule(
            "r2",
            5,
            (
                view.Condition("host-header", ("*.example.com",)),
                view.Condition("http-header", ("a?c",), header_name="X-Env"),
                view.Condition("query-string", pairs=((None, "x"), ("k", "v"))),
            ),
            view.Action(
                "fixed-response",
                fixed={"StatusCode": "418", "ContentType": "text/plain", "MessageBody": "tea"},
            ),
        ),
        view.Rule("default", None, (), forward((TG, 3), (TG2, 1))),
    )
    web = group(
        TG,
        target("i-1", 32768),
        target("i-2", 32769, draining=True),
        **{
            "load_balancing.algorithm.type": "least_outstanding_requests",
            "slow_start.duration_seconds": "30",
            "stickiness.enabled": "true",
        },
    )
    api = group(TG2, target("10.0.0.5", 8080), target_type="ip")
    out = translate(
        [balancer("lb", (listener(8080, *rules),), [web, api])],
        bind_host="127.0.0.1",
        instance_address={"i-1": "127.0.0.1", "i-2": "127.0.0.1"}.get,
        cert_file=lambda c: "/x.pem",
    )
    assert out.problems == ()
    (front,) = out.spec.frontends
    assert (front.bind_host, front.port, front.mode, front.idle_timeout) == (
        "127.0.0.1",
        8080,
        "http",
        30.0,
    )
    assert front.default == spec.Forward(((TG, 3), (TG2, 1)))
    assert [r.priority for r in front.rules] == [10, 5]  # as the view orders them
    assert front.rules[0].conditions == (spec.PathPattern(("/api/*",)),)
    assert front.rules[1].conditions == (
        spec.HostHeader(("*.example.com",)),
        spec.HttpHeader("X-Env", ("a?c",)),
        spec.QueryString(((None, "x"), ("k", "v"))),
    )
    assert front.rules[1].action == spec.FixedResponse(418, "text/plain", "tea")
    backend = out.spec.backend(TG)
    assert backend is not None
    assert backend.algorithm == "leastconn" and backend.slow_start == 30.0
    assert backend.stickiness == 86400.0
    assert backend.health == spec.HealthCheck(
        True, "HTTP", "/health", None, 5.0, 2.0, 3, 2, "200-299"
    )
    assert [(s.address, s.port, s.draining) for s in backend.servers] == [
        ("127.0.0.1", 32768, False),
        ("127.0.0.1", 32769, True),
    ]
    ip = out.spec.backend(TG2)
    assert ip is not None and [(s.address, s.port) for s in ip.servers] == [("10.0.0.5", 8080)]
    assert out.servers[(TG2, "10.0.0.5", 8080)] == server_key(TG2, "10.0.0.5", 8080)


def test_an_unknown_instance_waits_and_a_taken_port_is_a_problem() -> None:
    default = view.Rule("d", None, (), forward((TG, 1)))
    first = balancer("a", (listener(80, default),), [group(TG, target("i-gone", 80))])
    second = balancer("b", (listener(80, default), listener(81, default, protocol="TCP")), [])
    out = translate(
        [second, first], bind_host="0.0.0.0", instance_address=lambda _: None, cert_file=str
    )
    assert [(f.port, f.mode) for f in out.spec.frontends] == [(80, "http"), (81, "tcp")]
    assert len(out.problems) == 1 and "port 80" in out.problems[0]
    backend = out.spec.backend(TG)
    assert backend is not None and backend.servers == ()


def test_redirect_keeps_what_is_not_given() -> None:
    redirect = view.Action(
        "redirect", redirect={"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_302"}
    )
    out = translate(
        [balancer("r", (listener(80, view.Rule("d", None, (), redirect)),), [])],
        bind_host="127.0.0.1",
        instance_address=lambda _: None,
        cert_file=str,
    )
    assert out.spec.frontends[0].default == spec.Redirect(
        "HTTPS", "#{host}", "443", "/#{path}", "#{query}", 302
    )


def test_on_loopback_each_load_balancer_also_listens_on_its_own_address() -> None:
    default = view.Rule("d", None, (), forward((TG, 1)))
    first = balancer("a", (listener(443, default),), [])
    second = balancer("b", (listener(443, default),), [])
    out = translate(
        [second, first], bind_host="127.0.0.1", instance_address=lambda _: None, cert_file=str
    )
    assert out.problems == ()
    one, two = out.spec.frontends
    # The first by ARN keeps 127.0.0.1:443; both have 443 on their own address.
    assert one.binds == (("127.0.0.1", 443), (own_address(first.arn), 443))
    assert two.binds == ((own_address(second.arn), 443),)
    assert own_address(first.arn) != own_address(second.arn)
    assert own_address(first.arn).startswith("127.") and not own_address(first.arn).startswith(
        "127.0."
    )
