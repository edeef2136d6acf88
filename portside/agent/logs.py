"""awslogs log shipping: each container whose definition logs with `awslogs` has a follower
that reads its Docker log stream (json-file underneath, see docker/config.py log_config, so
`docker logs` still works) with timestamps, turns it into CloudWatch Logs events
(log_lines.py) and ships them to the control plane's log store through the agent gateway.

- Before the container starts, `prepare` makes sure its stream exists (and the group, with
  awslogs-create-group); a missing group fails the start with ECS's reason.
- Batches go out at 10,000 events, ~1 MiB or 200 ms, whichever comes first. A batch carries
  `first`, how many events this stream got from us before it, so the server stores a retried
  batch only once. While the server is unreachable the follower retries with back-off; Docker
  keeps the log meanwhile.
- A durable cursor per container (`<state>/logs/<container id>.json`: Docker `since`, how many
  records at or after it were shipped, and `first`) is written after shipped batches, so a
  restarted agent resumes where it stopped: nothing lost, and what it ships twice the server
  drops.
- The follower ends when the container has stopped and its stream is drained; the worker
  waits for that (`drain`) before it removes the container.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import orjson

from portside.agent.client import ApiError
from portside.agent.driver import DriverError
from portside.agent.log_lines import (
    Assembler,
    AwslogsOptions,
    Batch,
    ChunkedDecoder,
    Event,
    FrameDecoder,
    RawLineDecoder,
    Window,
    awslogs_options,
    format_since,
    logger_failure,
    parse_timestamp,
)
from portside.agent.runner import ContainerRun, TaskRun

log = logging.getLogger("portside.agent.logs")

BATCH_WAIT = 0.2  # seconds a batch may wait for more events
SAVE_EVERY = 0.25  # seconds between cursor writes while a stream flows
IDLE_GRACE_NS = 1_000_000_000  # a quiet multi-line event waits this much past Docker's 5 s
PREPARE_TIMEOUT = 20.0
READ_CHUNK = 1 << 16


class LogsApi(Protocol):
    """The two ingest calls of the agent gateway (portside/agent/client.py)."""

    def logs_prepare(
        self, group: str, stream: str, create: bool, task_arn: str | None = None
    ) -> None: ...

    def logs_put(self, group: str, stream: str, first: int, events: list[Event]) -> int: ...


class _Stopped(Exception):
    pass


def make_shipper(api: LogsApi, driver: Any, root: Path) -> LogShipper | None:
    """A shipper for the Docker driver; other drivers make no logs."""
    if getattr(driver, "name", "") != "docker":
        return None
    return LogShipper(api, driver.client, root, unreachable=driver.unreachable)


def _answers(what: str, exc: BaseException) -> bool:
    return False


class LogShipper:
    def __init__(
        self,
        api: LogsApi,
        docker: Any,
        root: Path,
        *,
        clock: Callable[[], float] = time.time,
        prepare_timeout: float = PREPARE_TIMEOUT,
        unreachable: Callable[[str, BaseException], bool] = _answers,
    ) -> None:
        self.api = api
        self.docker = docker  # docker.DockerClient
        # Whether an error of a Docker call says the Engine does not answer (the driver's
        # `unreachable`, which logs the outage once for everything that fails meanwhile).
        self.unreachable = unreachable
        self.root = root
        self.clock = clock
        self.prepare_timeout = prepare_timeout
        self.stop_event = threading.Event()
        self._followers: dict[str, Follower] = {}
        self._lock = threading.Lock()
        root.mkdir(parents=True, exist_ok=True)

    # -- the worker's hooks ------------------------------------------------------------------

    def prepare(self, run: TaskRun, c: ContainerRun) -> None:
        """Before the container starts: its stream exists (its group too with
        awslogs-create-group), else DriverError with ECS's reason."""
        launch = run.task.launch_type
        try:
            opts = awslogs_options(c.definition)
        except ValueError as exc:
            raise DriverError(logger_failure(launch, str(exc))) from None
        if opts is None or c.runtime_id is None:
            return
        stream = opts.stream_name(_task_id(run), c.runtime_id)
        deadline = time.monotonic() + self.prepare_timeout
        delay = 0.1
        while True:
            try:
                self.api.logs_prepare(opts.group, stream, opts.create_group, run.arn)
                return
            except ApiError as exc:
                if exc.status < 500:
                    raise DriverError(
                        logger_failure(launch, f"{exc.code}: {exc.message}")
                    ) from None
                cause = f"{exc.code}: {exc.message}"
            except Exception as exc:  # the control plane is unreachable
                cause = f"RequestError: send request failed: {exc}"
            if time.monotonic() + delay > deadline or self.stop_event.is_set():
                raise DriverError(logger_failure(launch, cause))
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    def follow(self, run: TaskRun, c: ContainerRun) -> None:
        """The container started: ship its log (from where a previous agent stopped)."""
        try:
            opts = awslogs_options(c.definition)
        except ValueError:
            return
        if opts is None or c.runtime_id is None:
            return
        runtime_id = c.runtime_id
        with self._lock:
            current = self._followers.get(runtime_id)
            if current is not None and current.is_alive():
                return
            state = self._load(runtime_id)
            if state.get("done"):
                return
            follower = Follower(self, runtime_id, opts, opts.stream_name(_task_id(run), runtime_id))
            self._followers[runtime_id] = follower
        log.info(
            "shipping the log of %s to %s %s%s",
            runtime_id[:12],
            opts.group,
            follower.stream,
            f" from {state['first']} events" if state.get("first") else "",
        )
        follower.start()

    def adopt(self, run: TaskRun) -> None:
        """After an agent restart: resume every started container's shipping."""
        for c in run.containers.values():
            if c.runtime_id and (c.started_at is not None or c.state == "running"):
                self.follow(run, c)

    def drain(self, runtime_id: str, timeout: float = 30.0) -> bool:
        """Wait until the container's log is shipped to its end (before it is removed)."""
        with self._lock:
            follower = self._followers.get(runtime_id)
        if follower is None:
            return True
        follower.join(timeout)
        return not follower.is_alive()

    def forget(self, runtime_id: str) -> None:
        """The container is gone: stop following it and drop its cursor."""
        with self._lock:
            follower = self._followers.pop(runtime_id, None)
        if follower is not None:
            follower.cancel()
        with contextlib.suppress(FileNotFoundError):
            self._path(runtime_id).unlink()

    def stop(self) -> None:
        """The agent is stopping: followers stop where they are (their cursors are saved)."""
        self.stop_event.set()
        with self._lock:
            followers = list(self._followers.values())
        for f in followers:
            f.cancel()

    # -- cursors ---------------------------------------------------------------------------

    def _path(self, runtime_id: str) -> Path:
        return self.root / f"{runtime_id}.json"

    def _load(self, runtime_id: str) -> dict[str, Any]:
        try:
            data = orjson.loads(self._path(runtime_id).read_bytes())
            return data if isinstance(data, dict) else {}
        except (FileNotFoundError, orjson.JSONDecodeError):
            return {}

    def _save(self, runtime_id: str, state: dict[str, Any]) -> None:
        path = self._path(runtime_id)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(state))
        os.replace(tmp, path)


