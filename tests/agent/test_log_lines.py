"""awslogs, the pure part: Docker's stream to CloudWatch events as Docker's awslogs driver makes
them, and resuming after a restart with nothing lost or shipped twice."""

from __future__ import annotations

import calendar
import re
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portside.agent.log_lines import (
    MAX_BATCH_EVENTS,
    MAX_EVENT_BYTES,
    STDERR,
    STDOUT,
    Assembler,
    Batch,
    ChunkedDecoder,
    FrameDecoder,
    RawLineDecoder,
    Window,
    awslogs_options,
    datetime_regex,
    format_since,
    logger_failure,
    parse_bool,
    parse_timestamp,
)

T0 = calendar.timegm((2026, 11, 21, 13, 0, 0)) * 1_000_000_000


def stamp(ns: int) -> bytes:
    """Docker's RFC 3339 with nanoseconds, trailing zeros trimmed (Go's RFC3339Nano)."""
    secs, frac = divmod(ns, 1_000_000_000)
    import time as _t

    head = _t.strftime("%Y-%m-%dT%H:%M:%S", _t.gmtime(secs)).encode()
    digits = f"{frac:09d}".rstrip("0")
    return head + (b"." + digits.encode() if digits else b"") + b"Z"


def frame(stream: int, ns: int, text: bytes) -> bytes:
    payload = stamp(ns) + b" " + text
    return struct.pack(">BxxxL", stream, len(payload)) + payload


def records(asm: Assembler, items: list[tuple[int, int, bytes]], first: int = 0) -> list:
    frames = [(s, stamp(ns) + b" " + text) for s, ns, text in items]
    return asm.records(first, frames, [ns for _, ns, _ in items])


def awslogs(**options: str) -> dict:
    return {"name": "web", "logConfiguration": {"logDriver": "awslogs", "options": options}}


# -- options --------------------------------------------------------------------------------


def test_stream_names_as_ecs_names_them() -> None:
    with_prefix = awslogs_options(awslogs(**{"awslogs-group": "g", "awslogs-stream-prefix": "p"}))
    assert with_prefix is not None
    assert with_prefix.stream_name("abc123", "f" * 64) == "p/web/abc123"
    bare = awslogs_options(awslogs(**{"awslogs-group": "g"}))
    assert bare is not None
    assert bare.stream_name("abc123", "f" * 64) == "f" * 64  # EC2: the Docker container id


def test_other_drivers_are_not_shipped() -> None:
    assert awslogs_options({"name": "x"}) is None
    assert awslogs_options({"name": "x", "logConfiguration": {"logDriver": "json-file"}}) is None


def test_create_group_is_go_parse_bool() -> None:
    opts = awslogs_options(awslogs(**{"awslogs-group": "g", "awslogs-create-group": "true"}))
    assert opts is not None and opts.create_group
    opts = awslogs_options(awslogs(**{"awslogs-group": "g"}))
    assert opts is not None and not opts.create_group
    assert parse_bool("1") and parse_bool("True") and not parse_bool("F")
    with pytest.raises(ValueError, match="invalid syntax"):
        awslogs_options(awslogs(**{"awslogs-group": "g", "awslogs-create-group": "yes"}))


def test_group_is_required_and_patterns_must_compile() -> None:
    with pytest.raises(ValueError, match="awslogs-group"):
        awslogs_options(awslogs(**{"awslogs-stream-prefix": "p"}))
    with pytest.raises(ValueError, match="could not parse multiline pattern"):
        awslogs_options(awslogs(**{"awslogs-group": "g", "awslogs-multiline-pattern": "(["}))


def test_datetime_format_becomes_dockers_regex() -> None:
    rx = datetime_regex("%Y-%m-%dT%H:%M:%S")
    assert re.search(rx, "2026-11-21T13:26:26 started")
    assert not re.search(rx, "  at Foo.bar(Foo.java:12)")
    assert datetime_regex("[%b %d, %Y %H:%M:%S]") == (
        r"[(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (?:0[1-9]|[1,2][0-9]|3[0,1]), "
        r"\d{4} (?:[0,1][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]]"
    )
    assert datetime_regex("%Q%H") == r"(?:[0,1][0-9]|2[0-3])"  # unknown tokens vanish
    assert re.search(datetime_regex("%H:%M:%S%L"), "12:00:01.123 x")


def test_datetime_format_wins_over_the_pattern_as_in_docker() -> None:
    opts = awslogs_options(
        awslogs(
            **{
                "awslogs-group": "g",
                "awslogs-multiline-pattern": "^START",
                "awslogs-datetime-format": "%H:%M",
            }
        )
    )
    assert opts is not None and opts.pattern == datetime_regex("%H:%M")


