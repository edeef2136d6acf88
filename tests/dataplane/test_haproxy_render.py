"""haproxy.cfg from a ProxySpec: the text, ELB's semantics in it, and HAProxy accepting it."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portside.dataplane.haproxy.backends import server_args
from portside.dataplane.haproxy.conditions import acl, wildcard
from portside.dataplane.haproxy.layout import Layout, proxy_threads
from portside.dataplane.haproxy.names import backend_name, quote, server_name
from portside.dataplane.haproxy.redirects import redirect_lines
from portside.dataplane.haproxy.render import Runtime, render
from portside.dataplane.haproxy.spec import (
    Backend,
    FixedResponse,
    Forward,
    Frontend,
    HealthCheck,
    HostHeader,
    HttpHeader,
    Method,
    PathPattern,
    ProxySpec,
    QueryString,
    Redirect,
    Rule,
    Server,
    SourceIp,
)

RUNTIME = Runtime(admin_socket="/run/ps/admin.sock", state_file="/run/ps/servers.state")
TG_A = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/a/0123456789abcdef"
TG_B = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/b/0123456789abcdef"
TG_C = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/c/0123456789abcdef"

SPEC = ProxySpec(
    frontends=(
        Frontend(
            "listener/app/web/1/2",
            "127.0.0.1",
            8080,
            "http",
            Forward(((TG_A, 1),)),
            idle_timeout=30,
            rules=(
                Rule(10, (PathPattern(("/api/*", "/v?/x")),), Forward(((TG_A, 3), (TG_B, 1)), 60)),
                Rule(
                    5,
                    (HttpHeader("X-Env", ("prod*",)), Method(("GET", "POST"))),
                    Redirect(protocol="HTTPS", port="443"),
                ),
                Rule(
                    20,
                    (QueryString(((None, "x"), ("k", "v*"))), SourceIp(("10.1.2.3/8",))),
                    FixedResponse(503, "text/plain", "it's\n$down 100%"),
                ),
                Rule(30, (HostHeader(("*.example.com",)),), Forward(((TG_B, 1),))),
            ),
        ),
        Frontend("listener/net/db/1/2", "127.0.0.1", 5432, "tcp", Forward(((TG_C, 1),))),
    ),
    backends=(
        Backend(
            TG_A,
            "http",
            health=HealthCheck(path="/health", matcher="200-299,302", interval=10, timeout=2.5),
            slow_start=30,
            stickiness=3600,
            servers=(Server("10.0.0.1:80", "10.0.0.1", 80, 2), Server("i-1:80", "::1", 80)),
        ),
        Backend(TG_B, "http", servers=(Server("b", "10.0.0.2", 80),)),
        Backend(
            TG_C,
            "tcp",
            "leastconn",
            health=HealthCheck(protocol="TCP", port=9000, healthy_threshold=3),
            servers=(Server("db", "10.0.0.9", 5432, draining=True),),
        ),
    ),
)


def section(text: str, header: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index(header)
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].strip()), len(lines))
    return [ln.strip() for ln in lines[start + 1 : end]]


def test_global_has_master_worker_and_the_admin_socket() -> None:
    text = render(SPEC, RUNTIME)
    glob = section(text, "global")
    assert "master-worker" in glob
    assert "stats socket '/run/ps/admin.sock' mode 600 level admin expose-fd listeners" in glob
    assert "server-state-file '/run/ps/servers.state'" in glob
    assert "load-server-state-from-file global" in section(text, "defaults")


def test_threads_are_the_runtimes_or_haproxys_default() -> None:
    assert not [ln for ln in section(render(SPEC, RUNTIME), "global") if "nbthread" in ln]
    one = replace(RUNTIME, threads=1)
    assert "nbthread 1" in section(render(SPEC, one), "global")
    with pytest.raises(ValueError, match="below 1"):
        render(SPEC, replace(RUNTIME, threads=0))


def test_haproxy_takes_half_the_hosts_cores() -> None:
    assert [proxy_threads(n) for n in (1, 2, 3, 4, 16)] == [1, 1, 1, 2, 8]
    runtime = Layout(Path("/run/ps")).runtime()
    assert runtime.threads == proxy_threads(len(os.sched_getaffinity(0)))


def test_rules_are_tried_in_priority_order_then_the_default() -> None:
    text = render(SPEC, RUNTIME)
    lines = [ln for ln in text.splitlines() if "set-var(txn.ps_rule)" in ln]
    assert [re.search(r"str\((\w+)\)", ln).group(1) for ln in lines] == [  # type: ignore[union-attr]
        "r5",
        "r10",
        "r20",
        "r30",
        "default",
    ]
    assert all(" if !ps_matched" in ln for ln in lines)
    assert lines[0].endswith("if !ps_matched r5_c0 r5_c1")  # the conditions are ANDed


def test_backend_choice_comes_after_every_request_rule() -> None:
    fe = section(render(SPEC, RUNTIME), "frontend fe_listener_app_web_1_2_" + _digest(SPEC, 0))
    first_use = next(i for i, ln in enumerate(fe) if ln.startswith("use_backend"))
    assert all(ln.startswith("use_backend") for ln in fe[first_use:])


def _digest(spec: ProxySpec, i: int) -> str:
    from portside.dataplane.haproxy.names import frontend_name

    return frontend_name(spec.frontends[i].id).rsplit("_", 1)[1]


def test_weighted_forward_draws_once_and_splits_by_cumulative_weight() -> None:
    text = render(SPEC, RUNTIME)
    a, b = backend_name(TG_A), backend_name(TG_B)
    assert "http-request set-var(txn.ps_pick) rand(4) if is_r10" in text
    assert f"use_backend {a} if is_r10 {{ var(txn.ps_pick) -m int lt 3 }}" in text
    assert f"use_backend {b} if is_r10\n" in text
    # Group stickiness: the cookie names the backend, and is set on the way back.
    assert f"use_backend {a} if is_r10 {{ req.cook(AWSALBTG) -m str {a} }}" in text
    assert "http-response add-header Set-Cookie 'AWSALBTG=%[be_name]; Max-Age=60; Path=/'" in text


def test_zero_weights_are_left_out() -> None:
    spec = ProxySpec(
        frontends=(Frontend("l", "0.0.0.0", 80, "http", Forward(((TG_A, 0), (TG_B, 5)))),),
        backends=(Backend(TG_A, "http"), Backend(TG_B, "http")),
    )
    text = render(spec, RUNTIME)
    assert "rand(" not in text
    assert f"use_backend {backend_name(TG_B)} if is_default" in text
    assert f"use_backend {backend_name(TG_A)}" not in text


def test_fixed_response_is_quoted_exactly() -> None:
    text = render(SPEC, RUNTIME)
    expected = "http-request return status 503 content-type 'text/plain'"
    assert f'{expected} string "it\'s\\n\\$down 100%" if is_r20' in text


def test_tcp_frontend_forwards_without_rules() -> None:
    fe = section(render(SPEC, RUNTIME), "frontend fe_listener_net_db_1_2_" + _digest(SPEC, 1))
    assert fe[0] == "mode tcp"
    assert fe[-1] == f"use_backend {backend_name(TG_C)} if TRUE"


def test_backend_health_checks_and_servers() -> None:
    be = section(render(SPEC, RUNTIME), f"backend {backend_name(TG_A)}")
    assert "option httpchk" in be
    assert "http-check send meth GET uri '/health' ver HTTP/1.0 hdr User-Agent " in "\n".join(be)
    assert "http-check expect status 200-299,302" in be
    assert "timeout check 2500ms" in be
    assert "timeout server 30s" in be  # the frontends' idle timeout
    assert "dynamic-cookie-key" in "\n".join(be)
    assert any(
        ln.startswith("cookie AWSALB insert indirect nocache dynamic maxlife 3600s") for ln in be
    )
    assert (
        f"server {server_name('10.0.0.1:80')} 10.0.0.1:80 weight 2 check inter 10s fall 2 rise 5"
        " slowstart 30s"
    ) in be
    assert any(" ipv6@::1:80 " in ln for ln in be)


def test_tcp_health_check_on_its_own_port() -> None:
    be = section(render(SPEC, RUNTIME), f"backend {backend_name(TG_C)}")
    assert "option httpchk" not in be
    assert "balance leastconn" in be
    assert be[-1].endswith("weight 1 check inter 30s fall 2 rise 3 port 9000")


def test_tcp_frontend_without_a_forward_refuses_connections() -> None:
    spec = ProxySpec((Frontend("l", "127.0.0.1", 1, "tcp", FixedResponse(503)),))
    assert "    tcp-request content reject" in render(spec, RUNTIME).splitlines()


def test_https_health_check() -> None:
    backend = Backend("b", "http", health=HealthCheck(protocol="HTTPS"))
    assert "check-ssl verify none" in server_args(backend, Server("k", "10.0.0.1", 443))


def test_no_checks_no_check_keyword() -> None:
    backend = Backend("b", "http", health=HealthCheck(enabled=False))
    assert server_args(backend, Server("k", "10.0.0.1", 80, 3)) == "weight 3"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            ProxySpec((Frontend("l", "h", 1, "http", Forward((("nope", 1),))),), ()),
            "lacks",
        ),
        (
            ProxySpec(
                (
                    Frontend(
                        "l",
                        "h",
                        1,
                        "tcp",
                        Forward((("b", 1),)),
                        rules=(Rule(1, (PathPattern(("/",)),), Forward((("b", 1),))),),
                    ),
                ),
                (Backend("b", "tcp"),),
            ),
            "no rules",
        ),
        (
            ProxySpec((), (Backend("b", "http", health=HealthCheck(matcher="2xx")),)),
            "matcher",
        ),
        (
            ProxySpec(
                (Frontend("l", "h", 1, "http", Forward((("b", 1),))),), (Backend("b", "tcp"),)
            ),
            "tcp backend",
        ),
        (
            ProxySpec(
                (
                    Frontend("a", "h", 1, "http", FixedResponse(200)),
                    Frontend("b", "h", 1, "http", FixedResponse(200)),
                ),
                (),
            ),
            "same address",
        ),
    ],
)
def test_specs_haproxy_cannot_serve_are_refused(spec: ProxySpec, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render(spec, RUNTIME)


def test_haproxy_accepts_the_configuration(haproxy_binary: str, tmp_path: Path) -> None:
    runtime = Runtime(admin_socket=str(tmp_path / "admin.sock"))
    path = tmp_path / "haproxy.cfg"
    path.write_text(render(SPEC, runtime))
    result = subprocess.run(
        [haproxy_binary, "-c", "-f", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr


# Conditions and ELB's wildcards ---------------------------------------------------------

ELB_TEXT = st.text(
    alphabet=st.characters(
        whitelist_categories=("Lu", "Ll", "Nd"), whitelist_characters="_-.$/~\"'@:+&"
    ),
    max_size=30,
)


@given(ELB_TEXT)
def test_a_pattern_without_wildcards_matches_itself_only(text: str) -> None:
    regex = re.compile(f"^{wildcard(text)}$")
    assert regex.match(text)
    assert not regex.match(text + "x")


@pytest.mark.parametrize(
    ("pattern", "yes", "no"),
    [
        ("/api/*", ["/api/", "/api/a/b"], ["/api", "/API/x", "/x/api/"]),
        ("/v?/x", ["/v1/x", "/vv/x"], ["/v/x", "/v12/x"]),
        ("*.jpg", ["/a.jpg", ".jpg"], ["/ajpg", "/a.jpgx"]),
    ],
)
def test_path_wildcards(pattern: str, yes: list[str], no: list[str]) -> None:
    line = acl("c", PathPattern((pattern,)))
    regex = re.compile(line.split(" -m reg ")[1].strip("'"))
    assert all(regex.match(p) for p in yes)
    assert not any(regex.match(p) for p in no)


def test_host_header_ignores_port_and_case() -> None:
    line = acl("c", HostHeader(("*.example.com",)))
    assert "-i" in line.split()
    regex = re.compile(line.split(" -m reg ")[1].strip("'"), re.IGNORECASE)
    assert regex.match("www.Example.com:8080")
    assert not regex.match("example.com")


def test_query_string_pairs() -> None:
    line = acl("c", QueryString((("ver*", "v?"), (None, "on"))))
    patterns = [re.compile(p.strip("'"), re.IGNORECASE) for p in line.split(" -m reg ")[1].split()]
    assert any(p.search("a=1&version=v2") for p in patterns)
    assert any(p.search("flag=on") for p in patterns)
    assert not any(p.search("version=v22&flag=off") for p in patterns)


def test_method_and_source_ip() -> None:
    assert acl("c", Method(("GET", "PATCH"))) == "acl c method -m str GET PATCH"
    assert acl("c", SourceIp(("192.168.1.7/24",))) == "acl c src 192.168.1.0/24"
    with pytest.raises(ValueError):
        acl("c", Method(("GET POST",)))
    with pytest.raises(ValueError):
        acl("c", HttpHeader("bad name", ("x",)))


def test_redirect_defaults_keep_the_request() -> None:
    with_query, without = redirect_lines(Redirect(), "g")
    assert with_query.startswith(
        "http-request redirect location "
        "'%[ssl_fc,iif(https,http)]://%[req.hdr(host),field(1,:)]:%[dst_port]%[path]?%[query]'"
    )
    assert with_query.endswith("code 301 if g { query -m len gt 0 }")
    assert "?" not in without and without.endswith("code 301 if g")


def test_redirect_to_https_drops_the_default_port() -> None:
    (line,) = redirect_lines(
        Redirect(
            protocol="HTTPS",
            host="new.example",
            port="443",
            path="/x/#{path}",
            query="",
            status=302,
        ),
        "g",
    )
    assert line == (
        "http-request redirect location 'https://new.example/x/%[path,regsub(^/,)]' code 302 if g"
    )


def test_redirect_literals_escape_percent() -> None:
    (line,) = redirect_lines(Redirect(path="/100%", query="a=1&#{query}"), "g")
    assert "/100%%?a=1&%[query]" in line


# Names and quoting ----------------------------------------------------------------------


def test_names_are_stable_safe_and_distinct() -> None:
    assert backend_name("web") == "be_web"
    arn = backend_name(TG_A)
    assert arn == backend_name(TG_A)
    assert re.fullmatch(r"[A-Za-z0-9_.:-]+", arn) and len(arn) <= 60
    assert backend_name(TG_A) != backend_name(TG_B)
    assert server_name("a/b") != server_name("a_b")


def test_quote() -> None:
    assert quote("^/a$") == "'^/a$'"
    assert quote("it's") == '"it\'s"'
    assert quote("a\"b'$c\\") == '"a\\"b\'\\$c\\\\"'
