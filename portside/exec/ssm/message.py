"""The data channel's binary message (the plugin calls it a ClientMessage), pure.

Every websocket message after the opening text message is one of these, big-endian:

    offset size  field
    0      4     header length: 116, the offset of the payload length field
    4      32    message type, UTF-8, padded with spaces (input_stream_data, acknowledge ...)
    36     4     schema version (1)
    40     8     created date, epoch milliseconds
    48     8     sequence number (signed)
    56     8     flags (bit 0 SYN, bit 1 FIN; acknowledgements carry 3)
    64     16    message id: a UUID written as its low 8 bytes, then its high 8 bytes
    80     32    SHA-256 of the payload
    112    4     payload type (PayloadType below)
    116    4     payload length
    120    ...   payload

A reader takes the payload from header length + 4 to the end, as the plugin does, and checks
the digest when the payload is not empty.
"""

from __future__ import annotations

import hashlib
import struct
import uuid
from dataclasses import dataclass, field
from enum import IntEnum

INPUT_STREAM_DATA = "input_stream_data"
OUTPUT_STREAM_DATA = "output_stream_data"
ACKNOWLEDGE = "acknowledge"
CHANNEL_CLOSED = "channel_closed"
START_PUBLICATION = "start_publication"
PAUSE_PUBLICATION = "pause_publication"

HEADER_LENGTH = 116
PAYLOAD_OFFSET = HEADER_LENGTH + 4
TYPE_LENGTH = 32
SCHEMA_VERSION = 1

_HEAD = struct.Struct(">I32sIQqQ16s32sII")
assert _HEAD.size == PAYLOAD_OFFSET


class PayloadType(IntEnum):
    OUTPUT = 1  # terminal bytes: keystrokes one way, the command's output the other
    ERROR = 2
    SIZE = 3  # {"cols", "rows"}
    PARAMETER = 4
    HANDSHAKE_REQUEST = 5
    HANDSHAKE_RESPONSE = 6
    HANDSHAKE_COMPLETE = 7
    ENC_CHALLENGE_REQUEST = 8
    ENC_CHALLENGE_RESPONSE = 9
    FLAG = 10  # a 4-byte flag (Flag below)
    STDERR = 11
    EXIT_CODE = 12


class Flag(IntEnum):
    DISCONNECT_TO_PORT = 1
    TERMINATE_SESSION = 2
    CONNECT_TO_PORT_ERROR = 3


class MessageError(ValueError):
    """Bytes that are not a data channel message."""


@dataclass(frozen=True, slots=True)
class Message:
    message_type: str
    sequence_number: int = 0
    payload: bytes = b""
    payload_type: int = 0
    flags: int = 0
    created_date: int = 0  # epoch milliseconds
    message_id: uuid.UUID = field(default_factory=uuid.uuid4)
    schema_version: int = SCHEMA_VERSION


def encode(m: Message) -> bytes:
    kind = m.message_type.encode()
    if len(kind) > TYPE_LENGTH:
        raise MessageError(f"message type {m.message_type!r} is longer than {TYPE_LENGTH} bytes")
    raw = m.message_id.bytes
    head = _HEAD.pack(
        HEADER_LENGTH,
        kind.ljust(TYPE_LENGTH, b" "),
        m.schema_version,
        m.created_date,
        m.sequence_number,
        m.flags,
        raw[8:] + raw[:8],
        hashlib.sha256(m.payload).digest(),
        m.payload_type,
        len(m.payload),
    )
    return head + m.payload


def decode(data: bytes) -> Message:
    """A message from its bytes; MessageError when it is too short, its header length is not
    one a message can have, or its payload does not match its digest."""
    if len(data) < PAYLOAD_OFFSET:
        raise MessageError(f"a message has at least {PAYLOAD_OFFSET} bytes, not {len(data)}")
    (hl, kind, version, created, seq, flags, mid, digest, ptype, plen) = _HEAD.unpack_from(data)
    if hl < HEADER_LENGTH or hl + 4 > len(data):
        raise MessageError(f"bad header length {hl}")
    payload = bytes(data[hl + 4 :])
    if plen != 0 and hashlib.sha256(payload).digest() != digest:
        raise MessageError("the payload does not match its digest")
    return Message(
        message_type=kind.strip(b"\x00").decode("utf-8", "replace").strip(),
        sequence_number=seq,
        payload=payload,
        payload_type=ptype,
        flags=flags,
        created_date=created,
        message_id=uuid.UUID(bytes=mid[8:] + mid[:8]),
        schema_version=version,
    )