def test_logger_failure_wording() -> None:
    cause = "ResourceNotFoundException: The specified log group does not exist."
    assert logger_failure("EC2", cause) == (
        "CannotStartContainerError: Error response from daemon: failed to initialize logging "
        "driver: failed to create Cloudwatch log stream: ResourceNotFoundException: The "
        "specified log group does not exist."
    )
    assert logger_failure("FARGATE", cause).startswith(
        "ResourceInitializationError: failed to validate logger args: "
    )
    assert cause in logger_failure("FARGATE", cause)


# -- decoding -------------------------------------------------------------------------------


def test_timestamps() -> None:
    assert parse_timestamp(stamp(T0 + 123_456_789)) == T0 + 123_456_789
    assert parse_timestamp(stamp(T0 + 100_000_000)) == T0 + 100_000_000  # "…:00.1Z"
    assert parse_timestamp(stamp(T0)) == T0  # no fraction at all
    assert format_since(T0 + 5) == f"{T0 // 1_000_000_000}.000000005"


@settings(max_examples=60, derandomize=True, database=None)
@given(st.lists(st.binary(min_size=1, max_size=40), max_size=20), st.data())
def test_http_chunked_bodies_survive_any_reads(chunks: list[bytes], data: st.DataObject) -> None:
    wire = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=12)))
    dec = ChunkedDecoder()
    got = b"".join(dec.feed(wire[a:b]) for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=True))
    assert got == b"".join(chunks) and dec.done


@settings(max_examples=60, derandomize=True, database=None)
@given(st.lists(st.integers(1, 300), max_size=30), st.data())
def test_frames_survive_any_chunking(sizes: list[int], data: st.DataObject) -> None:
    stream = b"".join(
        frame(STDOUT if i % 3 else STDERR, T0 + i, b"x" * n + b"\n") for i, n in enumerate(sizes)
    )
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    dec = FrameDecoder()
    got = []
    for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        got += dec.feed(stream[a:b])
    assert [len(p) - len(stamp(T0 + i)) - 2 for i, (_, p) in enumerate(got)] == sizes
    assert [s for s, _ in got] == [STDOUT if i % 3 else STDERR for i in range(len(sizes))]


def test_tty_stream_is_split_into_lines() -> None:
    dec = RawLineDecoder()
    raw = stamp(T0) + b" one\r\n" + stamp(T0 + 1) + b" two\r\n" + stamp(T0 + 2) + b" tail"
    got = dec.feed(raw[:7]) + dec.feed(raw[7:])
    assert got == [
        (STDOUT, stamp(T0) + b" one\r\n"),
        (STDOUT, stamp(T0 + 1) + b" two\r\n"),
    ]
    assert dec.rest() == [(STDOUT, stamp(T0 + 2) + b" tail")]


# -- events ---------------------------------------------------------------------------------


