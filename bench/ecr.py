#!/usr/bin/env python3
"""`docker push` and `docker pull` of a ~50 MB image through Portside's ECR, against the same
registry binary run with no auth in front, in the same run.

Each round builds a fresh image (the FROM-scratch busybox of the tests plus one layer of
--megabytes random bytes, so nothing is already in either registry and gzip cannot shrink
it), pushes it to both registries (the order alternates between rounds), removes it from
the Engine, and pulls it back from each (removed again in between, so every pull downloads
and extracts the whole layer). Portside's side is what a user does: CreateRepository,
`docker login` with get-login-password, push, pull; the baseline is `docker-registry serve`
with filesystem storage and nothing else.

    .venv/bin/python bench/ecr.py                # 5 rounds of 50 MB
    .venv/bin/python bench/ecr.py --rounds 2 --megabytes 10 --output /tmp/ecr.json

Prints the median times and Portside's over the baseline's; writes
bench/results/ecr-<short commit>.json (with "dirty" when the working tree has changes).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import docker
from api_throughput import (
    ACCESS_KEY,
    REGION,
    ROOT,
    SECRET_KEY,
    Server,
    base_env,
    free_port,
    load_average,
    portside_server,
)
from load_balancer import short_commit
from task_start import busybox

from portside.registry.process import find_binary


def build_image(client: Any, base: str, megabytes: int, tag: str) -> None:
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        dockerfile = f"FROM {base}\nCOPY blob /blob\n".encode()
        for name, data in (("Dockerfile", dockerfile), ("blob", os.urandom(megabytes << 20))):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    client.images.build(fileobj=context, custom_context=True, tag=tag, rm=True)


def docker_cli(config: Path, *args: str, stdin: str | None = None) -> float:
    """Run the docker CLI; the seconds it took."""
    start = time.perf_counter()
    proc = subprocess.run(
        ["docker", "--config", str(config), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=600,
    )
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {proc.stdout}{proc.stderr}")
    return took


def baseline_registry(workdir: Path) -> Server:
    port = free_port()
    config = {
        "version": 0.1,
        "log": {"level": "error", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(workdir / "baseline-storage")}},
        "http": {"addr": f"127.0.0.1:{port}"},
    }
    path = workdir / "baseline.yml"
    path.write_text(json.dumps(config))
    binary = find_binary()
    assert binary, "no docker-registry: run scripts/ensure-registry.sh"
    return Server(
        name="registry",
        argv=[binary, "serve", str(path)],
        port=port,
        log_path=workdir / "baseline.log",
        env=base_env(),
        ready_path="/v2/",
    )


def portside_login(server: Server, config: Path) -> str:
    """Log the Docker CLI in to Portside's registry; its host."""
    ecr = boto3.client(
        "ecr",
        endpoint_url=f"http://127.0.0.1:{server.port}",
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    data = ecr.get_authorization_token()["authorizationData"][0]
    password = base64.b64decode(data["authorizationToken"]).decode().partition(":")[2]
    deadline = time.monotonic() + 30
    while True:
        try:
            docker_cli(
                config,
                "login",
                "-u",
                "AWS",
                "--password-stdin",
                data["proxyEndpoint"],
                stdin=password,
            )
            break
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    server.ecr = ecr  # type: ignore[attr-defined]
    return str(data["proxyEndpoint"]).removeprefix("http://")


def run(rounds: int, megabytes: int) -> dict[str, Any]:
    client = docker.from_env()
    base = busybox(client)
    times: dict[str, dict[str, list[float]]] = {
        side: {"push": [], "pull": []} for side in ("portside", "baseline")
    }
    with tempfile.TemporaryDirectory(prefix="bench-ecr-") as tmp:
        workdir = Path(tmp)
        config = workdir / "docker-config"
        config.mkdir()
        portside = portside_server(workdir)
        baseline = baseline_registry(workdir)
        portside.start()
        baseline.start()
        try:
            hosts = {
                "portside": portside_login(portside, config),
                "baseline": f"127.0.0.1:{baseline.port}",
            }
            for round_ in range(rounds):
                name = f"bench-{uuid.uuid4().hex[:8]}"
                portside.ecr.create_repository(repositoryName=name)  # type: ignore[attr-defined]
                source = f"bench-ecr-source:{name}"
                build_image(client, base, megabytes, source)
                refs = {side: f"{host}/{name}:v1" for side, host in hosts.items()}
                order = ["portside", "baseline"] if round_ % 2 == 0 else ["baseline", "portside"]
                for side in order:
                    docker_cli(config, "tag", source, refs[side])
                    times[side]["push"].append(docker_cli(config, "push", refs[side]))
                docker_cli(config, "rmi", source, *refs.values())
                for side in order:
                    times[side]["pull"].append(docker_cli(config, "pull", refs[side]))
                    docker_cli(config, "rmi", refs[side])
                print(
                    f"round {round_ + 1}: "
                    + ", ".join(
                        f"{side} push {times[side]['push'][-1]:.2f} s pull "
                        f"{times[side]['pull'][-1]:.2f} s"
                        for side in order
                    ),
                    flush=True,
                )
        finally:
            portside.stop()
            baseline.stop()
    medians = {
        side: {op: statistics.median(values) for op, values in ops.items()}
        for side, ops in times.items()
    }
    return {
        "megabytes": megabytes,
        "rounds": rounds,
        "seconds": times,
        "median_seconds": medians,
        "ratio_portside_over_baseline": {
            op: medians["portside"][op] / medians["baseline"][op] for op in ("push", "pull")
        },
        "load_average": load_average(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--megabytes", type=int, default=50)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    result = run(args.rounds, args.megabytes)
    commit, dirty = short_commit()
    doc = {"commit": commit, "dirty": dirty, "at": time.time(), **result}
    for op in ("push", "pull"):
        p, b = result["median_seconds"]["portside"][op], result["median_seconds"]["baseline"][op]
        print(f"{op}: Portside's ECR {p:.2f} s, the registry alone {b:.2f} s, ratio {p / b:.2f}")
    output = args.output or ROOT / "bench" / "results" / f"ecr-{commit}.json"
    output.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {output}")


if __name__ == "__main__":
    sys.exit(main())
