"""`--advertise-url`: the URL a server tells agents, exec sessions and the other replicas to
reach it at, for a server listening on every address."""

from __future__ import annotations

from click.testing import CliRunner

from portside.cli.main import cli
from portside.config import ServerConfig


def test_the_advertised_url_is_the_endpoint() -> None:
    assert ServerConfig(host="0.0.0.0", port=4810).endpoint == "http://127.0.0.1:4810"
    given = ServerConfig(host="0.0.0.0", advertise_url="http://10.0.0.5:4810/")
    assert given.endpoint == "http://10.0.0.5:4810"


def test_a_url_without_scheme_or_host_is_refused_before_anything_starts() -> None:
    for bad in ("10.0.0.5:4810", "ftp://10.0.0.5", "http://", "http://h:1/?x=1"):
        out = CliRunner().invoke(cli, ["server", "--advertise-url", bad])
        assert out.exit_code == 2, (bad, out.output)
        assert "Invalid value for '--advertise-url'" in out.output
