"""Real HAProxy, small HTTP and TCP upstreams on 127.0.0.1, and a client, for the data plane's
end-to-end tests. Ports come from the OS; waits poll for a condition, never sleep a guess."""

from __future__ import annotations

import http.client
import shutil
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from portside.dataplane.haproxy.spec import Server

HAPROXY = shutil.which("haproxy") or (
    "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], Any], timeout: float = 15.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(0.02)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # HAProxy's checks close once they have the status line: resets are expected


class Upstream:
    """An HTTP server answering its name; its status, delay and paths are settable."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.status = 200
        self.slow_paths: dict[str, float] = {}
        self.health_delay = 0.0
        self.in_flight = 0
        self.served: list[str] = []
        self.peers: list[tuple[str, int]] = []  # each served request's connection (its source)
        self._lock = threading.Lock()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                upstream._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        health = "ELB-HealthChecker" in req.headers.get("User-Agent", "")
        if health and self.health_delay:
            time.sleep(self.health_delay)
        with self._lock:
            self.in_flight += 1
            if not health:
                self.served.append(req.path)
                self.peers.append(req.client_address)
        try:
            delay = self.slow_paths.get(req.path.split("?")[0], 0.0)
            if delay and not health:
                time.sleep(delay)
            body = f"{self.name} {req.path} host={req.headers.get('Host')}".encode()
            req.send_response(self.status)
            req.send_header("Content-Type", "text/plain")
            req.send_header("Content-Length", str(len(body)))
            req.end_headers()
            req.wfile.write(body)
        finally:
            with self._lock:
                self.in_flight -= 1

    def server(self, weight: int = 1, draining: bool = False) -> Server:
        return Server(self.name, "127.0.0.1", self.port, weight, draining)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                while data := self.request.recv(65536):
                    self.request.sendall(data)

        super().__init__(("127.0.0.1", 0), Handler)
        self.port = int(self.server_address[1])
        threading.Thread(target=self.serve_forever, daemon=True).start()


def get(port: int, path: str = "/", headers: dict[str, str] | None = None) -> tuple[int, str]:
    """One request on a connection of its own: (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Connection": "close", **(headers or {})})
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def get_full(port: int, path: str = "/", headers: dict[str, str] | None = None) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Connection": "close", **(headers or {})})
        resp = conn.getresponse()
        resp.read()
        return resp
    finally:
        conn.close()
