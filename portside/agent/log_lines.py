"""awslogs, the pure part: a container's Docker log stream (timestamped records) to CloudWatch
Logs events, the way Docker's awslogs driver makes them, plus where a restarted agent resumes.

- `awslogs_options`: the definition's logConfiguration options; the stream is named as ECS
  names it (`prefix/container-name/task-id`, else the Docker container id).
- `datetime_regex`: awslogs-datetime-format's strftime tokens turned into a regular expression
  with Docker's own table. Docker takes the datetime format over the pattern when both are set.
- `FrameDecoder` / `RawLineDecoder`: Docker's multiplexed stream (or a TTY's raw stream) to
  records, whatever the chunk boundaries.
- `Assembler`: records to events. A long line arrives as partial records (Docker cuts lines at
  16 KiB) and is joined again; with a multi-line pattern a matching line starts a new event,
  the lines of one event each end with "\\n" (as Docker sends them), and a pending event is
  flushed after a quiet period (5 s, Docker's publish interval). Empty lines make no event and
  an event longer than CloudWatch's limit is cut, as Docker does.
- Resuming: Docker's `since` is a timestamp, records at or after it come back in the log's
  order. A `Window` turns "the first N records are shipped" into (since, skip): since a little
  before the newest shipped timestamp (stdout and stderr are stamped by separate copiers, so
  the log's timestamps are not strictly ordered), skip = how many records at or after it were
  shipped. The assembler marks clean cuts (every record before is in an emitted event, no
  emitted event holds a record after), so replay from a cut makes exactly the same events.
"""

from __future__ import annotations

import calendar
import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

EVENT_OVERHEAD = 26  # bytes CloudWatch counts per event
MAX_EVENT_BYTES = 262_144 - EVENT_OVERHEAD
MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
MULTILINE_FLUSH_NS = 5_000_000_000
STDOUT, STDERR = 1, 2

# Docker's awslogs driver, daemon/logger/awslogs/cloudwatchlogs.go (strftimeToRegex).
STRFTIME_TO_REGEX = {
    "%a": r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)",
    "%A": r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)",
    "%w": r"[0-6]",
    "%d": r"(?:0[1-9]|[1,2][0-9]|3[0,1])",
    "%b": r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)",
    "%B": (
        r"(?:January|February|March|April|May|June|July|August|September|October"
        r"|November|December)"
    ),
    "%m": r"(?:0[1-9]|1[0-2])",
    "%Y": r"\d{4}",
    "%y": r"\d{2}",
    "%H": r"(?:[0,1][0-9]|2[0-3])",
    "%I": r"(?:0[0-9]|1[0-2])",
    "%p": r"[A,P]M",
    "%M": r"[0-5][0-9]",
    "%S": r"[0-5][0-9]",
    "%f": r"\d{6}",
    "%z": r"[+-]\d{4}",
    "%Z": r"[A-Z]{1,4}T",
    "%j": r"(?:0[0-9][1-9]|[1,2][0-9][0-9]|3[0-5][0-9]|36[0-6])",
    "%L": r"\.\d{3}",
}
_TOKEN = re.compile(r"%.", re.DOTALL)

GROUP_MISSING = "ResourceNotFoundException: The specified log group does not exist."


def datetime_regex(fmt: str) -> str:
    """awslogs-datetime-format as Docker reads it: each %x token replaced from its table (an
    unknown token by nothing); the rest of the format is taken as a regular expression."""
    return _TOKEN.sub(lambda m: STRFTIME_TO_REGEX.get(m.group(0), ""), fmt)


def parse_bool(value: str) -> bool:
    """Go's strconv.ParseBool, which Docker uses for awslogs-create-group."""
    if value in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if value in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise ValueError(f'strconv.ParseBool: parsing "{value}": invalid syntax')


@dataclass(frozen=True, slots=True)
class AwslogsOptions:
    container: str
    group: str
    create_group: bool
    stream_prefix: str | None
    pattern: str | None  # the multi-line start pattern (regular expression), if any

    def stream_name(self, task_id: str, runtime_id: str) -> str:
        if self.stream_prefix:
            return f"{self.stream_prefix}/{self.container}/{task_id}"
        return runtime_id

    def multiline(self) -> re.Pattern[str] | None:
        return re.compile(self.pattern) if self.pattern else None


