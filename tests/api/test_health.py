"""Background failures show: a loop that keeps failing makes `GET /_portside/health` say
"degraded" to anyone, and a signed request (and `portside status`) sees which loop and why."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from harness import ACCESS_KEY, BIN, REGION, SECRET_KEY, ServerProcess

from portside.api.app import Api, ApiConfig, health_report
from portside.api.auth import StaticKeyRing
from portside.api.protocols.base import HeaderMap, WireRequest
from portside.controllers.loop import Loops
from portside.testing import FakeClock, make_world, sqlite_store

URL = "http://127.0.0.1/_portside/health"


def _head(sign: bool, secret: str = SECRET_KEY) -> WireRequest:
    request = AWSRequest("GET", URL, headers={"Host": "127.0.0.1"})
    if sign:
        SigV4Auth(Credentials(ACCESS_KEY, secret), "ecs", REGION).add_auth(request)
    headers = HeaderMap([(k.encode(), v.encode()) for k, v in request.headers.items()])
    return WireRequest("GET", "/_portside/health", "", headers, b"")


async def _run_passes(loops: Loops, passes: int) -> None:
    tasks = [asyncio.create_task(loop.run()) for loop in loops.all()]
    while min(s.passes + s.total_errors for s in loops.status()) < passes:
        await asyncio.sleep(0)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def test_a_loop_that_keeps_failing_degrades_the_server(tmp_path: Path) -> None:
    clock = FakeClock(time.time())  # the signature's date must be now
    world = make_world(sqlite_store(tmp_path), clock=clock)
    loops = world.loops = Loops(clock)

    def broken() -> float:
        raise RuntimeError("the disk is on fire")

    loops.add("healthy", lambda: 0.0, interval=0.0)
    loops.add("broken", broken, interval=0.0, retry_after=0.0)
    api = Api(ApiConfig(world, "000000000000", StaticKeyRing({ACCESS_KEY: SECRET_KEY}, "0" * 12)))
    assert health_report(api, _head(sign=False))["status"] == "ok"

    asyncio.run(_run_passes(loops, 3))
    anyone = health_report(api, _head(sign=False))
    assert anyone["status"] == "degraded"
    assert "loops" not in anyone  # what fails is for signed callers only
    wrong = health_report(api, _head(sign=True, secret="wrong"))
    assert "loops" not in wrong and wrong["error"]["code"] == "InvalidSignatureException"
    signed = health_report(api, _head(sign=True))
    assert signed["failing"] == ["broken"]
    by_name = {loop["name"]: loop for loop in signed["loops"]}
    assert by_name["broken"]["last_error"] == "RuntimeError: the disk is on fire"
    assert by_name["broken"]["consecutive_errors"] >= 3
    assert by_name["healthy"]["consecutive_errors"] == 0
    assert by_name["healthy"]["last_success"] == clock()


def test_health_and_portside_status_on_a_running_server(server: ServerProcess) -> None:
    plain = httpx.get(server.endpoint + "/_portside/health").json()
    assert plain["status"] == "ok" and "loops" not in plain
    proc = subprocess.run(
        [str(BIN / "portside"), "status", "--json"],
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    names = {loop["name"] for loop in report["loops"]}
    assert {"services", "liveness", "maintenance", "schedules"} <= names, names
    assert report["failing"] == []
    table = subprocess.run(
        [str(BIN / "portside"), "status"], env=server.env(), capture_output=True, text=True
    )
    assert table.returncode == 0 and "services" in table.stdout


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:9"])
def test_status_says_when_the_server_is_unreachable(endpoint: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(BIN / "portside"), "status", "--endpoint-url", endpoint, "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "cannot reach" in proc.stderr
