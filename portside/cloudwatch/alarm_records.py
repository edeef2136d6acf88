"""Where alarms and their history are kept, in the metric store's database.

`alarms`: one document per alarm under `ACCOUNT|REGION|NAME`, holding MetricAlarm's members as
DescribeAlarms shows them, plus what is never shown (`_PRIVATE`): its tags. Names sort as
DescribeAlarms lists them.
`alarm_history`: one row per item (ConfigurationUpdate, StateUpdate, Action) with its
document as DescribeAlarmHistory shows it; kept two weeks, as CloudWatch keeps history.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from portside.cloudwatch.store import MetricStore

_PRIVATE = frozenset({"_Tags"})
HISTORY_DAYS = 14


def scope(account: str, region: str) -> str:
    return f"{account}|{region}"


def alarm_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}"


def shown(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in _PRIVATE}


class AlarmRecords:
    """Alarms and history on a `MetricStore`."""

    def __init__(self, store: MetricStore) -> None:
        self.store = store

    def get(self, where: str, name: str) -> dict[str, Any] | None:
        row = (
            self.store.reader()
            .execute("SELECT doc FROM alarms WHERE key = ?", (f"{where}|{name}",))
            .fetchone()
        )
        return orjson.loads(row[0]) if row else None

    def many(self, where: str, names: Iterable[str]) -> list[dict[str, Any]]:
        found = [self.get(where, n) for n in sorted(set(names))]
        return [d for d in found if d is not None]

    def scan(self, where: str, prefix: str = "", after: str = "") -> Iterable[dict[str, Any]]:
        """The scope's alarms by name, from past `after`, whose names start with `prefix`."""
        rows = self.store.reader().execute(
            "SELECT doc FROM alarms WHERE scope = ? AND name > ? AND name >= ? ORDER BY name",
            (where, after, prefix),
        )
        for (doc,) in rows:
            alarm: dict[str, Any] = orjson.loads(doc)
            if not alarm["AlarmName"].startswith(prefix):
                return
            yield alarm

    def every(self) -> list[tuple[str, dict[str, Any]]]:
        """Every alarm of every scope, (scope, document): the evaluator's pass."""
        rows = self.store.reader().execute("SELECT scope, doc FROM alarms")
        return [(str(s), orjson.loads(d)) for s, d in rows]

    def save(self, where: str, doc: dict[str, Any], history: Iterable[dict[str, Any]] = ()) -> None:
        name = doc["AlarmName"]
        with self.store.write() as w:
            w.execute(
                "INSERT INTO alarms (key, scope, name, doc) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET doc = excluded.doc",
                (f"{where}|{name}", where, name, orjson.dumps(doc).decode()),
            )
            self._history(w, where, history)

    def replace(
        self,
        where: str,
        before: dict[str, Any],
        doc: dict[str, Any],
        history: Iterable[dict[str, Any]] = (),
    ) -> bool:
        """Store `doc` over `before` unless the alarm was put, deleted or changed state since
        `before` was read (the evaluator's write; a caller's write wins)."""
        name = doc["AlarmName"]
        with self.store.write() as w:
            row = w.execute("SELECT doc FROM alarms WHERE key = ?", (f"{where}|{name}",)).fetchone()
            if row is None:
                return False
            now = orjson.loads(row[0])
            for key in (
                "AlarmConfigurationUpdatedTimestamp",
                "StateValue",
                "StateUpdatedTimestamp",
            ):
                if now.get(key) != before.get(key):
                    return False
            w.execute(
                "UPDATE alarms SET doc = ? WHERE key = ?",
                (orjson.dumps(doc).decode(), f"{where}|{name}"),
            )
            self._history(w, where, history)
        return True

    def delete(self, where: str, names: Iterable[str], history: Iterable[dict[str, Any]]) -> None:
        with self.store.write() as w:
            w.executemany("DELETE FROM alarms WHERE key = ?", [(f"{where}|{n}",) for n in names])
            self._history(w, where, history)

    def record(self, where: str, history: Iterable[dict[str, Any]]) -> None:
        with self.store.write() as w:
            self._history(w, where, history)

    def _history(self, w: Any, where: str, items: Iterable[dict[str, Any]]) -> None:
        w.executemany(
            "INSERT INTO alarm_history (scope, name, ts, kind, doc) VALUES (?, ?, ?, ?, ?)",
            [
                (where, i["AlarmName"], i["Timestamp"], i["HistoryItemType"],
                 orjson.dumps(i).decode())
                for i in items
            ],
        )  # fmt: skip

    def history(
        self, where: str, *, name: str | None, kind: str | None, start: float | None,
        end: float | None, descending: bool, after: int | None, limit: int,
    ) -> list[tuple[int, dict[str, Any]]]:  # fmt: skip
        sql = "SELECT id, doc FROM alarm_history WHERE scope = ?"
        args: list[object] = [where]
        for clause, value in (
            ("name = ?", name),
            ("kind = ?", kind),
            ("ts >= ?", start),
            ("ts < ?", end),
        ):
            if value is not None:
                sql += f" AND {clause}"
                args.append(value)
        if after is not None:
            sql += " AND id < ?" if descending else " AND id > ?"
            args.append(after)
        sql += f" ORDER BY id {'DESC' if descending else 'ASC'} LIMIT ?"
        args.append(limit)
        return [(int(i), orjson.loads(d)) for i, d in self.store.reader().execute(sql, args)]

    def expire_history(self, before: float) -> int:
        with self.store.write() as w:
            return int(w.execute("DELETE FROM alarm_history WHERE ts < ?", (before,)).rowcount)
