"""The PostgreSQL store's connections: a pool of libpq connections, and a cursor that sends
a transaction's statements in as few round trips as its reads allow.

Why not psycopg's cursor and pool: on a small machine every round trip to PostgreSQL costs
~50 µs of this process's CPU and ~70 µs of the server's, whatever it carries, and psycopg's
cursor adds ~30 µs of Python to each. A read was BEGIN, its statements, ROLLBACK: three round
trips for one lookup. Here:

- BEGIN goes in front of a transaction's first statement, in the same message (the simple
  query protocol runs them in order and answers with the last one's rows).
- A read-only transaction's ROLLBACK is not waited for: it goes in front of the connection's
  next statement, or a reaper sends it when the connection has sat idle a moment (a read's
  snapshot is never held longer than that).
- A write's statements whose answer nobody reads (a document's upsert, its change-feed row)
  wait in the cursor and go with the next statement that is read, or with COMMIT.
- Values are sent as literals quoted by libpq (`PQescapeLiteral`); rows come back as text and
  are turned into Python values by psycopg's own loaders.

`PQexec` answers with the last statement's result, or with the first error, and releases the
GIL while it waits; statements after an error in the same message are not run.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import pq
from psycopg.adapt import Transformer

_OK = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK, pq.ExecStatus.EMPTY_QUERY)
# Deferred statements are sent at the latest when they hold this much text or this many.
DEFER_BYTES = 1 << 20
DEFER_COUNT = 500
_TEMPLATES: dict[str, list[bytes]] = {}


def _template(sql: str) -> list[bytes]:
    """`sql` split at its `%s` placeholders (cached: the statements are few)."""
    parts = _TEMPLATES.get(sql)
    if parts is None:
        if len(_TEMPLATES) > 4096:
            _TEMPLATES.clear()
        parts = [p.encode() for p in sql.split("%s")]
        _TEMPLATES[sql] = parts
    return parts


class Link:
    """One libpq connection. `open_read`: a read-only transaction is left open on it, to be
    rolled back in front of its next statement (or by the reaper)."""

    __slots__ = ("escaping", "idle_since", "open_read", "pgconn")

    def __init__(self, pgconn: pq.abc.PGconn) -> None:
        self.pgconn = pgconn
        self.escaping = pq.Escaping(pgconn)
        self.open_read = False
        self.idle_since = 0.0

    def literal(self, value: Any) -> bytes:
        kind = type(value)
        if kind is str:
            return bytes(self.escaping.escape_literal(value.encode()))
        if value is None:
            return b"NULL"
        if kind is bool:
            return b"true" if value else b"false"
        if kind is int:
            return str(value).encode()
        if kind is float:
            if math.isfinite(value):
                return repr(value).encode()
            if math.isnan(value):
                return b"'NaN'::float8"
            return b"'Infinity'::float8" if value > 0 else b"'-Infinity'::float8"
        # Subclasses (enums of str or int): as the value they stand for.
        if isinstance(value, str):
            return bytes(self.escaping.escape_literal(str.encode(value)))
        if isinstance(value, bool):
            return self.literal(bool(value))
        if isinstance(value, int):
            return str(int(value)).encode()
        if isinstance(value, float):
            return self.literal(float(value))
        raise TypeError(f"cannot send a {kind.__name__} to PostgreSQL as a literal")

    def render(self, sql: str, params: Sequence[Any]) -> bytes:
        parts = _template(sql)
        if len(parts) != len(params) + 1:
            raise ValueError(f"{len(parts) - 1} placeholders, {len(params)} values: {sql}")
        if not params:
            return parts[0]
        out = [parts[0]]
        for value, part in zip(params, parts[1:], strict=True):
            out.append(self.literal(value))
            out.append(part)
        return b"".join(out)

    def run(self, message: bytes) -> pq.abc.PGresult:
        """Send `message` (one or more statements) and answer with the last statement's
        result; raise what PostgreSQL said when one of them failed."""
        res = self.pgconn.exec_(message)
        if res.status in _OK:
            return res
        raise error_of(res, self.pgconn)

    @property
    def usable(self) -> bool:
        return self.pgconn.status == pq.ConnStatus.OK

    def close(self) -> None:
        self.pgconn.finish()


def error_of(res: pq.abc.PGresult, pgconn: pq.abc.PGconn) -> psycopg.Error:
    """The psycopg exception for a failed result (its class picked by SQLSTATE, as psycopg's
    cursor picks it), or OperationalError when the connection itself is gone."""
    message = _one_line(res.error_message or pgconn.error_message or b"")
    state = res.error_field(pq.DiagnosticField.SQLSTATE)
    if pgconn.status != pq.ConnStatus.OK or not state:
        # No SQLSTATE: libpq's own error, the connection lost (its status may still say OK).
        return psycopg.OperationalError(message or "the connection to the database was lost")
    cls: type[psycopg.Error] = psycopg.DatabaseError
    with contextlib.suppress(KeyError):
        cls = pg_errors.lookup(state.decode())
    return cls(message or f"the statement failed (status {res.status})")


def _one_line(message: bytes) -> str:
    """libpq's message (its DETAIL, HINT and LINE parts on lines of their own) as one line,
    as a log line carries it."""
    text = message.decode(errors="replace")
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


class LinkPool:
    """Up to `size` connections, the most recently used handed out first (its pages and
    plans are warm). `acquire` opens one when none is idle and the pool is not full, else
    waits up to `timeout`. Connections are opened in the calling thread."""

    def __init__(self, conninfo: str, size: int) -> None:
        self.conninfo = conninfo.encode()
        self.size = max(1, size)
        self._idle: list[Link] = []
        self._open = 0
        self._closed = False
        self._cond = threading.Condition()

    def acquire(self, timeout: float) -> Link:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if self._closed:
                    raise psycopg.OperationalError("the store is closed")
                if self._idle:
                    return self._idle.pop()
                if self._open < self.size:
                    self._open += 1
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    raise psycopg.OperationalError(
                        f"no database connection came free within {timeout:g} s "
                        f"({self.size} in use)"
                    )
                self._cond.wait(left)
        try:
            pgconn = pq.PGconn.connect(self.conninfo)
            if pgconn.status != pq.ConnStatus.OK:
                message = _one_line(pgconn.error_message)
                pgconn.finish()
                raise psycopg.OperationalError(message or "could not connect to the database")
        except BaseException:
            self._forget()
            raise
        return Link(pgconn)

    def release(self, link: Link, *, keep: bool = True) -> None:
        """Give `link` back; closed instead when `keep` is false, when it broke, or when a
        transaction other than a left-open read is still open on it."""
        status = link.pgconn.transaction_status if link.usable else None
        fit = status == pq.TransactionStatus.IDLE or (
            status == pq.TransactionStatus.INTRANS and link.open_read
        )
        if keep and fit and not self._closed:
            link.idle_since = time.monotonic()
            with self._cond:
                self._idle.append(link)
                self._cond.notify()
            return
        link.close()
        self._forget()

    def _forget(self) -> None:
        with self._cond:
            self._open -= 1
            self._cond.notify()

    def reap(self, idle_for: float) -> None:
        """Roll back the reads left open on connections idle for `idle_for` seconds."""
        now = time.monotonic()
        with self._cond:
            stale = [k for k in self._idle if k.open_read and now - k.idle_since >= idle_for]
            if not stale:
                return
            self._idle = [k for k in self._idle if k not in stale]
        for link in stale:
            try:
                link.run(b"ROLLBACK")
                link.open_read = False
            except psycopg.Error:
                link.close()
                self._forget()
                continue
            self.release(link)

    def clear(self) -> None:
        """Close the idle connections (after the database was lost, they all are)."""
        with self._cond:
            idle, self._idle = self._idle, []
        for link in idle:
            link.close()
            self._forget()

    def close(self) -> None:
        with self._cond:
            self._closed = True
        self.clear()


class Cursor:
    """One transaction's statements on a link, with a DB-API cursor's `execute`, `fetchone`,
    `fetchall` and `rowcount` (psycopg's `%s` placeholders). `begin` is sent in front of the
    first statement; `defer` keeps a statement whose answer is not read for the next message."""

    lastrowid = None

    def __init__(self, link: Link, begin: bytes = b"BEGIN") -> None:
        self.link = link
        self.begin_with = begin
        self.read_only = False
        self.begun = False
        self._deferred: list[bytes] = []
        self._deferred_bytes = 0
        self._rows: list[tuple[Any, ...]] = []
        self._at = 0
        self.rowcount = -1

    def _head(self) -> list[bytes]:
        head: list[bytes] = []
        if not self.begun:
            if self.link.open_read:
                head.append(b"ROLLBACK")
            head.append(self.begin_with)
        head += self._deferred
        return head

    def _send(self, statements: list[bytes]) -> pq.abc.PGresult:
        message = b";".join([*self._head(), *statements])
        self._deferred, self._deferred_bytes = [], 0
        # Sent: whatever becomes of it, the transaction is begun (or the link is dropped).
        self.begun, self.link.open_read = True, False
        return self.link.run(message)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        res = self._send([self.link.render(sql, params)])
        self._rows = _rows(res)
        self._at = 0
        tuples = res.command_tuples
        self.rowcount = int(tuples) if tuples else -1
        return self

    def defer(self, sql: str, params: Sequence[Any] = ()) -> None:
        statement = self.link.render(sql, params)
        self._deferred.append(statement)
        self._deferred_bytes += len(statement)
        if len(self._deferred) >= DEFER_COUNT or self._deferred_bytes >= DEFER_BYTES:
            self._send([])

    def finish(self, tail: list[bytes]) -> pq.abc.PGresult | None:
        """Send what is deferred, then `tail` (COMMIT and what goes with it); None when the
        transaction never began and there is nothing to send."""
        if not self.begun and not self._deferred:
            return None
        return self._send(tail)

    def rollback(self) -> None:
        """Roll back: what is deferred is dropped. A read whose caller raised is left open
        as one that went well (its ROLLBACK goes with the next message); a write (it holds
        the writers' lock) or a failed statement's transaction is rolled back now."""
        self._deferred, self._deferred_bytes = [], 0
        if not self.begun:
            return
        if self.read_only and self.link.pgconn.transaction_status == pq.TransactionStatus.INTRANS:
            self.link.open_read = True
            return
        self.link.run(b"ROLLBACK")

    def leave_open(self) -> None:
        """End a read that went well: its ROLLBACK goes in front of the link's next message."""
        if self.begun:
            self.link.open_read = True

    def fetchone(self) -> tuple[Any, ...] | None:
        if self._at >= len(self._rows):
            return None
        row = self._rows[self._at]
        self._at += 1
        return row

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows = self._rows[self._at :]
        self._at = len(self._rows)
        return rows


def _rows(res: pq.abc.PGresult) -> list[tuple[Any, ...]]:
    if res.status != pq.ExecStatus.TUPLES_OK or not res.ntuples:
        return []
    loader = Transformer()
    loader.set_pgresult(res)
    return loader.load_rows(0, res.ntuples, tuple)


def conninfo_of(url: str, **kwargs: Any) -> str:
    """A libpq connection string: `url` with `kwargs` (keepalives, options...) added."""
    return psycopg.conninfo.make_conninfo(url, **kwargs)
