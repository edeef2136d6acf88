"""Parsing what HAProxy 2.6's runtime API answers (captured from a real process: see
captured/, made with healthy, 500-answering, timing-out, refusing, drained and just-added
servers, and `show proc` taken during a reload with a request still in flight), and the
health verdicts drawn from it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from portside.dataplane.haproxy.health import INITIAL, REGISTERING, UNCHECKED, target_health
from portside.dataplane.haproxy.parsing import (
    OP_RUNNING,
    OP_STOPPED,
    ServerState,
    parse_info,
    parse_proc,
    parse_servers_state,
    parse_stat,
)

CAPTURED = Path(__file__).parent / "captured"


def captured(name: str) -> str:
    return (CAPTURED / name).read_text()


def test_show_stat() -> None:
    rows = {(r.proxy, r.server): r for r in parse_stat(captured("show_stat.csv"))}
    assert set(rows) == {
        ("fe_l", "FRONTEND"),
        ("be_tg", "BACKEND"),
        *(("be_tg", s) for s in ("s_ok", "s_bad", "s_slow", "s_refused", "s_drained", "s_new")),
    }
    bad = rows[("be_tg", "s_bad")]
    assert (bad.status, bad.check_status, bad.check_code) == ("DOWN", "L7STS", 500)
    assert rows[("be_tg", "s_slow")].check_status == "L7TOUT"
    assert rows[("be_tg", "s_refused")].check_status == "L4CON"
    assert rows[("be_tg", "s_refused")].check_desc == "Layer4 connection problem"
    assert rows[("be_tg", "s_drained")].status == "DRAIN"
    assert rows[("be_tg", "s_new")].check_status == "INI"
    assert rows[("be_tg", "s_ok")].weight == 1
    assert rows[("be_tg", "s_ok")].address.startswith("127.0.0.1:")


def test_show_stat_strips_the_running_check_mark() -> None:
    text = "# pxname,svname,status,check_status,check_code\nb,s,DOWN,* L4CON,\n"
    (row,) = parse_stat(text)
    assert row.check_status == "L4CON" and row.check_code is None


def test_show_stat_refuses_other_text() -> None:
    with pytest.raises(ValueError):
        parse_stat("Unknown command.\n")


def test_show_servers_state() -> None:
    states = {s.server: s for s in parse_servers_state(captured("show_servers_state.txt"))}
    assert set(states) == {"s_ok", "s_bad", "s_slow", "s_refused", "s_drained", "s_new"}
    assert states["s_ok"].op_state == OP_RUNNING and not states["s_ok"].draining
    assert states["s_bad"].op_state == OP_STOPPED
    assert states["s_drained"].draining and not states["s_drained"].in_maintenance
    assert states["s_new"].initial_weight == 0 and states["s_new"].user_weight == 1
    assert all(s.backend == "be_tg" and s.address == "127.0.0.1" for s in states.values())


def test_show_servers_state_maintenance_bit() -> None:
    text = "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state "
    text += "srv_uweight srv_iweight srv_time_since_last_change srv_check_status "
    text += "srv_check_result srv_check_health\n3 b 2 s 10.0.0.1 0 1 1 1 0 1 0 0\n"
    (state,) = parse_servers_state(text)
    assert state.in_maintenance and state.port is None


def test_show_info() -> None:
    info = parse_info(captured("show_info.txt"))
    assert info["Name"] == "HAProxy"
    assert info["Version"].startswith("2.6")
    assert int(info["Pid"]) > 0


def test_show_proc_during_a_reload() -> None:
    procs = parse_proc(captured("show_proc.txt"))
    assert procs.master.kind == "master" and procs.master.reloads == 1
    assert procs.failed_reloads == 0
    assert [w.reloads for w in procs.workers] == [0]
    assert [w.reloads for w in procs.old_workers] == [1]


def test_show_proc_counts_failed_reloads() -> None:
    text = (
        "#<PID>          <type>          <reloads>       <uptime>        <version>\n"
        "100             master          3 [failed: 2]   0d00h02m07s     2.6.12\n"
        "# workers\n"
        "101             worker          1               0d00h00m00s     2.6.12\n"
        "# programs\n"
    )
    procs = parse_proc(text)
    assert procs.failed_reloads == 2 and procs.workers[0].pid == 101


HEALTH = {
    "s_ok": ("healthy", None),
    "s_drained": ("healthy", None),  # drain stops traffic, not checks: the caller says draining
    "s_bad": ("unhealthy", "Target.ResponseCodeMismatch"),
    "s_slow": ("unhealthy", "Target.Timeout"),
    "s_refused": ("unhealthy", "Target.FailedHealthChecks"),
    "s_new": ("unknown", "Elb.InitialHealthChecking"),
}


@pytest.mark.parametrize("server", sorted(HEALTH))
def test_health_from_captured_state(server: str) -> None:
    stats = {r.server: r for r in parse_stat(captured("show_stat.csv"))}
    states = {s.server: s for s in parse_servers_state(captured("show_servers_state.txt"))}
    health = target_health(states[server], stats[server], checks_enabled=True)
    assert (health.state, health.reason) == HEALTH[server]


def test_health_descriptions() -> None:
    stats = {r.server: r for r in parse_stat(captured("show_stat.csv"))}
    states = {s.server: s for s in parse_servers_state(captured("show_servers_state.txt"))}
    bad = target_health(states["s_bad"], stats["s_bad"], True)
    assert bad.description == "Health checks failed with these codes: [500]"
    assert target_health(states["s_slow"], stats["s_slow"], True).description == "Request timed out"


def test_health_without_the_server_or_checks() -> None:
    stats = {r.server: r for r in parse_stat(captured("show_stat.csv"))}
    states = {s.server: s for s in parse_servers_state(captured("show_servers_state.txt"))}
    assert target_health(None, None, True) == REGISTERING
    assert target_health(states["s_bad"], stats["s_bad"], False) == UNCHECKED
    maint = ServerState("be_tg", "s_x", "10.0.0.1", 80, OP_STOPPED, 1, 1, 1, 0, 0)
    assert target_health(maint, stats["s_bad"], True) == REGISTERING
    assert target_health(states["s_new"], stats["s_new"], True) == INITIAL


def test_a_server_up_before_its_first_check_is_initial() -> None:
    # Started or reloaded without saved state, HAProxy counts a server up until its first
    # check: ELB says initial, never healthy, until one passes.
    stats = {r.server: r for r in parse_stat(captured("show_stat.csv"))}
    unchecked = dataclasses.replace(stats["s_ok"], check_status="INI", status="UP 1/2")
    up = ServerState("be_tg", "s_ok", "10.0.0.1", 80, OP_RUNNING, 0, 1, 1, 0, 0)
    assert target_health(up, unchecked, True) == INITIAL
    assert target_health(up, stats["s_ok"], True).state == "healthy"


def test_a_running_check_keeps_the_last_finished_checks_http_code(tmp_path: Path) -> None:
    # While a check runs HAProxy shows the last status (L7STS) with its code already reset
    # to 0: the failure keeps naming the code the finished check saw (CI run 8603fb5).
    from dataclasses import replace

    from portside.dataplane.haproxy.parsing import StatRow
    from portside.dataplane.haproxy.process import HAProxy

    proxy = HAProxy(tmp_path)
    done = StatRow("be", "s", "DOWN", 1, "L7STS", 500, "Internal Server Error", 0, 0, 0, "")
    running = replace(done, check_code=0)
    assert proxy._with_last_code(("be", "s"), running) == running  # nothing seen yet
    assert proxy._with_last_code(("be", "s"), done) == done
    assert proxy._with_last_code(("be", "s"), running) == done


def test_sockets_of_a_deep_directory_go_where_haproxy_takes_them(tmp_path: Path) -> None:
    # HAProxy refuses socket paths past 97 characters (a CI run's pytest-1312 directory).
    from portside.dataplane.haproxy.layout import SOCKET_PATH_MAX, Layout

    shallow = Layout(tmp_path / "h")
    assert shallow.master_socket == tmp_path / "h" / "master.sock"
    deep = tmp_path / ("d" * 100) / "haproxy"
    layout = Layout(deep)
    assert len(str(layout.master_socket)) <= SOCKET_PATH_MAX
    assert len(str(layout.admin_socket)) <= SOCKET_PATH_MAX
    assert Layout(deep).master_socket == layout.master_socket  # the next server adopts it
    layout.ensure_directories()
    assert deep.is_dir() and layout.master_socket.parent.is_dir()
    layout.master_socket.parent.rmdir()
