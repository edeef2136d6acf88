"""From one spec to the next: reload, or the runtime changes that suffice."""

from __future__ import annotations

from dataclasses import replace

import pytest

from portside.dataplane.haproxy.changes import needs_reload, server_changes, state_lines_to_keep
from portside.dataplane.haproxy.spec import (
    Backend,
    Forward,
    Frontend,
    HealthCheck,
    PathPattern,
    ProxySpec,
    Rule,
    Server,
)

A = Server("a", "10.0.0.1", 80)
B = Server("b", "10.0.0.2", 80)


def spec(*servers: Server, health: HealthCheck | None = None) -> ProxySpec:
    return ProxySpec(
        frontends=(Frontend("l", "0.0.0.0", 80, "http", Forward((("tg", 1),))),),
        backends=(Backend("tg", "http", health=health or HealthCheck(), servers=servers),),
    )


def kinds(old: ProxySpec, new: ProxySpec) -> list[tuple[str, str]]:
    return [(c.kind, c.server.key) for c in server_changes(old, new)]


def test_targets_alone_need_no_reload() -> None:
    assert not needs_reload(spec(A), spec(A, B))
    assert kinds(spec(A), spec(A, B)) == [("add", "b")]
    assert kinds(spec(A, B), spec(B)) == [("remove", "a")]
    assert kinds(spec(A), spec(A)) == []


def test_weight_and_drain() -> None:
    assert kinds(spec(A), spec(replace(A, weight=5))) == [("weight", "a")]
    assert kinds(spec(A), spec(replace(A, draining=True))) == [("drain", "a")]
    assert kinds(spec(replace(A, draining=True)), spec(A)) == [("ready", "a")]


def test_a_moved_target_is_removed_before_it_is_added() -> None:
    moved = replace(A, port=8080)
    assert kinds(spec(A, B), spec(moved, B)) == [("remove", "a"), ("add", "a")]


def test_settings_rules_and_listeners_need_a_reload() -> None:
    assert needs_reload(spec(A), spec(A, health=HealthCheck(path="/health")))
    base = spec(A)
    rule = Rule(1, (PathPattern(("/x",)),), Forward((("tg", 1),)))
    with_rule = replace(base, frontends=(replace(base.frontends[0], rules=(rule,)),))
    assert needs_reload(base, with_rule)
    with pytest.raises(ValueError):
        server_changes(base, with_rule)


STATE = """1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
3 be_tg 1 s_a 10.0.0.1 2 8 1 1 5 15 3 4 6 0 0 0 - 80 - 0 0 - - 0
3 be_tg 2 s_b 10.0.0.2 0 0 1 1 5 17 2 0 6 0 0 0 - 80 - 0 0 - - 0
3 be_gone 1 s_c 10.0.0.3 2 0 1 1 5 15 3 4 6 0 0 0 - 80 - 0 0 - - 0
"""  # noqa: E501


def test_saved_state_keeps_only_servers_at_the_same_address() -> None:
    kept = state_lines_to_keep(STATE, spec(A, replace(B, port=81)))
    lines = kept.splitlines()
    assert lines[0] == "1" and lines[1].startswith("# be_id")
    assert [ln.split()[3] for ln in lines[2:]] == ["s_a"]
    assert state_lines_to_keep("", spec(A)) == "1\n"


def test_binds_of_a_rendered_configuration() -> None:
    from portside.dataplane.haproxy.layout import binds_of
    from portside.dataplane.haproxy.render import Runtime, render

    two = ProxySpec(
        frontends=(
            Frontend("a", "0.0.0.0", 80, "http", Forward((("tg", 1),))),
            Frontend("b", "::1", 8443, "http", Forward((("tg", 1),)), tls="/x.pem"),
        ),
        backends=(Backend("tg", "http"),),
    )
    text = render(two, Runtime(admin_socket="/a.sock"))
    assert binds_of(text) == {("0.0.0.0", 80), ("::1", 8443)}
