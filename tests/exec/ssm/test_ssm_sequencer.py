"""Ordering, acknowledgement and resending on a data channel (portside/exec/ssm/sequencer.py,
channel.py), with the time passed in."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from portside.exec.ssm import payloads
from portside.exec.ssm.channel import DataChannel
from portside.exec.ssm.message import (
    ACKNOWLEDGE,
    INPUT_STREAM_DATA,
    OUTPUT_STREAM_DATA,
    PayloadType,
    decode,
    encode,
)
from portside.exec.ssm.sequencer import MAX_RTO, Incoming, Outgoing


def test_incoming_hands_on_in_order_and_holds_early_ones() -> None:
    inc: Incoming[str] = Incoming()
    assert inc.received(1, "b") == (True, [])
    assert inc.received(2, "c") == (True, [])
    assert inc.received(0, "a") == (True, ["a", "b", "c"])
    assert inc.expected == 3


def test_a_duplicate_is_acknowledged_again_and_dropped() -> None:
    inc: Incoming[str] = Incoming()
    assert inc.received(0, "a") == (True, ["a"])
    assert inc.received(0, "a") == (True, [])
    assert inc.received(2, "c") == (True, [])
    assert inc.received(2, "c") == (True, [])
    assert inc.received(1, "b") == (True, ["b", "c"])


@given(st.permutations(range(12)), st.lists(st.integers(0, 11), max_size=10))
def test_any_arrival_order_with_repeats_hands_each_on_once_in_order(
    order: list[int], repeats: list[int]
) -> None:
    inc: Incoming[int] = Incoming()
    out: list[int] = []
    for seq in [*order[:6], *repeats, *order[6:], *repeats]:
        ack, ready = inc.received(seq, seq)
        assert ack
        out.extend(ready)
    assert out == list(range(12))


def test_an_unacknowledged_message_is_resent_after_the_timeout() -> None:
    out = Outgoing()
    out.sent(out.take_sequence(), b"m0", now=0.0)
    out.sent(out.take_sequence(), b"m1", now=0.05)
    assert out.due(0.1) == []
    assert out.due(0.2) == [b"m0"]
    assert out.due(0.26) == [b"m1"]
    assert out.due(0.3) == []  # just resent
    assert out.acknowledged(0, 0.31)
    assert not out.acknowledged(0, 0.32)  # a repeated acknowledgement
    assert out.due(0.5) == [b"m1"]
    assert out.oldest_resends() == 2
    assert out.acknowledged(1, 0.51)
    assert out.waiting == 0 and out.due(9.0) == []


def test_the_timeout_follows_the_round_trip_and_stays_bounded() -> None:
    quick = Outgoing()
    for i in range(20):
        quick.sent(quick.take_sequence(), b"x", now=float(i))
        quick.acknowledged(i, i + 0.005)
    assert quick.rto < 0.1  # below the initial 200 ms
    slow = Outgoing()
    for i in range(20):
        slow.sent(slow.take_sequence(), b"x", now=float(i * 10))
        slow.acknowledged(i, i * 10 + 5.0)
    assert slow.rto == MAX_RTO


def test_two_channel_ends_deliver_despite_a_lost_message() -> None:
    server = DataChannel(OUTPUT_STREAM_DATA, clock_ms=lambda: 1)
    client = DataChannel(INPUT_STREAM_DATA, clock_ms=lambda: 1)
    first = server.data(PayloadType.OUTPUT, b"one", now=0.0)
    second = server.data(PayloadType.OUTPUT, b"two", now=0.0)
    # `first` is lost on the way; `second` is held and acknowledged.
    got = client.receive(second, now=0.01)
    assert got.data == []
    (ack,) = got.replies
    assert decode(ack).message_type == ACKNOWLEDGE
    server.receive(ack, now=0.02)
    assert server.outgoing.waiting == 1
    (resent,) = server.due(now=0.5)
    assert resent == first
    got = client.receive(resent, now=0.51)
    assert [m.payload for m in got.data] == [b"one", b"two"]
    server.receive(got.replies[0], now=0.52)
    assert server.all_acknowledged


def test_a_channel_refuses_its_own_kind_and_passes_control_messages_on() -> None:
    server = DataChannel(OUTPUT_STREAM_DATA)
    echo = server.data(PayloadType.OUTPUT, b"x", now=0.0)
    try:
        server.receive(echo, now=0.0)
    except ValueError as exc:
        assert "other way" in str(exc)
    else:
        raise AssertionError("accepted its own output")
    closed = encode(payloads.channel_closed("s", 1))
    client = DataChannel(INPUT_STREAM_DATA)
    got = client.receive(closed, now=0.0)
    assert [m.message_type for m in got.control] == ["channel_closed"]
    assert got.replies == [] and got.data == []


def test_resends_are_the_oldest_few() -> None:
    out = Outgoing()
    for i in range(20):
        out.sent(out.take_sequence(), bytes([i]), now=0.0)
    assert out.due(1.0, limit=3) == [b"\x00", b"\x01", b"\x02"]
    assert out.due(1.0, limit=3) == [b"\x03", b"\x04", b"\x05"]
