"""The agent's login to the control plane's ECR (agent/ecr_login.py) and the Docker driver's
use of it: which images it is for (the token's proxyEndpoint host:port, nothing else), how
long a token is kept (until an hour before expiresAt), a failed GetAuthorizationToken (the
pull goes on without it, asked again after a pause), repositoryCredentials winning, and a
refused pull tried once more with a fresh token. Then the call itself, signed for `ecr` by
the agent's client, against a real server."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from ecr.pushing import Pusher
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess

from portside.agent.client import ApiError, ControlPlaneClient
from portside.agent.docker.driver import DockerDriver
from portside.agent.driver import DriverError
from portside.agent.ecr_login import (
    RENEW_BEFORE,
    EcrLogin,
    TakesRegistryLogin,
    may_be_portsides,
    registry_of,
)
from portside.agent.simulated import SimulatedDriver
from portside.gateway.protocol import RegistryAuth
from portside.registry.process import find_binary

NOW = 1_700_000_000.0
LIFETIME = 12 * 3600.0
REGISTRY = "127.0.0.1:4811"
IMAGE = f"{REGISTRY}/web:v1"
CONTROL_PLANE = "http://portside.example.internal:4810"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


class Ecr:
    """GetAuthorizationToken as the control plane answers it: a new password per call."""

    def __init__(self, clock: Clock, endpoint: str = f"http://{REGISTRY}") -> None:
        self.clock = clock
        self.endpoint = endpoint
        self.calls = 0
        self.failure: Exception | None = None

    def password(self, n: int | None = None) -> str:
        return f"secret-{self.calls if n is None else n}"

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        if self.failure is not None:
            raise self.failure
        token = base64.b64encode(f"AWS:{self.password()}".encode()).decode()
        data = {
            "authorizationToken": token,
            "expiresAt": self.clock.now + LIFETIME,
            "proxyEndpoint": self.endpoint,
        }
        return {"authorizationData": [data]}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ecr(clock: Clock) -> Ecr:
    return Ecr(clock)


@pytest.fixture
def login(ecr: Ecr, clock: Clock) -> EcrLogin:
    return EcrLogin(ecr, CONTROL_PLANE, clock=clock)


@pytest.mark.parametrize(
    ("image", "registry"),
    [
        (IMAGE, REGISTRY),
        (f"{REGISTRY}/team/web@sha256:{'a' * 64}", REGISTRY),
        ("localhost:5000/web", "localhost:5000"),
        ("localhost/web", "localhost"),
        ("Registry.Example.com/app:1", "registry.example.com"),
        ("[::1]:5000/web:1", "[::1]:5000"),
        ("busybox", None),
        ("busybox:1.36", None),
        ("library/busybox", None),
        ("team/app:1", None),
        ("docker.io/library/busybox", "docker.io"),
    ],
)
def test_the_registry_an_image_names(image: str, registry: str | None) -> None:
    assert registry_of(image) == registry


def test_a_login_is_for_its_proxy_endpoint_only(login: EcrLogin, ecr: Ecr) -> None:
    assert login.auth_for(IMAGE) == {"username": "AWS", "password": ecr.password(1)}
    assert login.auth_for(f"{REGISTRY}/other/repo@sha256:{'b' * 64}") is not None
    # Another port, another name for the same host, Docker Hub, another registry: none.
    for image in ("127.0.0.1:4812/web:v1", "localhost:4811/web:v1", "busybox"):
        assert login.auth_for(image) is None, image
    assert ecr.calls == 1


@pytest.mark.parametrize(
    ("registry", "answer"),
    [
        ("127.0.0.1:4811", True),
        ("127.1.2.3:5000", True),
        ("[::1]:5000", True),
        ("localhost:4811", True),
        ("localhost", True),
        ("portside.example.internal:4811", True),
        ("PORTSIDE.example.internal", True),
        ("10.0.0.5:4811", False),
        ("docker.io", False),
        ("ghcr.io", False),
        ("[::2]:5000", False),
        ("portside.example.internal.evil.com:4811", False),
    ],
)
def test_which_registries_may_be_the_control_planes(registry: str, answer: bool) -> None:
    assert may_be_portsides(registry, CONTROL_PLANE) is answer


def test_images_of_other_registries_never_ask(login: EcrLogin, ecr: Ecr) -> None:
    for image in (
        "busybox",
        "nginx:1.25",
        "library/redis",
        "docker.io/library/busybox",
        "ghcr.io/team/app:1",
        "10.0.0.5:4811/web:v1",
    ):
        assert login.auth_for(image) is None
    assert ecr.calls == 0


def test_a_token_is_kept_until_an_hour_before_it_expires(
    login: EcrLogin, ecr: Ecr, clock: Clock
) -> None:
    first = login.auth_for(IMAGE)
    clock.now = NOW + LIFETIME - RENEW_BEFORE - 1
    assert login.auth_for(IMAGE) == first
    assert ecr.calls == 1
    clock.now = NOW + LIFETIME - RENEW_BEFORE
    assert login.auth_for(IMAGE) == {"username": "AWS", "password": ecr.password(2)}
    assert ecr.calls == 2


def test_fresh_asks_again(login: EcrLogin, ecr: Ecr) -> None:
    assert login.auth_for(IMAGE) == {"username": "AWS", "password": ecr.password(1)}
    assert login.auth_for(IMAGE, fresh=True) == {"username": "AWS", "password": ecr.password(2)}
    assert login.auth_for(IMAGE) == {"username": "AWS", "password": ecr.password(2)}
    assert ecr.calls == 2


def test_a_failed_call_gives_no_login_and_is_not_repeated_at_once(
    login: EcrLogin, ecr: Ecr, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    ecr.failure = ApiError(400, "AccessDeniedException", "not allowed")
    caplog.set_level(logging.WARNING, logger="portside.agent")
    assert login.auth_for(IMAGE) is None
    assert "AccessDeniedException" in caplog.text
    clock.now += 29
    assert login.auth_for(IMAGE) is None
    assert ecr.calls == 1
    ecr.failure = None
    clock.now += 1
    assert login.auth_for(IMAGE) == {"username": "AWS", "password": ecr.password(2)}
    assert ecr.calls == 2


@pytest.mark.parametrize(
    "answer",
    [
        {"authorizationData": []},
        {"authorizationData": [{"authorizationToken": "!!", "expiresAt": 1, "proxyEndpoint": ""}]},
        {"authorizationData": [{"authorizationToken": base64.b64encode(b"nocolon").decode()}]},
        {},
    ],
)
def test_an_answer_that_is_no_token_gives_no_login(answer: dict[str, Any], clock: Clock) -> None:
    assert EcrLogin(lambda: answer, CONTROL_PLANE, clock=clock).auth_for(IMAGE) is None


def test_the_password_is_not_logged(
    login: EcrLogin, ecr: Ecr, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    auth = login.auth_for(IMAGE)
    assert auth is not None
    assert auth["password"] not in caplog.text
    assert auth["password"] not in repr(login.__dict__)


# -- the Docker driver -------------------------------------------------------------------------

NOT_FOUND = "manifest for 127.0.0.1:4811/web:v1 not found: manifest unknown: manifest unknown"
UNAUTHORIZED = 'Head "http://127.0.0.1:4811/v2/web/manifests/v1": unauthorized: authentication'


class PullingEngine:
    """docker-py's APIClient as far as a pull goes: each pull answers the next of `answers`
    (None: the image came; a text: the daemon's error in the stream)."""

    def __init__(self, *answers: str | None) -> None:
        self.answers = list(answers)
        self.pulls: list[dict[str, str] | None] = []
        self.pulled: set[str] = set()

    def inspect_image(self, image: str) -> dict[str, Any]:
        import docker.errors

        if image not in self.pulled:
            raise docker.errors.ImageNotFound(f"No such image: {image}")
        return {"Id": "sha256:" + "c" * 64, "RepoDigests": [f"{image}@sha256:{'d' * 64}"]}

    def pull(self, image: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        self.pulls.append(kwargs["auth_config"])
        error = self.answers.pop(0)
        if error is not None:
            return iter([{"status": "Pulling"}, {"error": error}])
        self.pulled.add(image)
        return iter([{"status": "Downloaded newer image"}])


def driver(engine: PullingEngine, login: EcrLogin | None) -> DockerDriver:
    return DockerDriver(SimpleNamespace(api=engine), registry_login=login)


def test_the_driver_pulls_with_the_login(login: EcrLogin, ecr: Ecr) -> None:
    engine = PullingEngine(None, None)
    d = driver(engine, login)
    d.pull(IMAGE)
    d.pull("127.0.0.1:5000/elsewhere:1")
    assert engine.pulls == [{"username": "AWS", "password": ecr.password(1)}, None]


def test_repository_credentials_win(login: EcrLogin, ecr: Ecr) -> None:
    engine = PullingEngine(None)
    driver(engine, login).pull(IMAGE, RegistryAuth("robot", "given"))
    assert engine.pulls == [{"username": "robot", "password": "given"}]
    assert ecr.calls == 0


def test_a_refused_pull_is_tried_once_more_with_a_fresh_token(login: EcrLogin, ecr: Ecr) -> None:
    engine = PullingEngine(UNAUTHORIZED, None)
    driver(engine, login).pull(IMAGE)
    assert engine.pulls == [
        {"username": "AWS", "password": ecr.password(1)},
        {"username": "AWS", "password": ecr.password(2)},
    ]


def test_a_pull_refused_twice_fails_as_ecs_says(login: EcrLogin, ecr: Ecr) -> None:
    engine = PullingEngine(UNAUTHORIZED, UNAUTHORIZED)
    with pytest.raises(DriverError) as failed:
        driver(engine, login).pull(IMAGE)
    assert failed.value.reason == f"CannotPullContainerError: {UNAUTHORIZED}"
    assert len(engine.pulls) == 2


def test_other_failures_are_not_tried_again(login: EcrLogin, ecr: Ecr) -> None:
    engine = PullingEngine(NOT_FOUND)
    with pytest.raises(DriverError) as failed:
        driver(engine, login).pull(IMAGE)
    assert failed.value.reason == f"CannotPullContainerError: {NOT_FOUND}"
    assert len(engine.pulls) == 1 and ecr.calls == 1
    # Refused without the login (another registry): nothing to renew.
    engine = PullingEngine(UNAUTHORIZED.replace("4811", "5000"))
    with pytest.raises(DriverError):
        driver(engine, login).pull("127.0.0.1:5000/web:v1")
    assert engine.pulls == [None] and ecr.calls == 1


def test_only_the_docker_driver_takes_a_login() -> None:
    assert isinstance(DockerDriver(SimpleNamespace(api=PullingEngine())), TakesRegistryLogin)
    assert not isinstance(SimulatedDriver(), TakesRegistryLogin)


# -- the call, on a real server -----------------------------------------------------------------


@pytest.mark.skipif(find_binary() is None, reason="no docker-registry; scripts/ensure-registry.sh")
def test_the_agent_client_gets_a_login_for_the_repositories(
    server: ServerProcess, name: str
) -> None:
    uri = server.client("ecr").create_repository(repositoryName=name)["repository"]["repositoryUri"]
    client = ControlPlaneClient(server.endpoint, ACCESS_KEY, SECRET_KEY, REGION)
    try:
        login = EcrLogin(lambda: client.ecr("GetAuthorizationToken"), server.endpoint)
        auth = login.auth_for(f"{uri}:v1")
    finally:
        client.close()
    assert auth is not None and auth["username"] == "AWS"
    # The password is one the registry's token server takes for this repository.
    pusher = Pusher("http://" + uri.split("/", 1)[0], auth["username"], auth["password"])
    pusher.wait_ready()
    assert pusher.token_granted(name, "pull") == [
        {"type": "repository", "name": name, "actions": ["pull"]}
    ]
