"""A real Prometheus (Debian's `prometheus`, scripts/ensure-prometheus.sh) of a test's own:
its configuration, data and log in a temporary directory, on a free loopback port; and
what a test asks of its HTTP API (targets, instant queries)."""

from __future__ import annotations

import json
import shutil
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
from harness import Process, free_port


def prometheus_binary() -> str | None:
    return shutil.which("prometheus") or (
        "/usr/bin/prometheus" if Path("/usr/bin/prometheus").exists() else None
    )


class PrometheusProcess(Process):
    def __init__(self, root: Path, scrape_configs: Sequence[Mapping[str, Any]]) -> None:
        # Its log holds scrape errors while targets come and go: not the log check's business.
        super().__init__(root / "prometheus.log", name="prometheus", checked=False)
        self.root = root
        self.port = free_port()
        self.config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
            "scrape_configs": list(scrape_configs),
        }
        self.stop_signal = signal.SIGTERM

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> PrometheusProcess:
        self.root.mkdir(parents=True, exist_ok=True)
        config = self.root / "prometheus.yml"
        config.write_text(json.dumps(self.config, indent=1))  # JSON is YAML
        binary = prometheus_binary()
        assert binary, "no prometheus binary"
        offset = self.spawn(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.root / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=info",
            ]
        )
        self.wait_until(self._ready, timeout, offset, every=0.1)
        return self

    def _ready(self) -> bool:
        try:
            return httpx.get(self.url + "/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def targets(self) -> list[dict[str, Any]]:
        """The active targets (`/api/v1/targets`)."""
        reply = httpx.get(self.url + "/api/v1/targets", params={"state": "active"}, timeout=5)
        reply.raise_for_status()
        return list(reply.json()["data"]["activeTargets"])

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's vector (`/api/v1/query`)."""
        reply = httpx.get(self.url + "/api/v1/query", params={"query": expr}, timeout=5)
        reply.raise_for_status()
        return list(reply.json()["data"]["result"])
