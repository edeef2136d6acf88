"""The registry's pure parts, without a server: token scopes and credentials, the signing
key, notifications, the port choice, the storage reader, tag mutability rules."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import orjson

from portside.ecr.immutability import is_immutable
from portside.registry.config import RegistrySettings, render
from portside.registry.events import Push, pushes
from portside.registry.keys import SigningKey, b64url, b64url_decode
from portside.registry.plane import choose_port
from portside.registry.storage import Storage
from portside.registry.tokens import Access, basic_credentials, parse_scopes


def test_scopes() -> None:
    assert parse_scopes(["repository:team/app:pull,push", "registry:catalog:*"]) == [
        Access("repository", "team/app", ("pull", "push")),
        Access("registry", "catalog", ("*",)),
    ]
    # Several in one parameter; a name with a host:port; malformed ones dropped.
    assert parse_scopes(["repository:a:pull repository:h:5000/b:push", "nonsense", "x::"]) == [
        Access("repository", "a", ("pull",)),
        Access("repository", "h:5000/b", ("push",)),
    ]


def test_basic_credentials() -> None:
    header = "Basic " + base64.b64encode(b"AWS:pass:with:colons").decode()
    assert basic_credentials(header) == ("AWS", "pass:with:colons")
    assert basic_credentials("Bearer abc") is None
    assert basic_credentials("Basic !!!") is None
    assert basic_credentials(None) is None


def test_key_signs_what_only_it_verifies(tmp_path: Path) -> None:
    key = SigningKey.load_or_create(tmp_path)
    assert (tmp_path / "token.key").stat().st_mode & 0o777 == 0o600
    assert SigningKey.load_or_create(tmp_path).key_id == key.key_id  # kept
    groups = key.key_id.split(":")
    assert len(groups) == 12 and all(len(g) == 4 for g in groups)  # libtrust's form
    token = key.sign({"sub": "x", "n": 1})
    header = orjson.loads(b64url_decode(token.split(".")[0]))
    assert header == {"typ": "JWT", "alg": "ES256", "kid": key.key_id}
    assert key.verify(token) == {"sub": "x", "n": 1}
    head, _, signature = token.split(".")
    forged = b64url(orjson.dumps({"sub": "y", "n": 1}))
    assert key.verify(f"{head}.{forged}.{signature}") is None
    assert SigningKey.generate().verify(token) is None
    assert key.verify("not.a.token") is None


def test_pushes_in_notifications() -> None:
    envelope = {
        "events": [
            {
                "action": "push",
                "target": {"repository": "a", "digest": "sha256:1", "tag": "v1", "mediaType": "m"},
            },
            {"action": "pull", "target": {"repository": "a", "digest": "sha256:1"}},
            {"action": "push", "target": {"repository": "a", "digest": "sha256:2"}},
            {"action": "push", "target": {}},
        ]
    }
    assert pushes(envelope) == [Push("a", "sha256:1", "v1", "m"), Push("a", "sha256:2", None, "")]
    assert pushes([]) == []


def test_config_names_the_token_server(tmp_path: Path) -> None:
    settings = RegistrySettings(
        "127.0.0.1:5000",
        tmp_path,
        "http://127.0.0.1:4810/t",
        tmp_path / "c.crt",
        "s",
        "http://127.0.0.1:4810/e",
        "n",
    )
    config = orjson.loads(render(settings))
    assert config["auth"]["token"]["realm"] == "http://127.0.0.1:4810/t"
    assert config["auth"]["token"]["rootcertbundle"] == str(tmp_path / "c.crt")
    assert config["storage"]["delete"] == {"enabled": True}
    assert config["http"]["addr"] == "127.0.0.1:5000"
    assert config["notifications"]["endpoints"][0]["headers"] == {"Authorization": ["Bearer n"]}


def test_port_is_chosen_once(tmp_path: Path) -> None:
    first = choose_port(tmp_path / "a", 0, 0)
    assert 0 < first < 65536
    assert choose_port(tmp_path / "a", 0, 0) == first  # kept for the image URIs
    assert choose_port(tmp_path / "b", 6123, 4810) == 6123
    assert choose_port(tmp_path / "b", 0, 4810) == 6123


def _link(path: Path, text: str, mtime: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (mtime, mtime))


def test_storage_reads_manifests_and_tags(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    base = storage.repositories / "team/app" / "_manifests"
    a, b = "a" * 64, "b" * 64
    _link(base / "revisions" / "sha256" / a / "link", f"sha256:{a}", 100.0)
    _link(base / "revisions" / "sha256" / b / "link", f"sha256:{b}", 200.0)
    (base / "revisions" / "sha256" / ("c" * 64)).mkdir()  # what a delete leaves
    _link(base / "tags" / "v1" / "current" / "link", f"sha256:{a}", 1.0)
    _link(base / "tags" / "v2" / "current" / "link", f"sha256:{a}", 1.0)
    _link(base / "tags" / "gone" / "current" / "link", "sha256:" + "d" * 64, 1.0)
    held = storage.images("team/app")
    assert set(held) == {f"sha256:{a}", f"sha256:{b}"}
    assert held[f"sha256:{a}"].tags == ("v1", "v2") and held[f"sha256:{a}"].pushed_at == 100.0
    assert held[f"sha256:{b}"].tags == ()
    assert storage.untag("team/app", "v2")
    assert not storage.untag("team/app", "v2")
    assert not storage.untag("team/app", "../x")
    assert storage.images("team/app")[f"sha256:{a}"].tags == ("v1",)
    storage.keep_pushed_at("team/app", f"sha256:{b}", 50.0)
    assert storage.images("team/app")[f"sha256:{b}"].pushed_at == 50.0
    assert storage.images("nothing") == {}


def test_tag_mutability_rules() -> None:
    filters = [{"filterType": "WILDCARD", "filter": "dev-*"}]
    assert not is_immutable({"imageTagMutability": "MUTABLE"}, "v1")
    assert is_immutable({"imageTagMutability": "IMMUTABLE"}, "v1")
    excluded = {
        "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
        "imageTagMutabilityExclusionFilters": filters,
    }
    assert is_immutable(excluded, "v1") and not is_immutable(excluded, "dev-7")
    included = {
        "imageTagMutability": "MUTABLE_WITH_EXCLUSION",
        "imageTagMutabilityExclusionFilters": filters,
    }
    assert not is_immutable(included, "v1") and is_immutable(included, "dev-7")