class Follower(threading.Thread):
    """Ships one container's log, session after session (a session is one Docker follow
    stream, from the saved cursor), until the container has stopped and all is shipped."""

    def __init__(self, shipper: LogShipper, runtime_id: str, opts: AwslogsOptions, stream: str):
        super().__init__(name=f"logs-{runtime_id[:12]}", daemon=True)
        self.shipper = shipper
        self.runtime_id = runtime_id
        self.opts = opts
        self.group = opts.group
        self.stream = stream
        self._cancel = threading.Event()
        self._response: Any = None

    def cancel(self) -> None:
        self._cancel.set()
        self._close()

    def _close(self) -> None:
        response = self._response
        if response is not None:
            with contextlib.suppress(Exception):
                response.close()

    def _stopping(self) -> bool:
        return self._cancel.is_set() or self.shipper.stop_event.is_set()

    def run(self) -> None:
        delay = 0.2
        while not self._stopping():
            state = self.shipper._load(self.runtime_id)
            try:
                if self._session(state):
                    return
                delay = 0.2
                self._cancel.wait(0.2)  # the stream ended while the container runs
            except _Stopped:
                return
            except Exception as exc:
                if self._stopping():
                    return
                if _missing(exc):
                    log.info("container %s is gone; its log ends here", self.runtime_id[:12])
                    return
                if self.shipper.unreachable(f"log stream of {self.runtime_id[:12]}", exc):
                    log.debug("log stream of %s waits for Docker: %s", self.runtime_id[:12], exc)
                else:
                    log.warning("log stream of %s broke (%s); resuming", self.runtime_id[:12], exc)
                self._cancel.wait(delay)
                delay = min(delay * 2, 5.0)

    # -- one session ------------------------------------------------------------------------

    def _session(self, state: dict[str, Any]) -> bool:
        """Follow from the cursor until the stream ends; True once the container has stopped
        and everything is shipped."""
        since, skip = int(state.get("since", 0)), int(state.get("skip", 0))
        base = int(state.get("first", 0))
        api = self.shipper.docker.api
        tty = bool((api.inspect_container(self.runtime_id).get("Config") or {}).get("Tty"))
        response = api._get(
            api._url("/containers/{0}/logs", self.runtime_id),
            params={
                "follow": 1,
                "stdout": 1,
                "stderr": 1,
                "timestamps": 1,
                "since": format_since(since),
            },
            stream=True,
        )
        api._raise_for_status(response)
        with contextlib.suppress(Exception):
            api._disable_socket_timeout(api._get_raw_response_socket(response))
        self._response = response
        chunks: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=256)
        done = threading.Event()
        reader = threading.Thread(
            target=_read, args=(response, chunks, done), name=f"{self.name}-read", daemon=True
        )
        reader.start()
        try:
            return self._pump(chunks, tty, Window(since, skip), base)
        finally:
            done.set()
            self._response = None
            with contextlib.suppress(Exception):
                response.close()

    def _pump(
        self,
        chunks: queue.Queue[bytes | BaseException | None],
        tty: bool,
        window: Window,
        base: int,
    ) -> bool:
        decoder: FrameDecoder | RawLineDecoder = RawLineDecoder() if tty else FrameDecoder()
        asm = Assembler(self.opts.multiline())
        batch = Batch()
        sender = _Sender(self)
        sender.start()
        queued = 0  # events of this session handed to the sender
        shipped = 0  # ... and acknowledged by the server
        saved_at = 0.0
        to_skip = window.skip

        def acks(wait: bool = False) -> None:
            nonlocal shipped, saved_at
            while True:
                try:
                    ack = sender.acks.get(timeout=60.0) if wait else sender.acks.get_nowait()
                except queue.Empty:
                    if wait and not self._stopping():
                        continue
                    if wait:
                        raise _Stopped from None
                    break
                if isinstance(ack, BaseException):
                    raise ack
                if ack is None:
                    break
                shipped += ack
            now = time.monotonic()
            if wait or now - saved_at >= SAVE_EVERY:
                self._save(window, asm, base, shipped, wait)
                saved_at = now

        def ship() -> None:
            # The sender sends while this thread reads on; one batch waits at most.
            nonlocal queued
            if batch.events:
                events = batch.take()
                sender.put((base + queued, events))
                queued += len(events)

        try:
            while True:
                timeout = BATCH_WAIT
                if batch.events:
                    timeout = max(0.0, batch.started + BATCH_WAIT - time.monotonic())
                elif asm.pending_since() is not None:
                    timeout = 1.0
                try:
                    chunk = chunks.get(timeout=timeout)
                except queue.Empty:
                    chunk = b""
                if self._stopping():
                    raise _Stopped
                if isinstance(chunk, BaseException):
                    raise chunk
                if chunk is None:
                    if isinstance(decoder, RawLineDecoder):
                        self._feed(decoder.rest(), window, asm, batch, ship, to_skip)
                    self._add(asm.finish(), batch, ship)
                    ship()
                    sender.put(None)
                    acks(wait=True)
                    return not self._running()
                if chunk:
                    frames = decoder.feed(chunk)
                    to_skip = self._feed(frames, window, asm, batch, ship, to_skip)
                idle = asm.flush_idle(int(self.shipper.clock() * 1e9) - IDLE_GRACE_NS)
                if idle:
                    self._add(idle, batch, ship)
                if batch.events and (
                    batch.full() or time.monotonic() - batch.started >= BATCH_WAIT
                ):
                    ship()
                acks()
        finally:
            sender.abort.set()

    def _feed(
        self,
        frames: list[tuple[int, bytes]],
        window: Window,
        asm: Assembler,
        batch: Batch,
        ship: Callable[[], None],
        to_skip: int,
    ) -> int:
        if not frames:
            return to_skip
        stamps = [parse_timestamp(p[: p.find(b" ")]) for _, p in frames]
        first = window.seen
        window.observe(stamps)
        if to_skip:
            n = min(to_skip, len(frames))
            frames, stamps, first, to_skip = frames[n:], stamps[n:], first + n, to_skip - n
        if frames:
            self._add(asm.records(first, frames, stamps), batch, ship)
        return to_skip

    @staticmethod
    def _add(events: list[Event], batch: Batch, ship: Callable[[], None]) -> None:
        for event in events:
            if batch.events and not batch.fits(event):
                ship()
            batch.add(event, time.monotonic())

    def _save(self, window: Window, asm: Assembler, base: int, shipped: int, final: bool) -> None:
        best = asm.cut_for(shipped)
        if best is None:
            return
        emitted, cut = best
        since, skip = window.cursor(cut)
        state = {
            "group": self.group,
            "stream": self.stream,
            "since": since,
            "skip": skip,
            "first": base + emitted,
        }
        if final and emitted == shipped and not self._running():
            state["done"] = True
        self.shipper._save(self.runtime_id, state)

    def _running(self) -> bool:
        try:
            attrs = self.shipper.docker.api.inspect_container(self.runtime_id)
        except Exception as exc:
            if _missing(exc):
                return False
            raise
        return bool((attrs.get("State") or {}).get("Running"))

    def _put(self, first: int, events: list[Event], abort: threading.Event) -> None:
        delay = 0.1
        recreated = False
        while True:
            try:
                self.shipper.api.logs_put(self.group, self.stream, first, events)
                return
            except ApiError as exc:
                if exc.status < 500:
                    if exc.code == "ResourceNotFoundException" and not recreated:
                        # The group or stream was deleted under us: make it again if we may.
                        recreated = True
                        with contextlib.suppress(ApiError):
                            self.shipper.api.logs_prepare(
                                self.group, self.stream, self.opts.create_group
                            )
                        continue
                    # What Docker's awslogs does with a refused batch: log it and go on.
                    log.warning(
                        "log events of %s dropped: %s: %s", self.stream, exc.code, exc.message
                    )
                    return
                cause: object = exc
            except Exception as exc:  # the control plane is unreachable
                cause = exc
            log.debug("shipping logs of %s failed (%s); retrying", self.stream, cause)
            if self._cancel.wait(delay) or self.shipper.stop_event.is_set() or abort.is_set():
                raise _Stopped
            delay = min(delay * 2, 5.0)