def test_one_event_per_line_from_both_streams() -> None:
    asm = Assembler()
    out = records(asm, [(STDOUT, T0 + 1_000_000, b"hello\n"), (STDERR, T0 + 2_000_000, b"oops\n")])
    assert out == [(T0 // 1_000_000 + 1, "hello"), (T0 // 1_000_000 + 2, "oops")]


def test_empty_lines_make_no_event_as_in_docker() -> None:
    asm = Assembler()
    assert records(asm, [(STDOUT, T0, b"\n"), (STDOUT, T0, b"x\n")]) == [(T0 // 1_000_000, "x")]


def test_partial_records_are_joined_per_stream() -> None:
    asm = Assembler()
    out = records(
        asm,
        [
            (STDOUT, T0, b"a" * 5),
            (STDERR, T0 + 1, b"err\n"),
            (STDOUT, T0 + 2, b"b" * 5),
            (STDOUT, T0 + 3, b"c\n"),
        ],
    )
    assert [m for _, m in out] == ["err", "aaaaabbbbbc"]


def test_long_lines_are_cut_at_the_event_limit() -> None:
    asm = Assembler()
    text = "é" * MAX_EVENT_BYTES  # two bytes each
    out = records(asm, [(STDOUT, T0, text.encode() + b"\n")])
    assert "".join(m for _, m in out) == text
    assert all(len(m.encode()) <= MAX_EVENT_BYTES for _, m in out) and len(out) == 2


def test_an_endless_line_is_sent_as_it_comes() -> None:
    asm = Assembler()
    piece = b"y" * 16384  # Docker cuts lines at 16 KiB
    out = records(asm, [(STDOUT, T0 + i, piece) for i in range(20)])
    assert out and all(len(m) <= MAX_EVENT_BYTES for _, m in out)
    out += records(asm, [(STDOUT, T0 + 20, b"end\n")])
    assert "".join(m for _, m in out) == "y" * 16384 * 20 + "end"


def test_multiline_groups_lines_until_the_next_match() -> None:
    asm = Assembler(re.compile(r"^\d{4}-"))
    out = records(
        asm,
        [
            (STDOUT, T0, b"2026-01-01 boom\n"),
            (STDOUT, T0 + 1, b"  at a()\n"),
            (STDERR, T0 + 2, b"  at b()\n"),
            (STDOUT, T0 + 3, b"2026-01-01 next\n"),
        ],
    )
    assert out == [(T0 // 1_000_000, "2026-01-01 boom\n  at a()\n  at b()\n")]
    assert asm.pending_since() == T0 + 3
    assert asm.finish() == [(T0 // 1_000_000, "2026-01-01 next\n")]


def test_multiline_flushes_after_a_quiet_period() -> None:
    asm = Assembler(re.compile("^START"), flush_ns=5_000_000_000)
    assert records(asm, [(STDOUT, T0, b"START a\n"), (STDOUT, T0 + 1, b" more\n")]) == []
    assert asm.flush_idle(T0 + 4_000_000_000) == []
    assert asm.flush_idle(T0 + 6_000_000_000) == [(T0 // 1_000_000, "START a\n more\n")]
    # A line arriving after the quiet period starts a new event even without a match.
    records(asm, [(STDOUT, T0 + 7_000_000_000, b"START b\n")])
    out = records(asm, [(STDOUT, T0 + 13_000_000_000, b"late\n")])
    assert out == [((T0 + 7_000_000_000) // 1_000_000, "START b\n")]


def test_batches() -> None:
    batch = Batch()
    for i in range(MAX_BATCH_EVENTS):
        assert batch.fits((i, "x"))
        batch.add((i, "x"), 0.0)
    assert batch.full() and not batch.fits((0, "x"))
    assert len(batch.take()) == MAX_BATCH_EVENTS and not batch.events
    assert not batch.fits((0, "x" * (1 << 20)))


# -- resuming -------------------------------------------------------------------------------


def docker_since(log: list[tuple[int, int, bytes]], since: int) -> list[tuple[int, int, bytes]]:
    """What Docker's json-file reader returns for `since`: entries at or after it, in order."""
    return [r for r in log if r[1] >= since]


def run_session(
    log: list[tuple[int, int, bytes]],
    cursor: dict[str, int],
    pattern: re.Pattern[str] | None,
    stop_after: int | None,
    reads: int = 3,
) -> tuple[list, dict[str, int]]:
    """One follower session: read from the cursor (in reads of `reads` records), ship
    `stop_after` events (all, and the end of the stream, when None), and return them with the
    cursor saved afterwards."""
    win = Window(cursor["since"], cursor["skip"], margin_ns=50)
    asm = Assembler(pattern)
    got = docker_since(log, cursor["since"])
    win.observe([ns for _, ns, _ in got])
    out = []
    for at in range(cursor["skip"], len(got), reads):
        out += records(asm, got[at : at + reads], first=at)
    if stop_after is None:
        out += asm.finish()
        shipped = len(out)
    else:
        shipped = min(stop_after, len(out))
    best = asm.cut_for(shipped)
    if best is None:
        return out[:shipped], cursor
    emitted, cut = best
    since, skip = win.cursor(cut)
    return out[:shipped], {"since": since, "skip": skip, "first": cursor["first"] + emitted}


record = st.tuples(
    st.sampled_from([STDOUT, STDOUT, STDERR]),
    st.integers(0, 40),  # time step (ns); stderr may go back a little
    st.sampled_from([b"START x\n", b" more\n", b"\n", b"part", b"line\n"]),
)


@settings(max_examples=200, derandomize=True, database=None)
@given(
    st.lists(record, min_size=1, max_size=40),
    st.lists(st.integers(0, 12), min_size=1, max_size=4),
    st.booleans(),
    st.integers(1, 4),
)
def test_a_restart_anywhere_loses_and_repeats_nothing(
    raw: list[tuple[int, int, bytes]], stops: list[int], multiline: bool, reads: int
) -> None:
    """Ship some events, "crash", resume from the saved cursor: the server (which keeps only
    events past its count, like the gateway's `first`) ends with exactly the events of one
    uninterrupted run. Timestamps repeat, and stderr's may run behind stdout's."""
    log, now = [], T0
    for stream, step, text in raw:
        now += step
        log.append((stream, now - (30 if stream == STDERR and step < 30 else 0), text))
    pattern = re.compile("^START") if multiline else None
    expected, _ = run_session(log, {"since": 0, "skip": 0, "first": 0}, pattern, None, 1000)

    stored: list = []
    cursor = {"since": 0, "skip": 0, "first": 0}
    for stop in [*stops, None]:
        events, saved = run_session(log, cursor, pattern, stop, reads)
        first = cursor["first"]
        assert first <= len(stored)
        stored += events[len(stored) - first :]  # the server's dedup on `first`
        cursor = saved
    assert stored == expected
