"""The HAProxy data plane end to end: the real haproxy binary, upstreams on 127.0.0.1."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import ssl
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from certificates import self_signed
from haproxy_peers import EchoServer, Upstream, free_port, get, get_full, wait_for

from portside.dataplane.haproxy.process import DataPlaneError, HAProxy
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

pytestmark = pytest.mark.slow

FAST = HealthCheck(interval=0.2, timeout=0.5, healthy_threshold=2, unhealthy_threshold=2)
Make = Callable[[str], Upstream]


def web(port: int, *servers: Server, rules: tuple[Rule, ...] = (), **backend: object) -> ProxySpec:
    return ProxySpec(
        frontends=(
            Frontend(
                "listener/web", "127.0.0.1", port, "http", Forward((("tg/web", 1),)), rules=rules
            ),
        ),
        backends=(Backend("tg/web", "http", health=FAST, servers=servers, **backend),),  # type: ignore[arg-type]
    )


def name_of(body: str) -> str:
    return body.split()[0]


def all_healthy(proxy: HAProxy) -> bool:
    health = proxy.health()
    return bool(health) and all(h.state == "healthy" for h in health.values())


def test_three_backends_answer_in_turn(proxy: HAProxy, upstreams: Make) -> None:
    ups = [upstreams(n) for n in ("a", "b", "c")]
    port = free_port()
    assert proxy.apply(web(port, *(u.server() for u in ups))) == "started"
    wait_for(lambda: all_healthy(proxy), what="three healthy targets")
    names = [name_of(get(port)[1]) for _ in range(9)]
    assert Counter(names) == {"a": 3, "b": 3, "c": 3}
    assert all(names[i] != names[i + 1] for i in range(8)), names


def test_connections_to_targets_are_kept_alive(proxy: HAProxy, upstreams: Make) -> None:
    up = upstreams("a")
    port = free_port()
    proxy.apply(web(port, up.server()))
    wait_for(lambda: all_healthy(proxy), what="a healthy target")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for _ in range(10):
            conn.request("GET", "/")
            reply = conn.getresponse()
            reply.read()
            assert reply.status == 200
    finally:
        conn.close()
    # As ALB, one connection to the target carries a keep-alive client's requests (no
    # connection per request, which would cost a TCP handshake and close each).
    assert len(up.peers) == 10
    assert len(set(up.peers)) == 1, up.peers


def test_path_and_host_rules_route_to_two_backends(proxy: HAProxy, upstreams: Make) -> None:
    api, site, other = upstreams("api"), upstreams("site"), upstreams("other")
    port = free_port()
    spec = ProxySpec(
        frontends=(
            Frontend(
                "listener/web",
                "127.0.0.1",
                port,
                "http",
                Forward((("tg/site", 1),)),
                rules=(
                    Rule(20, (HostHeader(("*.other.example",)),), Forward((("tg/other", 1),))),
                    Rule(10, (PathPattern(("/api/*",)),), Forward((("tg/api", 1),))),
                    Rule(
                        30, (PathPattern(("/old/*",)),), Redirect(path="/new/#{path}", status=302)
                    ),
                    Rule(
                        40, (PathPattern(("/teapot",)),), FixedResponse(418, "text/plain", "short")
                    ),
                ),
            ),
        ),
        backends=tuple(
            Backend(f"tg/{u.name}", "http", health=FAST, servers=(u.server(),))
            for u in (api, site, other)
        ),
    )
    proxy.apply(spec)
    wait_for(lambda: all_healthy(proxy), what="healthy targets")
    assert name_of(get(port, "/api/users")[1]) == "api"
    assert name_of(get(port, "/API/users")[1]) == "site"  # paths are case-sensitive
    assert name_of(get(port, "/", {"Host": "www.OTHER.example:8080"})[1]) == "other"
    # Priority 10 (path) beats 20 (host).
    assert name_of(get(port, "/api/x", {"Host": "a.other.example"})[1]) == "api"
    assert name_of(get(port, "/index.html")[1]) == "site"
    assert get(port, "/teapot") == (418, "short")
    resp = get_full(port, "/old/page?q=1", {"Host": "example.com"})
    assert resp.status == 302
    assert resp.getheader("Location") == f"http://example.com:{port}/new/old/page?q=1"


def test_failing_target_goes_unhealthy_and_traffic_avoids_it(
    proxy: HAProxy, upstreams: Make
) -> None:
    good, bad = upstreams("good"), upstreams("bad")
    port = free_port()
    proxy.apply(web(port, good.server(), bad.server()))
    wait_for(lambda: all_healthy(proxy), what="healthy targets")
    bad.status = 500
    # fall (2) x interval (0.2 s), plus one check's round trip.
    limit = FAST.unhealthy_threshold * FAST.interval + 1.0
    health = wait_for(
        lambda: (h := proxy.health()[("tg/web", "bad")]).state == "unhealthy" and h,
        timeout=limit,
        what="bad unhealthy",
    )
    assert health.reason == "Target.ResponseCodeMismatch"
    assert health.description == "Health checks failed with these codes: [500]"
    assert proxy.health()[("tg/web", "good")].state == "healthy"
    assert {name_of(get(port)[1]) for _ in range(10)} == {"good"}


def test_health_reasons_for_refused_and_timed_out_checks(proxy: HAProxy, upstreams: Make) -> None:
    slow = upstreams("slow")
    slow.health_delay = 2.0  # beyond the check's 0.5 s timeout
    closed = free_port()  # nothing listens there
    port = free_port()
    spec = web(port, slow.server(), Server("closed", "127.0.0.1", closed))
    proxy.apply(spec)
    wait_for(
        lambda: {h.state for h in proxy.health().values()} == {"unhealthy"},
        what="both unhealthy",
    )
    health = proxy.health()
    assert health[("tg/web", "closed")].reason == "Target.FailedHealthChecks"
    assert health[("tg/web", "slow")].reason == "Target.Timeout"


def test_draining_target_finishes_in_flight_request(proxy: HAProxy, upstreams: Make) -> None:
    a, b = upstreams("a"), upstreams("b")
    for up in (a, b):
        up.slow_paths["/slow"] = 1.5
    port = free_port()
    spec = web(port, a.server(), b.server())
    proxy.apply(spec)
    wait_for(lambda: all_healthy(proxy), what="healthy targets")
    result: list[tuple[int, str]] = []
    slow = threading.Thread(target=lambda: result.append(get(port, "/slow")))
    slow.start()
    busy = wait_for(lambda: next((u for u in (a, b) if u.in_flight), None), what="in flight")
    other = b if busy is a else a
    drained = web(port, busy.server(draining=True), other.server())
    assert proxy.apply(drained) == "runtime"
    names = [name_of(get(port)[1]) for _ in range(6)]
    assert set(names) == {other.name}
    slow.join(timeout=10)
    assert result and result[0][0] == 200 and name_of(result[0][1]) == busy.name


def test_targets_added_and_removed_without_reload(proxy: HAProxy, upstreams: Make) -> None:
    a, b, c = upstreams("a"), upstreams("b"), upstreams("c")
    port = free_port()
    proxy.apply(web(port, a.server(), b.server(), stickiness=60.0))
    wait_for(lambda: all_healthy(proxy), what="healthy targets")
    before = proxy.master.show_proc()

    assert proxy.apply(web(port, a.server(), b.server(), c.server(), stickiness=60.0)) == "runtime"
    assert proxy.health()[("tg/web", "c")].state == "unknown"  # initial until `rise` checks
    wait_for(lambda: proxy.health()[("tg/web", "c")].state == "healthy", what="c healthy")
    wait_for(lambda: name_of(get(port)[1]) == "c", what="c serving")
    # The added server gets a stickiness cookie of its own (dynamic cookies).
    cookies = {get_full(port).getheader("Set-Cookie").split(";")[0] for _ in range(6)}
    assert len(cookies) == 3
    sticky = get_full(port)
    cookie = sticky.getheader("Set-Cookie").split(";")[0]
    first = name_of(get(port, "/", {"Cookie": cookie})[1])
    assert {name_of(get(port, "/", {"Cookie": cookie})[1]) for _ in range(5)} == {first}

    assert proxy.apply(web(port, b.server(), c.server(), stickiness=60.0)) == "runtime"
    assert {name_of(get(port)[1]) for _ in range(8)} == {"b", "c"}
    assert ("tg/web", "a") not in proxy.health()
    after = proxy.master.show_proc()
    assert after.master.reloads == before.master.reloads
    assert [w.pid for w in after.workers] == [w.pid for w in before.workers]
    states = proxy.api.show_servers_state()
    assert sorted(s.server for s in states) == ["s_b", "s_c"]


def test_new_rule_by_seamless_reload_drops_no_request(proxy: HAProxy, upstreams: Make) -> None:
    site, api = upstreams("site"), upstreams("api")
    port = free_port()
    spec = ProxySpec(
        frontends=(
            Frontend("listener/web", "127.0.0.1", port, "http", Forward((("tg/site", 1),))),
        ),
        backends=(
            Backend("tg/site", "http", health=FAST, servers=(site.server(),)),
            Backend("tg/api", "http", health=FAST, servers=(api.server(),)),
        ),
    )
    proxy.apply(spec)
    wait_for(lambda: all_healthy(proxy), what="healthy targets")
    stop = threading.Event()
    outcomes: Counter[str] = Counter()

    def client() -> None:
        while not stop.is_set():
            try:
                status, _ = get(port, "/api/x")
                outcomes["ok" if status == 200 else f"status {status}"] += 1
            except OSError as exc:
                outcomes[f"error {exc!r}"] += 1

    def keep_alive_client() -> None:
        # One connection reused until HAProxy says `Connection: close` (an old worker does).
        conn: http.client.HTTPConnection | None = None
        while not stop.is_set():
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("GET", "/api/x")
                resp = conn.getresponse()
                resp.read()
                outcomes["ok" if resp.status == 200 else f"status {resp.status}"] += 1
                if resp.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as exc:
                outcomes[f"keep-alive error {exc!r}"] += 1
                conn = None
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=client) for _ in range(3)]
    threads.append(threading.Thread(target=keep_alive_client))
    for t in threads:
        t.start()
    try:
        wait_for(lambda: outcomes["ok"] > 50, what="traffic before the reload")
        for _ in range(3):
            rule = Rule(10, (PathPattern(("/api/*",)),), Forward((("tg/api", 1),)))
            frontend = replace(spec.frontends[0], rules=(rule,))
            assert proxy.apply(replace(spec, frontends=(frontend,))) == "reloaded"
            wait_for(lambda: name_of(get(port, "/api/x")[1]) == "api", what="the new rule")
            assert proxy.apply(spec) == "reloaded"
            wait_for(lambda: name_of(get(port, "/api/x")[1]) == "site", what="the rule gone")
        count = outcomes["ok"]
        wait_for(lambda: outcomes["ok"] > count + 50, what="traffic after the reloads")
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert set(outcomes) == {"ok"}, outcomes
    assert proxy.master.show_proc().master.reloads >= 6


def test_weighted_forward_across_backends(proxy: HAProxy, upstreams: Make) -> None:
    blue, green = upstreams("blue"), upstreams("green")
    port = free_port()

    def spec(blue_weight: int, green_weight: int) -> ProxySpec:
        groups = (("tg/blue", blue_weight), ("tg/green", green_weight))
        return ProxySpec(
            frontends=(Frontend("l", "127.0.0.1", port, "http", Forward(groups)),),
            backends=(
                Backend("tg/blue", "http", health=FAST, servers=(blue.server(),)),
                Backend("tg/green", "http", health=FAST, servers=(green.server(),)),
            ),
        )

    proxy.apply(spec(1, 0))
    assert {name_of(get(port)[1]) for _ in range(10)} == {"blue"}
    proxy.apply(spec(1, 1))
    seen = Counter(name_of(get(port)[1]) for _ in range(60))
    assert seen["blue"] > 10 and seen["green"] > 10, seen


def test_tcp_listener_passes_bytes(proxy: HAProxy, echo: EchoServer) -> None:
    port = free_port()
    check = HealthCheck(protocol="TCP", interval=0.2, timeout=0.5)
    spec = ProxySpec(
        frontends=(Frontend("listener/nlb", "127.0.0.1", port, "tcp", Forward((("tg/echo", 1),))),),
        backends=(
            Backend("tg/echo", "tcp", health=check, servers=(Server("e", "127.0.0.1", echo.port),)),
        ),
    )
    proxy.apply(spec)
    wait_for(lambda: all_healthy(proxy), what="echo healthy")
    payload = bytes(range(256)) * 64
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert received == payload


def test_killed_haproxy_is_restarted(proxy: HAProxy, upstreams: Make) -> None:
    a = upstreams("a")
    port = free_port()
    proxy.apply(web(port, a.server()))
    assert get(port)[0] == 200
    first = proxy.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: proxy.restarts >= 1, what="a restart")
    wait_for(lambda: _serves(port), what="serving again")
    assert proxy.pid not in (None, first)
    # A killed worker takes its master down with it: restarted again.
    worker = proxy.master.show_proc().workers[0].pid
    os.kill(worker, signal.SIGKILL)
    wait_for(lambda: proxy.restarts >= 2, what="a second restart")
    wait_for(lambda: _serves(port), what="serving after the second restart")


def test_running_haproxy_is_adopted(haproxy_binary: str, tmp_path: Path, upstreams: Make) -> None:
    a = upstreams("a")
    port = free_port()
    directory = tmp_path / "hp"
    first = HAProxy(directory, binary=haproxy_binary, poll=0.05)
    second = HAProxy(directory, binary=haproxy_binary, poll=0.05)
    try:
        first.apply(web(port, a.server()))
        pid = first.pid
        first.detach()  # Portside goes away; HAProxy keeps serving
        assert get(port)[0] == 200
        assert second.bound() == {("127.0.0.1", port)}  # before it knows the spec
        assert second.apply(web(port, a.server())) == "reloaded"
        assert second.pid == pid
        assert get(port)[0] == 200
    finally:
        second.stop()
        first.stop()


def _serves(port: int) -> bool:
    try:
        return get(port)[0] == 200
    except OSError:
        return False


def test_conditions_match_as_elb_does(proxy: HAProxy) -> None:
    port = free_port()

    def answer(priority: int) -> FixedResponse:
        return FixedResponse(200, "text/plain", f"rule {priority}")

    rules = (
        Rule(1, (HttpHeader("X-Env", ("prod-*", "stage")),), answer(1)),
        Rule(2, (Method(("DELETE",)),), answer(2)),
        Rule(3, (QueryString((("ver", "v?"), (None, "debug"))),), answer(3)),
        Rule(4, (SourceIp(("192.0.2.0/24",)),), answer(4)),
        Rule(5, (PathPattern(("/a/*",)), HostHeader(("a.example",))), answer(5)),
    )
    spec = ProxySpec(
        frontends=(
            Frontend("l", "127.0.0.1", port, "http", FixedResponse(404, None, ""), rules=rules),
        )
    )
    proxy.apply(spec)

    def rule(path: str = "/", method: str = "GET", **headers: str) -> str:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request(method, path, headers={"Connection": "close", **headers})
            resp = conn.getresponse()
            body = resp.read().decode()
            return body if resp.status == 200 else str(resp.status)
        finally:
            conn.close()

    assert rule(**{"X-Env": "PROD-eu"}) == "rule 1"  # header values: case-insensitive
    assert rule(**{"X-Env": "stage"}) == "rule 1"
    assert rule(**{"X-Env": "staged"}) == "404"
    assert rule(method="DELETE") == "rule 2"
    assert rule(method="delete") == "404"
    assert rule("/?ver=v2") == "rule 3"
    assert rule("/?x=1&VER=V3") == "rule 3"
    assert rule("/?ver=v22") == "404"
    assert rule("/?anything=debug") == "rule 3"
    assert rule() == "404"  # 127.0.0.1 is not in 192.0.2.0/24
    assert rule("/a/b", Host="a.example") == "rule 5"  # both conditions
    assert rule("/a/b", Host="b.example") == "404"
    assert rule("/b", Host="a.example") == "404"


def test_https_listener_terminates_tls(proxy: HAProxy, upstreams: Make, tmp_path: Path) -> None:
    pem = tmp_path / "cert.pem"
    cert, key = self_signed("lb.example", days=1, ca=True)
    pem.write_bytes(cert + key)
    a = upstreams("a")
    port = free_port()
    spec = web(port, a.server())
    spec = replace(spec, frontends=(replace(spec.frontends[0], tls=str(pem)),))
    proxy.apply(spec)
    context = ssl.create_default_context(cafile=str(pem))
    context.check_hostname = False
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=context)
    try:
        conn.request("GET", "/", headers={"Connection": "close"})
        resp = conn.getresponse()
        assert resp.status == 200 and name_of(resp.read().decode()) == "a"
    finally:
        conn.close()


def test_failed_reload_keeps_the_previous_configuration(proxy: HAProxy, upstreams: Make) -> None:
    a = upstreams("a")
    port = free_port()
    spec = web(port, a.server())
    proxy.apply(spec)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        extra = Frontend("listener/other", "127.0.0.1", taken, "http", Forward((("tg/web", 1),)))
        with pytest.raises(DataPlaneError):
            proxy.apply(replace(spec, frontends=(*spec.frontends, extra)))
        assert get(port)[0] == 200
        assert proxy.spec == spec
        assert f":{taken}" not in proxy.layout.config.read_text()
    # The next apply works from there.
    assert proxy.apply(web(port, a.server(), rules=(_teapot(),))) == "reloaded"
    assert get(port, "/teapot")[0] == 418


def _teapot() -> Rule:
    return Rule(1, (PathPattern(("/teapot",)),), FixedResponse(418))