class _Sender(threading.Thread):
    """Sends a follower's batches in order, so that reading and parsing go on meanwhile;
    answers each with the number of events acknowledged (or the exception that ended it)."""

    def __init__(self, follower: Follower) -> None:
        super().__init__(name=f"{follower.name}-send", daemon=True)
        self.follower = follower
        self.jobs: queue.Queue[tuple[int, list[Event]] | None] = queue.Queue(maxsize=1)
        self.acks: queue.Queue[int | BaseException | None] = queue.Queue()
        self.abort = threading.Event()

    def put(self, job: tuple[int, list[Event]] | None) -> None:
        while not self.abort.is_set():
            try:
                self.jobs.put(job, timeout=0.5)
                return
            except queue.Full:
                if not self.is_alive():
                    return  # it ended with an error, which is in acks

    def run(self) -> None:
        while not self.abort.is_set():
            try:
                job = self.jobs.get(timeout=0.5)
            except queue.Empty:
                continue
            if job is None:
                self.acks.put(None)
                return
            try:
                self.follower._put(job[0], job[1], self.abort)
            except BaseException as exc:
                self.acks.put(exc)
                return
            self.acks.put(len(job[1]))


def _body_reader(response: Any) -> Callable[[], bytes | None]:
    """A function returning the next piece of the response's body (b"" for nothing this time,
    None at its end). Docker sends one HTTP chunk per record: the chunks are decoded here
    from big reads of the connection's buffer rather than one urllib3 call each, which
    costs tens of microseconds a record."""
    fp = getattr(getattr(response.raw, "_fp", None), "fp", None)
    if response.headers.get("Transfer-Encoding", "").lower() != "chunked" or fp is None:
        return lambda: response.raw.read1(READ_CHUNK) or None
    chunked = ChunkedDecoder()

    def read() -> bytes | None:
        if chunked.done:  # the last chunk came: the connection stays open for the next
            return None
        data = fp.read1(READ_CHUNK)
        if not data:
            return None
        body = chunked.feed(data)
        return None if chunked.done and not body else body

    return read


def _read(
    response: Any, chunks: queue.Queue[bytes | BaseException | None], done: threading.Event
) -> None:
    """Docker's stream into the queue (bounded: a slow server holds the reader back, Docker
    keeps the log meanwhile); None at its end."""
    item: bytes | BaseException | None
    read = _body_reader(response)
    while not done.is_set():
        try:
            item = read()
            if item == b"":
                continue
        except BaseException as exc:
            item = exc
        while not done.is_set():
            try:
                chunks.put(item, timeout=0.5)
                break
            except queue.Full:
                continue
        if not isinstance(item, bytes):
            return


def _task_id(run: TaskRun) -> str:
    return run.arn.rsplit("/", 1)[1]


def _missing(exc: BaseException) -> bool:
    return getattr(getattr(exc, "response", None), "status_code", None) == 404