def awslogs_options(container: Mapping[str, Any]) -> AwslogsOptions | None:
    """The container's awslogs settings, or None when it logs with another driver. Raises
    ValueError (Docker's wording) for options Docker would refuse."""
    lc = container.get("logConfiguration") or {}
    if lc.get("logDriver") != "awslogs":
        return None
    opts = {str(k): str(v) for k, v in (lc.get("options") or {}).items()}
    if not opts.get("awslogs-group"):
        raise ValueError("must specify a value for log opt 'awslogs-group'")
    pattern = opts.get("awslogs-multiline-pattern") or None
    if opts.get("awslogs-datetime-format"):
        pattern = datetime_regex(opts["awslogs-datetime-format"])
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(
                f"awslogs could not parse multiline pattern key {pattern!r}: {exc}"
            ) from None
    return AwslogsOptions(
        container=str(container.get("name") or ""),
        group=opts["awslogs-group"],
        create_group=parse_bool(opts.get("awslogs-create-group") or "false"),
        stream_prefix=opts.get("awslogs-stream-prefix") or None,
        pattern=pattern,
    )


def logger_failure(launch_type: str | None, cause: str) -> str:
    """The reason ECS gives when the awslogs logger cannot start: on EC2 Docker refuses to
    start the container; on Fargate the task fails to initialise its resources."""
    if launch_type == "FARGATE":
        return (
            "ResourceInitializationError: failed to validate logger args: create stream has "
            f"been retried 1 times: failed to create Cloudwatch log stream: {cause} : "
            "exit status 1"
        )
    return (
        "CannotStartContainerError: Error response from daemon: failed to initialize logging "
        f"driver: failed to create Cloudwatch log stream: {cause}"
    )


# -- the Docker stream ----------------------------------------------------------------------

Frame = tuple[int, bytes]  # (STDOUT | STDERR, payload: "TIMESTAMP text")


class ChunkedDecoder:
    """HTTP/1.1 chunked transfer coding (Docker streams logs that way, one chunk per record:
    decoding it here, a read at a time, is what keeps up with a fast writer)."""

    def __init__(self) -> None:
        self._buf = b""
        self._left = 0  # data bytes of the current chunk still to come
        self._crlf = 0  # bytes of the CRLF after them still to skip
        self.done = False

    def feed(self, data: bytes) -> bytes:
        buf = self._buf + data if self._buf else data
        out: list[bytes] = []
        pos, end = 0, len(buf)
        while not self.done:
            if self._left:
                take = min(self._left, end - pos)
                out.append(buf[pos : pos + take])
                pos += take
                self._left -= take
                if self._left:
                    break
                self._crlf = 2
            if self._crlf:
                skip = min(self._crlf, end - pos)
                pos += skip
                self._crlf -= skip
                if self._crlf:
                    break
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                break
            size = int(buf[pos:eol].split(b";", 1)[0], 16)
            pos = eol + 2
            if size == 0:
                self.done = True
                break
            if pos + size + 2 <= end:  # the usual case: the whole chunk is here
                out.append(buf[pos : pos + size])
                pos += size + 2
            else:
                self._left = size
        self._buf = buf[pos:]
        return b"".join(out)


class FrameDecoder:
    """Docker's multiplexed stream: an 8-byte header (stream, 3 zero bytes, big-endian length)
    then the payload. Chunks may cut anywhere."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> list[Frame]:
        buf = self._buf + data if self._buf else data
        out: list[Frame] = []
        pos, end = 0, len(buf)
        while end - pos >= 8:
            size = int.from_bytes(buf[pos + 4 : pos + 8], "big")
            if end - pos - 8 < size:
                break
            if size:
                out.append((buf[pos], buf[pos + 8 : pos + 8 + size]))
            pos += 8 + size
        self._buf = buf[pos:]
        return out


class RawLineDecoder:
    """A TTY container's stream: no multiplexing, one "TIMESTAMP text\\n" per record."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> list[Frame]:
        buf = self._buf + data if self._buf else data
        parts = buf.split(b"\n")
        self._buf = parts.pop()
        return [(STDOUT, p + b"\n") for p in parts]

    def rest(self) -> list[Frame]:
        buf, self._buf = self._buf, b""
        return [(STDOUT, buf)] if buf else []


_SECONDS: dict[bytes, int] = {}


def parse_timestamp(stamp: bytes) -> int:
    """Docker's RFC 3339 UTC timestamp with nanoseconds (trailing zeros trimmed) -> ns."""
    head = stamp[:19]
    secs = _SECONDS.get(head)
    if secs is None:
        text = head.decode()
        secs = calendar.timegm(
            (
                int(text[0:4]),
                int(text[5:7]),
                int(text[8:10]),
                int(text[11:13]),
                int(text[14:16]),
                int(text[17:19]),
            )
        )
        if len(_SECONDS) > 4096:
            _SECONDS.clear()
        _SECONDS[head] = secs
    frac = stamp[20:-1] if len(stamp) > 20 and stamp[19:20] == b"." else b""
    return secs * 1_000_000_000 + (int(frac.ljust(9, b"0")[:9]) if frac else 0)


