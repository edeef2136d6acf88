"""`portside dns`'s text (pure) and where it finds the address."""

from __future__ import annotations

from pathlib import Path

from portside.cli.dns import address, instructions, resolved_drop_in


def test_the_drop_in_routes_portsides_domains_only() -> None:
    assert resolved_drop_in("127.0.0.1", 4853) == (
        "[Resolve]\nDNS=127.0.0.1:4853\n"
        "Domains=~ec2.internal ~compute.internal ~elb.portside.internal\n"
    )


def test_resolv_conf_needs_port_53() -> None:
    assert "start the server with `--dns-port 53`" in instructions("127.0.0.1", 4853)
    on_53 = instructions("172.17.0.1", 53)
    assert "`nameserver 172.17.0.1` as the first line" in on_53
    assert "dig @172.17.0.1 <privateDnsName>" in on_53


def test_the_address_is_the_one_the_server_wrote(tmp_path: Path) -> None:
    assert address(tmp_path) is None
    (tmp_path / "server.json").write_text('{"endpoint": "http://127.0.0.1:4810"}')
    assert address(tmp_path) is None  # a server from before DNS
    (tmp_path / "server.json").write_text('{"dns": "127.0.0.1:4853"}')
    assert address(tmp_path) == ("127.0.0.1", 4853)
