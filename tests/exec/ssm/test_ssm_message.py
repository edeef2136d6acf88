"""The data channel's message and payloads (portside/exec/ssm/message.py, payloads.py) against
golden bytes from AWS's session-manager-plugin tests (fixtures/plugin_messages.json)."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from portside.exec.ssm import payloads
from portside.exec.ssm.message import (
    ACKNOWLEDGE,
    CHANNEL_CLOSED,
    INPUT_STREAM_DATA,
    PAYLOAD_OFFSET,
    START_PUBLICATION,
    Message,
    MessageError,
    PayloadType,
    decode,
    encode,
)

GOLDEN: dict[str, Any] = json.loads(
    (Path(__file__).parent / "fixtures" / "plugin_messages.json").read_text()
)
MID = uuid.UUID("dd01e56b-ff48-483e-a508-b5f073f31b16")


def golden_message() -> tuple[Message, bytes]:
    g = GOLDEN["client_message"]
    m = Message(
        g["message_type"],
        g["sequence_number"],
        g["payload"].encode(),
        payload_type=g["payload_type"],
        flags=g["flags"],
        created_date=g["created_date"],
        message_id=uuid.UUID(g["message_id"]),
        schema_version=g["schema_version"],
    )
    return m, bytes.fromhex("".join(hexed for _, hexed in g["fields"]))


def test_the_plugin_test_message_serializes_byte_for_byte() -> None:
    m, wire = golden_message()
    assert encode(m) == wire
    assert len(wire) == PAYLOAD_OFFSET + len(m.payload)


def test_the_plugin_test_message_parses_back() -> None:
    m, wire = golden_message()
    assert decode(wire) == m


@pytest.mark.parametrize(("value", "hexed"), GOLDEN["longs"])
def test_eight_byte_fields_are_big_endian_as_the_plugin_writes_them(value: int, hexed: str) -> None:
    wire = encode(Message(INPUT_STREAM_DATA, value, message_id=MID))
    assert wire[48:56].hex() == hexed  # the sequence number
    assert decode(wire).sequence_number == value


@pytest.mark.parametrize(("value", "hexed"), GOLDEN["integers"])
def test_four_byte_fields_are_big_endian_as_the_plugin_writes_them(value: int, hexed: str) -> None:
    wire = encode(Message(INPUT_STREAM_DATA, payload_type=value, message_id=MID))
    assert wire[112:116].hex() == hexed  # the payload type
    assert decode(wire).payload_type == value


def test_the_acknowledgement_payload_is_the_plugins() -> None:
    of = Message(INPUT_STREAM_DATA, 2, b"x", message_id=MID)
    ack = payloads.acknowledge(of, now_ms=1503434274948)
    assert ack.payload == GOLDEN["acknowledge_payload"].encode()
    assert (ack.message_type, ack.sequence_number, ack.flags) == (ACKNOWLEDGE, 0, 3)
    assert payloads.acknowledged_sequence(decode(encode(ack))) == 2


def test_channel_closed_as_the_plugin_reads_it() -> None:
    raw = GOLDEN["channel_closed_payload"].encode()
    m = decode(encode(Message(CHANNEL_CLOSED, 1, raw, flags=2, message_id=MID)))
    body = payloads.json_of(m.payload)
    assert (body["MessageType"], body["SessionId"], body["Output"]) == (
        CHANNEL_CLOSED,
        "sessionId_01234567890abcedf",
        "payload",
    )
    ours = payloads.json_of(payloads.channel_closed("s-1", 5, "why").payload)
    assert set(ours) == {*body, "DestinationId"}
    assert (ours["SessionId"], ours["Output"], ours["CreatedDate"]) == ("s-1", "why", "5")


def test_the_handshake_answers_an_unknown_action_as_unsupported() -> None:
    request = payloads.json_of(GOLDEN["handshake_request_payload"].encode())
    answer = orjson.loads(payloads.handshake_response(request, "9.9"))
    assert answer == {
        "ClientVersion": "9.9",
        "ProcessedClientActions": [
            {"ActionType": "start", "ActionStatus": 2, "Error": "Unsupported action start"}
        ],
        "Errors": ["Unsupported action start"],
    }


def test_the_handshake_takes_the_shell_session_type() -> None:
    request = orjson.loads(payloads.handshake_request("3.0"))
    answer = orjson.loads(payloads.handshake_response(request, "9.9"))
    assert answer["ProcessedClientActions"] == [{"ActionType": "SessionType", "ActionStatus": 1}]
    assert "Errors" not in answer


def test_handshake_complete_and_size_payloads() -> None:
    body = payloads.json_of(GOLDEN["handshake_complete_payload"].encode())
    assert body == orjson.loads(payloads.handshake_complete(1000000, "Handshake Complete"))
    assert orjson.loads(payloads.size(40, 120)) == {"cols": 120, "rows": 40}
    assert payloads.size_of(payloads.size(40, 120)) == (40, 120)
    assert payloads.size_of(b'{"cols": 0, "rows": 3}') is None


def test_the_opening_message_carries_the_token() -> None:
    text = payloads.open_channel("tok", "client-1", "1.2.3")
    body = payloads.opening(text)
    assert body is not None
    assert (body["TokenValue"], body["ClientId"], body["MessageSchemaVersion"]) == (
        "tok",
        "client-1",
        "1.0",
    )
    assert payloads.opening('{"token": "x"}') is None
    assert payloads.opening("not json") is None


@given(
    st.sampled_from([INPUT_STREAM_DATA, ACKNOWLEDGE, START_PUBLICATION]),
    st.integers(-(2**63), 2**63 - 1),
    st.binary(max_size=512),
    st.sampled_from(list(PayloadType)),
    st.integers(0, 2**64 - 1),
    st.uuids(),
)
def test_any_message_round_trips(
    kind: str, seq: int, payload: bytes, ptype: int, flags: int, mid: uuid.UUID
) -> None:
    m = Message(kind, seq, payload, payload_type=ptype, flags=flags, created_date=7, message_id=mid)
    assert decode(encode(m)) == m


@pytest.mark.parametrize(
    ("wire", "why"),
    [
        (b"\x00" * 10, "at least 120"),
        (b"\x00\x00\x00\x05" + b"\x00" * 200, "bad header length"),
    ],
)
def test_bytes_that_are_no_message_are_refused(wire: bytes, why: str) -> None:
    with pytest.raises(MessageError, match=why):
        decode(wire)


def test_a_payload_that_does_not_match_its_digest_is_refused() -> None:
    wire = bytearray(encode(Message(INPUT_STREAM_DATA, 0, b"hello", message_id=MID)))
    wire[-1] ^= 1
    with pytest.raises(MessageError, match="digest"):
        decode(bytes(wire))
    # An empty payload is not checked (start/pause publication carry none).
    empty = encode(Message(START_PUBLICATION, 0, b""))
    assert decode(empty).payload == b""
    assert hashlib.sha256(b"").digest() == empty[80:112]
