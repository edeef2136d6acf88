"""ECS Exec, the agent's side. The control plane never calls the agent: a sync's answer lists
the exec sessions waiting for this host ("exec"); for each, the agent dials the relay's
websocket (`/_portside/agent/v1/exec/<sessionId>`, with the per-session token the sync gave
it), starts the command in the container through the driver, and pipes frames
(portside/exec/frames.py) both ways until the command exits or the relay goes away; then the
process is killed if it still runs."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from portside.agent.driver import Driver, DriverError, ExecProcess
from portside.exec import frames
from portside.gateway import protocol
from portside.gateway.protocol import ExecOffer

log = logging.getLogger("portside.agent")

# (task ARN, container name) -> the container's runtime id when it runs on this host
FindContainer = Callable[[str, str], str | None]


class ExecSessions:
    def __init__(self, endpoint: str, driver: Driver, find: FindContainer) -> None:
        base = endpoint.rstrip("/")
        self.base = "wss://" + base[8:] if base.startswith("https://") else "ws://" + base[7:]
        self.driver = driver
        self.find = find
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def start(self, offer: ExecOffer) -> None:
        sid = offer.session_id
        with self._lock:
            if sid in self._seen:
                return
            self._seen.add(sid)
        threading.Thread(
            target=self._run, args=(offer,), name=f"exec-{sid[-8:]}", daemon=True
        ).start()

    def _run(self, offer: ExecOffer) -> None:
        sid = offer.session_id
        url = self.base + protocol.EXEC + sid
        try:
            with connect(
                url,
                additional_headers={protocol.EXEC_TOKEN_HEADER: offer.agent_token},
                max_size=frames.MAX_MESSAGE,
                open_timeout=10,
            ) as ws:
                self._serve(ws, offer)
        except Exception as exc:
            log.warning("exec session %s failed: %s", sid, exc)
        finally:
            with self._lock:
                self._seen.discard(sid)

    def _serve(self, ws: ClientConnection, offer: ExecOffer) -> None:
        runtime_id = self.find(offer.task_arn, offer.container)
        if runtime_id is None:
            ws.send(frames.exit_error("The container is not running on this host."))
            return
        size = frames.size(offer.rows, offer.cols)
        try:
            proc = self.driver.exec(runtime_id, list(offer.command), offer.tty, size)
        except DriverError as exc:
            ws.send(frames.exit_error(exc.reason))
            return
        command = list(offer.command)
        log.info("exec session %s: %s in %s", offer.session_id, command, runtime_id[:12])
        pump = threading.Thread(target=_pump, args=(proc, ws), daemon=True)
        pump.start()
        try:
            _feed(proc, ws)
        finally:
            proc.kill()
            pump.join(timeout=5)


def _pump(proc: ExecProcess, ws: ClientConnection) -> None:
    """Process output to the relay, then the exit code."""
    try:
        for channel, data in proc.output():
            kind = frames.STDERR if channel == 2 else frames.STDOUT
            for start in range(0, len(data), frames.MAX_PAYLOAD):
                ws.send(frames.encode(kind, data[start : start + frames.MAX_PAYLOAD]))
        ws.send(frames.exit_code(proc.wait()))
    except ConnectionClosed:
        pass
    except Exception as exc:
        log.warning("exec output failed: %s", exc)
        with contextlib.suppress(ConnectionClosed):
            ws.send(frames.exit_error(f"The command's output was lost: {exc}"))


def _feed(proc: ExecProcess, ws: ClientConnection) -> None:
    """The relay's frames to the process, until the relay closes the connection."""
    while True:
        try:
            message = ws.recv()
        except ConnectionClosed:
            return
        try:
            frame = frames.decode(message)
        except frames.FrameError as exc:
            log.info("exec: bad frame from the relay: %s", exc)
            continue
        try:
            if frame.channel == frames.STDIN:
                proc.write(frame.payload)
            elif frame.channel == frames.STDIN_EOF:
                proc.close_input()
            elif frame.channel == frames.RESIZE:
                size = frames.window(frame.json())
                if size is not None:
                    proc.resize(*size)
        except OSError as exc:
            # The process has gone (its stdin is closed): its exit frame follows.
            log.debug("exec input dropped: %s", exc)
