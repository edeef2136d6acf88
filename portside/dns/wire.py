"""The common query read straight from its bytes, and answers replayed from a cache.

Almost every query is one question with no records, or with an EDNS OPT record and no
options. Such a query is read here without building a message, and its answer is the cached
one with the query's id, RD and CD bits and question (its case kept, as 0x20-randomising
resolvers want) put in. Anything else (other opcodes, options, several questions, a malformed
name) returns None here and takes dnspython's path.

An answer is cached as its header flags, its section counts and the bytes after its
question. Those bytes point (name compression) into the question, which the next query with
the same name carries at the same place, so they stay valid for any case of it.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

HEADER = struct.Struct("!HHHHHH")
_RD_CD = 0x0100 | 0x0010
_QR_OPCODE = 0xF800
_OPT = 41
_TC = 0x0200


class Question(NamedTuple):
    id: int
    flags: int
    name: str  # absolute, lower-case
    qtype: int
    qclass: int
    end: int  # where the question ends in the query
    edns: bool
    payload: int  # the largest UDP answer the client takes

    @property
    def key(self) -> tuple[int, int, bool]:
        """What a cached answer depends on, beside the name."""
        return (self.qtype, self.qclass, self.edns)


class Encoded(NamedTuple):
    flags: int  # without RD and CD, which come from each query
    counts: tuple[int, int, int]  # answer, authority, additional
    tail: bytes  # everything after the question


def parse(wire: bytes) -> Question | None:
    """The question of a plain query, or None for anything else."""
    if len(wire) < 17:
        return None
    ident, flags, qd, an, ns, ar = HEADER.unpack_from(wire)
    if flags & _QR_OPCODE or qd != 1 or an or ns or ar > 1:
        return None
    labels: list[bytes] = []
    pos = 12
    try:
        while length := wire[pos]:
            if length > 63:
                return None  # a compression pointer or an extended label type
            labels.append(wire[pos + 1 : pos + 1 + length])
            pos += 1 + length
    except IndexError:
        return None
    pos += 1
    if pos + 4 > len(wire) or pos - 12 > 255:
        return None
    qtype, qclass = struct.unpack_from("!HH", wire, pos)
    end = pos + 4
    payload, edns = 512, False
    if ar:
        # The root name, OPT, payload, extended rcode, version 0, flags, no options.
        if len(wire) != end + 11 or wire[end] != 0:
            return None
        rtype, size, _ercode, version, _flags, rdlen = struct.unpack_from("!HHBBHH", wire, end + 1)
        if rtype != _OPT or version != 0 or rdlen != 0:
            return None
        payload, edns = max(512, size), True
    elif len(wire) != end:
        return None
    raw = b".".join(labels)
    if raw.count(b".") != len(labels) - 1 or not raw.isascii():
        return None  # a dot inside a label, or bytes a name in text cannot hold as they are
    return Question(ident, flags, raw.decode().lower() + ".", qtype, qclass, end, edns, payload)


def encode(response: bytes, question_end: int) -> Encoded:
    """A response's wire form as a cache entry (`question_end`: where its question ends)."""
    _, flags, _, an, ns, ar = HEADER.unpack_from(response)
    return Encoded(flags & ~_RD_CD, (an, ns, ar), response[question_end:])


def reply(question: Question, query: bytes, cached: Encoded) -> bytes:
    """The cached answer to `query`."""
    flags = cached.flags | (question.flags & _RD_CD)
    head = HEADER.pack(question.id, flags, 1, *cached.counts)
    return head + query[12 : question.end] + cached.tail


def truncated(query: bytes, question_end: int) -> bytes:
    """A UDP response too large for the client: its header and question, TC set, so that it
    asks again over TCP."""
    return _bare(query, question_end, _TC)


def failure(query: bytes, question_end: int, rcode: int) -> bytes:
    """A response with `rcode` (SERVFAIL, say) and the question alone."""
    return _bare(query, question_end, rcode & 0xF)


def _bare(query: bytes, question_end: int, extra: int) -> bytes:
    ident, flags = struct.unpack_from("!HH", query)
    flags = 0x8000 | 0x0080 | extra | (flags & (0x7800 | _RD_CD))  # QR, RA; opcode, RD, CD
    return HEADER.pack(ident, flags, 1, 0, 0, 0) + query[12:question_end]
