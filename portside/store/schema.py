"""Bring an existing database up to the tables this version defines.

`create_all` makes missing tables (with their indexes) but leaves existing ones alone. A data
directory written by an earlier version gets, here: the indexed columns added since, filled
from the documents they derive from; the indexes added since; and the indexes no longer
defined dropped (they would cost every write and can mislead the query planner).
"""

from __future__ import annotations

from sqlalchemy import Engine, MetaData, String, Table, inspect

from portside.store.tables import BOOL_COLUMNS, INDEXES, TABLES, metadata


def _for_dialect(engine: Engine) -> tuple[MetaData, dict[str, Table]]:
    """The tables as `engine`'s database gets them. PostgreSQL compares text by the
    database's collation, which (unless "C") orders keys unlike SQLite's bytes and breaks the
    prefix ranges scans rely on: its string columns get the "C" collation."""
    if engine.dialect.name != "postgresql":
        return metadata, TABLES
    copy = MetaData()
    for table in metadata.sorted_tables:
        table.to_metadata(copy)
    for table in copy.tables.values():
        for column in table.columns:
            if isinstance(column.type, String):
                column.type = String(column.type.length, collation="C")
    return copy, {name: copy.tables[name] for name in TABLES}


def _extract(engine: Engine, field: str, column: str, kind: str) -> str:
    """SQL that reads `field` of the JSON document for a column added since."""
    if engine.dialect.name == "postgresql":
        value = f"(doc::jsonb -> '{field}')"
        if column in BOOL_COLUMNS:
            return (
                f"CASE WHEN {value} IS NULL OR {value} = 'null'::jsonb THEN NULL "
                f"WHEN {value} IN ('false'::jsonb, '0'::jsonb) THEN 0 ELSE 1 END"
            )
        return f"NULLIF(doc::jsonb ->> '{field}', '')::{kind}"
    value = f"json_extract(doc, '$.{field}')"
    if column in BOOL_COLUMNS:
        value = f"CASE WHEN {value} THEN 1 WHEN {value} IS NULL THEN NULL ELSE 0 END"
    return value


def upgrade(engine: Engine) -> None:
    meta, tables = _for_dialect(engine)
    meta.create_all(engine)
    found = inspect(engine)
    with engine.begin() as conn:
        for name, table in tables.items():
            have = {c["name"] for c in found.get_columns(name)}
            for column, field in INDEXES[name].items():
                if column in have:
                    continue
                kind = table.c[column].type.compile(engine.dialect)
                conn.exec_driver_sql(f"ALTER TABLE {name} ADD COLUMN {column} {kind}")
                value = _extract(engine, field, column, kind)
                conn.exec_driver_sql(f"UPDATE {name} SET {column} = {value}")
            wanted = {ix.name for ix in table.indexes}
            for index in found.get_indexes(name):
                if (
                    index["name"]
                    and index["name"].startswith("ix_")
                    and (index["name"] not in wanted)
                ):
                    conn.exec_driver_sql(f"DROP INDEX IF EXISTS {index['name']}")
    for table in tables.values():
        for defined in sorted(table.indexes, key=lambda ix: str(ix.name)):
            defined.create(engine, checkfirst=True)