def format_since(ns: int) -> str:
    """Docker's `since` parameter with full precision: "seconds.nanoseconds"."""
    return f"{ns // 1_000_000_000}.{ns % 1_000_000_000:09d}"


# -- records to events ---------------------------------------------------------------------

Event = tuple[int, str]  # (timestamp ms, message)


def split_message(text: str) -> list[str]:
    """A message longer than CloudWatch's event limit becomes several (at character edges)."""
    if len(text) * 4 <= MAX_EVENT_BYTES:
        return [text] if text else []
    data = text.encode()
    if len(data) <= MAX_EVENT_BYTES:
        return [text] if text else []
    out: list[str] = []
    while data:
        cut = min(len(data), MAX_EVENT_BYTES)
        while cut < len(data) and (data[cut] & 0xC0) == 0x80:
            cut -= 1
        out.append(data[:cut].decode(errors="replace"))
        data = data[cut:]
    return out


@dataclass(slots=True)
class _Partial:
    first: int  # record index of its first piece
    ts: int
    pieces: list[bytes]
    size: int = 0


@dataclass(slots=True)
class Assembler:
    """Records (in the stream's order, numbered from 0) to events, with clean cuts.

    `emitted` counts the events made so far; `checkpoints` holds (emitted, cut) pairs: after
    the first `emitted` events exactly the records 0..cut are consumed."""

    pattern: re.Pattern[str] | None = None
    flush_ns: int = MULTILINE_FLUSH_NS
    emitted: int = 0
    checkpoints: deque[tuple[int, int]] = field(default_factory=deque)
    _partials: dict[int, _Partial] = field(default_factory=dict)
    _group: list[str] = field(default_factory=list)
    _group_bytes: int = 0
    _group_ts: int = 0
    _group_first: int = -1
    _group_last: int = -1
    _max_done: int = -1  # the highest record index inside an emitted event
    _last: int = -1  # the last record index seen

    def records(self, first: int, frames: list[Frame], stamps: list[int]) -> list[Event]:
        """Frames numbered first, first+1, ...; stamps[i] is frame i's timestamp (ns). A
        checkpoint is taken after the last one (a cut per read is fine enough)."""
        out: list[Event] = []
        append = out.append
        partials = self._partials
        plain = self.pattern is None
        short = MAX_EVENT_BYTES // 4  # a str this long is within the limit in any encoding
        for i, (stream, payload) in enumerate(frames):
            idx = first + i
            body = payload[payload.find(b" ") + 1 :]
            ts = stamps[i]
            if body[-1:] != b"\n":
                part = partials.get(stream)
                if part is None:
                    part = partials[stream] = _Partial(idx, ts, [body], len(body))
                else:
                    part.pieces.append(body)
                    part.size += len(body)
                if part.size >= MAX_EVENT_BYTES:
                    # A line longer than an event is sent as it comes, not held whole.
                    del partials[stream]
                    text = b"".join(part.pieces).decode(errors="replace")
                    self._line(out, text, part.ts, part.first, idx)
                continue
            start = idx
            if partials:
                part = partials.pop(stream, None)
                if part is not None:
                    body = b"".join(part.pieces) + body
                    ts, start = part.ts, part.first
            text = body[:-1].decode(errors="replace")
            if plain and len(text) <= short:
                if text:  # Docker's awslogs sends no empty event
                    append((ts // 1_000_000, text))
                    self.emitted += 1
                self._max_done = idx
            else:
                self._line(out, text, ts, start, idx)
        if frames:
            self._last = first + len(frames) - 1
            self._checkpoint()
        return out

    def _line(self, out: list[Event], text: str, ts: int, start: int, end: int) -> None:
        if self.pattern is None:
            for piece in split_message(text):
                out.append((ts // 1_000_000, piece))
                self.emitted += 1
            self._max_done = max(self._max_done, end)
            return
        if self._group and (self.pattern.search(text) or ts - self._group_ts > self.flush_ns):
            self._emit_group(out)
        size = len(text.encode()) if len(text) * 4 > MAX_EVENT_BYTES else len(text)
        if self._group and self._group_bytes + size > MAX_EVENT_BYTES:
            self._emit_group(out)
        if not self._group:
            self._group_ts, self._group_first = ts, start
        elif start < self._group_first:  # a long line begun before the group's first
            self._group_first = start
        self._group.append(text + "\n")
        self._group_bytes += size + 1
        self._group_last = end

    def _emit_group(self, out: list[Event]) -> None:
        for piece in split_message("".join(self._group)):
            out.append((self._group_ts // 1_000_000, piece))
            self.emitted += 1
        self._max_done = max(self._max_done, self._group_last)
        self._group.clear()
        self._group_bytes = 0
        self._group_first = -1

    def _checkpoint(self) -> None:
        if self._partials or self._group:
            pending = [p.first for p in self._partials.values()]
            if self._group:
                pending.append(self._group_first)
            cut = min(pending) - 1
        else:
            cut = self._last
        if self._max_done > cut:
            return
        if self.checkpoints and self.checkpoints[-1][0] == self.emitted:
            self.checkpoints[-1] = (self.emitted, cut)
        else:
            self.checkpoints.append((self.emitted, cut))

    def pending_since(self) -> int | None:
        """The timestamp (ns) of the multi-line event waiting for its next line, if any."""
        return self._group_ts if self._group else None

    def flush_idle(self, now_ns: int) -> list[Event]:
        """A pending multi-line event whose first line is older than the flush interval."""
        out: list[Event] = []
        if self._group and now_ns - self._group_ts > self.flush_ns:
            self._emit_group(out)
            self._checkpoint()
        return out

    def finish(self) -> list[Event]:
        """The stream ended: everything still pending becomes events."""
        out: list[Event] = []
        for part in sorted(self._partials.values(), key=lambda p: p.first):
            text = b"".join(part.pieces).decode(errors="replace")
            self._line(out, text, part.ts, part.first, self._last)
        self._partials.clear()
        if self._group:
            self._emit_group(out)
        self._max_done = self._last
        self._checkpoint()
        return out

    def cut_for(self, shipped: int) -> tuple[int, int] | None:
        """The furthest clean cut that the first `shipped` events reach, as (events before it,
        last record index), or None when there is none yet."""
        best = None
        while self.checkpoints and self.checkpoints[0][0] <= shipped:
            best = self.checkpoints.popleft()
        if best is not None:
            # Keep it: a later call with the same count still needs an answer.
            self.checkpoints.appendleft(best)
        return best


class Window:
    """Where to resume: records numbered from 0 in the order Docker returned them for
    `since`, the first `skip` of which were shipped before this session began."""

    def __init__(self, since: int, skip: int, margin_ns: int = 100_000_000) -> None:
        self.since = since
        self.skip = skip
        self.margin = margin_ns
        self._stamps: deque[int] = deque()
        self._base = 0  # record index of _stamps[0]
        self._cut = -1  # records 0..cut are accounted for in _max
        self._max = -1  # newest timestamp among the shipped records

    def observe(self, stamps: list[int]) -> None:
        self._stamps.extend(stamps)

    @property
    def seen(self) -> int:
        return self._base + len(self._stamps)

    def cursor(self, cut: int) -> tuple[int, int]:
        """(since, skip) once records 0..cut are shipped."""
        if cut > self._cut:
            start = max(self._cut + 1, self._base) - self._base
            newest = max(islice(self._stamps, start, cut - self._base + 1), default=-1)
            self._max = max(self._max, newest)
            self._cut = cut
        if self._max < 0:
            return self.since, self.skip
        since = max(self._max - self.margin, self.since)
        stamps = self._stamps
        while stamps and self._base <= self._cut and stamps[0] < since:
            stamps.popleft()
            self._base += 1
        upto = self._cut - self._base + 1
        skip = sum(1 for ts in islice(stamps, upto) if ts >= since)
        return since, skip


@dataclass(slots=True)
class Batch:
    """Events on their way to one PutLogEvents-like call."""

    events: list[Event] = field(default_factory=list)
    size: int = 0
    started: float = 0.0

    def add(self, event: Event, now: float) -> None:
        if not self.events:
            self.started = now
        self.events.append(event)
        self.size += len(event[1]) + EVENT_OVERHEAD

    def fits(self, event: Event) -> bool:
        return (
            len(self.events) < MAX_BATCH_EVENTS
            and self.size + len(event[1]) + EVENT_OVERHEAD <= MAX_BATCH_BYTES
        )

    def full(self) -> bool:
        return len(self.events) >= MAX_BATCH_EVENTS or self.size >= MAX_BATCH_BYTES

    def take(self) -> list[Event]:
        events, self.events, self.size = self.events, [], 0
        return events
